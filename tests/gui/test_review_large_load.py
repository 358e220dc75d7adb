"""Stepping to a large image (a camera's 12-16 megapixels) that the read-ahead has not delivered:
nothing is read on the GUI thread (~90 ms a step there at 15 megapixels, up to 600 ms,
``benchmarks/results/gui/hires/``); the step shows the image's name and "loading…" at once, the
image when the worker has read it, and only the image the user stopped on when the steps come
faster than the reads. The tests lower ``tasks.READ_IN_WORKER_PIXELS`` so that the sample's 96 x 96
images count as large."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import fake_probability
from test_review_stepping import _count_gui_thread_reads, _write_probs

pytestmark = pytest.mark.gui


@pytest.fixture
def large(monkeypatch):
    from vessel_studio.gui import tasks

    monkeypatch.setattr(tasks, "READ_IN_WORKER_PIXELS", 1000)


def _no_read_ahead(review, qtbot):
    qtbot.waitUntil(lambda: not review._ahead.busy, timeout=10000)
    review._ahead_timer.stop()
    review._ahead.cache.clear()


def _held_reads(monkeypatch, gate, *, held=None, entered=None, read=None) -> list:
    """``tasks.read_for_review`` held at ``gate`` (for image ``held`` only, else for every image); the list
    returned gets each read's ``(image_id, "read" | "stopped")``, ``read`` each call's ``(image_id, fov)``;
    ``entered`` is set when a held read starts."""
    from vessel_studio.gui import tasks

    outcome, real = [], tasks.read_for_review

    def slow(project, image_id, which, **kw):
        if read is not None:
            read.append((image_id, kw.get("fov")))
        if held is None or image_id == held:
            if entered is not None:
                entered.set()
            assert gate.wait(20)
        try:
            got = real(project, image_id, which, **kw)
        except tasks.ReadCancelled:
            outcome.append((image_id, "stopped"))
            raise
        outcome.append((image_id, "read"))
        return got

    monkeypatch.setattr(tasks, "read_for_review", slow)
    return outcome


def _image_1_held(studio, qtbot, monkeypatch):
    """The sample's maps written, nothing read ahead, reads of image 1 held (``_held_reads``): ``(project,
    image ids, Review panel, gate, entered, outcome)``."""
    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    _no_read_ahead(review, qtbot)
    gate, entered = threading.Event(), threading.Event()
    return proj, ids, review, gate, entered, _held_reads(monkeypatch, gate, held=ids[1], entered=entered)


def test_a_large_image_not_read_ahead_is_read_in_a_worker(studio, qtbot, large, monkeypatch, dialogs):
    proj = studio.project
    probs = _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    _no_read_ahead(review, qtbot)
    reads = _count_gui_thread_reads(monkeypatch)
    review.next()
    assert studio.current_id == ids[1] and review.image_id is None and review._loading == ids[1]
    assert proj.images[1].name in review.title.text() and "loading…" in review.title.text()
    assert not studio.viewer.layers["image"].visible and not studio.viewer.layers["mask"].visible
    assert review.save() is False  # nothing on screen: no save goes to the image left
    qtbot.waitUntil(lambda: review.image_id == ids[1], timeout=20000)
    assert reads == []  # image, map, uncertainty and FOV came from the worker
    viewer = studio.viewer
    assert np.array_equal(viewer.layers["image"].data, proj.read_image(ids[1]))
    assert np.array_equal(viewer.layers["probability"].data, probs[ids[1]])
    assert np.array_equal(viewer.layers["mask"].data > 0, probs[ids[1]] >= 0.5)
    assert viewer.layers["mask"].visible and "loading" not in review.title.text()
    assert not dialogs.errors


def test_steps_faster_than_the_reads_show_only_the_image_stopped_on(studio, qtbot, large, monkeypatch, dialogs):
    from collections import Counter

    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    _no_read_ahead(review, qtbot)
    gate, read = threading.Event(), []
    outcome = _held_reads(monkeypatch, gate, read=read)
    shown = []
    real_show = review._show
    monkeypatch.setattr(review, "_show", lambda proj, image_id, *a: (shown.append(image_id),
                                                                     real_show(proj, image_id, *a)))
    reads = _count_gui_thread_reads(monkeypatch)
    review.next()  # image 1: its read blocks on the gate
    review.next()  # image 2: read at once (not after image 1's); image 1's stops at its first file
    review.next()  # image 0 (the queue wraps): the one stopped on
    review.next()  # image 1 again ...
    review.previous()  # ... and back to image 0
    assert studio.current_id == ids[0] and review.image_id is None
    qtbot.waitUntil(lambda: len(read) == 5, timeout=10000)
    gate.set()
    qtbot.waitUntil(lambda: review.image_id == ids[0], timeout=20000)
    qtbot.waitUntil(lambda: not review._ahead.foreground, timeout=20000)
    assert shown == [ids[0]]  # the reads of the images stepped past stopped before their first file
    assert Counter(read) == Counter({(ids[1], False): 2, (ids[0], False): 2, (ids[2], False): 1})  # FOV after
    assert sorted(o for o in outcome if o[1] == "read") == [(ids[0], "read")] and len(outcome) == 5
    assert reads == []
    assert np.array_equal(studio.viewer.layers["image"].data, proj.read_image(ids[0]))
    assert not dialogs.errors


def test_a_step_does_not_wait_for_the_read_of_an_image_stepped_past(studio, qtbot, large, monkeypatch, dialogs):
    """Session 27: after fast steps the image stopped on was read after the read in flight (a read cannot
    stop halfway), at background priority: 824 ms from the last step to the image at 15 megapixels, 406
    before reads moved to a worker. Now it is read at once, at the GUI thread's priority."""
    import os

    from vessel_studio.gui import tasks

    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    _no_read_ahead(review, qtbot)
    gate, entered, nice = threading.Event(), threading.Event(), {}
    real = tasks.read_for_review

    def slow(project, image_id, which, **kw):
        nice[image_id] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        if image_id == ids[1]:
            entered.set()
            assert gate.wait(20)
        return real(project, image_id, which, **kw)

    monkeypatch.setattr(tasks, "read_for_review", slow)
    review.next()  # image 1: its read blocks
    qtbot.waitUntil(entered.is_set, timeout=10000)
    review.next()  # image 2
    qtbot.waitUntil(lambda: review.image_id == ids[2], timeout=10000)
    assert not gate.is_set()  # image 1's read is still in flight
    assert nice[ids[2]] == os.getpriority(os.PRIO_PROCESS, 0)  # the GUI thread's priority
    gate.set()
    qtbot.waitUntil(lambda: not review._ahead.foreground, timeout=20000)
    assert review.image_id == ids[2] and not dialogs.errors


