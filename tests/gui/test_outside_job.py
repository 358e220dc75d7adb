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
         "Project.open(sys.argv[1]).acquire_job_lock(*sys.argv[2:])\n"
         "print('held', flush=True)\n"
         "sys.stdin.read()\n")


@contextlib.contextmanager
def _held_by_another_process(folder, task=None):
    """Another process holding the project's job lock, as a terminal's ``adapt`` does while it runs (``task``: what it
    took the lock for, ``Project.acquire_job_lock``'s; None: not said, as before session 40); killed (``kill -9``)
    when the block ends, if the block did not."""
    args = [] if task is None else [task]
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder), *args], stdin=subprocess.PIPE,
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
    tooltip says why), a save says the running adaptation trusts the mask in the rounds it starts from now on (it
    left no record of its rounds to say more: ``_adaptation_note``), and all is as before
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
        # no work/job.json to read which round it is in (a holder that wrote none): only what is true of any run
        assert review.save() and "trusts it in the rounds it starts from now on" in statuses[-1]
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


def _four_rounds_one_pruned(proj, tmp_path):
    """Rounds 0-3, round 1's maps pruned (Make maps again is offered for it) and round 2's still to be freed."""
    import numpy as np

    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord, prune

    for k in range(4):
        src = tmp_path / f"r{k}"
        (src / "pseudo").mkdir(parents=True)
        (src / "segmenter").mkdir()
        for rec in proj.images:
            write_prob(src / "pseudo" / f"{rec.id}.tif", np.full(rec.shape[:2], 0.3 + 0.1 * k, np.float32))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"vessel_fraction": 0.1,
                                                                          "fragmentation": (5.0, 9.0, 7.0, 6.0)[k]}))
    prune(proj, keep=[0, 2])


def test_adaptation_buttons_are_disabled_while_another_process_job_holds_the_project(studio, tmp_path, dialogs,
                                                                                     qtbot):
    """Session 38 QA: with a terminal's ``adapt`` running, Run adaptation, Roll back, Free disk… and Make maps again
    stayed enabled, and each click was refused at once ("Busy"). They are disabled from the watcher's next look, their
    tooltips naming the job, as while this window's own job runs; a round the job adds meanwhile, or the end of a job
    of this window, does not enable them; they come back, with their own tooltips, once the job has ended (here: a
    ``kill -9``). A click before the watcher has looked is still refused at once."""
    import threading

    panel = studio.panels["Adaptation"]
    proj = studio.project
    _four_rounds_one_pruned(proj, tmp_path)
    studio.project_changed.emit()
    panel.keep_round.setCurrentIndex(panel.keep_round.findData(1))
    buttons = (panel.btn_run, panel.btn_rollback, panel.btn_prune, panel.btn_restore)
    assert all(b.isEnabled() for b in buttons)
    tips = [b.toolTip() for b in buttons]
    with _held_by_another_process(proj.folder) as proc:
        assert panel.run() is False  # at once, before the watcher has looked
        title, text = dialogs.errors[-1]
        assert title == "Busy" and f"process {proc.pid}" in text and not studio.runner.running
        studio._look_outside()
        assert not any(b.isEnabled() for b in buttons)
        assert all(f"process {proc.pid}" in b.toolTip() and "holds this project" in b.toolTip() for b in buttons)
        assert panel.keep_round.isEnabled()  # a choice only
        studio.project_changed.emit()  # e.g. a round the terminal's job added
        assert not any(b.isEnabled() for b in buttons)
        gate = threading.Event()

        def job():  # a job of this window that needs no lock (a segmentation, an export)
            yield from ()
            gate.wait(20)
            return 0

        assert studio.start_job("Segmentation", job)
        qtbot.waitUntil(lambda: studio.runner.running, timeout=5000)
        with qtbot.waitSignal(studio.runner.finished, timeout=20000):
            gate.set()
        assert not any(b.isEnabled() for b in buttons)
        proc.kill()
        proc.wait()
        studio._look_outside()
    assert studio.outside_job is None
    assert all(b.isEnabled() for b in buttons) and [b.toolTip() for b in buttons] == tips


