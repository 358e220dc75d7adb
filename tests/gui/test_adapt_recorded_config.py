"""The Adaptation panel continues a project with the configuration its rounds record, as ``adapt PROJECT``
run again does (``adaptation.config.recorded_config``). Session 29: the panel built its AdaptConfig from its
form only (the cpu preset at start, never reset when a project opened, no seed field: seed 0), so Run
adaptation on a project started with ``--preset tiny --seed 3`` added cpu rounds with seed 0 and without the
project's ``--set`` fields: not the same rounds as one longer job. No adaptation is run here: the rounds'
records are written into the project."""

from __future__ import annotations

import pytest


def _commit_rounds(proj, tmp_path, cfg, indices=(0, 1)):
    from vessel_studio.store import RoundRecord

    for index in indices:
        src = tmp_path / f"r{index}"
        (src / "pseudo").mkdir(parents=True)
        proj.commit_round(src, RoundRecord(index=index, folder="", config=cfg.to_dict(), seed=cfg.seed,
                                           metrics={"guard_retries": 0.0}))


def test_opening_a_project_with_rounds_takes_their_configuration(studio, tmp_path, dialogs):
    from vessel_studio.adaptation import AdaptConfig

    panel = studio.panels["Adaptation"]
    assert panel.config() == AdaptConfig.preset("cpu")
    proj = studio.project
    first = AdaptConfig.preset("tiny", seed=3, t0=0.4, n_synthetic=6, gen_finetune_steps=2,
                               threads=1).resolve_auto("fundus", proj.modality)
    _commit_rounds(proj, tmp_path, first)
    assert studio.open_project(proj.folder)

    assert panel.preset.currentText() == "tiny"
    assert panel.t0.value() == pytest.approx(0.4) and panel.count.value() == 6
    assert panel.steps.value() == AdaptConfig.preset("tiny").steps
    cfg = panel.config()
    assert (cfg.preset_name, cfg.seed, cfg.t0, cfg.n_synthetic, cfg.gen_finetune_steps) == ("tiny", 3, 0.4, 6, 2)
    # Rounds is the rounds to add (the preset's), threads this machine's: neither is taken from the record
    assert cfg.rounds == AdaptConfig.preset("tiny").rounds and cfg.threads is None
    assert cfg.gen_steps == AdaptConfig.preset("tiny").gen_steps
    text = panel.recorded.text()
    assert panel.recorded.isVisibleTo(panel)
    assert "continue with the project's configuration: preset tiny, seed 3" in text and "round 1's record" in text
    assert "gen_finetune_steps 2" in text

    # what the person changes in the form wins; the seed and the --set fields stay the project's
    panel.steps.setValue(12)
    panel.rounds.setValue(1)
    cfg = panel.config()
    assert (cfg.steps, cfg.rounds, cfg.seed, cfg.gen_finetune_steps) == (12, 1, 3, 2)
    # another preset: its sizes, with what the project was given on top of its preset (as adapt --preset cpu)
    panel.preset.setCurrentText("cpu")
    cfg = panel.config()
    assert (cfg.preset_name, cfg.gen_steps, cfg.steps, cfg.rounds) == ("cpu", 150, 50, "auto")
    assert (cfg.seed, cfg.t0, cfg.n_synthetic, cfg.gen_finetune_steps) == (3, 0.4, 6, 2)
    panel.overrides = {"seed": 7}  # advanced settings, tests, benchmarks: still over everything
    assert panel.config().seed == 7
    panel.overrides = {}

    # a project without rounds: the defaults again, nothing of the previous project's
    panel.preset.setCurrentText("tiny")
    panel.steps.setValue(12)
    assert studio.new_project(tmp_path / "fresh", "fundus")
    assert panel.preset.currentText() == "cpu" and panel.config() == AdaptConfig.preset("cpu")
    assert not panel.recorded.isVisibleTo(panel) and panel.recorded.text() == ""
    assert not dialogs.errors


def test_a_roll_back_follows_the_kept_rounds_record(studio, tmp_path, dialogs, qtbot):
    """Rolled back to "no round", the project is a new one: cpu and seed 0 (as ``adapt`` after
    ``rounds --rollback -1``); opening a project of the same preset sets the form from its record too."""
    from vessel_studio.adaptation import AdaptConfig

    panel = studio.panels["Adaptation"]
    proj = studio.project
    _commit_rounds(proj, tmp_path, AdaptConfig.preset("tiny", seed=5).resolve_auto("fundus", proj.modality))
    studio.project_changed.emit()
    assert panel.config().seed == 5 and panel.preset.currentText() == "tiny"
    panel.t0.setValue(0.6)  # the person's change, then the same preset's project opened again: the record's t0
    assert studio.open_project(proj.folder)
    assert panel.t0.value() == pytest.approx(0.3) and panel.config().seed == 5
    panel.keep_round.setCurrentIndex(panel.keep_round.findData(-1))
    assert panel.rollback()
    qtbot.waitUntil(lambda: not studio.runner.running, timeout=30000)
    assert not studio.project.rounds
    assert panel.config() == AdaptConfig.preset("cpu") and not panel.recorded.isVisibleTo(panel)
    assert not dialogs.errors


