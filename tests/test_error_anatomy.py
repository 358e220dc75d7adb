"""benchmarks/error_anatomy.py on a drawn vessel whose label is one pixel thinner than the image shows."""

from __future__ import annotations

import numpy as np


def _bar(width: int, size: int = 64) -> np.ndarray:
    m = np.zeros((size, size), bool)
    c = size // 2
    m[8:-8, c - width // 2: c - width // 2 + width] = True
    return m


def test_width_offset_is_found_and_read_from_the_image_edges(benchmark_script):
    mod = benchmark_script("error_anatomy")
    fov = np.ones((64, 64), bool)
    image = _bar(7).astype(np.float32) * 200 + 20  # the vessel the image shows: 7 px wide
    label, pred = _bar(5), _bar(7)  # the label is drawn one pixel inside each edge
    a = mod.anatomy(pred, label, fov)
    assert a["fn_of_label"] == 0 and a["fp_near_share"] == 1.0 and a["vessel_fraction_pred"] > a["vessel_fraction_label"]
    assert mod.edge_choice(image, pred, fov) == "none"  # the prediction's boundary is on the image's edges
    assert mod.edge_choice(image, label, fov) == "dilate1"  # the label's lies one pixel inside them
    thin = mod.anatomy(np.zeros_like(label), _bar(3), fov, thin=3.0)
    assert thin["missed_thin_of_thin"] == 1.0 and thin["label_thin_share"] > 0.9
