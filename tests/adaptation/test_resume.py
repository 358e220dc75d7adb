"""A tiny adaptation killed with SIGKILL mid-round resumes and ends exactly where an
uninterrupted run with the same seed ends (weights and pseudo-labels bit for bit)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

from vessel_studio.adaptation import AdaptConfig, SourceBundle, adapt
from vessel_studio.events import collect
from vessel_studio.store import Project

ensure_synthesis()

HERE = Path(__file__).resolve().parent
CFG = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1, rounds=2)
#: CFG with its "auto" source weight written as what it is across modalities (this set-up adapts fundus -> OCT-A):
#: the config of the first kill case below, so that the other tests killed in round 1's segmenter share its kill
CFG_W0 = CFG.replace(source_weight=0.0)

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {here!r})
    import torch
    torch.set_num_threads(1)
    from _adapt_fixtures import ensure_synthesis
    ensure_synthesis()
    from vessel_studio.adaptation import AdaptConfig, SourceBundle, adapt
    from vessel_studio.events import Progress
    from vessel_studio.store import Project
    cfg = AdaptConfig.from_dict(json.loads({cfg!r}))
    bundle = SourceBundle(**json.loads({bundle!r}))
    job = adapt(Project.open({proj!r}), cfg, source=bundle)
    for ev in job:
        if isinstance(ev, Progress):
            print(ev.stage, ev.round, ev.step, ev.total, flush=True)
    print("DONE", flush=True)
    """
)


def _bundle_json(bundle: SourceBundle) -> str:
    import json

    return json.dumps({"segmenter": str(bundle.segmenter), "generator": str(bundle.generator),
                       "modality": bundle.modality,
                       "images": [[str(p) if p else None for p in t] for t in bundle.images]})


def _run_and_kill(proj: Path, bundle: SourceBundle, kill_at: tuple[str, int, int], tmp: Path,
                  cfg: AdaptConfig = CFG) -> list[str]:
    script = tmp / "child.py"
    script.write_text(CHILD.format(here=str(HERE), cfg=__import__("json").dumps(cfg.to_dict()),
                                   bundle=_bundle_json(bundle), proj=str(proj)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            # PASSIVE: a 2-thread child's threads sleep rather than spin while they wait (as
                            # vessel-studio segment's do): beside two busy pytest workers the spinning made it slow
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"})
    seen = []
    deadline = time.time() + 240
    try:
        for line in proc.stdout:
            seen.append(line.strip())
            parts = line.split()
            if len(parts) == 4 and parts[0] == kill_at[0] and parts[1] == str(kill_at[1]) \
                    and int(parts[2]) >= kill_at[2]:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if time.time() > deadline:
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert "DONE" not in seen, "the child finished before it was killed"
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]
    return seen


class _Shared:
    """One set-up for the module (the tiny source models and images, and a target project that no test changes):
    each test works on its own copy of the project. The uninterrupted run of a config and the project of a child
    killed at a point are made once, by the first test that asks, and copied for each test that asks (a copy of a
    killed project is the folder that child left: its ``work/`` and its dead lock). All use the one source bundle,
    whose paths are part of a job's key."""

    def __init__(self, root: Path):
        self.root = root
        proj, self.bundle, _ = make_setup(root / "setup")
        self.fresh = proj.folder
        self._made: dict = {}

    def project(self, dest: Path) -> Project:
        shutil.copytree(self.fresh, dest)
        return Project.open(dest)

    def uninterrupted(self, cfg: AdaptConfig) -> Path:
        key = ("uninterrupted", json.dumps(cfg.to_dict(), sort_keys=True))
        if key not in self._made:
            folder = self.root / f"uninterrupted-{len(self._made)}"
            reference, _ = collect(adapt(self.project(folder), cfg, source=self.bundle))
            assert [r.index for r in reference.rounds] == [0, 1, 2]
            self._made[key] = folder
        return self._made[key]

    def killed(self, kill_at: tuple[str, int, int], dest: Path, cfg: AdaptConfig = CFG) -> Project:
        key = ("killed", kill_at, json.dumps(cfg.to_dict(), sort_keys=True))
        if key not in self._made:
            folder = self.root / f"killed-{len(self._made)}"
            shutil.copytree(self.fresh, folder)
            (child := self.root / f"{folder.name}-child").mkdir()
            seen = _run_and_kill(folder, self.bundle, kill_at, child, cfg)
            assert any(s.startswith(f"{kill_at[0]} {kill_at[1]}") for s in seen)
            self._made[key] = folder
        shutil.copytree(self._made[key], dest)
        return Project.open(dest)  # cleans the killed job's temp folders (in this copy)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> _Shared:
    return _Shared(tmp_path_factory.mktemp("resume-shared"))


def _tensors(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def _assert_same_round(a: Project, b: Project, index: int) -> None:
    parts = ["segmenter", "generator"]
    if (a.round_dir(index) / "segmenter-chain").is_dir() or (b.round_dir(index) / "segmenter-chain").is_dir():
        parts.append("segmenter-chain")
    for part in parts:
        ta = _tensors(a.round_dir(index) / part)
        tb = _tensors(b.round_dir(index) / part)
        assert ta.keys() == tb.keys()
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k], err_msg=f"round {index} {part} {k}")
    for rec in a.images:
        np.testing.assert_array_equal(a.prediction(rec.id, index), b.prediction(rec.id, index))
        np.testing.assert_array_equal(a.prediction(rec.id, index, chain=True), b.prediction(rec.id, index, chain=True))


