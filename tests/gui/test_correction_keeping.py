"""A person's corrections are never lost or replaced behind their back: edits after a save, an
accepted mask, a mis-clicked Revert, exported masks of images that share a name."""

from __future__ import annotations

import numpy as np
import pytest

from test_review_export import _review_with_predictions

pytestmark = pytest.mark.gui


def _edit(layer, spot=(40, 40)):
    """Flip one pixel of the mask with the brush (an edit whatever the mask was); its new value."""
    layer.brush_size = 1
    value = 0 if layer.data[spot] else 1
    layer.paint(spot, value)
    assert layer.data[spot] == value
    return spot, value


def test_edits_after_a_save_come_back_when_the_project_is_opened_again(studio, make_napari_viewer):
    """Save, edit on, autosave, the app dies: the reopened image shows the later edits (its draft),
    not the older saved correction, and says they are not saved."""
    from vessel_studio.gui import tasks
    from vessel_studio.gui.app import attach

    review = studio.panels["Review"]
    image_id = studio.current_id
    layer = review.mask_layer
    layer.paint((50, 50), 1)
    assert review.save()
    saved = layer.data > 0
    layer.paint((20, 70), 1)
    assert review.dirty
    review.autosave()  # then the app crashed (or the Review dock was closed)
    assert tasks.draft_path(studio.project, image_id).is_file()

    viewer2 = make_napari_viewer()
    st2 = attach(viewer2, project=studio.project.folder)
    rev2 = st2.panels["Review"]
    assert st2.current_id == image_id
    assert viewer2.layers["mask"].data[20, 70] and viewer2.layers["mask"].data[50, 50]
    assert rev2.dirty and "draft" in rev2.edit_state.text() and "unsaved" in rev2.edit_state.text()
    assert np.array_equal(st2.project.correction(image_id), saved)  # the saved one is untouched
    assert rev2.save()
    assert st2.project.correction(image_id)[20, 70] and not tasks.draft_path(st2.project, image_id).exists()
