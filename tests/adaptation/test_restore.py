"""A pruned round brought back (session 27): ``adaptation.restore`` makes its probability maps again from
its kept segmenters, the same values the adaptation wrote, and clears its ``pruned`` mark, so that it can
be rolled back to, reviewed and exported again. Refused while a job holds the project; a cancelled or
cut restore leaves the round pruned."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

from vessel_studio.adaptation import AdaptConfig, adapt, restore_round, restore_round_job
from vessel_studio.cli import main
from vessel_studio.events import Progress, run
from vessel_studio.io.images import read_prob
from vessel_studio.store import Project, ProjectBusyError, prune

ensure_synthesis()

#: rounds 0-1; a merged delivered segmenter (pseudo/ and pseudo-chain/), the chain's maps mirrored,
#: so that restoring with the wrong model or the wrong mirroring gives other maps
CHAIN = AdaptConfig.preset("tiny", rounds=1, stop_agreement=1.01, threads=1, source_weight=0.5, pseudo_mirror=True)
#: no merge: pseudo/ alone, mirrored
PLAIN = CHAIN.replace(source_weight=0.0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two adapted projects (CHAIN and PLAIN), made once; each test works on a copy."""
    out = {}
    for name, cfg in (("chain", CHAIN), ("plain", PLAIN)):
        root = tmp_path_factory.mktemp(name)
        proj, bundle, _ = make_setup(root, n_target=2, target_shape=(48, 56))
        run(adapt(proj, cfg, source=bundle))
        out[name] = proj.folder
        out[f"{name}-source"] = bundle
    return out


def _copy(built, name, tmp_path) -> Project:
    dest = tmp_path / name
    shutil.copytree(built[name], dest)
    return Project.open(dest)


def _maps(proj, index):
    base = proj.round_dir(index)
    return {f"{d.name}/{p.name}": read_prob(p) for d in sorted(base.glob("pseudo*")) for p in sorted(d.glob("*.tif"))}


@pytest.mark.parametrize("name,folders", [("chain", ["pseudo", "pseudo-chain"]), ("plain", ["pseudo"])])
def test_restore_gives_back_the_maps_the_round_had(built, tmp_path, name, folders):
    proj = _copy(built, name, tmp_path)
    before = _maps(proj, 0)
    assert sorted({k.split("/")[0] for k in before}) == folders and len(before) == 2 * len(folders)
    assert prune(proj).rounds == (0,)
    assert _maps(proj, 0) == {} and proj.get_round(0).pruned_images == tuple(sorted(r.id for r in proj.images))
    with pytest.raises(ValueError, match=r"--restore 0"):
        proj.rollback(0)
    events = []
    result = run(restore_round_job(proj, 0), events.append)
    assert result.folders == tuple(folders) and sorted(result.images) == sorted(r.id for r in proj.images)
    assert [e.step for e in events if isinstance(e, Progress)] == [0, 1, 2]
    after = _maps(proj, 0)
    assert after.keys() == before.keys()
    for key in before:  # the same values, bit for bit (same machine, same thread count)
        assert after[key].dtype == np.float32 and np.array_equal(after[key], before[key]), key
    again = Project.open(proj.folder)
    assert again.get_round(0).pruned is None and again.get_round(0).pruned_images is None
    assert any(e["message"] == "restored probability maps" and e["round"] == 0 for e in again.read_log())
    assert again.rollback(0) == [1]
    assert [r.index for r in again.rounds] == [0]
    assert not list((again.folder / "rounds").glob(".*"))  # no temporary folder left


def test_a_round_that_is_not_pruned_is_left_as_it_is(built, tmp_path):
    proj = _copy(built, "plain", tmp_path)
    before = _maps(proj, 0)
    result = restore_round(proj, 0)
    assert result.folders == () and result.images == ()
    assert _maps(proj, 0).keys() == before.keys()
    with pytest.raises(ValueError, match=r"project\.json: no round 7"):
        restore_round(proj, 7)


def test_restore_waits_for_a_running_job(built, tmp_path):
    proj = _copy(built, "plain", tmp_path)
    prune(proj)
    job_side = Project.open(proj.folder)
    job_side.acquire_job_lock()
    try:
        with pytest.raises(ProjectBusyError, match="holds this project; restore round 0 after it ends"):
            restore_round(proj, 0)
        assert proj.get_round(0).pruned is not None
    finally:
        job_side.release_job_lock()
    assert restore_round(proj, 0).folders == ("pseudo",)


def test_a_cancelled_restore_leaves_the_round_pruned(built, tmp_path):
    proj = _copy(built, "chain", tmp_path)
    prune(proj)
    job = restore_round_job(proj, 0)
    next(job)  # segmenters loaded
    next(job)  # the first image's maps written into the temporary folder
    assert list((proj.folder / "rounds").glob(".round-000.tmp-restore-*"))
    job.close()
    again = Project.open(proj.folder)
    assert again.get_round(0).pruned is not None and _maps(again, 0) == {}
    assert not list((again.folder / "rounds").glob(".*")) and not again.job_running()
    assert restore_round(again, 0).folders == ("pseudo", "pseudo-chain")  # and it can be run again


