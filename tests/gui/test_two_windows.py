"""Two windows (two people, two processes) on one project folder, editing the same image (session 32 QA).

The other window is simulated as ``test_outside_changes`` does: a second ``Project.open(folder)`` and its files
(its saves, its autosaved draft ``tasks.write_draft``). An image has one draft file: found with two studio processes,
a window with no edits of the image deleted the other window's draft at each autosave (every 3 s), a Save or Accept
deleted it too, and the window whose draft had gone never wrote it
again while its edits stayed unchanged (a crash then lost them); a second Save of a correction elsewhere (its state
stays "corrected") did not reach this window, whose "Accept as reviewed" then wrote its older mask over it. Session 36:
the draft file is kept for the window whose edits it holds; the other window's edits are not autosaved over it."""

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


def test_a_window_without_edits_leaves_the_other_windows_draft(studio, qtbot):
    """This window shows the image with no edits; the other window's autosave writes the image's draft: this
    window's autosave leaves it (before, it deleted it every 3 s, so a crash of the other window lost its
    edits); a Save here leaves it too (their edits are still unsaved)."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    image_id = review.image_id
    theirs = np.zeros(studio.viewer.layers["mask"].data.shape, bool)
    theirs[60:80, 60:80] = True
    tasks.write_draft(_other(studio), image_id, theirs)
    review.autosave()
    assert np.array_equal(_draft(studio.project, image_id), theirs)
    studio.viewer.layers["mask"].paint((5, 5), 1)  # no prediction: an empty mask is not saved
    assert review.save()
    assert np.array_equal(_draft(studio.project, image_id), theirs)
    assert review.mark_reviewed()
    assert np.array_equal(_draft(studio.project, image_id), theirs)


def test_edits_whose_draft_another_window_removed_are_autosaved_again(studio, said, qtbot):
    """Edits here, autosaved; the other window's Save (or Discard, Revert) deletes the image's draft: the next
    autosave here writes these edits again (before session 32, the draft was written only when the edits here
    changed, so they were in no draft and a crash lost them)."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    image_id = review.image_id
    mine = _edit(review, slice(5, 20), slice(5, 20))
    review.autosave()
    assert np.array_equal(_draft(studio.project, image_id), mine)
    other = _other(studio)
    theirs = np.zeros(mine.shape, bool)
    theirs[60:80, 60:80] = True
    other.save_correction(image_id, theirs)  # the other window's Save: its draft (this one) goes
    tasks.drop_draft(other, image_id)
    review.autosave()
    assert np.array_equal(_draft(studio.project, image_id), mine)
    assert not any("in its autosaved draft" in s for s in said)  # deleted, not theirs: nothing to say


def test_a_window_does_not_autosave_over_the_other_windows_draft(studio, said, qtbot):
    """Session 36: two windows with unsaved edits of one image wrote them over each other's in its one draft file
    every 3 s (each wrote its own again once the other's had replaced it): a crash of either window lost its edits
    to the other's, and a window opened later restored whichever had been written last. The draft is kept for the
    window that wrote it first: here, the edits are not autosaved while it is there (the edit line and the
    status bar say so), and once their Save has deleted it these edits are written. (The other window holds its
    draft, ``tasks.hold_draft``, as a live window does since session 36: a draft no window holds is one whose window
    ended, which ``test_draft_holds`` covers.)"""
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    image_id = review.image_id
    other = _other(studio)
    theirs = np.zeros(studio.viewer.layers["mask"].data.shape, bool)
    theirs[60:80, 60:80] = True
    hold = tasks.hold_draft(other, image_id)
    try:
        tasks.write_draft(other, image_id, theirs)  # the other window's autosave
        mine = _edit(review, slice(5, 20), slice(5, 20))
        for _ in range(2):
            review.autosave()
            assert np.array_equal(_draft(studio.project, image_id), theirs)
        assert "not autosaved" in review.edit_state.text()
        name = studio.project.image(image_id).name
        assert [s for s in said if "in its autosaved draft" in s] == [
            f"another window or program has unsaved edits of {name} in its autosaved draft (an image has one): they "
            "are kept and not shown here, and edits here are not autosaved while that draft is there; save them to "
            "keep them"]
        # a window opened later (after a crash of this one) restores the other window's edits, not a mix
        mask, origin = tasks.current_mask(Project.open(studio.project.folder), image_id)
        assert origin == "draft" and np.array_equal(mask, theirs)

        other.save_correction(image_id, theirs)  # their Save deletes their draft: these edits are autosaved now
        tasks.drop_draft(other, image_id)
    finally:
        tasks.release_draft(hold)
    review.autosave()
    assert np.array_equal(_draft(studio.project, image_id), mine)
    assert "not autosaved" not in review.edit_state.text() and review.dirty
    assert len([s for s in said if "in its autosaved draft" in s]) == 1  # said once per image


