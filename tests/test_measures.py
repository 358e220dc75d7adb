"""Vessel measures on shapes with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.draw import disk

from vessel_studio.measures import measure_vessels, skeleton_length, vessel_density


def _tube(points, radius, shape=(200, 200)):
    m = np.zeros(shape, bool)
    for y, x in points:
        rr, cc = disk((y, x), radius, shape=shape)
        m[rr, cc] = True
    return m


def test_straight_vessel_calibre_and_tortuosity():
    m = np.zeros((100, 200), bool)
    m[48:53, 20:180] = True  # 5 px wide, 160 px long
    r = measure_vessels(m)
    assert r.calibre_median_px == pytest.approx(5.0, abs=1.1)
    assert r.tortuosity == pytest.approx(1.0, abs=0.02)
    assert r.skeleton_length_px == pytest.approx(155, abs=8)
    assert r.density == pytest.approx(m.mean())
    assert r.calibre_mean_um is None


def test_semicircle_tortuosity_is_pi_over_two():
    R = 70
    t = np.linspace(0, math.pi, 600)
    pts = [(100 + R * math.sin(a), 100 + R * math.cos(a)) for a in t]
    m = _tube(pts, 2.0)
    r = measure_vessels(m)
    assert r.tortuosity == pytest.approx(math.pi / 2, rel=0.05)


def test_physical_units_and_fov():
    m = np.zeros((100, 200), bool)
    m[48:53, 20:180] = True
    fov = np.zeros_like(m)
    fov[:, :100] = True
    r = measure_vessels(m, fov=fov, spacing_mm=(0.01, 0.01))
    assert r.density == pytest.approx((m & fov).sum() / fov.sum())
    assert r.calibre_median_um == pytest.approx(10 * r.calibre_median_px)
    assert r.skeleton_length_mm == pytest.approx(0.01 * r.skeleton_length_px)
    assert r.length_density_per_mm == pytest.approx(r.skeleton_length_px * 0.01 / (fov.sum() * 1e-4))


def test_branch_points_counted():
    m = np.zeros((120, 120), bool)
    m[58:62, 10:110] = True
    m[10:60, 58:62] = True  # a T junction
    r = measure_vessels(m)
    assert r.n_branch_points == 1
    assert r.n_segments == 3


def test_skeleton_length_counts_diagonals_once():
    sk = np.eye(50, dtype=bool)
    assert skeleton_length(sk) == pytest.approx(49 * math.sqrt(2))
    sk2 = np.zeros((10, 10), bool)
    sk2[5, 2:8] = True
    assert skeleton_length(sk2) == pytest.approx(5)


def test_empty_and_bad_input():
    r = measure_vessels(np.zeros((32, 32), bool))
    assert r.density == 0 and r.skeleton_length_px == 0 and math.isnan(r.tortuosity)
    with pytest.raises(ValueError):
        measure_vessels(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError):
        measure_vessels(np.zeros((8, 8)), spacing_mm=-1)
    with pytest.raises(ValueError):
        vessel_density(np.zeros((8, 8)), fov=np.zeros((4, 4)))


def test_synthetic_tree_measures_plausible():
    from vessel_studio.samples import synthetic_fundus

    _, mask, fov = synthetic_fundus((256, 256), seed=2)
    r = measure_vessels(mask, fov=fov)
    assert 0.03 < r.density < 0.3
    assert 1.0 < r.tortuosity < 1.6
    assert 1.5 < r.calibre_mean_px < 6
    assert r.n_branch_points > 5