def test_a_restore_cut_before_the_manifest_change_is_undone_on_open(built, tmp_path, monkeypatch):
    proj = _copy(built, "chain", tmp_path)
    prune(proj)

    def cut(fn):  # killed after the maps were moved in, before the manifest cleared the mark
        raise KeyboardInterrupt

    monkeypatch.setattr(proj, "_update", cut)
    with pytest.raises(KeyboardInterrupt):
        restore_round(proj, 0)
    assert (proj.round_dir(0) / "pseudo").is_dir()  # on disk, but the round is still marked pruned
    again = Project.open(proj.folder)  # clean_stale removes the maps of a round marked pruned
    assert again.get_round(0).pruned is not None and _maps(again, 0) == {}


def test_an_image_added_after_the_round_gets_no_map(built, tmp_path):
    proj = _copy(built, "plain", tmp_path)
    rng = np.random.default_rng(5)
    from PIL import Image

    Image.fromarray(rng.integers(0, 255, (48, 56), dtype=np.uint8)).save(tmp_path / "late.png")
    late = proj.add_images([tmp_path / "late.png"])[0].id
    prune(proj)
    assert late not in proj.get_round(0).pruned_images
    result = restore_round(proj, 0)
    assert late not in result.images and not (proj.round_dir(0) / "pseudo" / f"{late}.tif").exists()
    assert len(result.images) == 2


def test_the_command_restores_and_rolls_back_in_one_call(built, tmp_path, capsys):
    proj = _copy(built, "chain", tmp_path)
    assert main(["rounds", str(proj.folder), "--prune"]) == 0
    capsys.readouterr()
    assert main(["rounds", str(proj.folder), "--rollback", "0"]) != 0
    assert f"vessel-studio rounds {proj.folder} --restore 0" in capsys.readouterr().err
    assert main(["rounds", str(proj.folder), "--restore", "0", "--rollback", "0"]) == 0
    out = capsys.readouterr().out
    assert "restore: made the probability maps of round 0 again (pseudo, pseudo-chain; 2 image(s)" in out
    assert "removed round(s) [1]" in out
    assert main(["rounds", str(proj.folder), "--restore", "0"]) == 0
    assert "round 0 was not pruned" in capsys.readouterr().out


def test_the_benchmark_script_reports_identical_maps(built, tmp_path, benchmark_script):
    import json

    pr = benchmark_script("prune_restore")
    out = tmp_path / "r.json"
    assert pr.main(["--project", str(built["chain"]), "--work", str(tmp_path / "w"), "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["comparison"]["maps"] == 4 and rep["comparison"]["bit_identical"] == 4
    assert rep["comparison"]["max_abs_diff"] == 0.0 and not rep["comparison"]["missing"]
    assert rep["runs"]["rollback_refused"]["rc"] != 0 and rep["runs"]["restore"]["rc"] == 0
    assert rep["runs"]["rollback"]["rc"] == 0 and rep["rounds_after_rollback"] == [0]
    assert rep["pruned_after_restore"] == [] and rep["runs"]["restore"]["said"]
    assert Project.open(built["chain"]).get_round(0).pruned is None  # the original is untouched


def test_a_restored_round_goes_on_as_if_it_had_never_been_pruned(built, tmp_path):
    """Rolled back to and adapted on, a pruned-then-restored round 0 gives the round 1 an unpruned project gives."""
    whole, restored = _copy(built, "chain", tmp_path / "a"), _copy(built, "chain", tmp_path / "b")
    prune(restored)
    restore_round(restored, 0)
    for proj in (whole, restored):
        assert proj.rollback(0) == [1]
        run(adapt(proj, CHAIN.replace(rounds=1), source=built["chain-source"]))
    for model in ("segmenter", "segmenter-chain", "generator"):  # the same weights (their configs name their folders)
        assert (whole.round_dir(1) / model / "model.safetensors").read_bytes() == \
            (restored.round_dir(1) / model / "model.safetensors").read_bytes(), model
    def signals(proj):  # the agreement with round 0 reads round 0's (restored) pseudo-chain maps
        return {k: v for k, v in proj.get_round(1).metrics.items() if not k.startswith("seconds")}

    assert signals(whole) == signals(restored) and "agreement" in signals(whole)
    a, b = _maps(whole, 1), _maps(restored, 1)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_round_pruned_before_the_images_were_recorded_gets_every_image(built, tmp_path):
    import json

    proj = _copy(built, "plain", tmp_path)
    prune(proj)
    data = json.loads(proj.manifest_path.read_text())
    del data["rounds"][0]["pruned_images"]  # as session 26's prune left it
    proj.manifest_path.write_text(json.dumps(data))
    again = Project.open(proj.folder)
    assert again.get_round(0).pruned_images is None
    assert sorted(restore_round(again, 0).images) == sorted(r.id for r in again.images)
