"""Save correction / Accept as reviewed of a large mask (a camera's 12-16 megapixels) encode and write
the PNG in a worker (140-190 ms of the GUI thread at 15 megapixels, ``benchmarks/results/gui/hires/``),
keeping every guarantee of the synchronous save: the file lands (atomically) before the state says
"corrected" / "reviewed", the draft goes only after that, a second save lands after the first,
leaving the image / closing / exporting waits for it, and a failure names the file and keeps the
edits. The tests lower ``tasks.SAVE_IN_WORKER_PIXELS`` so that the sample's 96 x 96 masks count as
large."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def large(monkeypatch):
    from vessel_studio.gui import tasks

    monkeypatch.setattr(tasks, "SAVE_IN_WORKER_PIXELS", 1000)


def _gated_save(monkeypatch, calls):
    """Make ``tasks.save_correction`` wait for the returned gate; record the thread it ran on and
    whether, when the state was set, the mask file already held the mask being saved."""
    from vessel_studio.gui import tasks
    from vessel_studio.store.project import Project

    gate = threading.Event()
    real, real_state = tasks.save_correction, Project.set_state

    def save(project, image_id, mask, **kw):
        assert gate.wait(20)
        calls.append(("save", threading.current_thread() is threading.main_thread(), image_id))
        return real(project, image_id, mask, **kw)

    def set_state(self, image_id, state):
        if state in ("corrected", "reviewed"):
            calls.append(("state", state, np.array(self.correction(image_id))))
        return real_state(self, image_id, state)

    monkeypatch.setattr(tasks, "save_correction", save)
    monkeypatch.setattr(Project, "set_state", set_state)
    return gate


def _paint(review, spot):
    review.mask_layer.paint(spot, 1)
    return review.mask_layer.data > 0


def _idle(review):
    return not review._saver.busy and review._saver.worker is None


def test_a_large_save_is_written_in_a_worker_and_lands_before_the_state_changes(studio, qtbot, large, monkeypatch,
                                                                                 dialogs):
    from vessel_studio.gui import tasks

    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    edited = _paint(review, (40, 40))
    review.autosave()
    assert tasks.draft_path(proj, image_id).is_file()
    calls = []
    gate = _gated_save(monkeypatch, calls)
    statuses = []
    studio.status.connect(statuses.append)
    assert review.save()  # returns at once: the worker waits on the gate
    assert proj.correction(image_id) is None and proj.image(image_id).state != "corrected"
    assert tasks.draft_path(proj, image_id).is_file()  # dropped only after the save landed
    assert review.edit_state.text().startswith("saving…") and review.dirty
    gate.set()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    assert calls[0] == ("save", False, image_id)  # not on the GUI thread
    assert calls[1][:2] == ("state", "corrected") and np.array_equal(calls[1][2], edited)  # file first
    assert np.array_equal(proj.correction(image_id), edited) and proj.image(image_id).state == "corrected"
    assert not tasks.draft_path(proj, image_id).exists()
    assert not review.dirty and review.edit_state.text() == "mask from: saved correction"
    assert review.btn_discard.isEnabled()
    assert statuses[-1].startswith("saved the corrected mask of") and not dialogs.errors


def test_accept_as_reviewed_of_a_large_mask_lands_as_reviewed(studio, qtbot, large, monkeypatch):
    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    edited = _paint(review, (30, 30))
    calls = []
    gate = _gated_save(monkeypatch, calls)
    assert review.mark_reviewed()
    assert proj.correction(image_id) is None
    gate.set()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    assert [c[:2] for c in calls] == [("save", False), ("state", "corrected"), ("state", "reviewed")]
    assert np.array_equal(calls[2][2], edited)
    assert proj.image(image_id).state == "reviewed" and np.array_equal(proj.correction(image_id), edited)
    assert image_id in proj.corrections() and not review.dirty


def test_a_second_save_while_one_is_written_lands_after_it(studio, qtbot, large, monkeypatch):
    """Save, edit on, save again before the first has landed: the file ends with the second mask
    (never overwritten by the first), and the image is not dirty."""
    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    calls = []
    gate = _gated_save(monkeypatch, calls)
    first = _paint(review, (20, 20))
    assert review.save()
    second = _paint(review, (60, 60))
    assert review.save()
    assert not np.array_equal(first, second)
    gate.set()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    saved = [c[2] for c in calls if c[0] == "state"]
    assert len(saved) == 2 and np.array_equal(saved[0], first) and np.array_equal(saved[1], second)
    assert np.array_equal(proj.correction(image_id), second)
    assert not review.dirty and np.array_equal(review._baseline, second)


def test_edits_made_while_a_save_is_written_stay_unsaved_in_their_draft(studio, qtbot, large, monkeypatch):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import read_mask

    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    gate = _gated_save(monkeypatch, [])
    saved = _paint(review, (20, 20))
    assert review.save()
    later = _paint(review, (70, 70))
    gate.set()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    assert np.array_equal(proj.correction(image_id), saved)
    assert review.dirty and review.edit_state.text().startswith("● unsaved edits")
    # the draft holds the later edits, never an older state than the saved correction
    assert np.array_equal(read_mask(tasks.draft_path(proj, image_id)) > 0, later)


def test_stepping_on_after_a_save_leaves_it_to_land_in_the_background(studio, qtbot, large, monkeypatch, dialogs):
    """Save, then the next image at once (Alt+S, Page Down): the step does not wait for the file; the
    save lands afterwards (state, draft dropped). Back to that image before it has landed: the mask
    shown is the one being saved, once it has landed, not the older file."""
    from vessel_studio.gui import tasks

    review, proj = studio.panels["Review"], studio.project
    ids = [r.id for r in proj.images]
    image_id = review.image_id
    gate = _gated_save(monkeypatch, [])
    edited = _paint(review, (40, 40))
    review.autosave()  # a draft of the edits, written before the save
    assert review.save()
    review.next()
    assert review.image_id == ids[1] and "Unsaved correction" not in dialogs.asked
    assert proj.correction(image_id) is None  # still being written
    gate.set()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    assert np.array_equal(proj.correction(image_id), edited) and proj.image(image_id).state == "corrected"
    assert not tasks.draft_path(proj, image_id).exists() and review.image_id == ids[1]

    gate.clear()
    edited1 = _paint(review, (60, 60))
    assert review.save()
    review.next()
    threading.Timer(0.3, gate.set).start()  # showing image 1 again waits for its save
    review.previous()
    assert review.image_id == ids[1] and np.array_equal(review.mask_layer.data > 0, edited1)
    assert np.array_equal(proj.correction(ids[1]), edited1)
    assert not review.dirty and review.edit_state.text() == "mask from: saved correction"
    assert not dialogs.errors


def test_edits_after_a_save_in_flight_are_asked_about_when_leaving(studio, qtbot, large, monkeypatch, dialogs):
    review, proj = studio.panels["Review"], studio.project
    ids = [r.id for r in proj.images]
    image_id = review.image_id
    gate = _gated_save(monkeypatch, [])
    saved = _paint(review, (40, 40))
    assert review.save()
    _paint(review, (70, 70))  # edited on while it is written
    dialogs.answers["save_discard_cancel"] = "discard"
    threading.Timer(0.3, gate.set).start()  # the step waits for the save, then asks
    review.next()
    assert dialogs.asked == ["Unsaved correction"] and review.image_id == ids[1]
    assert np.array_equal(proj.correction(image_id), saved)


def test_exporting_or_closing_waits_for_a_save_being_written(studio, qtbot, large, monkeypatch, dialogs, tmp_path):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import read_mask

    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    gate = _gated_save(monkeypatch, [])
    edited = _paint(review, (50, 50))
    review.autosave()
    assert review.save()
    threading.Timer(0.3, gate.set).start()
    with qtbot.waitSignal(studio.runner.finished, timeout=60000):
        assert studio.panels["Export"].export_to(tmp_path / "out")
    # the draft was dropped before the export asked about other images' drafts: no question
    assert dialogs.asked == [] and not tasks.draft_path(proj, image_id).exists()
    exported = read_mask(tmp_path / "out" / "masks" / f"{proj.image(image_id).name}.png")
    assert np.array_equal(exported > 0, edited)

    gate.clear()
    edited2 = _paint(review, (60, 60))
    assert review.save()
    threading.Timer(0.3, gate.set).start()
    assert studio.confirm_close()
    assert np.array_equal(proj.correction(image_id), edited2)
    assert not dialogs.errors


@pytest.mark.parametrize("draft_fails", [False, True])
def test_a_save_failing_after_its_image_was_left_keeps_the_edits(studio, qtbot, large, monkeypatch, dialogs,
                                                                 draft_fails):
    """Save, step on, and the write fails (a full disk): the error names the file, and the edits come
    back, unsaved, when the image is shown again (from its draft, or kept in the window when the
    draft cannot be written either)."""
    from vessel_studio.gui import tasks
    from vessel_studio.store.project import Project

    review, proj = studio.panels["Review"], studio.project
    ids = [r.id for r in proj.images]
    image_id = review.image_id
    gate = threading.Event()

    def full(self, image_id, mask):
        assert gate.wait(20)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Project, "save_correction", full)
    if draft_fails:
        def no_draft(*a, **kw):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(tasks, "write_draft", no_draft)
    edited = _paint(review, (40, 40))
    assert review.save()
    review.next()
    assert review.image_id == ids[1]
    gate.set()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    title, text = dialogs.errors[-1]
    assert title == "Cannot save the correction" and str(proj.correction_path(image_id)) in text
    assert ("kept in this window" if draft_fails else "kept as an autosaved draft") in text
    assert proj.correction(image_id) is None
    review.previous()
    assert review.image_id == image_id and np.array_equal(review.mask_layer.data > 0, edited)
    assert review.dirty and review.edit_state.text().startswith("● unsaved edits")


def test_a_failed_large_save_names_the_file_and_keeps_the_edits(studio, qtbot, large, monkeypatch, dialogs):
    from vessel_studio.store.project import Project

    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id

    def full(self, image_id, mask):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Project, "save_correction", full)
    edited = _paint(review, (40, 40))
    assert review.save()  # started
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    title, text = dialogs.errors[-1]
    assert title == "Cannot save the correction"
    assert str(proj.correction_path(image_id)) in text and "No space left on device" in text
    assert proj.correction(image_id) is None and proj.image(image_id).state != "corrected"
    assert review.dirty and np.array_equal(review.mask_layer.data > 0, edited)
    assert review.edit_state.text().startswith("● unsaved edits")
    # leaving asks about them, as about any unsaved edits ("stay": nothing changes)
    dialogs.answers["save_discard_cancel"] = "cancel"
    review.next()
    assert "Unsaved correction" in dialogs.asked and review.image_id == image_id
    # saving from the leave question waits for the save and says it failed again: the image stays
    dialogs.answers["save_discard_cancel"] = "save"
    review.next()
    assert review.image_id == image_id and len(dialogs.errors) == 2


def test_flush_runs_a_save_its_worker_has_not_started(sample_project):
    """The thread pool may be busy (a job, the read-ahead): a flush then runs the save itself instead
    of waiting for a worker, and the worker does nothing when it comes."""
    from vessel_studio.gui.review_workers import SaveJob, Saver

    landed = []
    saver = Saver(landed.append)
    image_id = sample_project.images[0].id
    mask = np.zeros(sample_project.images[0].shape[:2], bool)
    mask[5:9, 5:9] = True
    job = SaveJob(sample_project, image_id, mask)
    saver.queue.append(job)  # queued, no worker yet
    saver.flush()
    assert landed == [job] and job.error is None and not saver.busy
    assert np.array_equal(sample_project.correction(image_id), mask)
    assert job.claim() is False  # a worker arriving late does not write it again


def test_small_masks_are_still_saved_on_the_gui_thread(studio):
    """Below the threshold (every public data set's images) Save returns with the file written."""
    review, proj = studio.panels["Review"], studio.project
    edited = _paint(review, (40, 40))
    assert review.save()
    assert np.array_equal(proj.correction(review.image_id), edited) and not review._saver.busy


def test_a_small_save_lands_through_the_same_path_as_a_large_one(studio, monkeypatch, dialogs):
    """A small mask is written before save() returns, and its outcome is taken by the same
    ``_save_landed`` as a worker's save (session 27; it had its own copy of the states, messages and
    errors): a failure names the file and says the edits stay, and an Accept whose state cannot be set
    says the mask was saved."""
    from vessel_studio.gui import tasks
    from vessel_studio.store.project import Project

    review, proj = studio.panels["Review"], studio.project
    image_id = review.image_id
    assert tasks.pixels(review.mask_layer.data.shape) <= tasks.SAVE_IN_WORKER_PIXELS
    landed = []
    real_landed = review._saver._on_done  # the panel's _save_landed
    monkeypatch.setattr(review._saver, "_on_done", lambda job: (landed.append(job), real_landed(job)))
    real_save = Project.save_correction

    def full(self, image_id, mask):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Project, "save_correction", full)
    edited = _paint(review, (40, 40))
    assert not review.save()
    assert len(landed) == 1 and landed[0].error is not None and not review._saver.busy
    title, text = dialogs.errors[-1]
    assert title == "Cannot save the correction" and str(proj.correction_path(image_id)) in text
    assert "Its edits stay on screen, unsaved." in text
    assert review.dirty and np.array_equal(review.mask_layer.data > 0, edited)

    monkeypatch.setattr(Project, "save_correction", real_save)
    real_state = Project.set_state

    def no_reviewed(self, image_id, state):
        if state == "reviewed":
            raise OSError(13, "Permission denied")
        return real_state(self, image_id, state)

    monkeypatch.setattr(Project, "set_state", no_reviewed)
    assert not review.mark_reviewed()
    assert len(landed) == 2 and landed[1].state_error is not None
    assert dialogs.errors[-1][0] == "Cannot mark the image reviewed"
    assert np.array_equal(proj.correction(image_id) > 0, edited) and proj.image(image_id).state == "corrected"
    assert not review.dirty and review.edit_state.text() == "mask from: saved correction"

    monkeypatch.setattr(Project, "set_state", real_state)
    assert review.mark_reviewed()
    assert len(landed) == 3 and proj.image(image_id).state == "reviewed"


