"""vessel_studio.calibration: a mask boundary fitted to corrected masks."""

from __future__ import annotations

import numpy as np
import pytest

from vessel_studio.calibration import BoundaryCalibration, fit_boundary, thin_mask


def _bar(width: int, size: int = 48, col: int | None = None) -> np.ndarray:
    m = np.zeros((size, size), bool)
    c = size // 2 if col is None else col
    m[6:-6, c - width // 2: c - width // 2 + width] = True
    return m


def _blurred(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    return np.clip(ndi.gaussian_filter(mask.astype(np.float32), 1.0) * 1.4, 0, 1)


def test_thinning_keeps_centre_lines():
    one_px = _bar(1)
    assert (thin_mask(one_px, 1) == one_px).all()  # a plain erosion would erase it
    wide = _bar(7)
    inner = slice(8, -8)  # away from the bar's ends, which the erosion shortens too
    np.testing.assert_array_equal(thin_mask(wide, 1)[inner], _bar(5)[inner])
    np.testing.assert_array_equal(thin_mask(wide, 0), wide)


def test_fit_finds_labels_drawn_inside_the_predicted_edges():
    # the model's probabilities cover 7-px vessels; the corrections draw them 5 px wide
    probs = [_blurred(_bar(7)), _blurred(_bar(7, col=14))]
    masks = [_bar(5), _bar(5, col=14)]
    cal = fit_boundary(probs, masks)
    assert cal.images == 2 and cal.dice_fitted > cal.dice_plain + 0.05
    assert cal.thin >= 1 or cal.threshold > 0.5
    np.testing.assert_array_equal(cal.apply(probs[0])[8:-8], masks[0][8:-8])


def test_fit_keeps_the_plain_rule_when_it_is_already_right():
    probs = [_blurred(_bar(5))]
    cal = fit_boundary(probs, [probs[0] >= 0.5])
    assert (cal.threshold, cal.thin) == (0.5, 0) and cal.dice_fitted == cal.dice_plain == 1.0


def test_no_corrections_bad_shapes_and_bad_values():
    assert fit_boundary([], []) == BoundaryCalibration()
    with pytest.raises(ValueError, match="shape"):
        fit_boundary([np.zeros((4, 4))], [np.zeros((5, 5), bool)])
    with pytest.raises(ValueError, match="pair up"):
        fit_boundary([np.zeros((4, 4))], [])
    with pytest.raises(ValueError, match="threshold"):
        BoundaryCalibration(threshold=1.0)
    with pytest.raises(ValueError, match="thin"):
        BoundaryCalibration(thin=-1)
    with pytest.raises(ValueError, match="unknown"):
        BoundaryCalibration.from_dict({"threshold": 0.4, "erode": 1})
    cal = BoundaryCalibration(threshold=0.35, thin=1, images=3, dice_plain=0.7, dice_fitted=0.8)
    assert BoundaryCalibration.from_dict(cal.to_dict()) == cal
    fov = np.zeros((48, 48), bool)
    assert not cal.apply(_blurred(_bar(7)), fov).any()
