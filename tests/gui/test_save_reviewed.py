"""Save correction with no edits of a mask accepted as reviewed (session 36): the image stays "reviewed".

Before, the Save wrote the same mask again and set the state "corrected": the Project panel, ``vessel-studio
images`` and the export record then said a person had corrected a mask they had accepted unedited."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_save_without_edits_keeps_a_reviewed_mask_reviewed(studio, said, qtbot):
    from vessel_studio.gui import tasks

    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    layer = review.mask_layer
    layer.paint((40, 40), 1)  # no prediction in the sample project: a mask must hold something to be accepted
    assert review.mark_reviewed() and proj.image(image_id).state == "reviewed"
    saved = tasks.stat_key(proj.correction_path(image_id))
    accepted = proj.correction(image_id)

    assert review.save()  # no edits: nothing to write, the state stays
    assert proj.image(image_id).state == "reviewed"
    assert tasks.stat_key(proj.correction_path(image_id)) == saved
    assert said[-1] == (f"no edits to save: the mask of {proj.image(image_id).name} stays accepted as reviewed "
                        "(edit it, then Save correction, to make it \"corrected\")")
    assert "reviewed" in review.title.text()

    layer.paint((10, 10), 1)  # an edit undone: still no edits
    review.undo()
    assert not review.dirty and review.save() and proj.image(image_id).state == "reviewed"

    layer.paint((10, 10), 1)  # an edit: Save makes it a correction
    assert review.save()
    assert proj.image(image_id).state == "corrected"
    assert np.array_equal(proj.correction(image_id), accepted | (layer.data > 0))
    assert said[-1].startswith("saved the corrected mask of")


def test_save_without_edits_after_another_window_saved_shows_theirs_and_writes_nothing(studio, said, qtbot):
    """The saved mask replaced elsewhere and marked reviewed there, unseen here yet: this window's Save has no edits
    to save, and the mask on screen is not the saved one. Before session 38 it wrote the mask on screen over the other
    window's, "corrected" (their work gone without a word); now nothing is written, the state stays theirs, and
    their mask is read and shown, the status bar saying so."""
    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    review.mask_layer.paint((40, 40), 1)
    assert review.mark_reviewed()
    studio._watch.stop()  # this window has not looked at the project since
    from vessel_studio.store import Project

    other = Project.open(proj.folder)
    theirs = np.zeros(review.mask_layer.data.shape, bool)
    theirs[60:70, 60:70] = True
    other.save_correction(image_id, theirs)
    other.set_state(image_id, "reviewed")
    assert review.save() is False
    assert "nothing saved" in said[-1] and "changed in another window" in said[-1]
    assert proj.image(image_id).state == "reviewed"
    assert np.array_equal(proj.correction(image_id), theirs)
    qtbot.waitUntil(lambda: np.array_equal(review.mask_layer.data > 0, theirs), timeout=10000)
    assert "is shown now: nothing was saved here" in said[-1] and not review.dirty
    assert review.save()  # now the saved mask is the one shown: nothing to write, it stays reviewed
    assert proj.image(image_id).state == "reviewed" and np.array_equal(proj.correction(image_id), theirs)


def test_accept_of_the_prediction_after_another_window_saved_a_correction_writes_nothing(studio, said, qtbot):
    """Session 38: another window saved a hand correction of the image on screen, and within the ~2 s before this
    window's watcher follows it, "Accept as reviewed" here (no edits: the prediction on screen) wrote the prediction
    over that correction, "reviewed". Now nothing is written and the correction is shown. Edits made here are
    still saved over it (``test_two_windows``: the status bar says so once the change is seen)."""
    from test_review_export import _review_with_predictions

    from vessel_studio.store import Project

    review, _viewer = _review_with_predictions(studio)
    proj, image_id = studio.project, review.image_id
    studio._watch.stop()
    assert not review.dirty and not proj.correction_path(image_id).exists()
    theirs = np.zeros(review.mask_layer.data.shape, bool)
    theirs[10:20, :] = True
    other = Project.open(proj.folder)
    other.save_correction(image_id, theirs)
    assert review.mark_reviewed() is False
    assert proj.image(image_id).state == "corrected" and np.array_equal(proj.correction(image_id), theirs)
    qtbot.waitUntil(lambda: np.array_equal(review.mask_layer.data > 0, theirs), timeout=10000)
    review.mask_layer.paint((5, 5), 1)  # edits made here on their mask: saved over it, as before
    assert review.dirty and review.save()
    assert proj.correction(image_id)[5, 5]


def test_save_pressed_while_the_accept_is_still_being_written_keeps_it_reviewed(studio, said, qtbot, monkeypatch):
    """Session 36 QA: a large mask's Accept is written in the worker; a Save correction pressed before it landed,
    with no edits between, wrote the same mask again and made the image "corrected" (15 megapixels, in the real
    window: Accept, then Save at once). It stays "reviewed"; an edit between is saved as a correction."""
    from vessel_studio.gui import tasks

    monkeypatch.setattr(tasks, "SAVE_IN_WORKER_PIXELS", 0)  # every save in the worker, as a large mask's
    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    layer = review.mask_layer
    layer.paint((40, 40), 1)
    assert review.mark_reviewed()
    assert review._saver.in_flight(proj, image_id) is not None or proj.image(image_id).state == "reviewed"
    assert review.save()  # no edits since the Accept
    review._saver.flush()
    qtbot.wait(50)
    assert proj.image(image_id).state == "reviewed"
    assert np.array_equal(proj.correction(image_id), layer.data > 0)

    layer.paint((10, 10), 1)
    assert review.mark_reviewed()
    layer.paint((20, 20), 1)  # an edit after the Accept, before it landed: Save makes it a correction
    assert review.save()
    review._saver.flush()
    qtbot.wait(50)
    assert proj.image(image_id).state == "corrected"
    assert np.array_equal(proj.correction(image_id), layer.data > 0)


def test_save_of_an_unedited_prediction_marks_it_reviewed_as_accept_does(studio, said, qtbot):
    """Session 36 left it: Save correction of a prediction shown with no edits wrote it as a correction, state
    "corrected": the Project panel, ``vessel-studio images`` and the export record then said a person had corrected
    a mask they had taken unedited. It is what "Accept as reviewed" does: the same mask is saved, state "reviewed"
    (the status bar says why); with an edit, Save makes it "corrected" as before."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    p = np.zeros(proj.image(image_id).shape[:2], np.float32)
    p[30:50, 10:80] = 0.9
    write_prob(tasks.source_only_path(proj, image_id), p)
    review.load(image_id)
    assert review._mask_origin == "predicted" and not review.dirty
    assert review.save()
    assert proj.image(image_id).state == "reviewed"
    assert np.array_equal(proj.correction(image_id), p >= review.threshold.value())
    assert said[-1].startswith(f"no edits: the prediction of {proj.image(image_id).name} was saved as it is")

    other = [r.id for r in proj.images if r.id != image_id][0]  # an edit undone is no edit either
    write_prob(tasks.source_only_path(proj, other), p)
    review.load(other)
    review.mask_layer.paint((5, 5), 1)
    review.undo()
    assert review.save() and proj.image(other).state == "reviewed"
    review.load(other)  # a saved correction now: an edit, then Save, is a correction
    review.mask_layer.paint((5, 5), 1)
    assert review.save() and proj.image(other).state == "corrected"
    third = [r.id for r in proj.images if r.id not in (image_id, other)][0]
    write_prob(tasks.source_only_path(proj, third), p)
    review.load(third)
    review.mask_layer.paint((5, 5), 1)  # an edited prediction: "corrected"
    assert review.save() and proj.image(third).state == "corrected"