def test_remove_is_disabled_while_another_process_job_holds_the_project(studio, dialogs):
    """Session 38 QA: with a terminal's ``adapt`` running, "Remove from project…" stayed enabled, asked its question
    and then failed ("Cannot remove images"). It is disabled from the watcher's next look (its tooltip naming the
    job), a click (the Delete key of the list too) says "Busy" before asking, and it comes back once the job has
    ended. What works during that job stays enabled: adding images (the job adapts to the images it started with),
    segmenting with the bundled model, exporting."""
    from test_remove_images import _select

    panel = studio.panels["Project"]
    proj = studio.project
    _select(panel, {proj.images[0].id})
    assert panel.btn_remove.isEnabled()
    tip = panel.btn_remove.toolTip()
    with _held_by_another_process(proj.folder) as proc:
        assert panel.remove_selected() is False  # at once, before the watcher has looked
        title, text = dialogs.errors[-1]
        assert title == "Busy" and f"process {proc.pid}" in text and dialogs.asked == []
        studio._look_outside()
        assert not panel.btn_remove.isEnabled() and f"process {proc.pid}" in panel.btn_remove.toolTip()
        _select(panel, {proj.images[1].id})
        assert not panel.btn_remove.isEnabled()
        assert panel.btn_folder.isEnabled() and panel.btn_files.isEnabled()
        assert studio.panels["Review"].btn_segment.isEnabled() and studio.panels["Export"].btn.isEnabled()
        proc.kill()
        proc.wait()
        studio._look_outside()
    assert panel.btn_remove.isEnabled() and panel.btn_remove.toolTip() == tip
    assert len(proj.images) == 3 and dialogs.asked == []
    assert panel.remove_selected() is True and len(proj.images) == 2


def test_a_project_opened_while_another_process_job_holds_it_disables_the_buttons_at_once(studio, sample_project,
                                                                                          tmp_path, dialogs):
    """Session 38: the buttons followed the job lock of the project open before until the watcher's next look (up
    to a second) after another project was opened: opened while a terminal's ``adapt`` held it, Run adaptation
    was enabled. Opening it probes the lock at once; opening one no job holds enables them again at once."""
    import shutil

    panel, first = studio.panels["Adaptation"], studio.project.folder
    other = tmp_path / "other"
    shutil.copytree(first, other)
    assert panel.btn_run.isEnabled()
    with _held_by_another_process(other) as proc:
        assert studio.open_project(other)
        assert studio.outside_job is not None and f"process {proc.pid}" in studio.outside_job
        assert not panel.btn_run.isEnabled() and f"process {proc.pid}" in panel.btn_run.toolTip()
        assert studio.open_project(first)
        assert studio.outside_job is None and panel.btn_run.isEnabled()


