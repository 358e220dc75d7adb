"""Pruning a project's rounds: their probability maps go, their records and models stay."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from vessel_studio.events import Progress, collect
from vessel_studio.store import Project, ProjectBusyError, RoundRecord, plan_prune, prune, prune_job


def _project(tmp_path, rounds=4, chain=True):
    folder = tmp_path / "target"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 48), dtype=np.uint8)).save(folder / f"scan{i}.png")
    proj = Project.create(tmp_path / "p", modality="octa")
    ids = [r.id for r in proj.add_images([folder])]
    for k in range(rounds):
        src = tmp_path / f"built-{k}"
        for sub in ("segmenter", "generator", "synthetic"):
            (src / sub).mkdir(parents=True)
            (src / sub / "config.json").write_text("{}")
        for maps in ("pseudo", "pseudo-chain") if chain else ("pseudo",):
            (src / maps).mkdir()
            for i in ids:
                tifffile.imwrite(src / maps / f"{i}.tif", np.full((40, 48), 0.1 * (k + 1), np.float32))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"fragmentation": 5.0 - k}))
    return proj, ids


def _maps(proj, k):
    base = proj.folder / "rounds" / f"round-{k:03d}"
    return sorted(p.name for p in base.iterdir())


def test_prune_deletes_maps_of_all_but_the_latest_and_kept_rounds(tmp_path):
    proj, ids = _project(tmp_path)
    plan = plan_prune(proj, keep=[1])
    assert plan.rounds == (0, 2) and plan.kept == (1, 3)
    one_map = (proj.folder / "rounds/round-000/pseudo" / f"{ids[0]}.tif").stat().st_size
    assert plan.bytes == 2 * 2 * 2 * one_map  # two rounds, pseudo + pseudo-chain, two images
    result, events = collect(prune_job(proj, keep=[1]))
    assert result == plan
    assert [e.step for e in events if isinstance(e, Progress)] == [0, 1, 2]
    again = Project.open(proj.folder)
    assert [r.pruned is not None for r in again.rounds] == [True, False, True, False]
    for k in (0, 2):  # maps gone, everything else kept
        assert _maps(again, k) == ["generator", "segmenter", "synthetic"]
        assert again.prediction(ids[0], round=k) is None
        assert again.segmenter_path(k).is_dir()
    for k in (1, 3):
        assert "pseudo" in _maps(again, k) and "pseudo-chain" in _maps(again, k)
    assert float(again.prediction(ids[0]).mean()) == pytest.approx(0.4)
    assert any(e["message"] == "pruned probability maps" and e["rounds"] == [0, 2] for e in again.read_log())
    # the manifest of an unpruned round is as before (no "pruned": null key)
    data = json.loads(again.manifest_path.read_text())
    assert "pruned" not in data["rounds"][1] and isinstance(data["rounds"][0]["pruned"], str)
    # again: nothing more to do; the records survive a round trip
    assert prune(again).rounds == (1,)
    assert plan_prune(Project.open(proj.folder)).rounds == ()


def test_a_pruned_round_is_not_rolled_back_to(tmp_path):
    proj, _ = _project(tmp_path)
    prune(proj, keep=[1])
    with pytest.raises(ValueError, match=r"round 2's probability maps were pruned.*\(1\)"):
        proj.rollback(2)
    assert [r.index for r in proj.rounds] == [0, 1, 2, 3]  # nothing changed
    assert proj.rollback(1) == [2, 3]
    assert proj.latest_round.index == 1 and proj.latest_round.pruned is None
    assert proj.rollback(-1) == [0, 1]


def test_keep_names_rounds_the_project_has(tmp_path):
    proj, _ = _project(tmp_path, rounds=2)
    with pytest.raises(ValueError, match=r"project\.json: no round 7 to keep"):
        plan_prune(proj, keep=[7])
    empty = Project.create(tmp_path / "empty", modality="octa")
    assert plan_prune(empty) == plan_prune(empty, keep=()) and plan_prune(empty).rounds == ()


def test_closing_before_the_first_event_changes_nothing_and_a_cut_prune_is_finished_on_open(tmp_path):
    proj, _ = _project(tmp_path)
    job = prune_job(proj)
    job.close()  # never started
    assert all(r.pruned is None for r in proj.rounds)
    job = prune_job(proj)
    next(job)  # "marking rounds": nothing written yet
    next(job)  # the manifest marks rounds 0-2 and round 0's maps are gone
    job.close()  # cancelled (or killed) before rounds 1 and 2's folders went
    assert [r.pruned is not None for r in proj.rounds] == [True, True, True, False]
    assert "pseudo" not in _maps(proj, 0) and "pseudo" in _maps(proj, 2)
    again = Project.open(proj.folder)  # clean_stale removes the maps of rounds marked pruned
    for k in (0, 1, 2):
        assert "pseudo" not in _maps(again, k) and "pseudo-chain" not in _maps(again, k)
    assert "pseudo" in _maps(again, 3)


def test_prune_waits_for_a_running_adaptation(tmp_path):
    proj, _ = _project(tmp_path, rounds=2)
    job_side = Project.open(proj.folder)
    job_side.acquire_job_lock()
    try:
        with pytest.raises(ProjectBusyError, match="holds this project; prune its rounds after it ends"):
            prune(proj)
        assert all(r.pruned is None for r in proj.rounds)
    finally:
        job_side.release_job_lock()
    assert prune(proj).rounds == (0,)


def test_a_bad_pruned_value_is_a_corrupt_manifest(tmp_path):
    proj, _ = _project(tmp_path, rounds=1)
    data = json.loads(proj.manifest_path.read_text())
    data["rounds"][0]["pruned"] = 5
    proj.manifest_path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="'pruned' is not a time"):
        Project.open(proj.folder)


def test_prune_takes_a_project_folder_as_adapt_and_restore_round_do(tmp_path):
    """Session 33 API QA: ``vs.prune("my-project")`` raised AttributeError ('str' object has no attribute
    'job_running'), where ``vs.adapt`` and ``vs.restore_round`` open a project given by its folder."""
    proj, _ = _project(tmp_path, rounds=2)
    for given in (str(proj.folder), proj.folder):
        assert prune(given).kept == (1,)
    assert [r.pruned is not None for r in Project.open(proj.folder).rounds] == [True, False]
    with pytest.raises(ValueError, match="no round 5 to keep"):
        prune(str(proj.folder), keep=[5])