def test_recorded_values_the_form_rounds_are_kept_exactly(studio, tmp_path, dialogs):
    """QA, session 29: a project adapted with ``adapt --t0 0.333 --steps 1500`` showed t0 0.33 and Steps 1000 in the
    form (two decimals; at most 1000) and its line said "t0 0.333, steps 1500", but Run adaptation continued with
    0.33 and 1000: not the project's configuration. A box left as the record set it gives the recorded value; a
    value changed in the form still wins."""
    from vessel_studio.adaptation import AdaptConfig

    panel = studio.panels["Adaptation"]
    proj = studio.project
    _commit_rounds(proj, tmp_path, AdaptConfig.preset("tiny", seed=3, t0=0.333, steps=1500,
                                                      n_synthetic=6).resolve_auto("fundus", proj.modality))
    assert studio.open_project(proj.folder)
    assert "steps 1500, t0 0.333" in panel.recorded.text()
    cfg = panel.config()
    assert (cfg.t0, cfg.steps, cfg.n_synthetic, cfg.seed) == (0.333, 1500, 6, 3)
    panel.t0.setValue(0.4)
    panel.steps.setValue(20)
    cfg = panel.config()
    assert (cfg.t0, cfg.steps, cfg.n_synthetic) == (0.4, 20, 6)
    panel.preset.setCurrentText("cpu")  # another preset keeps the recorded values, exactly, as adapt --preset cpu
    cfg = panel.config()
    assert (cfg.preset_name, cfg.t0, cfg.steps) == ("cpu", 0.333, 1500)
    assert not dialogs.errors


def test_changes_in_the_form_stay_when_rounds_change_elsewhere(studio, tmp_path, dialogs, qtbot):
    """The person changes the form (not yet run) while a terminal's ``adapt`` adds rounds to the project: the
    changes stay, over the new rounds' record (the seed and the fields the form has no box for come from it).
    Before session 31 each round added elsewhere set the form back to the record, and the changes were lost. An
    unchanged form follows the new record, as before."""
    from vessel_studio.adaptation import AdaptConfig
    from vessel_studio.store import Project

    panel = studio.panels["Adaptation"]
    studio._watch.setInterval(30)
    proj = studio.project
    assert panel.preset.currentText() == "cpu"
    panel.t0.setValue(0.6)
    panel.steps.setValue(12)
    cfg = AdaptConfig.preset("tiny", seed=5).resolve_auto("fundus", proj.modality)
    _commit_rounds(Project.open(proj.folder), tmp_path / "a", cfg)  # another program
    qtbot.waitUntil(lambda: panel.recorded.isVisibleTo(panel), timeout=5000)
    assert panel.preset.currentText() == "cpu" and panel.t0.value() == pytest.approx(0.6) and panel.steps.value() == 12
    got = panel.config()
    assert got.seed == 5 and got.t0 == pytest.approx(0.6) and got.steps == 12
    # the form set back to what it was filled with: unchanged, so the next record is followed
    panel.preset.setCurrentText("tiny")
    studio.open_project(proj.folder)  # another Project object: the form from the record
    assert panel.preset.currentText() == "tiny" and panel.config().seed == 5
    cfg2 = AdaptConfig.preset("cpu", seed=7).resolve_auto("fundus", proj.modality)
    _commit_rounds(Project.open(proj.folder), tmp_path / "b", cfg2, indices=(2,))
    qtbot.waitUntil(lambda: panel.preset.currentText() == "cpu", timeout=5000)
    assert panel.config().seed == 7
    assert not dialogs.errors


def _interrupt(folder, cfg, bundle, tmp_path, stage="segmenter"):
    """What a killed adaptation leaves (``work/`` with its ``job.json`` and finished steps): the job run to
    ``stage`` of round 0, its work folder kept aside while it is closed (a close cancels: it removes ``work/``),
    then put back."""
    import shutil

    from vessel_studio.adaptation import adapt
    from vessel_studio.events import Progress
    from vessel_studio.store import Project

    proj = Project.open(folder)
    job = adapt(proj, cfg, source=bundle)
    for ev in job:
        if isinstance(ev, Progress) and ev.stage == stage:
            break
    shutil.copytree(proj.work_dir, tmp_path / "work-left")
    job.close()
    shutil.copytree(tmp_path / "work-left", proj.work_dir)