def test_the_held_buttons_tooltips_name_the_terminal_job_once(studio, dialogs):
    """Session 39 QA (fundus, a real terminal's ``adapt``): the tooltips of the six buttons disabled while another
    process's job holds the project named that job twice, "vessel-studio adapt (process …, since …) holds this project
    (a terminal's vessel-studio adapt, another window): run the adaptation once that job has ended …" (Discard saved
    mask: "… holds this project: an adaptation running there (a terminal's vessel-studio adapt, another window) …").
    Each names it once, as the job lock does, then says what to do."""
    review, _viewer = _review_with_predictions(studio)
    assert review.save()
    proj = studio.project
    adapt, project = studio.panels["Adaptation"], studio.panels["Project"]
    buttons = {"Run adaptation": adapt.btn_run, "Roll back": adapt.btn_rollback, "Free disk…": adapt.btn_prune,
               "Make maps again": adapt.btn_restore, "Remove from project…": project.btn_remove,
               "Discard saved mask": review.btn_discard}
    # a process that names itself as the terminal's does (``_job_name``: "vessel-studio adapt")
    hold = ("import sys\nfolder = sys.argv[1]\nsys.argv = ['vessel-studio', 'adapt', folder]\n"
            + _HOLD.replace("sys.argv[1]", "folder"))
    proc = subprocess.Popen([sys.executable, "-c", hold, str(proj.folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        studio._look_outside()
        holder = studio.outside_job
        assert holder.startswith(f"vessel-studio adapt (process {proc.pid}, since "), holder
        for name, btn in buttons.items():
            tip = btn.toolTip()
            assert not btn.isEnabled(), name
            assert tip.startswith(f"{holder} holds this project"), (name, tip)
            assert tip.count("vessel-studio adapt") == 1 and tip.count("holds this project") == 1, (name, tip)
            assert "a terminal's" not in tip and "another window" not in tip, (name, tip)
        assert buttons["Run adaptation"].toolTip().endswith(": run the adaptation once it has ended (or stop it "
                                                            "there)")
        assert "round in progress trains on this saved mask" in buttons["Discard saved mask"].toolTip()
    finally:
        proc.kill()
        proc.wait()
    studio._look_outside()
    assert studio.outside_job is None and "holds this project" not in adapt.btn_run.toolTip()
    assert not dialogs.errors


@pytest.mark.parametrize("rounds, note", [(1, "is in its last round"), (2, "trusts it from its next round")])
def test_a_mask_saved_in_the_terminal_jobs_last_round_is_not_said_to_be_trained_on(studio, rounds, note):
    """Session 39 QA (fundus, a terminal's ``adapt --rounds 1``): a correction saved while the terminal's job ran its
    last round was said to be trusted "from its next round"; the job had none, and ``vessel-studio rounds`` listed no
    round trained on it. The status line says that run does not train on it (run the adaptation again); in an earlier
    round, as before, from its next round."""
    import json

    review, _viewer = _review_with_predictions(studio)
    proj = studio.project
    latest = proj.latest_round
    base = latest.index if latest is not None else None  # None: the run makes round 0, then ``rounds`` more
    config = {"rounds": rounds if base is not None else rounds - 1}
    proj.work_dir.mkdir(exist_ok=True)
    (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": base, "config": config}))
    (proj.work_dir / f"round-{0 if base is None else base + 1:03d}").mkdir()  # the round in progress has begun
    statuses = _saved_while_held(studio, review)
    assert note in statuses[-1], statuses[-1]
    if rounds == 1:
        assert "next round" not in statuses[-1] and "run the adaptation again" in statuses[-1]


@pytest.mark.parametrize("rounds, retries, folders, note", [
    # its last round, a re-run by the label-free guard left (guard_retries): that re-run reads the saved masks again
    (1, 1, ["round-{r}"], "in its last round, which read the saved masks when it started: it trains on this mask only "
                          "if the label-free guard runs that round again"),
    (1, 1, ["round-{r}", "round-{r}-retry-1"], "so that run does not train on this mask"),  # the last attempt
    # not its last round, but the stopping rule (stop_agreement 0.97) may end the run after it
    (2, 0, ["round-{r}"], "trusts it from its next round if it goes on to one (the label-free stopping rule may end "
                          "it after the round in progress"),
])
def test_the_saved_note_says_what_a_guard_re_run_or_the_stopping_rule_may_do(studio, rounds, retries, folders, note):
    """Session 39: the last-round note said "does not train on this mask" though a re-run of that round by the
    label-free guard reads the saved masks again (adaptation.job: each attempt reads them), and "from its next round"
    showed where the stopping rule may end the run after the round in progress (as with rounds="auto", whose runs
    the rule usually ends early). Each note now says what cannot be known."""
    import json

    from conftest import tiny_config

    from vessel_studio.store import RoundRecord

    review, _viewer = _review_with_predictions(studio)
    proj = studio.project
    assert proj.latest_round is None
    config = tiny_config(rounds=rounds, guard_retries=retries, stop_agreement=0.97).to_dict()
    proj.work_dir.mkdir(exist_ok=True)  # a run making round 0, then ``rounds`` more: round 0 committed, in round 1
    (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": None, "config": config}))
    (proj.work_dir / "round-000" / "segmenter").mkdir(parents=True)
    proj.commit_round(proj.work_dir / "round-000", RoundRecord(index=0, folder=""))
    for name in folders:
        (proj.work_dir / name.format(r="001")).mkdir()
    statuses = _saved_while_held(studio, review)
    assert note in statuses[-1], statuses[-1]
    if retries and len(folders) == 1:
        assert "does not train" not in statuses[-1]


def test_a_mask_saved_before_the_terminal_jobs_last_round_began_is_not_said_to_be_left_out(studio):
    """The round in progress is the run's last but has not begun (its work folder is not there: the previous round's
    maps are being read or computed, minutes at a run's start on a large project): it reads the saved masks when it
    begins, so the mask saved now is not said to be left out of that run."""
    import json

    review, _viewer = _review_with_predictions(studio)
    proj = studio.project
    proj.work_dir.mkdir(exist_ok=True)
    (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": None, "config": {"rounds": 0}}))
    statuses = _saved_while_held(studio, review)
    assert "last round" not in statuses[-1] and "holds the project" in statuses[-1], statuses[-1]


@pytest.mark.parametrize("task", ["restore", "adapt"])
def test_a_mask_saved_while_another_process_restores_maps_is_not_said_to_be_trained_on(studio, task):
    """Session 39's leftover: a terminal's ``rounds --restore`` (or another window's Make maps again) holding the
    project, with an interrupted run's ``work/job.json`` left from before: a save said "the adaptation running there"
    trusts the mask, read from that stale record. The holder's lock file now says what it was taken for
    (``Project.job_task``): only an adaptation's gets the adaptation's note."""
    import json

    review, _viewer = _review_with_predictions(studio)
    proj = studio.project
    proj.work_dir.mkdir(exist_ok=True)
    (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": None, "config": {"rounds": 2}}))
    statuses = _saved_while_held(studio, review, task)
    assert statuses, "nothing said at the save"
    if task == "adapt":
        assert "the adaptation running there" in statuses[-1], statuses[-1]
    else:
        assert "adaptation" not in statuses[-1] and "trusts" not in statuses[-1], statuses[-1]


def test_rolling_back_below_a_killed_terminal_runs_start_says_it_can_no_longer_be_resumed(studio, tmp_path,
                                                                                         monkeypatch, qtbot):
    """Session 39 QA (fundus): a terminal's ``adapt`` killed (``kill -9``) in round 9, having gone on from round 7, is
    offered for resuming; Roll back to round 4 asked "Delete rounds 5, 6, 7, 8 …?" only, and afterwards the offer was
    gone (the round it went on from was deleted). The question says so; a roll back that keeps that round does not."""
    from vessel_studio.gui import dialogs as dialogs_mod

    panel, proj = studio.panels["Adaptation"], studio.project
    _killed_after_four_rounds(studio, tmp_path)
    assert "interrupted in round 4" in panel.recorded.text()
    asked = []
    monkeypatch.setattr(dialogs_mod, "confirm", lambda parent, title, text: asked.append(text) or False)
    panel.keep_round.setCurrentIndex(panel.keep_round.findData(2))
    assert panel.rollback() is False  # answered No
    assert "can no longer be resumed" not in asked[-1], asked[-1]
    panel.keep_round.setCurrentIndex(panel.keep_round.findData(1))
    assert panel.rollback() is True  # asked once its work's size is added up (in a worker), answered No
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=20000)
    assert "can no longer be resumed" in asked[-1], asked[-1]
    assert [r.index for r in proj.rounds] == [0, 1, 2, 3] and not studio.runner.running


def test_the_interrupted_runs_work_is_added_up_in_a_worker_for_the_roll_back_question(studio, tmp_path, monkeypatch,
                                                                                       qtbot):
    """Session 46: the question's size of the interrupted run's ``work/`` (``Project.work_size``: a walk of every file
    it holds, model-scale maps of every image for each of its rounds) was added up on the GUI thread before the
    question. A worker adds it up now; the stage line says so meanwhile, then the question names it."""
    import os

    from conftest import calls_on_gui_thread

    from vessel_studio.gui import dialogs as dialogs_mod
    from vessel_studio.store.project import Project

    panel, proj = studio.panels["Adaptation"], studio.project
    work = _killed_after_four_rounds(studio, tmp_path)
    (work / "round-004" / "checkpoint.pt").write_bytes(os.urandom(2_000_000))
    on_gui_thread = calls_on_gui_thread(monkeypatch, (Project, "work_size"))
    asked = []
    monkeypatch.setattr(dialogs_mod, "confirm", lambda parent, title, text: asked.append(text) or False)
    before = panel.stage.text()
    panel.keep_round.setCurrentIndex(panel.keep_round.findData(1))
    assert panel.rollback() is True
    assert panel.stage.text() == f"Roll back: adding up the interrupted adaptation's work in {work}…"
    qtbot.waitUntil(lambda: bool(asked), timeout=20000)
    assert f"its finished steps in {work} (2 MB) are deleted too" in asked[-1], asked[-1]
    assert on_gui_thread == []
    assert panel.stage.text() == before and not studio.runner.running
    assert [r.index for r in proj.rounds] == [0, 1, 2, 3] and (work / "job.json").is_file()


def test_rolling_back_below_a_killed_runs_start_deletes_its_work_and_the_disk_line_follows(studio, tmp_path,
                                                                                          monkeypatch, qtbot):
    """Session 39 QA (6 CHASE_DB1 images): after that roll back the killed run's work (68 MB) stayed in ``work/``
    until the next run, which deletes it at its start. It is deleted with the rounds: the question says how much, the
    status line says it was deleted, and the free-disk line is read again after it."""
    import os

    from vessel_studio.gui import dialogs as dialogs_mod

    panel, proj = studio.panels["Adaptation"], studio.project
    work = _killed_after_four_rounds(studio, tmp_path)
    (work / "round-004" / "checkpoint.pt").write_bytes(os.urandom(3_000_000))
    asked, statuses, disk_read = [], [], []
    monkeypatch.setattr(dialogs_mod, "confirm", lambda parent, title, text: asked.append(text) or True)
    studio.status.connect(statuses.append)
    read = panel.update_disk
    monkeypatch.setattr(panel, "update_disk", lambda: disk_read.append((work / "round-004").exists()) or read())
    panel.keep_round.setCurrentIndex(panel.keep_round.findData(1))
    assert panel.rollback() is True  # its question once the work's size is added up (in a worker), then the job
    qtbot.waitUntil(lambda: bool(asked) and not studio.runner.running, timeout=30000)
    assert f"its finished steps in {work} (3 MB) are deleted too" in asked[-1], asked[-1]
    assert [r.index for r in proj.rounds] == [0, 1]
    assert sorted(p.name for p in work.iterdir()) == [".job.lock"]
    assert statuses[-1] == ("rolled back: removed round(s) 2, 3; the interrupted adaptation can no longer be resumed: "
                            f"its work in {work} was deleted (3.0 MB freed)"), statuses[-1]
    assert disk_read and disk_read[-1] is False  # the free-disk line read after the deletion
    assert "interrupted" not in panel.recorded.text()


def _killed_after_four_rounds(studio, tmp_path):
    """Rounds 0-3 committed (a map of 0.3 per image, an empty segmenter folder), and what a run killed in round 4 left
    in ``work/``, having gone on from round 2 (its ``job.json`` and ``round-004``); the panels told. Returns ``work/``."""
    import json

    import numpy as np

    from conftest import tiny_config

    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    proj = studio.project
    for k in range(4):
        src = tmp_path / f"r{k}"
        (src / "pseudo").mkdir(parents=True)
        (src / "segmenter").mkdir()
        for rec in proj.images:
            write_prob(src / "pseudo" / f"{rec.id}.tif", np.full(rec.shape[:2], 0.3, np.float32))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"vessel_fraction": 0.1}))
    work = proj.work_dir
    work.mkdir(exist_ok=True)
    (work / "job.json").write_text(json.dumps({"key": "k", "base_round": 2, "config": tiny_config(rounds=2).to_dict()}))
    (work / "round-004").mkdir()
    studio.project_changed.emit()
    return work


def _saved_while_held(studio, review, task=None) -> list[str]:
    """An edit of the image on screen saved while another process holds the project's job lock (for ``task``; the
    window has looked): the status lines said meanwhile."""
    statuses = []
    studio.status.connect(statuses.append)
    with _held_by_another_process(studio.project.folder, task):
        studio._look_outside()
        _edit(review.mask_layer)
        assert review.save()
    return statuses