def test_edits_kept_only_in_the_window_are_asked_about_and_become_a_draft_when_the_disk_allows(
        studio, qtbot, large, monkeypatch, dialogs):
    """Session 27: edits whose save and draft both failed (a full disk) were held in the window only, and
    lost without a word when the window closed or another project was opened. Now leaving asks, and the
    autosave tries the draft again until it is written."""
    from vessel_studio.gui import tasks
    from vessel_studio.store.project import Project

    review, proj = studio.panels["Review"], studio.project
    ids = [r.id for r in proj.images]
    image_id = review.image_id

    def full(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Project, "save_correction", full)
    real_draft = tasks.write_draft
    monkeypatch.setattr(tasks, "write_draft", full)
    edited = _paint(review, (40, 40))
    assert review.save()
    review.next()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    assert review.image_id == ids[1] and "kept in this window" in dialogs.errors[-1][1]
    review.autosave()  # the disk still refuses: nothing changes
    assert image_id in review._kept_edits and not tasks.draft_path(proj, image_id).is_file()

    dialogs.answers["confirm"] = False
    assert studio.can_leave() is False  # closing, another project, an export, an adaptation
    assert dialogs.asked[-1] == "Edits kept only in this window"
    assert studio.can_leave(flush=False) is True  # another image of the project: nothing is lost

    monkeypatch.setattr(tasks, "write_draft", real_draft)  # the disk has room again
    review.autosave()
    assert image_id not in review._kept_edits
    from vessel_studio.io.images import read_mask
    assert np.array_equal(read_mask(tasks.draft_path(proj, image_id)) > 0, edited)
    asked = len(dialogs.asked)
    assert studio.can_leave() is True and len(dialogs.asked) == asked  # nothing to ask about
    review.previous()  # the image shows its edits, from the draft now
    assert review.image_id == image_id and np.array_equal(review.mask_layer.data > 0, edited)
    assert review.dirty


