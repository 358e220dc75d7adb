"""A roll back below the round an interrupted adaptation went on from (a terminal's ``adapt`` killed, ``kill -9``)
makes it unresumable (``adaptation.job.interrupted_job``; ``adapt`` starts afresh and deletes its work): the roll back
deletes that work at once (``Project.discard_given_up_work``). Session 39 QA: it stayed in ``PROJECT/work/`` (68 MB for
6 CHASE_DB1 images) until the next run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_project_store import _fake_round, _write_png

from vessel_studio.store import Project, RoundRecord


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "target"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        _write_png(folder / f"scan{i}.png", rng.integers(0, 255, (40, 48), dtype=np.uint8))
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images([folder])]
    for k in range(4):
        proj.commit_round(_fake_round(tmp_path, ids, name=f"r{k}"), RoundRecord(index=k, folder=""))
    return proj


def _killed_run(proj, base, *, rounds=2):
    """What a run that went on from round ``base`` and was killed in its second round leaves in ``work/``."""
    work = proj.work_dir
    work.mkdir(exist_ok=True)
    (work / ".job.lock").write_text("")
    from vessel_studio.adaptation.config import AdaptConfig

    config = AdaptConfig.preset("tiny").replace(rounds=rounds).to_dict()
    (work / "job.json").write_text(json.dumps({"key": "k", "base_round": base, "config": config}))
    first = 0 if base is None else base + 1
    for r in (first, first + 1):
        (work / f"round-{r:03d}" / "seg").mkdir(parents=True)
        (work / f"round-{r:03d}" / "seg" / "checkpoint.pt").write_bytes(os.urandom(200_000))
    return work


def _left(work):
    return sorted(p.name for p in work.iterdir())


def test_rolling_back_below_the_round_a_killed_run_went_on_from_deletes_its_work(project):
    from vessel_studio.adaptation.job import interrupted_job

    work = _killed_run(project, base=2)  # rounds 3 and 4, killed in round 4
    project.rollback(3)  # nothing to remove: still resumable, kept
    assert interrupted_job(project) is not None and "job.json" in _left(work)
    kept = project.rollback(2)  # round 3 removed, the round it went on from kept: still resumable
    assert kept == [3] and kept.gave_up is None and kept.work_freed == 0 and not kept.work_deleted
    assert interrupted_job(project) is not None and "round-003" in _left(work)

    removed = project.rollback(1)  # round 2, the round it went on from, removed: given up, its work deleted
    assert removed == [2] and removed.gave_up["base_round"] == 2
    assert removed.work_freed >= 400_000 and removed.work_deleted
    assert _left(work) == [".job.lock"] and interrupted_job(project) is None
    assert any(e["message"].startswith("work of an interrupted adaptation deleted") for e in project.read_log())


def test_a_run_that_made_round_0_stays_resumable_after_rolling_back_every_round(project):
    work = _killed_run(project, base=None, rounds=5)
    removed = project.rollback(-1)
    assert removed == [0, 1, 2, 3] and removed.gave_up is None and removed.work_freed == 0
    assert "job.json" in _left(work) and "round-001" in _left(work)


def test_a_file_linked_into_a_kept_round_is_not_counted_as_freed(project):
    work = _killed_run(project, base=2)
    kept = project.folder / "rounds" / "round-000" / "segmenter" / "weights.bin"
    kept.write_bytes(os.urandom(300_000))
    os.link(kept, work / "round-003" / "linked.bin")
    removed = project.rollback(1)
    assert 400_000 <= removed.work_freed < 700_000
    assert kept.is_file() and _left(work) == [".job.lock"]


def test_a_roll_back_killed_before_it_deleted_the_work_is_finished_at_the_next_open(project, monkeypatch):
    work = _killed_run(project, base=2)
    monkeypatch.setattr(Project, "discard_given_up_work", lambda self: 0)  # killed after its manifest edit
    project.rollback(1)
    assert "job.json" in _left(work)
    monkeypatch.undo()
    import shutil

    shutil.rmtree(work / "round-003")  # or killed in the middle of the deletion: the record is deleted last
    Project.open(project.folder)  # clean_stale
    assert _left(work) == [".job.lock"]


def test_nothing_is_deleted_while_a_job_holds_the_project(project):
    work = _killed_run(project, base=2)
    project._update(lambda d: d.update(rounds=[x for x in d["rounds"] if int(x["index"]) <= 1]))  # a roll back done
    code = ("import sys, time\nfrom vessel_studio.store import Project\n"
            "p = Project(sys.argv[1]); p.acquire_job_lock(); print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(project.folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert project.discard_given_up_work() == 0
        Project.open(project.folder)
        assert "job.json" in _left(work) and "round-003" in _left(work)
    finally:
        holder.kill()
        holder.wait()
    assert project.discard_given_up_work() > 0 and _left(work) == [".job.lock"]


def test_the_job_rolling_back_its_own_rounds_keeps_its_work(project):
    """A cancelled ``adapt`` rolls back the rounds it committed while it holds the lock: its work is its own."""
    work = _killed_run(project, base=2)
    project.acquire_job_lock()
    try:
        removed = project.rollback(1)
    finally:
        project.release_job_lock()
    assert removed == [2, 3] and removed.work_freed == 0 and "job.json" in _left(work)


def test_the_lock_file_says_what_the_job_holding_it_was_taken_for(project):
    """``Project.job_task``: what another process's job took the project's lock for (the window's save note reads it);
    None when nothing holds it or the holder did not say."""
    assert project.job_task() is None
    code = ("import sys, time\nfrom vessel_studio.store import Project\n"
            "p = Project(sys.argv[1]); p.acquire_job_lock(*sys.argv[2:]); print('held', flush=True); time.sleep(60)\n")
    for args, want in ((["restore"], "restore"), ([], None)):
        holder = subprocess.Popen([sys.executable, "-c", code, str(project.folder), *args], stdout=subprocess.PIPE,
                                  text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            assert project.job_running() and project.job_task() == want
        finally:
            holder.kill()
            holder.wait()
