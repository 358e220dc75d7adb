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
    # Vossepoel & Smeulders' coefficients: 0.980 per 4-neighbour link, 1.406 per diagonal, -0.091 per corner
    sk = np.eye(50, dtype=bool)
    assert skeleton_length(sk) == pytest.approx(49 * 1.406)
    sk2 = np.zeros((10, 10), bool)
    sk2[5, 2:8] = True
    assert skeleton_length(sk2) == pytest.approx(5 * 0.980)
    sk3 = np.zeros((10, 10), bool)  # an L: 4 + 4 links, one corner; its corner's diagonal is not a link
    sk3[2, 2:7] = True
    sk3[2:7, 6] = True
    assert skeleton_length(sk3) == pytest.approx(8 * 0.980 - 0.091)


@pytest.mark.parametrize("angle", [0, 10, 22.5, 30, 45, 60, 67.5, 80, 90, 112.5, 135, 157.5])
def test_skeleton_length_of_digital_lines_at_any_angle(angle):
    """A one-pixel line between two pixel centres 300 px apart: the 1 / √2 per step sum overstated it by
    up to 8 % (22.5°: the chain zig-zags); the length is now within 2.5 % of the distance at every angle."""
    from skimage.draw import line

    t = math.radians(angle)
    y0, x0 = 200, 200
    y1, x1 = round(200 + 150 * math.sin(t)), round(200 + 150 * math.cos(t))
    y0, x0 = round(200 - 150 * math.sin(t)), round(200 - 150 * math.cos(t))
    sk = np.zeros((401, 401), bool)
    sk[line(y0, x0, y1, x1)] = True
    true = math.hypot(y1 - y0, x1 - x0)
    assert skeleton_length(sk) == pytest.approx(true, rel=0.025)


def _band(width, angle, length=200, shape=(300, 300)):
    """Pixels whose centre lies within a ``width`` x ``length`` rectangle at ``angle`` (degrees)."""
    c = np.array(shape) / 2 + 0.3  # off the pixel grid: a band of width w along an axis is w pixels wide
    t = math.radians(angle)
    d = np.array([math.sin(t), math.cos(t)])
    n = np.array([d[1], -d[0]])
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    p = np.stack([yy - c[0], xx - c[1]], -1)
    return (np.abs(p @ d) <= length / 2) & (np.abs(p @ n) < width / 2)


@pytest.mark.parametrize("width", range(1, 16))
def test_calibre_of_axis_aligned_vessels_is_their_width(width):
    """Twice the distance to the background on the skeleton gave w + 1 for odd widths (2 for a
    one-pixel vessel); the local diameter is now exactly w along the rows or the columns."""
    for m in (_band(width, 0), _band(width, 90)):
        assert m[150].sum() == width or m[:, 150].sum() == width
        r = measure_vessels(m)
        assert r.calibre_median_px == pytest.approx(width)
        assert r.calibre_mean_px == pytest.approx(width, abs=0.1)


def test_calibre_of_oblique_vessels_unbiased_on_average():
    errs = [measure_vessels(_band(w, a)).calibre_median_px - w for w in range(1, 16) for a in range(0, 46, 5)]
    assert abs(float(np.mean(errs))) < 0.25
    assert max(abs(e) for e in errs) < 1.5


def test_anisotropic_pixels_lengths_and_calibres_in_their_own_direction():
    """Pixels 20 µm tall and 10 µm wide: a vessel along the columns is measured with the column spacing,
    one along the rows with the row spacing (the mean of the two was used for both)."""
    sp = (0.02, 0.01)
    horiz = np.zeros((100, 300), bool)
    horiz[48:53, 50:251] = True  # 5 px tall (100 µm), 200 column steps (2 mm)
    r = measure_vessels(horiz, spacing_mm=sp)
    assert r.skeleton_length_mm == pytest.approx(r.skeleton_length_px * 0.01, rel=0.01)  # its ends turn a little
    assert r.calibre_median_um == pytest.approx(100.0)
    vert = np.ascontiguousarray(horiz.T)  # 5 px wide (50 µm), 200 row steps (4 mm)
    r = measure_vessels(vert, spacing_mm=sp)
    assert r.skeleton_length_mm == pytest.approx(r.skeleton_length_px * 0.02, rel=0.01)
    assert r.calibre_median_um == pytest.approx(50.0)
    assert r.length_density_per_mm == pytest.approx(r.skeleton_length_mm / (vert.size * 0.02 * 0.01))
    assert (r.spacing_row_mm, r.spacing_col_mm, r.spacing_mm) == (0.02, 0.01, pytest.approx(0.015))


