"""The classical baseline of the benchmark (Frangi vesselness + Otsu) on a drawn fundus-like image:
it finds the vessel, not the rim of the field of view."""

from __future__ import annotations

import numpy as np

from vessel_studio.adaptation.benchmark import frangi_otsu
from vessel_studio.preprocess import Preprocessing


def _fundus_like(size=160, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    fov = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (0.45 * size) ** 2
    r = np.hypot(yy - size / 2, xx - size / 2) / (0.45 * size)
    # vignetting: the fundus darkens towards the rim of the field of view
    green = 150.0 - 90.0 * np.clip((r - 0.8) / 0.2, 0, 1) ** 2 + rng.normal(0, 3, (size, size))
    vessel = np.abs(yy - xx * 0.5 - size * 0.25) < 2.5  # a dark line across the disc
    green[vessel] -= 50
    green[~fov] = 0  # the black surround of a fundus photograph
    rgb = np.stack([green * 1.2, green, green * 0.5], axis=-1).clip(0, 255).astype(np.uint8)
    return rgb, fov, vessel & fov


def test_frangi_finds_the_vessel_not_the_fov_rim():
    image, fov, vessel = _fundus_like()
    prob, thr = frangi_otsu(image, fov, Preprocessing.for_modality("fundus", fov_diameter=None))
    assert prob.shape == fov.shape and prob.dtype == np.float32 and not prob[~fov].any()
    mask = prob >= thr
    inter = (mask & vessel).sum()
    dice = 2 * inter / (mask.sum() + vessel.sum())
    assert dice > 0.65, dice  # (0.46 when the rim band is not left out)
    yy, xx = np.mgrid[:fov.shape[0], :fov.shape[1]]
    r = np.hypot(yy - fov.shape[0] / 2, xx - fov.shape[1] / 2)
    rim = fov & (r > 0.45 * fov.shape[0] - 6)
    assert (mask & rim & ~vessel).sum() < 0.05 * rim.sum()