@pytest.mark.parametrize("kill_at,source_weight", [(("segmenter", 1, 2), 0.0), (("target-generator", 2, 2), 0.0),
                                                   (("deliver", 1, 2), 0.5)])
def test_kill_mid_round_then_resume_equals_uninterrupted(tmp_path, shared, kill_at, source_weight):
    """(the last case: killed while the round builds the segmenter it delivers, with its maps; the uninterrupted
    run of a config is made once for the cases that share it)"""
    import torch

    torch.set_num_threads(1)
    cfg = CFG.replace(source_weight=source_weight)
    bundle = shared.bundle
    twin = shared.uninterrupted(cfg)  # the same project adapted without a kill (read only)

    killed = shared.killed(kill_at, tmp_path / "proj", cfg)  # the folder a child killed at kill_at left
    assert (killed.folder / "work" / "job.json").is_file()
    assert max(r.index for r in killed.rounds) == kill_at[1] - 1  # earlier rounds committed
    work_round = killed.folder / "work" / f"round-{kill_at[1]:03d}"
    assert work_round.is_dir()
    if kill_at[0] == "deliver":  # killed after the merged model was written, while predicting with it
        assert (work_round / "segmenter-delivered" / "model.safetensors").is_file()
        assert any((work_round / "pseudo-delivered").glob("*.tif"))

    result, events = collect(adapt(killed, cfg, source=bundle))
    assert result.resumed
    # the resumed job did not redo the committed rounds
    assert [r.index for r in result.rounds] == list(range(kill_at[1], 3))
    from vessel_studio.events import Progress

    steps = [e for e in events if isinstance(e, Progress) and e.stage == kill_at[0] and e.round == kill_at[1]]
    assert steps
    if kill_at[0] != "deliver":
        assert steps[0].step > 1, "the interrupted training did not resume from its checkpoint"

    final, ref = Project.open(killed.folder), Project.open(twin)
    assert [r.index for r in final.rounds] == [0, 1, 2]
    for i in (0, 1, 2):
        _assert_same_round(final, ref, i)
    # the round records' training losses too: of the stages the killed run finished (found done now) and
    # of the steps it made before the checkpoint the resumed training went on from
    losses = ("generator_loss", "segmenter_loss")
    got = {r.index: {k: r.metrics.get(k) for k in losses} for r in final.rounds}
    want = {r.index: {k: r.metrics.get(k) for k in losses} for r in ref.rounds}
    assert all(v is not None for rec in want.values() for v in rec.values())
    assert got == want
    # (model hashes differ: config.json records run timings and steps run in each process)
    assert not (final.folder / "work" / "job.json").exists()


def test_a_different_config_discards_stale_work(tmp_path, shared):
    bundle = shared.bundle
    p = shared.killed(("segmenter", 0, 2), tmp_path / "proj")
    assert (p.folder / "work" / "round-000").is_dir()
    res, _ = collect(adapt(p, CFG.replace(seed=7, rounds=0), source=bundle))
    assert not res.resumed and [r.index for r in res.rounds] == [0]