def test_unsaved_edits_are_asked_about_before_a_large_image_is_loaded(studio, qtbot, large, dialogs):
    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    _no_read_ahead(review, qtbot)
    review.mask_layer.paint((40, 40), 1)
    dialogs.answers["save_discard_cancel"] = "cancel"
    review.next()
    assert dialogs.asked == ["Unsaved correction"] and review.image_id == ids[0] and review.dirty
    dialogs.answers["save_discard_cancel"] = "save"
    review.next()
    assert proj.correction(ids[0])[40, 40] and review._loading == ids[1]
    qtbot.waitUntil(lambda: review.image_id == ids[1], timeout=20000)


def test_a_large_image_that_cannot_be_read_is_named(studio, qtbot, large, dialogs):
    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    _no_read_ahead(review, qtbot)
    proj.image_path(ids[1]).write_bytes(b"not an image")
    review.next()
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=20000)
    assert dialogs.errors[-1][0] == "Cannot show image" and review.image_id is None
    assert review.title.text().startswith("Cannot show this image")
    review.next()  # the next one is shown as usual
    qtbot.waitUntil(lambda: review.image_id == ids[2], timeout=20000)


def test_an_unreadable_map_of_a_large_image_is_named_and_the_image_shown(studio, qtbot, large, dialogs):
    from vessel_studio.gui import tasks

    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    _no_read_ahead(review, qtbot)
    path = tasks.source_only_path(proj, ids[1])
    path.write_bytes(b"not a tiff")
    review.next()
    qtbot.waitUntil(lambda: review.image_id == ids[1], timeout=20000)
    assert dialogs.errors and dialogs.errors[-1][0] == "Cannot read predictions"
    assert str(path) in dialogs.errors[-1][1] and review.prob is None


def test_an_image_shown_at_once_stops_the_read_of_the_large_one_stepped_past(studio, qtbot, large, monkeypatch,
                                                                            dialogs):
    """Session 27 QA (a project of large and small images): after a step to a large image being read and
    on to one shown at once (small, or read ahead), the large image's read went on to its end, and until
    it arrived the neighbours read ahead were dropped (it was still the image wanted)."""
    from vessel_studio.gui import tasks

    proj, ids, review, gate, entered, outcome = _image_1_held(studio, qtbot, monkeypatch)
    review.next()  # image 1, large: read on its own thread, held
    qtbot.waitUntil(entered.is_set, timeout=10000)
    monkeypatch.setattr(tasks, "READ_IN_WORKER_PIXELS", 10**9)  # image 2 is small: shown at once
    review.next()
    assert review.image_id == ids[2] and review._ahead.wanted is None
    gate.set()
    qtbot.waitUntil(lambda: not review._ahead.foreground, timeout=20000)
    assert (ids[1], "stopped") in outcome and (ids[1], "read") not in outcome
    review._read_ahead()  # the neighbours of image 2 are kept
    qtbot.waitUntil(lambda: not review._ahead.busy, timeout=20000)
    assert sorted(review._ahead.cache) == sorted({ids[3 % len(ids)], ids[1]})
    assert review.image_id == ids[2] and not dialogs.errors


def test_a_map_replaced_while_the_neighbours_worker_reads_the_image_stepped_to(studio, qtbot, large, monkeypatch,
                                                                               dialogs):
    """Session 27 QA: a step to the image the neighbours' worker was reading waits for that read; when its
    map was replaced meanwhile (a segmentation writing maps), the read came in stale and was asked for
    again while the worker still counted as reading it, so nothing read it: "loading…" for good."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    proj, ids, review, gate, entered, _ = _image_1_held(studio, qtbot, monkeypatch)
    review._read_ahead()  # the neighbours' worker reads image 1 (held)
    qtbot.waitUntil(entered.is_set, timeout=10000)
    review.next()  # image 1: waits for that read
    assert review._loading == ids[1] and not review._ahead.foreground
    new = fake_probability(proj.images[1].shape[:2], 7)
    real_probability = tasks.probability

    def replaced(project, image_id, *a, **kw):  # its map replaced after its key was taken
        if image_id == ids[1] and not replaced.done:
            replaced.done = True
            write_prob(tasks.source_only_path(project, image_id), new)
        return real_probability(project, image_id, *a, **kw)

    replaced.done = False
    monkeypatch.setattr(tasks, "probability", replaced)
    gate.set()
    qtbot.waitUntil(lambda: review.image_id == ids[1], timeout=20000)
    assert np.array_equal(studio.viewer.layers["probability"].data, new) and not dialogs.errors
