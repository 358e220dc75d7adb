"""Draft holds (session 36: ``tasks.hold_draft``), the bugs session 36 left (session 37).

The other window is simulated as ``test_two_windows`` does: a second ``Project.open(folder)``, its draft written with
``tasks.write_draft`` and held with ``tasks.hold_draft`` (another open file of the lock: flock sees it as another
holder, as it does another process's). A hold released stands for that window ending (a crash: its draft stays)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


from test_two_windows import _draft, _edit, _other  # the other window, simulated as there


def _ended_with_edits_here(studio):
    """The other window held the image's draft (its edits) and ended (a crash) while this window had edits of the
    image too (autosave ticks stopped: the test calls it). Returns the project, the image id and that draft's mask."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    review._autosave.stop()
    proj, image_id = studio.project, review.image_id
    other = _other(studio)
    theirs = _square(studio.viewer.layers["mask"].data.shape)
    hold = tasks.hold_draft(other, image_id)
    tasks.write_draft(other, image_id, theirs)
    _edit(review, slice(5, 20), slice(5, 20))
    tasks.release_draft(hold)  # that window crashed
    return proj, image_id, theirs


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


def test_a_save_failing_after_the_image_was_left_does_not_write_over_the_draft_another_window_holds(
        studio, said, dialogs, qtbot, monkeypatch):
    """Session 36 left it: a large mask's Save is written in the worker and this window moves on to another image;
    meanwhile the other window opens the image and edits it (it holds the draft: its unsaved edits). The save fails
    (a full disk): its edits were written as the image's draft with no hold taken, over the other window's. They
    are kept in this window instead, and written as the draft once that window's is gone."""
    import errno
    import threading

    from vessel_studio.gui import tasks

    monkeypatch.setattr(tasks, "SAVE_IN_WORKER_PIXELS", 0)  # every save in the worker, as a large mask's
    gate = threading.Event()

    def failing_save(*a, **kw):  # the worker's write, held until the other window has edited, then refused
        gate.wait(10)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tasks, "save_correction", failing_save)
    review = studio.panels["Review"]
    review._autosave.stop()
    proj, image_id = studio.project, review.image_id
    nxt = [r.id for r in proj.images if r.id != image_id][0]
    mine = _edit(review, slice(5, 20), slice(5, 20))
    assert review.save()  # in the worker, held
    studio.select_image(nxt)  # left at once: the save lands in the background
    qtbot.waitUntil(lambda: review.image_id == nxt, timeout=5000)
    other = _other(studio)
    theirs = _square(mine.shape)
    hold = tasks.hold_draft(other, image_id)  # the other window showed the image (no draft of it: the prediction)
    try:
        assert hold is not None
        tasks.write_draft(other, image_id, theirs)  # and edited it
        gate.set()
        review._saver.flush()
        qtbot.wait(50)
        assert [t for t, _ in dialogs.errors] == ["Cannot save the correction"]
        assert "Another window has unsaved edits of it" in dialogs.errors[0][1]
        assert np.array_equal(_draft(proj, image_id), theirs)
        assert review.unsaved_among({image_id}) == [image_id]  # kept in this window
        review.autosave()  # the tick tries again: still theirs
        assert np.array_equal(_draft(proj, image_id), theirs)
        tasks.drop_draft(other, image_id)  # their Save: their draft goes
    finally:
        gate.set()
        tasks.release_draft(hold)
    review.autosave()
    assert np.array_equal(_draft(proj, image_id), mine) and review.unsaved_among({image_id}) == []
    assert not tasks.draft_held(other, image_id)  # left for the window that shows the image next


