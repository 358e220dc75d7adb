"""Preprocessing: gray conversion, dtype ranges, polarity, FOV statistics, rescaling and restore."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vessel_studio.io import fov_diameter
from vessel_studio.preprocess import (
    DEFAULT_FUNDUS_FOV_DIAMETER,
    Prepared,
    Preprocessing,
    from_unit,
    prepare,
    resize_mask,
    restore,
    to_float,
    to_gray,
    to_unit,
)

NATIVE = Preprocessing.for_modality("fundus", fov_diameter=None)


def test_defaults_and_dict_round_trip():
    f = Preprocessing.for_modality("fundus")
    assert (f.modality, f.channel, f.invert, f.fov_diameter) == ("fundus", "green", True, DEFAULT_FUNDUS_FOV_DIAMETER)
    o = Preprocessing.for_modality("octa")
    assert (o.modality, o.invert, o.fov_diameter) == ("octa", False, None)
    for p in (f, o, Preprocessing.for_modality("fundus", channel="luma", pixel_spacing_mm=0.01)):
        d = json.loads(json.dumps(p.to_dict()))
        assert Preprocessing.from_dict(d) == p
    with pytest.raises(ValueError, match="unknown keys"):
        Preprocessing.from_dict({**f.to_dict(), "clahe": True})
    with pytest.raises(ValueError, match="unknown channel"):
        Preprocessing(channel="red")
    with pytest.raises(ValueError, match="unknown modality"):
        Preprocessing.for_modality("mri")
    with pytest.raises(ValueError, match="fov_diameter"):
        Preprocessing(fov_diameter=0)


def test_dtype_ranges_converted_once():
    assert to_float(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert to_float(np.array([0, 65535], np.uint16)).tolist() == [0.0, 1.0]
    assert to_float(np.array([False, True])).tolist() == [0.0, 1.0]
    assert to_float(np.array([-32768, 32767], np.int16)).tolist() == [0.0, 1.0]
    assert to_float(np.array([0.25, 3.0], np.float64)).tolist() == [0.25, 3.0]  # floats as they are
    assert to_float(np.array([1], np.uint8)).dtype == np.float32
    # 32/64-bit integers as the 16-bit type that holds their values (session 33 API QA: by their own dtype's
    # range an 8-bit image as int64 became one float32 value)
    for wide in (np.int32, np.int64, np.uint32, np.uint64):
        levels = np.arange(256).astype(wide)
        assert np.array_equal(to_float(levels), to_float(np.arange(256).astype(np.uint16))), wide
    assert np.array_equal(to_float(np.array([-5, 7], np.int64)), to_float(np.array([-5, 7], np.int16)))
    with pytest.raises(ValueError, match="uint32 pixels from 0 to 65536, beyond 16 bits"):
        to_float(np.array([0, 65536], np.uint32))


def test_gray_conversion():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 51, 0
    assert np.allclose(to_gray(rgb, "green"), 0.2)
    assert np.allclose(to_gray(rgb, "luma"), 0.299 + 0.587 * 0.2)
    rgba = np.concatenate([rgb, np.zeros((4, 5, 1), np.uint8)], -1)
    assert np.allclose(to_gray(rgba, "green"), 0.2)
    g = np.full((4, 5), 1000, np.uint16)
    assert np.allclose(to_gray(g, "green"), 1000 / 65535)  # gray passes through
    with pytest.raises(ValueError, match="expected an H x W"):
        to_gray(np.zeros((4, 5, 7)))


def test_stats_inside_fov_and_zero_outside(synthetic_fundus):
    img, mask, fov = synthetic_fundus
    p = prepare(img, fov=fov, prep=NATIVE)
    assert isinstance(p, Prepared) and p.x.dtype == np.float32 and p.fov.dtype == bool
    assert p.x.shape == fov.shape and p.scale == 1.0 and p.original_shape == fov.shape
    assert abs(p.x[fov].mean()) < 1e-5 and abs(p.x[fov].std() - 1) < 1e-4
    assert np.all(p.x[~fov] == 0)
    assert p.prep == NATIVE


def test_polarity(synthetic_fundus):
    img, mask, fov = synthetic_fundus
    inv = prepare(img, fov=fov, prep=NATIVE)
    raw = prepare(img, fov=fov, prep=Preprocessing.for_modality("fundus", fov_diameter=None, invert=False))
    # fundus vessels are dark: inverted, they are bright (as in OCT-A)
    assert inv.x[mask].mean() > 1.0 > -1.0 > raw.x[mask].mean()
    np.testing.assert_allclose(inv.x, -raw.x, atol=1e-5)


def test_dtype_invariance(synthetic_fundus):
    img, _, fov = synthetic_fundus
    a = prepare(img, fov=fov, prep=NATIVE).x
    b = prepare(img.astype(np.uint16) * 257, fov=fov, prep=NATIVE).x
    c = prepare(img.astype(np.float32) / 255.0, fov=fov, prep=NATIVE).x
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(a, c, atol=1e-4)


def test_fov_estimated_when_absent(synthetic_fundus):
    img, _, fov = synthetic_fundus
    p = prepare(img, prep=NATIVE)
    assert (p.fov & fov).sum() / (p.fov | fov).sum() > 0.95
    octa = prepare(img[..., 1], prep=Preprocessing.for_modality("octa"))
    assert octa.fov.all()


def _big_fundus(h, w, seed=0):
    """A fundus-like image whose FOV disc spans the width, with dark vessels of width ~ w/100."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    r = 0.48 * w
    fov = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < r**2
    vessel = (np.abs(yy - 0.4 * h) < w / 200 + 1) | (np.abs(xx - 0.55 * w) < w / 200 + 1)
    img = np.zeros((h, w, 3), np.uint8)
    img[fov] = (190, 120, 60)
    img[vessel & fov] = (150, 60, 30)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    img[~fov] = 0
    return img, fov, vessel & fov


