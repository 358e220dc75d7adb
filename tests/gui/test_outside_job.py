"""A job of another process holding the open project: a terminal's ``vessel-studio adapt`` beside the window
(session 38 QA). Its start and end change no file the window's watcher compares, and a ``kill -9`` of it changes
nothing at all: the window probes the project's job lock at each look (``Studio.outside_job``)."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest
from test_correction_keeping import _edit
from test_review_export import _review_with_predictions

pytestmark = pytest.mark.gui

_HOLD = ("import sys\n"
         "from vessel_studio.store import Project\n"
         "Project.open(sys.argv[1]).acquire_job_lock()\n"
         "print('held', flush=True)\n"
         "sys.stdin.read()\n")


@contextlib.contextmanager
def _held_by_another_process(folder):
    """Another process holding the project's job lock, as a terminal's ``adapt`` does while it runs; killed
    (``kill -9``) when the block ends, if the block did not."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_discard_saved_mask_waits_for_another_process_job(studio, dialogs):
    """Session 38 QA: Discard saved mask waited for this window's own adaptation only. With a terminal's ``adapt``
    running, a mask saved before its round began was discarded at once: the round in progress kept training on it
    (and its record counts it) while the later rounds did not, half applied, as the GUIDE says it must not be. The
    click is refused at once ("Busy", the holder named), the button is disabled from the watcher's next look (its
    tooltip says why), a save says the running adaptation trusts the mask from its next round, and all is as before
    once that job has ended (here: killed)."""
    review, _viewer = _review_with_predictions(studio)
    proj, image_id = studio.project, review.image_id
    assert review.save() and review.btn_discard.isEnabled()
    tip = review.btn_discard.toolTip()
    statuses = []
    studio.status.connect(statuses.append)
    with _held_by_another_process(proj.folder) as proc:
        assert review.discard_saved() is False  # at once, before the watcher has looked
        title, text = dialogs.errors[-1]
        assert title == "Busy" and f"process {proc.pid}" in text and "round in progress" in text
        assert "Discard saved mask" not in dialogs.asked and proj.correction_path(image_id).is_file()
        studio._look_outside()
        assert studio.outside_job is not None and f"process {proc.pid}" in studio.outside_job
        assert not review.btn_discard.isEnabled() and f"process {proc.pid}" in review.btn_discard.toolTip()
        _edit(review.mask_layer)
        assert review.save() and "trusts it from its next round" in statuses[-1]
        assert not review.btn_discard.isEnabled()
        proc.kill()
        proc.wait()
        studio._look_outside()
    assert studio.outside_job is None
    assert review.btn_discard.isEnabled() and review.btn_discard.toolTip() == tip
    assert review.save() and "next round" not in statuses[-1]
    assert review.discard_saved() and not proj.correction_path(image_id).exists()


def test_a_terminal_job_killed_mid_round_is_offered_for_resuming(studio, source_bundle, tmp_path, dialogs):
    """Session 38 QA: a terminal's ``adapt`` killed mid-round (``kill -9``) beside the open window: the Adaptation
    panel went on saying "New rounds continue with …" (the kill changes no file the watcher compares) and offered
    the run for resuming only once the project was opened again. It says so from the watcher's next look, and once
    the run is resumed elsewhere (the lock taken again) it no longer does."""
    from conftest import tiny_config
    from test_adapt_recorded_config import _interrupt

    panel = studio.panels["Adaptation"]
    proj = studio.project
    studio.source_bundle = source_bundle
    _interrupt(proj.folder, tiny_config(rounds=1, seed=4), source_bundle, tmp_path)  # what the killed job left
    with _held_by_another_process(proj.folder) as proc:  # ... while it ran
        studio._look_outside()
        assert "interrupted" not in panel.recorded.text()
        proc.kill()
        proc.wait()
        studio._look_outside()
    text = panel.recorded.text()
    assert "interrupted in round 0" in text and "preset tiny, seed 4" in text, text
    assert panel.preset.currentText() == "tiny" and panel.rounds.value() == 1
    with _held_by_another_process(proj.folder):  # the terminal resumes it
        studio._look_outside()
        assert "interrupted" not in panel.recorded.text()
    assert not dialogs.errors