def test_a_window_opening_the_image_does_not_take_the_live_draft_of_another_for_its_own(studio, said, qtbot):
    """Session 36, two studio processes: the second window to open an image that the first had unsaved, autosaved
    edits of restored the first's draft as its own (as a crash's leftover), and autosaved it with its own edits
    over it: the draft, and a window opened later, held the two windows' edits mixed. The first window holds its
    draft (``tasks.hold_draft``: a lock a crash releases): the second shows the saved mask or the prediction, says
    so, and does not autosave over the draft; a draft whose window has ended is restored, as after a crash."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    image_id = review.image_id
    other = _other(studio)
    theirs = np.zeros(studio.viewer.layers["mask"].data.shape, bool)
    theirs[60:80, 60:80] = True
    hold = tasks.hold_draft(other, image_id)  # the other window's autosave: it holds the draft while it runs
    tasks.write_draft(other, image_id, theirs)
    try:
        review.load(image_id)  # this window opens the image (again)
        assert review._mask_origin != "draft" and not (review.mask_layer.data > 0).any()
        assert [s for s in said if "in its autosaved draft" in s]
        mine = _edit(review, slice(5, 20), slice(5, 20))
        review.autosave()
        assert np.array_equal(_draft(studio.project, image_id), theirs)
        assert "not autosaved" in review.edit_state.text()
    finally:
        tasks.release_draft(hold)  # the other window ends (a crash: its draft stays)
    # not held any more: its draft is set aside, not written over, and these edits are autosaved (session 37; before,
    # they stayed "not autosaved" as long as this window was open)
    review.autosave()
    assert np.array_equal(_draft(studio.project, image_id), mine) and review.dirty
    from vessel_studio.io.images import read_mask

    aside = tasks.ended_draft_paths(studio.project, image_id)
    assert len(aside) == 1 and np.array_equal(read_mask(aside[0]), theirs)
    layer = review.mask_layer
    layer.data = np.zeros_like(layer.data)  # these edits undone (their draft goes, the one set aside is the draft
    review._edited()  # again); the image opened again: the draft left by the window that ended is restored, as
    review.autosave()  # after a crash, and held by this window now
    review.load(image_id)
    assert review._mask_origin == "draft" and np.array_equal(review.mask_layer.data > 0, theirs)
    assert tasks.draft_held(_other(studio), image_id)
    assert not np.array_equal(mine, theirs)


def test_a_correction_saved_again_elsewhere_is_shown_and_not_replaced_by_accept(studio, said, qtbot):
    """The other window saves the image's correction twice: its state stays "corrected", and before only the
    first save reached this window, whose "Accept as reviewed" then wrote the first mask over the second."""
    review = studio.panels["Review"]
    image_id = review.image_id
    shape = studio.viewer.layers["mask"].data.shape
    other = _other(studio)
    first = np.zeros(shape, bool)
    first[10:30, 40:60] = True
    other.save_correction(image_id, first)
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["mask"].data > 0, first), timeout=5000)
    second = first.copy()
    second[60:80, 60:80] = True
    other.save_correction(image_id, second)
    qtbot.waitUntil(lambda: np.array_equal(studio.viewer.layers["mask"].data > 0, second), timeout=5000)
    assert not review.dirty
    name = studio.project.image(image_id).name
    assert said[-1] == f"the saved mask of {name} was replaced in another window or program: it is shown now"
    assert review.mark_reviewed()
    assert np.array_equal(studio.project.correction(image_id), second)
    # with edits here: they stay, and the status bar says that saving them replaces the mask saved there
    mine = _edit(review, slice(0, 5), slice(0, 5))
    third = second.copy()
    third[85:90, 85:90] = True
    other.save_correction(image_id, third)
    other.set_state(image_id, "reviewed")  # its Accept: the state this window last saw
    qtbot.waitUntil(lambda: any("your unsaved edits here stay" in s for s in said), timeout=5000)
    assert np.array_equal(studio.viewer.layers["mask"].data > 0, mine) and review.dirty


def test_discard_and_leave_do_not_call_the_other_windows_draft_this_ones(studio, dialogs, qtbot, monkeypatch):
    """The other window's draft of the image on screen, this window with no edits: "Discard saved mask" asked
    whether to drop "its unsaved edits" too (they were the other window's); and leaving the image with edits
    here answered "discard" deleted the other window's draft (its edits) with this window's."""
    from vessel_studio.gui import dialogs as mod
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    image_id = review.image_id
    studio.viewer.layers["mask"].paint((90, 90), 1)  # no prediction: an empty mask is not saved
    assert review.save()
    theirs = np.zeros(studio.viewer.layers["mask"].data.shape, bool)
    theirs[60:80, 60:80] = True
    tasks.write_draft(_other(studio), image_id, theirs)
    texts = []
    monkeypatch.setattr(mod, "confirm", lambda parent, title, text: texts.append(text) or False)
    assert not review.discard_saved()
    assert "Its unsaved edits are dropped too" not in texts[0]
    assert "another window or program autosaved" in texts[0]
    _edit(review, slice(5, 20), slice(5, 20))  # edits here, not autosaved yet; then Next, answered "discard"
    dialogs.answers["save_discard_cancel"] = "discard"
    assert review.confirm_leave()
    assert np.array_equal(_draft(studio.project, image_id), theirs)


def test_edits_undone_after_a_save_elsewhere_are_still_unsaved_edits(studio, said, dialogs, qtbot):
    """Edits here, then the other window saves a correction of the image: the edits stay. Undoing them here brings
    back the mask this window had read, which is no longer the one saved: it is an unsaved change (saving it
    replaces the other window's correction), and leaving asks. Before (suspected in session 32, confirmed in 33),
    the edits were compared with the mask read before the other window's save: undoing them said "no unsaved
    edits" while the mask on screen was not the saved one, and leaving the image did not ask."""
    review = studio.panels["Review"]
    image_id = review.image_id
    before = studio.viewer.layers["mask"].data > 0
    _edit(review, slice(5, 20), slice(5, 20))
    theirs = before.copy()
    theirs[60:80, 60:80] = True
    _other(studio).save_correction(image_id, theirs)
    qtbot.waitUntil(lambda: any("your unsaved edits here stay" in s for s in said), timeout=5000)
    layer = studio.viewer.layers["mask"]
    layer.data = before.astype(layer.data.dtype)  # every edit undone
    review._edited()
    assert review.dirty
    assert "unsaved edits" in review.edit_state.text()
    dialogs.answers["save_discard_cancel"] = "cancel"
    assert not review.confirm_leave() and dialogs.asked  # leaving asks
    layer.data = theirs.astype(layer.data.dtype)  # the mask saved there: nothing unsaved
    review._edited()
    assert not review.dirty


def test_revert_here_leaves_the_draft_another_window_holds(studio, said, dialogs, qtbot):
    """Session 36 QA: the other window has unsaved edits of the image, autosaved as its draft, which it holds
    (``tasks.hold_draft``); "Revert edits" here deleted that draft, with no question when this window had no edits
    (that window wrote it again up to 3 s later; meanwhile its crash, or ``images --remove``, lost its edits). Revert
    drops this window's edits only."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    review._autosave.stop()
    image_id = review.image_id
    other = _other(studio)
    theirs = np.zeros(studio.viewer.layers["mask"].data.shape, bool)
    theirs[60:80, 60:80] = True
    hold = tasks.hold_draft(other, image_id)
    tasks.write_draft(other, image_id, theirs)
    try:
        assert review.revert()  # no edits here: nothing is asked
        assert np.array_equal(_draft(studio.project, image_id), theirs)
        _edit(review, slice(5, 20), slice(5, 20))  # edits here (not autosaved over theirs), then reverted
        review.autosave()
        assert review.revert() and dialogs.asked == ["Revert edits"]
        assert np.array_equal(_draft(studio.project, image_id), theirs)
        assert not review.dirty and not (review.mask_layer.data > 0).any()
    finally:
        tasks.release_draft(hold)
    # the other window ended (a crash): its draft is restored here, and Revert drops it as this window's own
    review.load(image_id)
    assert review._mask_origin == "draft"
    assert review.revert()
    assert _draft(studio.project, image_id) is None


def test_a_save_landing_after_the_image_was_left_keeps_the_draft_another_window_holds(studio, said, dialogs, qtbot,
                                                                                       monkeypatch):
    """Session 36 QA: a large mask's Save is written in the worker and this window moves on to another image before
    it lands; meanwhile the other window opens the image and edits it (it holds the draft, its unsaved edits). The
    save landing here deleted that draft (it was meant for this window's own, of the edits saved)."""
    import threading

    from vessel_studio.gui import tasks

    monkeypatch.setattr(tasks, "SAVE_IN_WORKER_PIXELS", 0)  # every save in the worker, as a large mask's
    gate, real = threading.Event(), tasks.save_correction

    def slow_save(*a, **kw):  # the worker's write, held until the other window has edited
        gate.wait(10)
        return real(*a, **kw)

    monkeypatch.setattr(tasks, "save_correction", slow_save)
    review = studio.panels["Review"]
    review._autosave.stop()
    proj, image_id = studio.project, review.image_id
    nxt = [r.id for r in proj.images if r.id != image_id][0]
    _edit(review, slice(5, 20), slice(5, 20))
    assert review.save()  # in the worker, held
    studio.select_image(nxt)  # left at once: the save lands in the background
    qtbot.waitUntil(lambda: review.image_id == nxt, timeout=5000)
    other = _other(studio)
    theirs = np.zeros(studio.viewer.layers["mask"].data.shape, bool)
    theirs[60:80, 60:80] = True
    hold = tasks.hold_draft(other, image_id)  # the other window opened the image and edited it
    try:
        tasks.write_draft(other, image_id, theirs)
        gate.set()
        review._saver.flush()
        qtbot.wait(50)
        assert proj.image(image_id).state == "corrected"
        assert np.array_equal(_draft(studio.project, image_id), theirs)
    finally:
        gate.set()
        tasks.release_draft(hold)
