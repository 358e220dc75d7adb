"""FOV estimation: synthetic discs, OCT-A, degenerate images, and the official DRIVE masks."""

from __future__ import annotations

import numpy as np
import pytest

from vessel_studio.io import dataset, estimate_fov, fov_diameter, read_image, read_mask


def _iou(a, b):
    return float((a & b).sum() / (a | b).sum())


def test_synthetic_fundus_fov(synthetic_fundus):
    img, _, fov = synthetic_fundus
    est = estimate_fov(img, modality="fundus")
    assert est.dtype == bool and est.shape == fov.shape
    assert _iou(est, fov) > 0.95
    # 16-bit and float versions of the same image give the same FOV
    est16 = estimate_fov(img.astype(np.uint16) * 257, modality="fundus")
    estf = estimate_fov(img.astype(np.float32) / 255, modality="fundus")
    np.testing.assert_array_equal(est16, est)
    np.testing.assert_array_equal(estf, est)


def test_dark_vessel_holes_and_noise_handled():
    rng = np.random.default_rng(0)
    h, w = 120, 140
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (yy - 60) ** 2 + (xx - 70) ** 2 < 55**2
    img = np.zeros((h, w, 3), np.uint8)
    img[disc] = (150, 80, 40)
    img[58:62, 20:120] = (3, 3, 3)  # a very dark vessel crossing the disc: must not split/hole the FOV
    img[65:70, 65:70] = 0  # a black blob inside: a hole, filled
    img[2:5, 2:5] = 200  # a bright speck outside: not the largest component
    img = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    est = estimate_fov(img, modality="fundus")
    assert est[67, 67] and not est[3, 3]
    assert _iou(est, disc) > 0.95


def test_octa_whole_image():
    img = np.zeros((30, 40), np.uint8)
    assert estimate_fov(img, modality="octa").all()


def test_degenerate_images_give_whole_image():
    assert estimate_fov(np.zeros((30, 40, 3), np.uint8)).all()  # all black
    assert estimate_fov(np.full((30, 40), 200, np.uint8)).all()  # no border


def test_bad_input():
    with pytest.raises(ValueError, match="unknown modality"):
        estimate_fov(np.zeros((10, 10)), modality="mri")
    with pytest.raises(ValueError, match="expected H x W"):
        estimate_fov(np.zeros((2, 10, 10)))
    with pytest.raises(ValueError, match="NaN"):
        estimate_fov(np.full((10, 10), np.nan))
    with pytest.raises(ValueError, match="empty"):
        fov_diameter(np.zeros((10, 10), bool))


def test_fov_diameter():
    m = np.zeros((50, 80), bool)
    m[10:40, 5:70] = True
    assert fov_diameter(m) == 65.0
    assert fov_diameter(np.ones((30, 40), bool)) == 40.0


def test_drive_official_masks(data_dir):
    """Estimated FOVs against DRIVE's official masks (training + test, 40 images)."""
    ious = []
    for split in ("train", "test"):
        for s in dataset(data_dir, "DRIVE", split):
            img, _ = read_image(s.image)
            ious.append(_iou(estimate_fov(img, modality="fundus"), read_mask(s.fov, shape=img.shape)))
    assert len(ious) == 40
    assert min(ious) > 0.95, min(ious)
    assert np.mean(ious) > 0.98, np.mean(ious)


@pytest.mark.parametrize("name", ["CHASE_DB1", "STARE"])
def test_third_party_masks(data_dir, name):
    s = dataset(data_dir, name, "test")[0]
    img, _ = read_image(s.image)
    assert _iou(estimate_fov(img, modality="fundus"), read_mask(s.fov, shape=img.shape)) > 0.94


def test_large_image_estimated_quickly_and_accurately():
    import time

    h, w = 2700, 3600
    yy, xx = np.ogrid[0:h, 0:w]
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.47 * w) ** 2
    img = np.zeros((h, w, 3), np.uint8)
    img[disc] = (170, 90, 40)
    t = time.perf_counter()
    est = estimate_fov(img)
    elapsed = time.perf_counter() - t
    assert est.shape == (h, w)
    assert _iou(est, disc) > 0.99
    assert elapsed < 3.0, elapsed  # ~0.3 s here; the full-resolution path took ~4 s


def _fov_by_full_float_copy(img):
    """The large-image path as it was before the strided block sums: the red channel converted to
    float whole, block means by ``reshape(...).mean``, the mask enlarged by ``np.repeat`` and padded."""
    from vessel_studio.io.fov import _estimate_gray
    from vessel_studio.preprocess import to_float

    g = to_float(img[..., 0])
    h, w = g.shape
    k = int(np.ceil(max(h, w) / 1000))
    hk, wk = h // k, w // k
    m = _estimate_gray(g[: hk * k, : wk * k].reshape(hk, k, wk, k).mean(axis=(1, 3)))
    return np.pad(np.repeat(np.repeat(m, k, axis=0), k, axis=1), ((0, h - hk * k), (0, w - wk * k)), mode="edge")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_large_image_path_matches_the_full_float_block_means(dtype):
    """A high-resolution camera's image (sides not multiples of the block): the block means summed as
    strided slices give the mask the full float copy gave, for 8- and 16-bit and float images."""
    from vessel_studio.io.fov import _block_mean
    from vessel_studio.preprocess import to_float

    h, w = 2603, 3891
    rng = np.random.default_rng(3)
    yy, xx = np.ogrid[0:h, 0:w]
    disc = (yy - h / 2) ** 2 + (xx - w / 2.1) ** 2 < (0.45 * w) ** 2
    base = np.where(disc[..., None], [0.62, 0.35, 0.15], 0.02) + rng.normal(0, 0.01, (h, w, 3))
    base = base.clip(0, 1)
    img = (base * 255).astype(np.uint8) if dtype == np.uint8 else (
        (base * 65535).astype(np.uint16) if dtype == np.uint16 else base.astype(np.float32))
    got = estimate_fov(img)
    assert got.shape == (h, w) and got.dtype == bool
    assert (got != _fov_by_full_float_copy(img)).mean() < 1e-5
    k = 4
    ref = to_float(img[: 1000, : 2000, 0]).reshape(250, k, 500, k).mean(axis=(1, 3))
    assert np.allclose(_block_mean(img[: 1000, : 2000, 0], k), ref, atol=1e-6)