def test_outside_the_image_is_background():
    """A mask all vessel (or a vessel along the image's edge) had distances to no background at all: a
    50 x 60 mask all vessel gave a calibre of 77 px."""
    r = measure_vessels(np.ones((50, 60), bool))
    assert r.calibre_median_px <= 50
    edge = np.zeros((50, 60), bool)
    edge[0:3, :] = True
    assert measure_vessels(edge).calibre_median_px == pytest.approx(3)


def test_empty_and_bad_input():
    r = measure_vessels(np.zeros((32, 32), bool))
    assert r.density == 0 and r.skeleton_length_px == 0 and math.isnan(r.tortuosity)
    # no skeleton, no calibre: NaN (0.0 until session 42, written into measures.csv as a calibre), in px and µm,
    # for isotropic and anisotropic pixels, and for a mask wholly outside the FOV
    assert math.isnan(r.calibre_mean_px) and math.isnan(r.calibre_median_px)
    for spacing in (0.01, (0.02, 0.01)):
        r = measure_vessels(np.zeros((32, 32), bool), spacing_mm=spacing)
        assert math.isnan(r.calibre_mean_um) and math.isnan(r.calibre_median_um)
    outside, fov = np.zeros((32, 32), bool), np.zeros((32, 32), bool)
    outside[:, :4], fov[8:24, 8:24] = True, True
    assert math.isnan(measure_vessels(outside, fov=fov, spacing_mm=0.01).calibre_mean_um)
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


@pytest.mark.parametrize("width", [5, 8, 12])
def test_straight_vessels_have_no_branch_points(width):
    """Thinning a vessel with a flat end (cut by the image's or the FOV's edge) leaves a fork at that
    end, and a rough edge grows short spurs: 130 of 270 straight bands (widths 1-15, angles 0-85°) had a
    branch point (three pixels in an L counted as one too). Spurs no longer than √2·r + 1 are pruned."""
    for angle in (15, 25, 35, 55, 65, 75):
        r = measure_vessels(_band(width, angle))
        assert (r.n_branch_points, r.n_segments) == (0, 1), angle


def test_a_bump_is_no_branch_but_a_short_side_vessel_is():
    m = np.zeros((100, 200), bool)
    m[48:55, 20:180] = True  # 7 px wide
    m[45:48, 99:102] = True  # a 3 px bump on its edge
    r = measure_vessels(m)
    assert r.n_branch_points == 0
    m[30:48, 99:102] = True  # a side vessel 18 px out of the edge: a branch
    r = measure_vessels(m)
    assert r.n_branch_points == 1 and r.n_segments == 3


def test_a_measure_asked_to_stop_raises_between_its_stages(monkeypatch):
    """``stop_requested`` is asked between the stages; True stops the measure before the next one (the window's
    measure of a 15-megapixel mask whose result it no longer wants: session 48)."""
    import skimage.morphology

    from vessel_studio.measures import MeasureStopped

    m = np.zeros((100, 200), bool)
    m[48:53, 20:180] = True
    asked = []
    whole = measure_vessels(m, stop_requested=lambda: asked.append(1) and False)
    assert whole == measure_vessels(m) and len(asked) >= 5
    skeletons = []
    real = skimage.morphology.skeletonize
    monkeypatch.setattr(skimage.morphology, "skeletonize", lambda x: skeletons.append(1) or real(x))
    with pytest.raises(MeasureStopped):
        measure_vessels(m, stop_requested=lambda: True)  # stopped after the distance map
    assert skeletons == []
    for k in range(1, len(asked) + 1):  # each check stops it
        n = []
        with pytest.raises(MeasureStopped):
            measure_vessels(m, stop_requested=lambda: n.append(1) or len(n) >= k)
        assert len(n) == k
