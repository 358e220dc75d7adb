"""The Review panel's overlays: the uncertainty map's colours (no tint where the model is sure)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import fake_probability

pytestmark = pytest.mark.gui


def test_the_uncertainty_map_does_not_tint_sure_pixels(studio):
    """The uncertainty map (additive blending) was viridis, dark purple at 0: every sure pixel, and the
    black around the field of view, turned purple when it was switched on. Its colormap is black at 0."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    proj = studio.project
    image_id = proj.images[0].id
    write_prob(tasks.source_only_path(proj, image_id), fake_probability(proj.images[0].shape[:2], 1))
    review, viewer = studio.panels["Review"], studio.viewer
    review._reload_maps()
    review.show_unc.setChecked(True)
    assert viewer.layers["uncertainty"].visible
    for name in ("uncertainty", "probability", "compare"):
        layer = viewer.layers[name]
        assert layer.blending == "additive"
        rgb_at_0 = np.asarray(layer.colormap.map(np.array([0.0])))[0, :3]
        assert rgb_at_0.max() < 0.02, (name, layer.colormap.name, rgb_at_0)
        assert np.asarray(layer.colormap.map(np.array([1.0])))[0, :3].max() > 0.9