def test_edits_are_autosaved_once_the_window_holding_the_draft_has_ended(studio, said, dialogs, qtbot):
    """Session 36 left it: the other window held the image's draft (its unsaved edits) while this window had edits
    of the image (not autosaved, as it must be); that window then crashed. This window stayed "not autosaved" for
    as long as it was open (the draft was never deleted, the hold never tried again): a crash of it lost its
    edits. Now the next autosave takes the free hold; the ended window's draft is not written over but set aside
    (the status bar names the file), and once this window's edits are saved it is the image's draft again, which
    showing the image restores (as it would have after that crash)."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import read_mask

    review = studio.panels["Review"]
    review._autosave.stop()
    proj, image_id = studio.project, review.image_id
    other = _other(studio)
    theirs = _square(studio.viewer.layers["mask"].data.shape)
    hold = tasks.hold_draft(other, image_id)
    try:
        tasks.write_draft(other, image_id, theirs)
        mine = _edit(review, slice(5, 20), slice(5, 20))
        review.autosave()
        assert np.array_equal(_draft(proj, image_id), theirs) and "not autosaved" in review.edit_state.text()
    finally:
        tasks.release_draft(hold)  # that window crashed
    review.autosave()
    assert np.array_equal(_draft(proj, image_id), mine)
    assert "not autosaved" not in review.edit_state.text() and "unsaved edits" in review.edit_state.text()
    assert tasks.draft_held(other, image_id)  # this window's now
    aside = tasks.ended_draft_paths(proj, image_id)
    assert len(aside) == 1 and np.array_equal(read_mask(aside[0]), theirs)
    assert any("has ended without saving them" in s and str(aside[0]) in s for s in said)
    more = _edit(review, slice(30, 40), slice(30, 40))  # later edits go to the draft as usual
    review.autosave()
    assert np.array_equal(_draft(proj, image_id), more)

    assert review.save()  # this window's draft goes; the ended window's is the draft again
    assert np.array_equal(proj.correction(image_id), more)
    assert np.array_equal(_draft(proj, image_id), theirs) and not tasks.ended_draft_paths(proj, image_id)
    assert not tasks.draft_held(other, image_id)
    assert any("are the image's autosaved draft again" in s for s in said)
    review.load(image_id)  # shown again: restored, as after the crash
    assert review._mask_origin == "draft" and np.array_equal(review.mask_layer.data > 0, theirs)


def test_drafts_set_aside_are_put_back_only_where_there_is_no_draft_and_go_with_their_image(sample_project):
    from vessel_studio.gui import tasks

    proj = sample_project
    image_id = proj.images[0].id
    a, b = _square((96, 96)), _square((96, 96), at=10)
    tasks.write_draft(proj, image_id, a)
    aside = tasks.set_draft_aside(proj, image_id)
    assert not tasks.draft_path(proj, image_id).exists() and tasks.ended_draft_paths(proj, image_id) == [aside]
    assert image_id not in tasks.draft_ids(proj)  # not an image's draft while set aside
    tasks.write_draft(proj, image_id, b)
    assert tasks.put_back_draft(proj, image_id) is None  # a draft there: it stays
    assert np.array_equal(_draft(proj, image_id), b)
    tasks.drop_draft(proj, image_id)
    assert tasks.put_back_draft(proj, image_id) == tasks.draft_path(proj, image_id)
    assert np.array_equal(_draft(proj, image_id), a) and tasks.ended_draft_paths(proj, image_id) == []
    tasks.set_draft_aside(proj, image_id)
    tasks.remove_images(proj, [image_id])
    assert tasks.ended_draft_paths(proj, image_id) == []


def test_revert_after_taking_over_goes_back_to_the_saved_state_and_keeps_the_ended_windows_draft(studio, said,
                                                                                                  dialogs, qtbot):
    """The take-over above, then Revert edits here: the mask goes back to what Revert said (the saved mask, else the
    prediction: here an empty mask), not to the ended window's edits; those are the image's draft again (before
    session 37 Revert deleted a draft no window held, unseen here), which the next showing of the image restores."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    proj, image_id, theirs = _ended_with_edits_here(studio)
    review.autosave()
    assert tasks.ended_draft_paths(proj, image_id)
    assert review.revert() and dialogs.asked == ["Revert edits"]
    assert not (review.mask_layer.data > 0).any() and not review.dirty and review._mask_origin != "draft"
    assert np.array_equal(_draft(proj, image_id), theirs) and not tasks.ended_draft_paths(proj, image_id)
    review.autosave()  # no edits: left as it is
    assert np.array_equal(_draft(proj, image_id), theirs)
    review.load(image_id)
    assert review._mask_origin == "draft" and np.array_equal(review.mask_layer.data > 0, theirs)


def test_a_take_over_whose_autosave_fails_puts_the_ended_windows_draft_back_on_revert(studio, said, dialogs, qtbot,
                                                                                       monkeypatch):
    """QA session 37: the take-over set the ended window's draft aside, then this window's draft could not be written
    (a full disk). The ended window's draft was put back only when this window's own draft was deleted: with none
    written, Revert (or Save, or leaving the image with its edits discarded) left it aside for good (``ID.ended-….png``):
    the image had no draft, the next showing of it did not restore those edits, and ``images``, export and
    adaptation did not name them. Now it is the image's draft again once this window's edits are saved or reverted,
    whether or not their draft was ever written."""
    import errno

    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    proj, image_id, theirs = _ended_with_edits_here(studio)

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tasks, "write_draft", full)
    review.autosave()  # taken over (set aside), this window's draft refused
    assert tasks.ended_draft_paths(proj, image_id) and _draft(proj, image_id) is None
    assert any("cannot autosave" in s for s in said)
    assert review.revert()
    assert np.array_equal(_draft(proj, image_id), theirs) and not tasks.ended_draft_paths(proj, image_id)
    assert image_id in tasks.draft_ids(proj)
    monkeypatch.undo()
    review.load(image_id)
    assert review._mask_origin == "draft" and np.array_equal(review.mask_layer.data > 0, theirs)