def test_work_of_a_killed_job_whose_base_round_was_rolled_back_is_discarded(tmp_path, shared):
    """A job killed while adding rounds to round N, then ``rounds --rollback`` below N: the same
    command again must start afresh from the rounds that remain, not fail on round N forever."""
    from vessel_studio.adaptation.job import JOB_FILE, _job_key
    from vessel_studio.io.atomic import write_json

    proj, bundle = shared.project(tmp_path / "proj"), shared.bundle
    cfg = CFG.replace(rounds=0)
    resolved = cfg.resolve_auto(bundle.modality, proj.modality)
    key = _job_key(resolved, bundle.identity(), [r.id for r in proj.images])
    # what a job started on a project with round 0 leaves when killed; round 0 then rolled back
    write_json(proj.work_dir / JOB_FILE, {"key": key, "base_round": 0, "config": resolved.to_dict()})
    res, _ = collect(adapt(Project.open(proj.folder), cfg, source=bundle))
    assert not res.resumed and [r.index for r in res.rounds] == [0]


def test_a_different_thread_count_still_resumes(tmp_path, shared):
    """The thread count is not part of the job: a job killed at one count resumes at another. Killed at 2
    threads (in its own process, its threads waiting passively), resumed at 1 in this one: its 2-thread part runs
    in a process of its own, not in the pytest worker beside the other one (-n 2)."""
    proj, bundle = shared.killed(("segmenter", 0, 2), tmp_path / "proj", cfg=CFG.replace(threads=2)), shared.bundle
    from vessel_studio.adaptation.job import _read_job

    assert _read_job(proj.work_dir)["config"]["threads"] == 2  # the killed run's job.json
    res, _ = collect(adapt(Project.open(proj.folder), CFG, source=bundle))
    assert CFG.threads == 1 and res.resumed and [r.index for r in res.rounds] == [0, 1, 2]


def test_a_resumed_round_reports_the_stage_times_of_the_run_that_was_killed(tmp_path, shared):
    """Killed in round 1's segmenter: the generator and synthesis that run finished keep their seconds
    (stage-seconds.json in the round's work folder), so the committed round does not report the
    near-zero time the resumed run took to find them done."""
    import json

    proj, bundle = shared.killed(("segmenter", 1, 2), tmp_path / "proj", CFG_W0), shared.bundle
    assert CFG_W0.resolve_auto(bundle.modality, proj.modality) == CFG.resolve_auto(bundle.modality, proj.modality)
    saved = json.loads((proj.folder / "work" / "round-001" / "stage-seconds.json").read_text())
    assert set(saved) == {"generator", "synthesize"} and saved["generator"] > 0 and saved["synthesize"] > 0
    res, _ = collect(adapt(Project.open(proj.folder), CFG_W0, source=bundle))
    assert res.resumed
    metrics = {r.index: r.metrics for r in Project.open(proj.folder).rounds}[1]
    # found done in the resumed run: the killed run's time, not the resumed run's nor their sum
    assert metrics["seconds_generator"] == pytest.approx(saved["generator"])
    assert metrics["seconds_synthesize"] == pytest.approx(saved["synthesize"])
    assert metrics["seconds_segmenter"] > 0 and metrics["seconds_pseudo_label"] > 0


def test_stage_clock_keeps_the_finished_runs_time_and_never_adds_a_rerun(tmp_path):
    from vessel_studio.adaptation.rounds import _StageClock

    first = _StageClock(tmp_path)
    first.done("generator", 5.0)
    found_done = _StageClock(tmp_path)  # resumed: the stage's output was there
    found_done.done("generator", 0.01)
    assert found_done.seconds == {"generator": 5.0}
    rerun = _StageClock(tmp_path)  # its output was not kept, so it ran again in full
    rerun.done("generator", 6.0)
    rerun.done("synthesize", 2.0)
    assert rerun.seconds == {"generator": 6.0, "synthesize": 2.0}
    for bad in ("{half", '{"generator": null}', "[1, 2]"):  # unreadable or not {stage: seconds}: start afresh
        (tmp_path / _StageClock.FILE).write_text(bad)
        assert _StageClock(tmp_path).before == {}


