"""``vessel-studio adapt``: creates a project, adapts with the tiny preset, continues it; clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adaptation"))
from _adapt_fixtures import ensure_synthesis, make_source_models  # noqa: E402

from vessel_studio.cli import main  # noqa: E402
from vessel_studio.samples import write_sample_images  # noqa: E402
from vessel_studio.store import Project  # noqa: E402

ensure_synthesis()


@pytest.fixture
def folders(tmp_path):
    src = write_sample_images(tmp_path / "src", n=2, modality="fundus", seed=10, shape=(96, 96))
    tgt = write_sample_images(tmp_path / "tgt", n=2, modality="octa", seed=20, shape=(64, 64))
    seg, gen = make_source_models(tmp_path)
    return tmp_path, src, tgt, seg, gen


def _args(tmp, src, tgt, seg, gen, *extra):
    return ["adapt", str(tmp / "proj"), "--target", str(tgt.folder / "images"), "--modality", "octa",
            "--source-images", str(src.folder / "images"), "--source-masks", str(src.folder / "labels"),
            "--source-fovs", str(src.folder / "fov"), "--source-segmenter", str(seg), "--source-generator", str(gen),
            "--preset", "tiny", "--threads", "1", "--quiet", *extra]


def test_adapt_creates_then_continues_a_project(folders, capsys):
    tmp, src, tgt, seg, gen = folders
    assert main(_args(tmp, src, tgt, seg, gen, "--rounds", "1", "--seed", "3")) == 0
    out = capsys.readouterr().out
    assert "2 new target image(s)" in out and "adapted segmenter:" in out and "| round |" in out
    proj = Project.open(tmp / "proj")
    assert [r.index for r in proj.rounds] == [0, 1]
    assert proj.rounds[0].seed == 3 and proj.rounds[0].config["preset_name"] == "tiny"
    # again: the same images are skipped, one more round is added after the latest; without --preset and
    # --seed, with the project's (session 29: the cpu preset and seed 0)
    again = _args(tmp, src, tgt, seg, gen, "--rounds", "1", "--set", "gen_finetune_steps=2", "pseudo_mode=hard")
    again.remove("--preset"), again.remove("tiny")
    assert main(again) == 0
    out = capsys.readouterr().out
    assert "0 new target image(s); 2 in the project" in out
    assert "continuing with the project's configuration: preset tiny, seed 3 (round 1's record" in out
    last = Project.open(tmp / "proj").rounds
    assert [r.index for r in last] == [0, 1, 2]
    assert last[-1].config["gen_finetune_steps"] == 2 and last[-1].config["pseudo_mode"] == "hard"
    assert last[-1].config["preset_name"] == "tiny" and last[-1].seed == 3


def test_adapt_procedural_source(folders, capsys):
    tmp, src, tgt, seg, gen = folders
    rc = main(["adapt", str(tmp / "proj"), "--target", str(tgt.folder / "images"), "--modality", "octa",
               "--source-segmenter", str(seg), "--source-generator", str(gen), "--preset", "tiny",
               "--rounds", "0", "--quiet"])
    assert rc == 0
    assert "procedural" in capsys.readouterr().out
    assert Project.open(tmp / "proj").source["kind"] == "procedural"


def test_adapt_errors_are_one_line_messages(folders, capsys):
    tmp, src, tgt, seg, gen = folders
    assert main(["adapt", str(tmp / "new"), "--target", str(tgt.folder / "images")]) == 2
    assert "--modality" in capsys.readouterr().err
    (tmp / "bad").mkdir()
    (tmp / "bad" / "project.json").write_text("{ nope")
    assert main(["adapt", str(tmp / "bad"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "project.json" in err and "invalid JSON" in err
    assert main(["adapt", str(tmp / "p2"), "--target", str(tgt.folder / "images"), "--modality", "octa",
                 "--source-images", str(src.folder / "images")]) == 2
    assert "go together" in capsys.readouterr().err
    assert not (tmp / "p2").exists()  # nothing created on bad arguments


def test_benchmark_summary_gap_closed_and_markdown(tmp_path):
    from vessel_studio.adaptation.benchmark import BenchmarkSpec, markdown, summarize

    def scores(d):
        return {"dice": d, "cldice": d, "auc": 0.9, "sensitivity": 0.5, "specificity": 0.9}

    results = {
        str(seed): {
            "source-only": {"mean": scores(0.40 + seed * 0.02)},
            "oracle": {"mean": scores(0.90)},
            "frangi": {"mean": scores(0.47)},
            "adapted": {"rounds": [
                {"round": 0, "scores": scores(0.30), "label_free": {"agreement": 0.5, "confidence": 0.8,
                                                                    "fragmentation": 5.0 if seed else 20.0}},
                {"round": 1, "scores": scores(0.65 + seed * 0.02), "label_free": {"agreement": 0.9,
                                                                                 "fragmentation": 10.0}},
            ]},
        }
        for seed in (0, 1)
    }
    spec = BenchmarkSpec(pair="drive-octa500", data=tmp_path, work=tmp_path)
    s = summarize("drive-octa500", results, command="vessel-studio benchmark drive-octa500", spec=spec)
    assert s["table"]["adapted (last round)"]["dice"]["mean"] == pytest.approx(0.66)
    assert s["table"]["source-only"]["dice"]["sd"] == pytest.approx(0.01414, abs=1e-4)
    assert s["gap_closed_dice"] == pytest.approx((0.66 - 0.41) / (0.90 - 0.41))
    assert s["rounds"]["0"]["dice"] == pytest.approx(0.30)
    # label-free selection: seed 0 -> round 1 (0.65), seed 1 -> round 0 (0.30)
    assert s["selected_round"] == {"0": 1, "1": 0}
    assert s["table"]["adapted (selected round, label-free)"]["dice"]["mean"] == pytest.approx((0.65 + 0.30) / 2)
    md = markdown(s)
    assert "| adapted (last round) | 0.660 ± 0.014" in md and "Gap closed" in md and "| 1 | 0.660" in md
    assert "seed 0: round 1, seed 1: round 0" in md


def test_rounds_command_lists_flags_and_rolls_back(tmp_path, capsys):
    from vessel_studio.store import RoundRecord

    proj = Project.create(tmp_path / "p", modality="octa")
    for index, vf in ((0, 0.09), (1, 0.60)):
        src = tmp_path / f"r{index}"
        (src / "pseudo").mkdir(parents=True)
        metrics = {"vessel_fraction": vf, "agreement": 0.5, "confidence": 0.9, "fragmentation": 12.0 - index}
        if index == 0:
            metrics["source_vessel_fraction"] = 0.10
        metrics["corrected_images"] = float(index * 2)
        proj.commit_round(src, RoundRecord(index=index, folder="", metrics=metrics))
    assert main(["rounds", str(proj.folder)]) == 0
    out = capsys.readouterr().out
    assert "warning: round 1: flood" in out and "warning: round 0" not in out
    assert "corrected masks trained on: round 1: 2\n" in out
    assert "label-free selection: round 1" in out
    assert main(["rounds", str(proj.folder), "--rollback", "0"]) == 0
    out = capsys.readouterr().out
    assert "removed round(s) [1]" in out and "no round flagged" in out
    assert [r.index for r in Project.open(proj.folder).rounds] == [0]
    assert main(["rounds", str(proj.folder), "--rollback", "5"]) != 0
    assert "no round 5 (rounds: [0])" in capsys.readouterr().err


def test_rounds_command_says_which_rounds_the_guard_ran_again(tmp_path, capsys):
    """Session 41: a round the label-free guard ran again (``guard_retries``) records it (``metrics["guard_retries"]``,
    the seed of the run kept, the job's as ``job_seed``), and ``rounds`` printed none of it; a round not re-run (0) or
    recorded without the count says nothing."""
    from vessel_studio.store import RoundRecord

    proj = Project.create(tmp_path / "p", modality="octa")
    for index, record in ((0, {"metrics": {"guard_retries": 2.0}, "seed": 11, "job_seed": 3}),
                          (1, {"metrics": {"guard_retries": 0.0}, "seed": 3}), (2, {"metrics": {}}),
                          (3, {"metrics": {"guard_retries": 1.0}, "seed": 12})):
        src = tmp_path / f"r{index}"
        (src / "pseudo").mkdir(parents=True)
        metrics = {"vessel_fraction": 0.09, **({"source_vessel_fraction": 0.10} if index == 0 else {}),
                   **record.pop("metrics")}
        proj.commit_round(src, RoundRecord(index=index, folder="", metrics=metrics, **record))
    assert main(["rounds", str(proj.folder)]) == 0
    out = capsys.readouterr().out
    assert "label-free guard: no round flagged\n" in out
    assert out.endswith("round 0: its first 2 runs were flagged by the label-free guard, which ran it again 2 times "
                        "with other seeds (re-run 2 kept, seed 11; the job's seed 3)\n"
                        "round 3: its first run was flagged by the label-free guard, which ran it again with another "
                        "seed (re-run 1 kept, seed 12)\n"), out


def test_adapt_rounds_argument():
    from vessel_studio.commands.adapt import _rounds_arg

    assert _rounds_arg("auto") == "auto" and _rounds_arg("3") == 3
    for bad in ("-1", "two", "2.5"):
        with pytest.raises(Exception, match="integer >= 0 or 'auto'"):
            _rounds_arg(bad)


def test_adapt_checks_its_arguments_before_creating_the_project(tmp_path, capsys):
    """A typo in --set, an empty or missing --target, an unreadable target image: one clear line,
    and no project left behind."""
    import numpy as np

    from vessel_studio.io.images import write_image

    tgt, empty = tmp_path / "tgt", tmp_path / "empty"
    write_image(tgt / "a.png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    bad = tmp_path / "bad"
    write_image(bad / "a.png", np.zeros((64, 64), np.uint8))
    (bad / "b.png").write_text("a text file named .png")
    proj = tmp_path / "proj"
    base = ["adapt", str(proj), "--modality", "octa", "--preset", "tiny", "--quiet"]
    for extra, words in ((["--target", str(tgt), "--set", "nonsense_key=3"], "nonsense_key"),
                         (["--target", str(tgt), "--set", "source_weight=banana"], "source_weight"),
                         # QA, session 29: these two ended in a TypeError traceback
                         (["--target", str(tgt), "--set", "preset_name=gpu"], "--preset"),
                         (["--target", str(tgt), "--set", "source_weight=[0.5]"], "source_weight"),
                         (["--target", str(empty)], f"{empty}: --target folder holds no image files at its top "
                                                    "level (subfolders are not searched)"),
                         (["--target", str(tmp_path)], "subfolders hold images: bad/, tgt/; give those folders"),
                         (["--target", str(tmp_path / "missing")], "missing"),
                         (["--target", str(bad)], "b.png")):
        assert main([*base, *extra]) == 2
        assert words in capsys.readouterr().err
        assert not proj.exists()


def test_ctrl_c_says_what_the_cancel_kept(folders, capsys, monkeypatch):
    """Ctrl-C rolls back this run's rounds; the target images it added stay, and it says so."""
    import vessel_studio.adaptation as adaptation
    from vessel_studio.events import Progress

    closed = []

    def interrupted(project, cfg, **kw):
        try:
            yield Progress("target-generator", 0, 1)
            raise KeyboardInterrupt
        finally:
            closed.append(True)

    monkeypatch.setattr(adaptation, "adapt", interrupted)
    tmp, src, tgt, seg, gen = folders
    assert main(_args(tmp, src, tgt, seg, gen, "--rounds", "1")) == 130
    out = capsys.readouterr().out
    assert closed and "cancelled: the project's rounds are as they were before this run" in out
    assert "(2 target image(s) it added stay in the project)" in out
    assert len(Project.open(tmp / "proj").images) == 2


def _interrupted_at_load(project, cfg, **kw):
    """An ``adapt`` that stops at its first event as Ctrl+C would (the command then exits 130): what the command
    says before adapting, without the adaptation."""
    from vessel_studio.events import Progress

    yield Progress("load", 0, 1)
    raise KeyboardInterrupt


def test_unsaved_drafts_are_named_before_adapting(folders, capsys, monkeypatch):
    """Session 28: the GUI's Run adaptation and the export command name images whose autosaved edits were never
    saved (the adaptation trusts saved corrections only); the adapt command said nothing."""
    import numpy as np

    import vessel_studio.adaptation as adaptation
    from vessel_studio.gui import tasks

    tmp, src, tgt, seg, gen = folders
    monkeypatch.setattr(adaptation, "adapt", _interrupted_at_load)
    assert main(_args(tmp, src, tgt, seg, gen, "--rounds", "1")) == 130
    assert "unsaved edits" not in capsys.readouterr().err
    proj = Project.open(tmp / "proj")
    rec = proj.images[1]
    tasks.write_draft(proj, rec.id, np.ones(rec.shape[:2], bool))
    assert main(_args(tmp, src, tgt, seg, gen, "--rounds", "1")) == 130
    err = capsys.readouterr().err
    assert f"warning: unsaved edits of 1 image(s) are not used" in err and rec.name in err


def test_unsaved_drafts_of_images_sharing_a_name_are_named_with_their_ids(folders, capsys, monkeypatch,
                                                                          rename_image):
    """Session 34 guide QA: of two images named alike (``eye.png`` and ``eye.tif`` from two folders), the warning
    named the one with unsaved edits "eye", which did not say which; it now adds the id, as the Project panel
    does."""
    import numpy as np

    import vessel_studio.adaptation as adaptation
    from vessel_studio.gui import tasks

    tmp, src, tgt, seg, gen = folders
    monkeypatch.setattr(adaptation, "adapt", _interrupted_at_load)
    assert main(_args(tmp, src, tgt, seg, gen, "--rounds", "1")) == 130
    proj = Project.open(tmp / "proj")
    first, second = proj.images
    rename_image(proj, second.id, first.name)
    tasks.write_draft(proj, second.id, np.ones(second.shape[:2], bool))
    capsys.readouterr()
    assert main(_args(tmp, src, tgt, seg, gen, "--rounds", "1")) == 130
    err = capsys.readouterr().err
    assert f"are not used (the adaptation trusts saved corrections only): {first.name} ({second.id});" in err


def _capture_config(monkeypatch):
    """Replace the job by one that records the AdaptConfig the command built and stops (Ctrl-C: exit 130)."""
    import vessel_studio.adaptation as adaptation

    seen = []

    def capture(project, cfg, **kw):
        seen.append(cfg)
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(adaptation, "adapt", capture)
    return seen


def test_continuing_a_project_takes_its_recorded_configuration(folders, capsys, monkeypatch):
    """QA, session 29: `adapt PROJECT --rounds 2` on a project started with `--preset tiny --seed 3` adapted the
    new rounds with the cpu preset and seed 0 (the options' defaults), so "the same as one longer job" held only
    when every option was typed again. Options not given now come from the project's latest round's record
    (a guard re-run records a derived seed: for rounds recorded without job_seed, the job's is taken from a round
    that was not re-run); options given
    win; threads are this machine's, not the project's."""
    from vessel_studio.adaptation import AdaptConfig
    from vessel_studio.store import RoundRecord

    tmp, src, tgt, seg, gen = folders
    proj = Project.create(tmp / "proj", modality="octa")
    first = AdaptConfig.preset("tiny", seed=3, t0=0.4, gen_finetune_steps=2, threads=1).resolve_auto("fundus", "octa")
    for index, cfg, retries in ((0, first, 0.0), (1, first.replace(seed=123456), 1.0)):
        (tmp / f"r{index}").mkdir()
        proj.commit_round(tmp / f"r{index}", RoundRecord(index=index, folder="", config=cfg.to_dict(), seed=cfg.seed,
                                                         metrics={"guard_retries": retries}))
    seen = _capture_config(monkeypatch)
    base = ["adapt", str(proj.folder), "--source-segmenter", str(seg), "--source-generator", str(gen), "--quiet"]

    assert main([*base, "--rounds", "1"]) == 130
    cfg = seen.pop()
    assert (cfg.preset_name, cfg.seed, cfg.t0, cfg.gen_finetune_steps) == ("tiny", 3, 0.4, 2)
    assert cfg.gen_steps == AdaptConfig.preset("tiny").gen_steps and cfg.rounds == 1 and cfg.threads is None
    out = capsys.readouterr().out
    assert "continuing with the project's configuration" in out and "preset tiny, seed 3" in out
    assert main(base) == 130  # --rounds not given: the preset's, rounds to add
    assert seen.pop().rounds == AdaptConfig.preset("tiny").rounds

    # given options win; the recorded ones not given stay
    assert main([*base, "--preset", "cpu", "--seed", "5", "--set", "gen_finetune_steps=7", "--threads", "2"]) == 130
    cfg = seen.pop()
    assert (cfg.preset_name, cfg.seed, cfg.gen_finetune_steps, cfg.threads) == ("cpu", 5, 7, 2)
    assert cfg.gen_steps == AdaptConfig.preset("cpu").gen_steps and cfg.t0 == 0.4 and cfg.rounds == "auto"
    assert main([*base, "--t0", "0.3", "--steps", "20", "--count", "6"]) == 130
    cfg = seen.pop()
    assert (cfg.preset_name, cfg.seed, cfg.t0, cfg.steps, cfg.n_synthetic) == ("tiny", 3, 0.3, 20, 6)


def test_a_new_project_defaults_to_the_cpu_preset_and_seed_0(folders, capsys, monkeypatch):
    """Without --preset and --seed a new project is adapted with the cpu preset and seed 0, as before."""
    tmp, src, tgt, seg, gen = folders
    seen = _capture_config(monkeypatch)
    assert main(["adapt", str(tmp / "proj"), "--target", str(tgt.folder / "images"), "--modality", "octa",
                 "--source-segmenter", str(seg), "--source-generator", str(gen), "--quiet"]) == 130
    assert (seen[0].preset_name, seen[0].seed, seen[0].rounds) == ("cpu", 0, "auto")
    assert "continuing with" not in capsys.readouterr().out


def test_a_folder_that_is_not_a_project_is_refused_not_made_one(folders, capsys, monkeypatch):
    """Session 36: ``adapt FOLDER`` on a folder of images (no project.json) made the project inside it, among the
    images; now one line names the folder and says how to make a project, and the folder is left as it was. A new
    folder, an empty one, or one a killed creation left with its empty subfolders still becomes the project."""
    tmp, src, tgt, seg, gen = folders
    _capture_config(monkeypatch)  # no adaptation is run (before the fix: the project made, then a cpu run)
    models = ["--source-segmenter", str(seg), "--source-generator", str(gen)]
    images = tgt.folder / "images"
    before = sorted(p.name for p in images.iterdir())
    assert main(["adapt", str(images), "--target", str(images), "--modality", "octa", *models, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"vessel-studio adapt: error: {images}: not a Vessel Studio project (no project.json), and not empty" in err
    assert f"vessel-studio adapt NEW_FOLDER --modality octa --target {images}" in err
    assert sorted(p.name for p in images.iterdir()) == before
    # without --modality (it is asked for a new project only after this) and on a file: the folder is named too
    assert main(["adapt", str(tgt.folder), *models, "--quiet"]) == 2
    assert f"{tgt.folder}: not a Vessel Studio project" in capsys.readouterr().err
    assert not (tgt.folder / "project.json").exists()
    a_file = tmp / "notes.txt"
    a_file.write_text("x")
    assert main(["adapt", str(a_file), "--target", str(images), "--modality", "octa", *models, "--quiet"]) == 2
    assert f"{a_file}: is a file, not a Vessel Studio project folder" in capsys.readouterr().err

    empty, half = tmp / "empty", tmp / "half-made"
    empty.mkdir()
    for sub in ("images", "rounds", "corrections"):
        (half / sub).mkdir(parents=True)
    for folder in (tmp / "new", empty, half):
        assert main(["adapt", str(folder), "--target", str(images), "--modality", "octa", *models, "--quiet"]) == 130
        assert len(Project.open(folder).images) == len(before)