def test_an_image_taken_out_elsewhere_while_its_large_save_is_written(studio, qtbot, large, monkeypatch, dialogs):
    """Another program takes the image on screen out of the project while its large-mask save is being written (a
    session-30 leftover, untested until session 31). The watcher waits for the save; the save then fails, and the
    error names the file and says the project has no such image; the removal is followed next (the next image
    shown, one status line); no other image gets a correction or a draft."""
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    review, proj = studio.panels["Review"], studio.project
    lines: list[str] = []
    studio.status.connect(lines.append)
    studio._watch.setInterval(30)
    ids = [r.id for r in proj.images]
    image_id = review.image_id
    assert image_id == ids[0]
    _paint(review, (40, 40))
    calls = []
    gate = _gated_save(monkeypatch, calls)
    assert review.save()  # returns at once: the worker waits on the gate
    Project.open(proj.folder).remove_images([image_id])  # another program, while the save is held
    qtbot.wait(400)  # a dozen looks of the 30 ms watcher: it waits for the save
    assert review.image_id == image_id and not any("outside this window" in s for s in lines)
    gate.set()
    qtbot.waitUntil(lambda: _idle(review), timeout=20000)
    assert [t for t, _ in dialogs.errors] == ["Cannot save the correction"]
    text = dialogs.errors[0][1]
    assert f"corrections/{image_id}.png" in text and f"has no image with id '{image_id}'" in text
    qtbot.waitUntil(lambda: any("image(s) taken out" in s for s in lines), timeout=5000)
    qtbot.waitUntil(lambda: review.image_id in ids[1:], timeout=5000)
    assert [r.id for r in proj.images] == ids[1:]
    assert all(proj.correction(i) is None and not tasks.draft_path(proj, i).exists() for i in ids[1:])
    assert not proj.correction_path(image_id).exists()


