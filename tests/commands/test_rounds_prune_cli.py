"""``vessel-studio rounds PROJECT --prune``: frees the maps of the rounds nobody needs; keeps the
latest, the label-free hint's and ``--keep`` rounds; a pruned round is refused by export."""

import numpy as np
import pytest
import tifffile

from vessel_studio.cli import main
from vessel_studio.samples import write_sample_project
from vessel_studio.store import Project, RoundRecord


@pytest.fixture
def project(tmp_path):
    """Four rounds; round 1 has the lowest fragmentation (the label-free hint)."""
    write_sample_project(tmp_path / "p", n=2, modality="fundus", shape=(32, 32), seed=0)
    proj = Project.open(tmp_path / "p")
    for k, frag in enumerate((6.0, 2.0, 5.0, 4.0)):
        src = tmp_path / f"built-{k}"
        (src / "segmenter").mkdir(parents=True)
        (src / "pseudo").mkdir()
        for rec in proj.images:
            tifffile.imwrite(src / "pseudo" / f"{rec.id}.tif", np.full((32, 32), 0.2 * k, np.float32))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"fragmentation": frag,
                                                                          "vessel_fraction": 0.1}))
    return proj


def _pruned(proj):
    return [r.index for r in Project.open(proj.folder).rounds if r.pruned is not None]


def test_dry_run_then_prune_keeps_latest_hint_and_keep(project, capsys):
    assert main(["rounds", str(project.folder), "--prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete the probability maps of round(s) 0, 2" in out and "round 1: the label-free hint" in out
    assert _pruned(project) == []
    assert main(["rounds", str(project.folder), "--prune", "--keep", "2"]) == 0
    out = capsys.readouterr().out
    assert "deleted the probability maps of round(s) 0 (" in out and "kept whole: round(s) 1, 2, 3" in out
    assert "pruned (maps deleted; records and models kept): round(s) 0" in out
    assert _pruned(project) == [0]
    assert main(["rounds", str(project.folder), "--prune"]) == 0
    assert _pruned(project) == [0, 2]
    assert main(["rounds", str(project.folder), "--prune"]) == 0
    assert "prune: nothing to delete" in capsys.readouterr().out


def test_errors_name_the_problem(project, tmp_path, capsys):
    assert main(["rounds", str(project.folder), "--keep", "1"]) != 0
    assert "--keep and --dry-run go with --prune" in capsys.readouterr().err
    assert main(["rounds", str(project.folder), "--prune", "--keep", "9"]) != 0
    assert "no round 9 to keep" in capsys.readouterr().err
    assert main(["rounds", str(project.folder), "--prune"]) == 0
    capsys.readouterr()
    assert main(["rounds", str(project.folder), "--rollback", "0"]) != 0
    assert "round 0's probability maps were pruned" in capsys.readouterr().err
    out = tmp_path / "export"
    assert main(["export", str(project.folder), "--out", str(out), "--round", "2"]) != 0
    err = capsys.readouterr().err
    assert "round 2's probability maps were pruned" in err and "--round 2" in err and "--restore 2" in err
    assert not out.exists()
    assert main(["export", str(project.folder), "--out", str(out), "--round", "1"]) == 0


def test_restore_is_checked_with_the_other_arguments_and_kept_by_prune(project, capsys, monkeypatch):
    """Session 27 QA: ``--restore N`` ran (minutes on a large project) before an error in ``--keep`` or
    ``--rollback`` was said, a ``--rollback`` below N deleted the round just restored, and ``--prune``
    deleted its maps again at once."""
    from vessel_studio.adaptation import restore as restore_mod

    made = []

    def fake_restore(proj, index, *, device=None):  # the real one needs a trained segmenter
        made.append(index)
        base = proj.round_dir(index) / "pseudo"
        base.mkdir()
        for rec in proj.images:
            tifffile.imwrite(base / f"{rec.id}.tif", np.zeros((32, 32), np.float32))
        proj._update(lambda d: [x.pop(k, None) for x in d["rounds"] if int(x["index"]) == index
                                for k in ("pruned", "pruned_images")])  # as the real one ends
        return restore_mod.RestoreResult(index, ("pseudo",), tuple(r.id for r in proj.images), 0.0)
        yield  # a generator, as the real job

    monkeypatch.setattr(restore_mod, "restore_round_job", fake_restore)
    assert main(["rounds", str(project.folder), "--prune"]) == 0
    assert _pruned(project) == [0, 2]
    capsys.readouterr()
    for args, said in ((["--keep", "1"], "--keep and --dry-run go with --prune"),
                       (["--rollback", "9"], "no round 9"),
                       (["--rollback", "1"], "--restore 2 --rollback 1: the roll back would delete the round restored"),
                       (["--rollback", "-1"], "the roll back would delete the round restored")):
        assert main(["rounds", str(project.folder), "--restore", "2", *args]) != 0
        assert said in capsys.readouterr().err
    assert made == [] and _pruned(project) == [0, 2]  # nothing was done
    assert main(["rounds", str(project.folder), "--restore", "2", "--prune"]) == 0
    out = capsys.readouterr().out
    assert made == [2] and _pruned(project) == [0]  # restored, and not pruned again
    assert "prune: nothing to delete" in out


def test_rollback_says_it_gives_up_an_interrupted_run_and_deletes_its_work(project, capsys):
    """Session 39 QA: ``rounds --rollback N`` below the round a killed ``adapt`` went on from said only "removed
    round(s) [...]": that run could no longer be resumed (the window's Roll back says so) and its work stayed in
    ``PROJECT/work/`` until the next run. One line says so, and the work is deleted."""
    import json
    import os

    from vessel_studio.adaptation.config import AdaptConfig

    work = project.work_dir
    work.mkdir(exist_ok=True)
    config = AdaptConfig.preset("tiny").replace(rounds=2).to_dict()
    (work / "job.json").write_text(json.dumps({"key": "k", "base_round": 2, "config": config}))
    (work / "round-004").mkdir()  # went on from round 2, committed round 3, killed in round 4
    (work / "round-004" / "checkpoint.pt").write_bytes(os.urandom(150_000))
    assert main(["rounds", str(project.folder), "--rollback", "2"]) == 0  # keeps round 2: still resumable
    out = capsys.readouterr().out
    assert "removed round(s) [3]" in out and "resumed" not in out and (work / "job.json").is_file()
    assert main(["rounds", str(project.folder), "--rollback", "1"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("rollback:"))
    assert line.startswith("rollback: the adaptation interrupted in round 3 went on from round 2: it can no longer "
                           "be resumed (the next run starts afresh); its work in "), line
    import re

    assert re.search(r"/work was deleted \(1[5-9]\d\.\d kB freed\)$", line), line  # 150 kB and its blocks
    assert sorted(p.name for p in work.iterdir()) == [".job.lock"]