def test_an_interrupted_adaptation_is_offered_and_resumed(studio, source_bundle, tmp_path, qtbot, dialogs):
    """Session 35 QA: after the window (or a terminal's adapt) was killed mid-run, the window opened again said
    nothing of it: the form showed the defaults (cpu) or the latest round's record, and Run adaptation discarded the
    run's work (``adapt`` resumes only with the same settings, source and images). The panel now fills the form with
    the interrupted run's settings and says so; Run adaptation resumes it, and other settings are asked about."""
    import json

    from conftest import tiny_config, wait_for_workers

    from vessel_studio.store import Project

    panel = studio.panels["Adaptation"]
    proj = studio.project
    studio.source_bundle = source_bundle
    cfg = tiny_config(rounds=1, seed=4)
    _interrupt(proj.folder, cfg, source_bundle, tmp_path)
    assert (proj.work_dir / "job.json").is_file()
    assert studio.open_project(proj.folder)  # the window opened again
    studio.source_bundle = source_bundle  # the source the run had (the project records it from its first round)
    text = panel.recorded.text()
    assert "interrupted in round 0" in text and "preset tiny, seed 4" in text and "Rounds 1" in text, text
    assert panel.preset.currentText() == "tiny" and panel.rounds.value() == 1
    assert panel.config().seed == 4 and panel.config().stop_agreement == cfg.stop_agreement

    panel.rounds.setValue(2)  # other settings: asked before its work is discarded; No changes nothing
    dialogs.answers["confirm"] = False
    assert panel.run() is False and dialogs.asked[-1] == "Interrupted adaptation"
    assert (studio.project.work_dir / "job.json").is_file() and not studio.runner.running

    panel.rounds.setValue(1)
    dialogs.answers["confirm"] = True
    asked = len(dialogs.asked)
    with qtbot.waitSignal(studio.runner.finished, timeout=120000) as done:
        assert panel.run() is True
    outcome = done.args[0]
    assert outcome.status == "done", outcome.error
    assert outcome.result.resumed and dialogs.asked[asked:] == []
    assert [r.index for r in Project.open(proj.folder).rounds] == [0, 1]
    messages = [json.loads(line)["message"] for line in (proj.folder / "log.jsonl").read_text().splitlines()]
    assert "adaptation resumed" in messages
    assert "resumed" in panel.stage.text()
    assert "interrupted" not in panel.recorded.text()  # done: nothing left to resume
    wait_for_workers(qtbot)


def test_run_is_refused_at_once_while_another_job_holds_the_project(studio, dialogs):
    """Session 35 QA (a terminal's ``adapt`` running beside the window): Run adaptation started a job that loaded
    torch and the models for seconds and then failed with "Adaptation failed: ProjectBusyError …", the panel's line
    replaced by "failed: …". Now it is a "Busy" message naming the holder, and nothing starts."""
    from vessel_studio.store import Project

    panel = studio.panels["Adaptation"]
    other = Project.open(studio.project.folder)  # another job's hold on the project (as another process's)
    other.acquire_job_lock()
    try:
        assert panel.run() is False
        assert not studio.runner.running
        title, text = dialogs.errors[-1]
        assert title == "Busy" and "holds this project" in text and "Nothing was started" in text
        assert panel.stage.text() == "idle"
    finally:
        other.release_job_lock()


def test_roll_back_free_disk_and_make_maps_again_say_busy_before_asking(studio, tmp_path, dialogs):
    """Session 35 QA: with another process's job holding the project, Roll back asked "Delete rounds … ?" and then
    failed, Free disk… asked and then failed as a job ("Free disk failed", the panel's line "Free disk: error"), and
    Make maps again the same: they say who holds the project first, and ask nothing."""
    from test_outside_job import _four_rounds_one_pruned

    from vessel_studio.store import Project

    panel = studio.panels["Adaptation"]
    proj = studio.project
    _four_rounds_one_pruned(proj, tmp_path)  # Make maps again is offered for round 1; round 2's maps could be freed
    studio.project_changed.emit()
    panel.keep_round.setCurrentIndex(panel.keep_round.findData(1))
    assert panel.btn_restore.isEnabled()
    other = Project.open(proj.folder)
    other.acquire_job_lock()
    try:
        assert panel.restore_maps() is False
        assert panel.rollback() is False
        panel.keep_round.setCurrentIndex(panel.keep_round.findData(0))
        assert panel.rollback() is False
        assert panel.btn_prune.isEnabled()  # round 2's maps
        prune_before = [r.pruned is not None for r in Project.open(proj.folder).rounds]
        assert panel.free_disk() is False
    finally:
        other.release_job_lock()
    assert dialogs.asked == [] and not studio.runner.running
    assert [title for title, _ in dialogs.errors] == ["Make maps again", "Roll back failed", "Roll back failed",
                                                      "Free disk"]
    assert all("holds this project" in text for _, text in dialogs.errors)
    assert [r.index for r in Project.open(proj.folder).rounds] == [0, 1, 2, 3]
    assert [r.pruned is not None for r in Project.open(proj.folder).rounds] == prune_before