def test_closing_while_a_measure_runs_starts_no_measure_after_the_window_closed(studio, qtbot, large, monkeypatch,
                                                                              dialogs):
    """QA of session 48 (a 15-megapixel fundus image, the real window): Save, then close at once while the vessel
    measures of the edits ran (~5 s at that size). The save landed during the close (``Saver.flush``) and asked to
    measure the saved mask; the measure running then ended while the window closed, and its end started that one:
    a second 15-megapixel measure after the window had closed, whose signals went to deleted objects (superqt's
    "Signal source has been deleted" tracebacks on stderr). Closing drops the measure asked for meanwhile."""
    from qtpy.QtGui import QCloseEvent

    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    gate, calls = threading.Event(), []
    real = tasks.measure_image

    def measure(*args, **kw):
        calls.append(threading.current_thread() is threading.main_thread())
        assert gate.wait(20)
        return real(*args, **kw)

    monkeypatch.setattr(tasks, "measure_image", measure)
    _paint(review, (40, 40))
    review._measure()  # the edits' measures (the panel asks half a second after a stroke)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)
    assert review.save()  # in the worker: it lands in the close's flush, and asks for the saved mask's measures
    threading.Timer(0.3, gate.set).start()
    # the window's close event, as its title bar sends it (its layers still there, unlike ``viewer.close()``'s):
    # the studio's filter lets it close, having waited for the running measure (``Studio._let_workers_end``)
    window = studio.viewer.window._qt_window
    assert studio.eventFilter(window, QCloseEvent()) is False
    qtbot.wait(500)  # the measure's end is delivered
    assert calls == [False]
    assert not dialogs.errors