def test_rescale_to_fov_diameter_and_restore_round_trip():
    img, fov, vessel = _big_fundus(1500, 2000)  # a large camera image: FOV ~1920 px
    prep = Preprocessing.for_modality("fundus")  # model works at FOV diameter 540
    p = prepare(img, fov=fov, prep=prep)
    assert abs(fov_diameter(p.fov) - 540) <= 2
    assert p.x.shape == (round(1500 * p.scale), round(2000 * p.scale))
    assert p.scale == pytest.approx(540 / fov_diameter(fov), rel=0.01)
    assert abs(p.x[p.fov].mean()) < 1e-4 and abs(p.x[p.fov].std() - 1) < 1e-3
    # a "probability map" at model scale (here: the vessel mask, resized), mapped back
    small = resize_mask(vessel, p.x.shape).astype(np.float32)
    back = restore(small, p)
    assert back.shape == (1500, 2000) and back.dtype == np.float32
    dice = 2 * ((back > 0.5) & vessel).sum() / ((back > 0.5).sum() + vessel.sum())
    assert dice > 0.85
    # bool masks restore by nearest neighbour and stay bool
    bmask = restore(small > 0.5, p)
    assert bmask.dtype == bool and bmask.shape == (1500, 2000)
    with pytest.raises(ValueError, match="expected an array of the prepared shape"):
        restore(np.zeros((10, 10)), p)


def test_upscaling_small_image_and_identity_restore(synthetic_fundus):
    img, _, fov = synthetic_fundus
    p = prepare(img, fov=fov, prep=Preprocessing.for_modality("fundus", fov_diameter=180))
    assert p.scale > 1.5 and p.x.shape[0] > 150
    prob = np.random.default_rng(0).random(p.x.shape).astype(np.float32)
    back = restore(prob, p)
    assert back.shape == fov.shape and 0 <= back.min() and back.max() <= 1
    q = prepare(img, fov=fov, prep=NATIVE)
    prob = np.random.default_rng(1).random(q.x.shape).astype(np.float32)
    np.testing.assert_array_equal(restore(prob, q), prob)  # native scale: identity


def test_pixel_spacing_takes_precedence_when_declared(synthetic_fundus):
    img, _, fov = synthetic_fundus
    prep = Preprocessing.for_modality("fundus", pixel_spacing_mm=0.02)
    p = prepare(img, fov=fov, prep=prep, spacing_mm=0.01)  # finer image: halved
    assert p.x.shape == (48, 48) and p.scale == 0.5
    q = prepare(img, fov=fov, prep=prep)  # spacing unknown: falls back to the FOV diameter
    assert abs(fov_diameter(q.fov) - DEFAULT_FUNDUS_FOV_DIAMETER) <= 2


