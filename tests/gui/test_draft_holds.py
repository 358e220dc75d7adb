"""Draft holds (session 36: ``tasks.hold_draft``), the bugs session 36 left (session 37).

The other window is simulated as ``test_two_windows`` does: a second ``Project.open(folder)``, its draft written with
``tasks.write_draft`` and held with ``tasks.hold_draft`` (another open file of the lock: flock sees it as another
holder, as it does another process's). A hold released stands for that window ending (a crash: its draft stays)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _other(studio):
    from vessel_studio.store import Project

    return Project.open(studio.project.folder)


def _draft(proj, image_id):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import read_mask

    path = tasks.draft_path(proj, image_id)
    return read_mask(path) if path.is_file() else None


def _edit(review, rows, cols):
    review.viewer.layers["mask"].data[rows, cols] = 1
    review._edited()
    return review.viewer.layers["mask"].data > 0


def _square(shape, at=60, size=20):
    m = np.zeros(shape, bool)
    m[at:at + size, at:at + size] = True
    return m


def test_discard_saved_mask_keeps_the_draft_another_window_holds(studio, said, dialogs, qtbot, monkeypatch):
    """Session 36 left it: "Discard saved mask" here deleted the image's draft while another window held it (its
    live unsaved edits): a crash of that window, or ``images --remove``, then lost them. The draft stays, and the
    question says so; a draft no window holds (left by a crash) still goes with the saved mask, as before."""
    from vessel_studio.gui import dialogs as mod
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    review._autosave.stop()
    image_id = review.image_id
    studio.viewer.layers["mask"].paint((90, 90), 1)  # no prediction: an empty mask is not saved
    assert review.save()
    other = _other(studio)
    theirs = _square(studio.viewer.layers["mask"].data.shape)
    hold = tasks.hold_draft(other, image_id)
    tasks.write_draft(other, image_id, theirs)
    texts = []
    monkeypatch.setattr(mod, "confirm", lambda parent, title, text: texts.append(text) or True)
    try:
        assert review.discard_saved()
        assert studio.project.correction(image_id) is None
        assert np.array_equal(_draft(studio.project, image_id), theirs)
        assert "they are kept" in texts[-1] and "deleted too" not in texts[-1]
    finally:
        tasks.release_draft(hold)
    # that window ended (a crash): its draft is a leftover, shown here as the draft; saved again and discarded, the
    # draft goes with the saved mask as before
    review.load(image_id)
    assert review._mask_origin == "draft"
    assert review.save()
    other.save_correction(image_id, theirs)  # and a draft left by yet another window that ended
    tasks.write_draft(other, image_id, theirs)
    qtbot.wait(100)
    assert review.discard_saved()
    assert _draft(studio.project, image_id) is None