def test_a_measure_whose_result_is_dropped_stops_at_its_next_stage(sample_project, qtbot, monkeypatch):
    """A measure running when the panel drops it (the window closing, another image, an edit) stops at its next
    stage instead of running to its end: a close waited 5.6-6.9 s for a 15-megapixel measure (session 48 QA)."""
    import skimage.morphology

    from vessel_studio import measures
    from vessel_studio.gui.review_workers import Measurer

    in_distance, go_on, skeletons, results, errors = threading.Event(), threading.Event(), [], [], []
    real_distance, real_skeletonize = measures._distance, skimage.morphology.skeletonize

    def distance(mask, sampling=None):  # the measure's first long stage, held until the panel has dropped it
        in_distance.set()
        go_on.wait(10)
        return real_distance(mask, sampling)

    monkeypatch.setattr(measures, "_distance", distance)
    monkeypatch.setattr(skimage.morphology, "skeletonize", lambda x: skeletons.append(1) or real_skeletonize(x))
    measurer = Measurer(lambda i, m: results.append(m), errors.append)
    rec = sample_project.images[0]
    mask = np.zeros(rec.shape[:2], bool)
    mask[40:46, 10:80] = True
    measurer.request(sample_project, rec.id, mask, None, np.ones_like(mask))
    assert in_distance.wait(10)
    measurer.drop_pending()
    go_on.set()
    qtbot.waitUntil(lambda: measurer.worker is None, timeout=10000)
    assert skeletons == [] and results == [] and errors == []
    measurer.request(sample_project, rec.id, mask, None, np.ones_like(mask))  # the next one runs to its end
    qtbot.waitUntil(lambda: bool(results), timeout=10000)
    assert skeletons == [1] and results[0]["skeleton_length_px"] > 60