def test_a_work_folder_without_saved_losses_still_resumes(tmp_path, shared):
    """Work folders from before the losses were saved beside their stages resume as they did: no
    generator loss for a generator found done, the segmenter's of the steps run since its checkpoint."""
    proj, bundle = shared.killed(("segmenter", 1, 2), tmp_path / "proj", CFG_W0), shared.bundle
    work = proj.folder / "work" / "round-001"
    assert (work / "generator-losses.json").is_file() and (work / "segmenter-losses.json").is_file()
    for name in ("generator-losses.json", "segmenter-losses.json"):
        (work / name).unlink()
    res, _ = collect(adapt(Project.open(proj.folder), CFG_W0, source=bundle))
    assert res.resumed and [r.index for r in res.rounds] == [1, 2]
    metrics = {r.index: r.metrics for r in Project.open(proj.folder).rounds}
    assert "generator_loss" not in metrics[1] and "segmenter_loss" in metrics[1]
    assert "generator_loss" in metrics[2] and "segmenter_loss" in metrics[2]


def test_stage_losses_are_kept_by_step(tmp_path):
    from vessel_studio.adaptation.rounds import _StageLosses

    path = tmp_path / "segmenter-losses.json"
    first = _StageLosses(path, every=2)
    first.add(1, 0.5)
    assert not path.exists()  # saved at the trainer's checkpoint steps only
    first.add(2, 0.4)
    first.add(3, 0.3)  # after the checkpoint: lost with a kill
    resumed = _StageLosses(path, every=2)
    assert resumed.values() == [0.5, 0.4]
    for step in range(3, 12):  # beyond 10 steps: ordered by number, not as the file's text sorts
        resumed.add(step, step / 10)
    resumed.save()
    assert _StageLosses(path).values() == [0.5, 0.4] + [s / 10 for s in range(3, 12)]
    for bad in ("{half", '{"1": null}', "[1, 2]", '{"one": 1.0}'):  # unreadable or not {step: loss}
        path.write_text(bad)
        assert _StageLosses(path).values() == []


@pytest.mark.parametrize("source_weight,pseudo_mirror,stop", [(0.0, False, True), (0.5, False, False),
                                                               (0.5, True, False)])
def test_adding_rounds_to_a_finished_project_equals_one_longer_job(tmp_path, source_weight, pseudo_mirror, stop):
    """A lab adds rounds to a finished project (``adapt`` again, or the GUI's Run after corrections
    were saved): with the same config and seed, rounds 1-2 added to a 1-round project equal those of
    one 2-round job, bit for bit, also where the target is rescaled for the model (a fundus target
    whose FOV is shrunk: the next round's labels are the previous round's model-scale maps, which
    the finished job no longer holds in ``work/``; with ``pseudo_mirror`` they are recomputed mirrored).
    ``stop``: the 1-round project is a 2-round job stopped after round 0 (``stop_requested``, the GUI's
    "Stop after this round", session 28), which keeps round 0 and loses nothing of the longer job."""
    import torch

    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.samples import write_sample_images

    torch.set_num_threads(1)
    _, bundle, _ = make_setup(tmp_path / "setup", n_target=1)
    tgt = write_sample_images(tmp_path / "tgt", n=2, modality="fundus", seed=21, shape=(96, 96))
    prep = Preprocessing.for_modality("fundus", fov_diameter=56).to_dict()
    one = Project.create(tmp_path / "one", modality="fundus", preprocessing=prep)
    one.add_images([tgt.folder / "images"])
    two = tmp_path / "two"
    shutil.copytree(one.folder, two)
    cfg = CFG.replace(source_weight=source_weight, pseudo_mirror=pseudo_mirror)

    long_job, _ = collect(adapt(one, cfg.replace(rounds=2), source=bundle))
    assert [r.index for r in long_job.rounds] == [0, 1, 2]
    if stop:
        from vessel_studio.adaptation.job import STOPPED_BY_USER

        first, _ = collect(adapt(Project.open(two), cfg.replace(rounds=2), source=bundle, stop_requested=lambda: True))
        assert first.stopped_early and first.reason == STOPPED_BY_USER
        assert Project.open(two).read_log()[-2]["reason"] == STOPPED_BY_USER  # then "adaptation finished"
    else:
        first, _ = collect(adapt(Project.open(two), cfg.replace(rounds=0), source=bundle))
    assert [r.index for r in first.rounds] == [0]
    assert not any((two / "work").glob("round-*")), "a finished job keeps no model-scale maps"
    added, _ = collect(adapt(Project.open(two), cfg.replace(rounds=2), source=bundle))
    assert [r.index for r in added.rounds] == [1, 2]
    a, b = Project.open(one.folder), Project.open(two)
    assert Preprocessing.from_dict(a.preprocessing).fov_diameter == 56
    for i in (0, 1, 2):
        _assert_same_round(a, b, i)


