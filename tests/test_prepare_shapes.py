"""Image arrays given to the library in the shapes other libraries return (session 34 formats QA): an H x W x 1
gray array failed in the FOV estimate, and a channels-first 3 x H x W array was taken for a 3-row image."""

from __future__ import annotations

import numpy as np
import pytest

from vessel_studio.preprocess import Preprocessing, prepare


def _image(h=40, w=48):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w), dtype=np.uint8)


def test_gray_with_a_channel_axis_is_prepared_as_gray():
    prep = Preprocessing.for_modality("octa")
    g = _image()
    a, b = prepare(g, prep=prep), prepare(g[..., None], prep=prep)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.fov, b.fov)


@pytest.mark.parametrize("fov", [False, True])
def test_channels_first_is_refused_by_name(fov):
    prep = Preprocessing.for_modality("fundus")
    rgb = np.stack([_image()] * 3)  # 3 x H x W
    with pytest.raises(ValueError, match=r"channels first\? np\.moveaxis"):
        prepare(rgb, prep=prep, fov=np.ones((40, 48), bool) if fov else None)


def test_renormalize_takes_gray_with_a_channel_axis_and_names_channels_first():
    from vessel_studio.io.fov import estimate_fov

    g = _image()
    assert np.array_equal(estimate_fov(g[..., None]), estimate_fov(g))
    with pytest.raises(ValueError, match=r"channels first\?"):
        estimate_fov(np.stack([g] * 3))
