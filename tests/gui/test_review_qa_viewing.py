"""What the Review panel shows a person doing visual QA of segmentations (session 38 QA of its viewing features):
the vessel measures are those of the mask on screen, also after the Mask threshold redrew it."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import fake_probability

pytestmark = pytest.mark.gui


def _write_source_only(proj, image_id, p):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    write_prob(tasks.source_only_path(proj, image_id), p)


def test_vessel_measures_follow_the_mask_the_threshold_draws(studio, qtbot):
    """"Vessel measures of the mask on screen" (GUIDE): the Mask threshold redraws the mask of an image with no saved
    mask and no edits, but the measures stayed those of the mask drawn at the threshold before (QA, session 38: on
    STARE im0162 the mask at p >= 0.3 covered 0.131 of the field of view while the panel said a vessel density of
    0.109, the mask at p >= 0.5's)."""
    from vessel_studio.gui import tasks

    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    prob = fake_probability(shape, 7)
    _write_source_only(proj, image_id, prob)
    review = studio.panels["Review"]
    review._reload_maps()
    assert review.image_id == image_id and np.array_equal(review.prob, prob)
    fov = review._fov

    def density_shown():
        m = getattr(review, "last_measures", None)
        return None if m is None or "tortuosity" not in review.measures.text() else m["density"]

    want = tasks.measure_image(proj, image_id, prob >= 0.5, fov=fov)["density"]
    qtbot.waitUntil(lambda: density_shown() == pytest.approx(want), timeout=20000)
    before = want
    review.threshold.setValue(0.3)
    mask = review.viewer.layers["mask"].data > 0
    assert np.array_equal(mask, prob >= 0.3)  # the threshold redrew the mask
    want = tasks.measure_image(proj, image_id, mask, fov=fov)["density"]
    assert want > 0.1 + before
    qtbot.waitUntil(lambda: density_shown() == pytest.approx(want), timeout=20000)
