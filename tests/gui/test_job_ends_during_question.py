"""A background job that ends while a modal question is open (session 31): the question's event loop delivers the
job's end, and what the question's answer then does must apply to what it asked about. Each test opens a real
modal dialog inside the patched question and lets the job end meanwhile (as
test_outside_changes.py::test_changes_made_elsewhere_wait_while_a_question_is_open does for the watcher)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import open_modal

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("answer", ["discard", "save"])
def test_queue_ordered_while_unsaved_correction_is_asked_does_not_step(studio, qtbot, monkeypatch, dialogs, answer):
    """"most uncertain first" is being ordered; the person edits the image on screen and steps on: "Unsaved
    correction" is open when the order arrives. Before, its arrival showed the queue's first image at once,
    asking about the edits a second time inside the first question, and the first question's answer then acted on
    the queue's first image: Discard dropped its autosaved draft, Save saved that draft as its correction (a
    trusted label nobody chose). Now the order is taken and the image stays; the answer applies to the image it
    named, and the step goes on."""
    from vessel_studio.events import Progress
    from vessel_studio.gui import dialogs as dialogs_mod
    from vessel_studio.gui import tasks

    review, proj = studio.panels["Review"], studio.project
    ids = [r.id for r in proj.images]
    assert review.image_id == ids[0]
    theirs = np.zeros(review.mask_layer.data.shape, bool)
    theirs[2:12, 2:12] = True
    tasks.write_draft(proj, ids[2], theirs)  # the queue's first image has autosaved edits
    gate = threading.Event()

    def held(project, **kw):  # the "most uncertain first" job, held until the question is open
        yield Progress("order", 0, 1)
        gate.wait(10)
        return [(ids[2], 0.9), (ids[0], 0.5), (ids[1], 0.1)]

    monkeypatch.setattr(tasks, "review_order", held)
    review.queue.setCurrentText("most uncertain first")
    assert studio.runner.running
    review.mask_layer.data[40:50, 40:50] = 1
    review._edited()
    asked, seen = [], []

    def question(parent, title, text):
        asked.append(text)
        if len(asked) > 1:  # asked again inside the first question (before the fix)
            return answer
        box = open_modal(review)
        try:
            gate.set()
            qtbot.waitUntil(lambda: not studio.runner.running, timeout=10000)
            qtbot.wait(100)
            seen.append((review.image_id, review.dirty))
        finally:
            box.close()
        return answer

    monkeypatch.setattr(dialogs_mod, "save_discard_cancel", question)
    review.next()
    assert tasks.draft_path(proj, ids[2]).is_file()  # the queue's first image keeps its draft
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(tasks.draft_path(proj, ids[2]))) > 0, theirs)
    assert not proj.correction_path(ids[2]).exists()  # nor is that draft saved as its correction
    assert len(asked) == 1 and seen == [(ids[0], True)]  # one question, nothing changed under it
    assert proj.correction_path(ids[0]).exists() is (answer == "save")  # the answer: the image it named
    assert review.order == [ids[2], ids[0], ids[1]]  # the order is taken
    assert review.image_id == ids[1] == studio.current_id  # the step asked for
    assert dialogs.errors == []


@pytest.mark.parametrize("runner", ["runner", "io_runner"])
def test_a_job_that_ends_while_closing_asks_lets_the_window_close(studio, qtbot, monkeypatch, tmp_path, runner):
    """Closing while a job runs asks (cancel it and close? / the unsaved edits); the job ends while that question
    is open. Before, the window then waited for that job to stop, which had already happened: it stayed open
    (the status bar said it would close). Now it closes at once."""
    from test_app import _held_job

    from vessel_studio.gui import dialogs as dialogs_mod

    gate = threading.Event()
    review = studio.panels["Review"]

    def answered(result):
        def question(parent, title, text):
            box = open_modal(parent)
            try:
                gate.set()
                qtbot.waitUntil(lambda: not getattr(studio, runner).running, timeout=10000)
                qtbot.wait(100)
            finally:
                box.close()
            return result
        return question

    if runner == "runner":  # "A job is running: cancel it and close?"
        assert studio.start_job("Export", _held_job(gate))
        monkeypatch.setattr(dialogs_mod, "confirm", answered(True))
    else:  # adding images: the unsaved edits' question
        from vessel_studio.samples import write_sample_images

        more = write_sample_images(tmp_path / "more", n=1, modality="fundus", shape=(40, 40), seed=8)
        real = type(studio.project).add_images_job

        def slow(self, paths):
            job = real(self, paths)
            yield next(job)
            gate.wait(10)
            return (yield from job)

        monkeypatch.setattr(type(studio.project), "add_images_job", slow)
        assert studio.add_images([more.folder / "images"])
        review.mask_layer.data[40:50, 40:50] = 1
        review._edited()
        monkeypatch.setattr(dialogs_mod, "save_discard_cancel", answered("discard"))
    assert getattr(studio, runner).running
    assert studio.confirm_close() is True  # the window's close button: it closes now
    assert not studio._close_when_done