def test_interrupted_job_says_what_would_resume(tmp_path, shared):
    """``interrupted_job``: what the Adaptation panel offers to resume (session 35), and ``would_resume`` agrees with
    what ``adapt`` then does; no job after a finished or cancelled one, or once the round it started from is gone."""
    from vessel_studio.adaptation.job import JOB_FILE, _job_key, interrupted_job, would_resume
    from vessel_studio.io.atomic import write_json

    bundle = shared.bundle
    assert interrupted_job(shared.project(tmp_path / "before")) is None
    p = shared.killed(("segmenter", 0, 2), tmp_path / "proj")
    job = interrupted_job(p)
    assert job is not None and (job.base_round, job.round, job.last) == (None, 0, 2)
    assert job.record == {"round": 0, "preset": "tiny", "fields": {"stop_agreement": 1.01}}
    ident = bundle.identity()
    assert would_resume(job, p, CFG.replace(threads=4), ident, bundle.modality)
    assert not would_resume(job, p, CFG.replace(rounds=1), ident, bundle.modality)
    res, _ = collect(adapt(p, CFG, source=bundle))
    assert res.resumed and interrupted_job(p) is None  # finished: its work is removed
    # a job that started after round 0, which was then rolled back: adapt starts afresh, nothing to offer
    cfg = CFG.replace(rounds=1).resolve_auto(bundle.modality, p.modality)
    key = _job_key(cfg, ident, [r.id for r in p.images])
    write_json(p.work_dir / JOB_FILE, {"key": key, "base_round": 2, "config": cfg.to_dict()})
    assert interrupted_job(p) is None  # failed before its first round began: nothing to go on from
    (p.work_dir / "round-003").mkdir()
    job = interrupted_job(p)
    assert job is not None and (job.base_round, job.round, job.last) == (2, 3, 3)
    p.rollback(1)
    assert interrupted_job(p) is None
    # killed after committing its last round, before removing its work: nothing left to resume
    write_json(p.work_dir / JOB_FILE, {"key": key, "base_round": 0, "config": cfg.to_dict()})
    assert interrupted_job(p) is None