def test_bad_input(synthetic_fundus):
    img, _, fov = synthetic_fundus
    with pytest.raises(ValueError, match="FOV mask is"):
        prepare(img, fov=fov[:50], prep=NATIVE)
    with pytest.raises(ValueError, match="FOV mask is empty"):
        prepare(img, fov=np.zeros_like(fov), prep=NATIVE)
    bad = img.astype(np.float32)
    bad[0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        prepare(bad, fov=fov, prep=NATIVE)
    with pytest.raises(ValueError, match="expected an H x W"):
        prepare(np.zeros((2, 3, 4, 5)), prep=NATIVE)


def test_an_empty_image_and_a_fov_of_a_few_pixels_are_refused_before_any_resampling(monkeypatch):
    """Session 33 API QA: ``Segmenter.predict(image, fov=mask)`` with a FOV mask of one pixel asked a fundus model
    (FOV diameter 540 px) to enlarge a 64 x 64 image 540-fold, to 34560 x 34560: 19 GB and still resampling after
    10 minutes. A 0 x 0 image raised a bare IndexError."""
    import vessel_studio.preprocess as pre

    def no_huge_resize(a, shape, *, order):
        assert shape[0] * shape[1] <= 8192 * 8192, f"asked to resample to {shape}"
        return resize(a, shape, order=order)

    resize = pre._resize
    monkeypatch.setattr(pre, "_resize", no_huge_resize)
    img = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    speck = np.zeros((64, 64), bool)
    speck[10, 10] = True
    fundus = Preprocessing.for_modality("fundus")
    with pytest.raises(ValueError, match=r"FOV mask is 1 px across .* 64x64 image would be enlarged 540-fold to "
                                         r"34560x34560 pixels"):
        prepare(img, fov=speck, prep=fundus)
    spaced = Preprocessing.for_modality("fundus", pixel_spacing_mm=0.001)
    with pytest.raises(ValueError, match=r"pixel spacing is 1 mm and the model's 0.001 mm"):
        prepare(img, fov=np.ones_like(speck), prep=spaced, spacing_mm=1.0)
    # enlarging within the bound, and any image kept at its size, still work
    small = prepare(img, fov=np.pad(np.ones((8, 8), bool), ((10, 46), (10, 46))), prep=fundus)
    assert small.x.shape == (4320, 4320)
    assert prepare(img, fov=speck, prep=NATIVE).x.shape == (64, 64)
    for empty in (np.zeros((0, 0)), np.zeros((0, 5, 3))):
        with pytest.raises(ValueError, match=r"prepare: the image is empty \(0x\d pixels\)"):
            prepare(empty, prep=fundus)


def test_constant_image_does_not_divide_by_zero():
    p = prepare(np.full((20, 20), 7, np.uint8), fov=np.ones((20, 20), bool), prep=Preprocessing.for_modality("octa"))
    assert np.isfinite(p.x).all() and np.all(p.x == 0)


def test_small_scale_changes_are_not_applied(synthetic_fundus):
    img, _, fov = synthetic_fundus
    d = fov_diameter(fov)
    near = prepare(img, fov=fov, prep=Preprocessing.for_modality("fundus", fov_diameter=d * 1.015))
    assert near.scale == 1.0 and near.x.shape == fov.shape
    far = prepare(img, fov=fov, prep=Preprocessing.for_modality("fundus", fov_diameter=d * 1.1))
    assert far.scale > 1.05


def test_unit_range():
    x = np.array([-9.0, -3.0, 0.0, 1.5, 3.0, 12.0], np.float32)
    u = to_unit(x)
    assert u.dtype == np.float32 and u.min() >= -1 and u.max() <= 1
    np.testing.assert_allclose(u, [-1, -1, 0, 0.5, 1, 1])
    inside = x[np.abs(x) <= 3]
    np.testing.assert_allclose(from_unit(to_unit(inside)), inside, atol=1e-6)
