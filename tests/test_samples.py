"""Procedural sample data: shapes, dtypes, determinism, vessel calibre, written folders."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from vessel_studio.samples import (
    make_vessel_tree,
    synthetic_fundus,
    synthetic_octa,
    write_sample_images,
)


def test_vessel_tree_is_a_connected_branching_tree_with_realistic_calibre():
    mask = make_vessel_tree((512, 512), seed=1)
    assert mask.dtype == bool and mask.shape == (512, 512)
    frac = mask.mean()
    assert 0.04 < frac < 0.25, frac
    from skimage.morphology import skeletonize

    # main vessels 5-10 px wide (twice the inscribed radius on the centre line) ...
    dist = ndi.distance_transform_edt(mask)
    widths = 2 * dist[skeletonize(mask)]
    assert 5.0 <= np.percentile(widths, 98) <= 12.0
    # ... tapering to thin ones: most of the centre line is at most 3 px wide
    assert np.median(widths) <= 3.0
    # few components: vessels grow from the disc as connected trees
    _, n = ndi.label(mask)
    assert n <= 10


def test_deterministic_and_seed_dependent():
    a = make_vessel_tree((128, 128), seed=3)
    b = make_vessel_tree((128, 128), seed=3)
    c = make_vessel_tree((128, 128), seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_synthetic_fundus_dark_vessels_inside_fov():
    rgb, mask, fov = synthetic_fundus((256, 256), seed=0)
    assert rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
    assert mask.dtype == bool and fov.dtype == bool
    assert not (mask & ~fov).any()
    assert (rgb[~fov] == 0).all()
    green = rgb[..., 1].astype(float)
    bg = fov & ~ndi.binary_dilation(mask, iterations=3)
    assert green[mask].mean() < green[bg].mean() - 5  # vessels darker
    red = rgb[..., 0].astype(float)
    assert red[bg].mean() > green[bg].mean() > rgb[..., 2][bg].mean()  # orange-red


def test_synthetic_octa_bright_vessels():
    gray, mask = synthetic_octa((304, 304), seed=0)
    assert gray.shape == (304, 304) and gray.dtype == np.uint8
    assert 0.01 < mask.mean() < 0.2
    bg = ~ndi.binary_dilation(mask, iterations=3)
    assert gray[mask].mean() > gray[bg].mean() + 40


@pytest.mark.parametrize("bad", [(10, 10), (0, 64), "ab"])
def test_bad_shape_raises(bad):
    with pytest.raises(ValueError):
        synthetic_octa(bad)


def test_write_sample_images(tmp_path):
    from PIL import Image

    s = write_sample_images(tmp_path, n=2, modality="fundus", shape=(96, 96))
    assert [p.name for p in s.images] == ["sample-00.png", "sample-01.png"]
    assert all(p.is_file() for p in s.images + s.labels + s.fovs)
    assert np.asarray(Image.open(s.images[0])).shape == (96, 96, 3)
    lab = np.asarray(Image.open(s.labels[0]))
    assert set(np.unique(lab)) <= {0, 255}
    o = write_sample_images(tmp_path / "o", n=1, modality="octa", shape=(64, 64))
    assert np.asarray(Image.open(o.images[0])).shape == (64, 64)
    with pytest.raises(ValueError):
        write_sample_images(tmp_path, modality="xray")


def test_write_sample_project_creates_a_project(tmp_path):
    from vessel_studio.samples import write_sample_project
    from vessel_studio.store import Project

    s = write_sample_project(tmp_path / "p", n=2, modality="octa", shape=(64, 64))
    proj = Project.open(tmp_path / "p")
    assert proj.modality == "octa"
    assert len(proj.images) == 2 and all(r.state == "new" for r in proj.images)
    assert all(p.is_file() for p in s.labels)
    with pytest.raises(ValueError):
        write_sample_project(tmp_path / "p", n=1)