def test_rounds_in_progress_reads_the_running_jobs_record(tmp_path):
    """Session 39: (round in progress, last round) of the adaptation ``work/job.json`` records, for the window's note
    on a mask saved while another process's ``adapt`` holds the project; None without a record or with "auto"
    rounds."""
    import json

    from vessel_studio.adaptation.job import rounds_in_progress
    from vessel_studio.store import Project

    proj = Project.create(tmp_path / "p", modality="fundus")
    assert rounds_in_progress(proj) is None
    proj.work_dir.mkdir(exist_ok=True)
    for config, want in (({"rounds": 2}, (0, 2)), ({"rounds": 0}, (0, 0)), ({"rounds": "auto"}, None), ({}, None)):
        (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": None, "config": config}))
        assert rounds_in_progress(proj) == want, config
    (proj.work_dir / "job.json").write_text(json.dumps({"key": "k", "base_round": 4, "config": {"rounds": 3}}))
    assert rounds_in_progress(proj) == (5, 7)  # base round 4 no longer committed: the record's arithmetic still
    from vessel_studio.adaptation.job import round_started

    assert not round_started(proj, 5)
    (proj.work_dir / "round-005-retry-1").mkdir()
    assert round_started(proj, 5) and not round_started(proj, 6)


def test_temp_files_of_writes_a_kill_cut_are_not_committed(tmp_path, shared):
    """Session 43's kill fuzz: ``kill -9`` inside a map's atomic write (``io.atomic.atomic_path``) leaves its temporary
    file (``.ID.<random>.tmp.tif``, partly written) in the round's ``work/`` folder; the resumed job copied the whole folder
    into the committed round, so ``rounds/round-000/pseudo/`` kept a stray (possibly truncated) TIFF for good, which
    ``pseudo/*.tif`` readers take for a map (the benchmark's fragmentation, a prune's ``pruned_images``). The job
    that resumes holds the project's job lock, so every temporary file or folder in ``work/`` is a dead writer's:
    removed before it goes on."""
    import tempfile

    proj, bundle = shared.killed(("segmenter", 0, 2), tmp_path / "proj"), shared.bundle
    work = proj.folder / "work" / "round-000"
    image_id = proj.images[0].id
    planted = []
    for sub, suffix in (("pseudo", ".tif"), ("pseudo-model", ".npy")):  # as atomic_path names its temporary file
        (work / sub).mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{image_id}.", suffix=f".tmp{suffix}", dir=work / sub)
        os.write(fd, b"II*\x00half a TIFF")
        os.close(fd)
        planted.append(Path(name))
    ckpt_tmp = Path(tempfile.mkdtemp(prefix=".segmenter-ckpt.", suffix=".tmp", dir=work))  # atomic_dir's
    res, _ = collect(adapt(Project.open(proj.folder), CFG, source=bundle))
    assert res.resumed and [r.index for r in res.rounds] == [0, 1, 2]
    stray = [p.relative_to(proj.folder) for p in (proj.folder / "rounds").rglob("*") if ".tmp" in p.name]
    assert stray == []
    assert not any(p.exists() for p in planted) and not ckpt_tmp.exists()
    final = Project.open(proj.folder)
    assert sorted(p.name for p in (final.round_dir(0) / "pseudo").iterdir()) == sorted(
        f"{r.id}.tif" for r in final.images)


def test_a_kill_while_a_finished_job_removes_its_work_leaves_its_record_last(tmp_path, shared, monkeypatch):
    """Session 43's kill fuzz: the job's last step removes ``work/`` entry by entry, in the order the file system lists
    them; killed after ``job.json`` went and before the round folders did, the rest stayed in ``work/`` for good: no
    record names it, so neither ``Project.open`` nor the Adaptation panel saw it (only the next ``adapt`` removed it).
    ``job.json`` goes last now: a kill there leaves the record, and the same command again finds every round committed
    and ends the job (committing nothing, removing the rest)."""
    from vessel_studio.adaptation import job as job_module
    from vessel_studio.adaptation.job import JOB_FILE, interrupted_job
    from vessel_studio.events import Metric

    proj, bundle = shared.project(tmp_path / "proj"), shared.bundle
    cfg = CFG.replace(rounds=0)
    run = adapt(proj, cfg, source=bundle)
    for ev in run:  # the job's last event: it removes its work folder next
        if isinstance(ev, Metric) and (ev.stage, ev.name) == ("adapt", "seconds"):
            break
    work = proj.work_dir
    assert (work / JOB_FILE).is_file() and (work / "round-000").is_dir()
    listed, seen = Path.iterdir, []

    def job_file_first(self):  # as a file system may list them
        return iter(sorted(listed(self), key=lambda p: p.name != JOB_FILE) if self == work else listed(self))

    def killed(path, *args, **kwargs):  # kill -9 while the first folder is removed
        seen.append((work / JOB_FILE).is_file())
        raise SystemExit("killed")

    with monkeypatch.context() as m:
        m.setattr(Path, "iterdir", job_file_first)
        m.setattr(job_module.shutil, "rmtree", killed)
        with pytest.raises(SystemExit):
            next(run)
    assert seen == [True] and (work / JOB_FILE).is_file()  # the record is there while anything else is
    p = Project.open(proj.folder)
    assert [r.index for r in p.rounds] == [0] and interrupted_job(p) is None  # nothing left to resume
    res, _ = collect(adapt(p, cfg, source=bundle))  # the same command again
    assert res.resumed and res.rounds == [] and [r.index for r in Project.open(proj.folder).rounds] == [0]
    assert sorted(x.name for x in work.iterdir()) == [".job.lock"]