def test_a_save_landing_after_the_image_was_left_keeps_the_draft_a_window_that_ended_left_meanwhile(
        studio, said, dialogs, qtbot, monkeypatch):
    """QA session 37: a large mask's Save is written in the worker and this window moves on; meanwhile another window
    opens the image, edits it (its draft) and crashes. The save landing deleted the image's draft as the draft of the
    edits it saved (no window held it): the crashed window's edits were lost. Only this window's own draft
    (``SaveJob.draft_key``) goes; that one stays for the next showing of the image to restore."""
    import threading

    from vessel_studio.gui import tasks

    monkeypatch.setattr(tasks, "SAVE_IN_WORKER_PIXELS", 0)  # every save in the worker, as a large mask's
    gate = threading.Event()
    real_save = tasks.save_correction

    def held_save(*a, **kw):  # the worker's write, held until the other window has edited and crashed
        gate.wait(10)
        return real_save(*a, **kw)

    monkeypatch.setattr(tasks, "save_correction", held_save)
    review = studio.panels["Review"]
    review._autosave.stop()
    proj, image_id = studio.project, review.image_id
    nxt = [r.id for r in proj.images if r.id != image_id][0]
    mine = _edit(review, slice(5, 20), slice(5, 20))
    qtbot.wait(10)  # the first edit's draft, autosaved at once
    assert review._draft_key is not None
    assert review.save()  # in the worker, held
    studio.select_image(nxt)  # left at once: the save lands in the background
    qtbot.waitUntil(lambda: review.image_id == nxt, timeout=5000)
    other = _other(studio)
    theirs = _square(mine.shape)
    hold = tasks.hold_draft(other, image_id)  # the other window shows the image (this window's draft: restored)
    try:
        tasks.write_draft(other, image_id, theirs)  # and edits it
    finally:
        tasks.release_draft(hold)  # that window crashed
    gate.set()
    review._saver.flush()
    qtbot.wait(50)
    assert not dialogs.errors and np.array_equal(proj.correction(image_id), mine)
    assert np.array_equal(_draft(proj, image_id), theirs)  # not deleted with the saved edits' draft


def test_a_save_landing_after_the_image_was_left_drops_its_own_draft(studio, said, dialogs, qtbot, monkeypatch):
    """As before: the draft of the edits just saved in the background goes when their save lands."""
    from vessel_studio.gui import tasks

    monkeypatch.setattr(tasks, "SAVE_IN_WORKER_PIXELS", 0)
    review = studio.panels["Review"]
    review._autosave.stop()
    proj, image_id = studio.project, review.image_id
    nxt = [r.id for r in proj.images if r.id != image_id][0]
    mine = _edit(review, slice(5, 20), slice(5, 20))
    qtbot.wait(10)
    assert _draft(proj, image_id) is not None
    assert review.save()
    studio.select_image(nxt)
    review._saver.flush()
    qtbot.wait(50)
    assert np.array_equal(proj.correction(image_id), mine) and _draft(proj, image_id) is None


def test_a_restored_draft_older_than_the_saved_correction_says_so(studio, qtbot):
    """QA, session 37: a draft a window left when it ended (or put back after a take-over) and a correction saved
    since by another window: showing the image restores the draft, whose edits were made on an earlier mask, and
    saving it replaces the newer correction; nothing said so. The "mask from" line says it now; a draft newer than the
    saved correction (the usual case: unsaved edits of it) does not."""
    import os

    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    proj = studio.project
    image_id = review.image_id
    shape = review.image.shape[:2]
    other = _other(studio)
    tasks.write_draft(other, image_id, _square(shape, at=10))  # a window that ended left it...
    draft = tasks.draft_path(other, image_id)
    st = draft.stat()
    os.utime(draft, ns=(st.st_atime_ns, st.st_mtime_ns - 60 * 10**9))  # ... a minute before
    other.save_correction(image_id, _square(shape, at=40))  # another window saved the image since
    review.load(image_id)
    assert review._mask_origin == "draft"
    assert "older than the saved correction" in review.edit_state.text()
    # a draft newer than the saved correction: unsaved edits of it, said as before
    tasks.write_draft(other, image_id, _square(shape, at=20))
    review.load(image_id)
    assert review._mask_origin == "draft"
    text = review.edit_state.text()
    assert "restored autosaved draft (not saved)" in text and "older" not in text
