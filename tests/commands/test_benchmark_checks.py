"""``vessel-studio benchmark``: bad options refused before any work, a cache made with other options never
reported under the new ones, a report folder holding another report left alone, and the command a report
records (session 34 QA). The heavy parts are replaced: the point is what runs before them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vessel_studio.adaptation import benchmark

SCORES = {"mean": {k: 0.5 for k in benchmark.KEYS}, "per_image": []}


@pytest.fixture
def no_work(monkeypatch):
    """Reading the test split is the first work a run does: here it fails the test."""
    def started(spec, split="test"):
        raise AssertionError("the benchmark started its work")

    monkeypatch.setattr(benchmark, "_test_set", started)


def _main(tmp_path, *extra):
    from vessel_studio.cli import main

    (tmp_path / "data").mkdir(exist_ok=True)
    return main(["benchmark", "drive-stare", "--preset", "tiny", "--data", str(tmp_path / "data"),
                 "--work", str(tmp_path / "work"), *extra])


@pytest.mark.parametrize("extra, says", [
    (["--seeds", "-1"], "--seeds: a seed must be an integer >= 0, got -1"),
    (["--seeds", "0", "0"], "--seeds: seed 0 given twice"),
    (["--threads", "-1"], "--threads must be an integer >= 1, got -1"),  # was a RuntimeError traceback
    (["--seg-steps", "0"], "--seg-steps must be an integer >= 1, got 0"),  # was the preset's steps, silently
    (["--source-generator", "train", "--source-generator-steps", "0"], "--source-generator-steps must be"),
    (["--source-generator-steps", "5"], "--source-generator-steps is for --source-generator train"),
    (["--parts", "source-generator"], "nothing to train"),  # did nothing and wrote an empty report
    (["--set", "seed=3"], "--set seed=3: the seed is chosen with --seeds"),  # was a TypeError traceback
    (["--set", "threads=2"], "--set threads=2: the thread count is chosen with --threads"),
    (["--set", "preset_name=cpu"], "the preset is chosen with --preset"),
    (["--set", "bogus=1"], "unknown fields ['bogus']"),  # after every other part had run
    (["--set", "rounds=[1]"], "not a list or an object"),
    (["--source-generator", "fundus-segmenter"], "not a generator"),  # after every other part had run
])
def test_bad_options_are_refused_before_any_work(tmp_path, no_work, capsys, extra, says):
    assert _main(tmp_path, *extra) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_report_only_with_nothing_cached_is_an_error(tmp_path, no_work, capsys):
    """It wrote an empty report (a table with no row) and exited 0."""
    assert _main(tmp_path, "--seeds", "0", "3", "--report-only") == 2
    err = capsys.readouterr().err
    assert "nothing cached for seed(s) 0, 3" in err and str(tmp_path / "work" / "drive-stare") in err
    assert not (tmp_path / "work" / "drive-stare" / "report").exists()


def test_a_cache_made_with_other_options_is_refused(tmp_path, monkeypatch):
    """A cached part was reused whatever the options: ``--seg-steps 50`` after a run with the preset's steps
    reported the earlier models' scores under "Baseline segmenter steps: 50"."""
    calls = []
    monkeypatch.setattr(benchmark, "_test_set", lambda spec, split="test": [])
    monkeypatch.setitem(benchmark.PART_FUNCS, "oracle", lambda spec, seed, tests: calls.append(seed) or dict(SCORES))

    def spec(**kw):
        return benchmark.BenchmarkSpec(pair="drive-stare", data=tmp_path, work=tmp_path / "work",
                                       **{"preset": "tiny", **kw})

    benchmark.run_benchmark(spec(seg_steps=5), [0, 1], ["oracle"])
    assert calls == [0, 1]
    seed0 = tmp_path / "work" / "drive-stare" / "seed-0"
    assert json.loads((seed0 / "settings" / "oracle.json").read_text()) == {"segmenter": {"preset": "tiny", "steps": 5}}
    benchmark.run_benchmark(spec(seg_steps=5, threads=1), [0], ["oracle"])  # the same options: the cache
    assert calls == [0, 1]
    for changed in (spec(seg_steps=7), spec(), spec(seg_steps=5, score_only=True, preset="cpu")):
        with pytest.raises(ValueError, match=r"oracle of seed 0 \(segmenter\.") as exc:
            benchmark.run_benchmark(changed, [0, 1], ["oracle"])
        assert "(nothing was changed)" in str(exc.value)
    assert calls == [0, 1]
    assert "steps 5 (cached) / 7 (now)" in str(pytest.raises(ValueError, benchmark.run_benchmark, spec(seg_steps=7),
                                                             [1], ["oracle"]).value)
    # a seed not cached yet is made with the new options, and the others' records are kept
    benchmark.run_benchmark(spec(seg_steps=7), [2], ["oracle"])
    assert calls == [0, 1, 2]
    assert json.loads((seed0 / "settings" / "oracle.json").read_text())["segmenter"]["steps"] == 5


def test_adapted_settings_follow_the_config_but_not_the_threads(tmp_path):
    def settings(**kw):
        return benchmark.part_settings(benchmark.BenchmarkSpec(pair="drive-stare", data=tmp_path, work=tmp_path,
                                                               preset="tiny", **kw), 0, "adapted")

    assert settings(threads=1) == settings(threads=2)
    assert settings(adapt_overrides={"gen_steps": 9}) != settings()
    assert settings(source_generator="train") != settings()
    assert settings(seg_steps=9) != settings()  # the adaptation starts from the source-only segmenter
    assert benchmark.part_settings(benchmark.BenchmarkSpec(pair="drive-stare", data=tmp_path, work=tmp_path),
                                   0, "frangi") is None


def test_out_holding_another_report_is_left_alone(tmp_path, no_work, capsys):
    """``--out benchmarks/results/drive-chase`` on drive-stare, or a tiny run over a committed cpu report,
    replaced that report's results.json and results.md."""
    out = tmp_path / "committed"
    out.mkdir()
    report = json.dumps({"pair": "drive-chase", "preset": "cpu", "table": {}})
    (out / "results.json").write_text(report)
    assert _main(tmp_path, "--report-only", "--out", str(out)) == 2
    assert "holds the report of drive-chase with the cpu preset" in capsys.readouterr().err
    assert (out / "results.json").read_text() == report and not (out / "results.md").exists()
    (out / "results.json").write_text(json.dumps({"pair": "drive-stare", "preset": "cpu"}))
    with pytest.raises(ValueError, match="with the cpu preset"):
        benchmark.check_report_folder(out, "drive-stare", "tiny")
    benchmark.check_report_folder(out, "drive-stare", "cpu")  # the same pair and preset: written again
    (out / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="not a benchmark report"):
        benchmark.check_report_folder(out, "drive-stare", "cpu")


def test_the_report_records_the_command_of_benchmarks_adaptation_py(tmp_path, monkeypatch):
    """``python benchmarks/adaptation.py drive-stare --preset tiny ...`` recorded the command as
    ``vessel-studio benchmark drive-stare``, its options lost."""
    import runpy

    def fake_run(spec, seeds, parts):
        return {str(s): {"frangi": dict(SCORES)} for s in seeds}

    monkeypatch.setattr(benchmark, "run_benchmark", fake_run)
    (tmp_path / "data").mkdir()
    out = tmp_path / "out"
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "adaptation.py"
    monkeypatch.setattr(sys, "argv", [str(script), "drive-stare", "--preset", "tiny", "--seeds", "0", "--data",
                                      str(tmp_path / "data"), "--work", str(tmp_path / "work"), "--out", str(out),
                                      "--parts", "frangi", "--note", "a note"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(script), run_name="__main__")
    assert exc.value.code == 0
    command = json.loads((out / "results.json").read_text())["command"]
    assert command == (f"vessel-studio benchmark drive-stare --preset tiny --seeds 0 --data {tmp_path / 'data'} "
                       f"--work {tmp_path / 'work'} --out {out} --parts frangi")


def test_scores_cached_on_other_test_images_are_refused(tmp_path, monkeypatch):
    """A --work made with a 2-image device kit as --data, then run on the full datasets (or the other way
    round), reported the cached scores of the other test images."""
    tests = [(name, None, None, None) for name in ("im0162", "im0163", "im0235")]
    monkeypatch.setattr(benchmark, "_test_set", lambda spec, split="test": tests)
    monkeypatch.setitem(benchmark.PART_FUNCS, "frangi", lambda spec, seed, tests: dict(SCORES))
    scores = tmp_path / "work" / "drive-stare" / "seed-0" / "scores"
    scores.mkdir(parents=True)
    cached = {"mean": SCORES["mean"], "per_image": [{"name": n, **SCORES["mean"]} for n in ("im0162", "im0163")]}
    (scores / "frangi.json").write_text(json.dumps(cached))
    spec = benchmark.BenchmarkSpec(pair="drive-stare", data=tmp_path / "full", work=tmp_path / "work", preset="tiny")
    with pytest.raises(ValueError, match=r"frangi\.json: scored on 2 test image\(s\) \(im0162, im0163\), but the "
                                         r"test split under .*full has 3"):
        benchmark.run_benchmark(spec, [0], ["frangi"])
    (scores / "adapted-round-0.json").write_text(json.dumps(cached))
    (scores / "frangi.json").unlink()
    spec = benchmark.BenchmarkSpec(pair="drive-stare", data=tmp_path / "full", work=tmp_path / "work", preset="tiny",
                                   score_only=True)
    (scores.parent / "project").mkdir()
    (scores.parent / "project" / "project.json").write_text("{}")
    with pytest.raises(ValueError, match=r"adapted-round-0\.json: scored on 2"):
        benchmark.run_benchmark(spec, [0], ["adapted"])
    cached["per_image"].append({"name": "im0235", **SCORES["mean"]})
    (scores / "frangi.json").write_text(json.dumps(cached))
    spec.score_only = False  # the spec given is left as it was: WORK, not WORK/PAIR
    assert benchmark.run_benchmark(spec, [0], ["frangi"])["0"]["frangi"]["per_image"] == cached["per_image"]


def test_save_segmenter_without_an_adapted_round_says_so(tmp_path, monkeypatch, capsys):
    """``--report-only --save-segmenter`` with no adapted part cached wrote the report without the segmenter and
    said nothing (session 34 QA)."""
    monkeypatch.setattr(benchmark, "run_benchmark", lambda spec, seeds, parts: {
        str(s): {"frangi": dict(SCORES)} for s in seeds})
    assert _main(tmp_path, "--seeds", "2", "--parts", "frangi", "--save-segmenter", "--out", str(tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert "--save-segmenter: seed 2 has no adapted round" in err
    assert (tmp_path / "out" / "results.json").is_file() and not (tmp_path / "out" / "segmenter").exists()


def test_no_datasets_folder_says_how_to_give_one(tmp_path, monkeypatch, capsys):
    """The default datasets folder is a checkout's (../shared/data): from an installed package it names a
    folder beside its Python (/…/lib/python3.11/shared/data, seen from a wheel); the message says it is the
    default and how to give one. Before session 35: "(pass --data)" only."""
    import vessel_studio.commands.benchmark as command
    from vessel_studio.cli import main

    monkeypatch.delenv("VESSEL_STUDIO_DATA", raising=False)
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    monkeypatch.setattr(command, "__file__", str(site / "vessel_studio" / "commands" / "benchmark.py"))
    assert main(["benchmark", "drive-stare", "--preset", "tiny", "--work", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'lib' / 'python3.11' / 'shared' / 'data'}: datasets folder not found (the default" in err
    assert "pass --data DIR or set VESSEL_STUDIO_DATA" in err
    monkeypatch.setenv("VESSEL_STUDIO_DATA", str(tmp_path / "nowhere"))
    assert main(["benchmark", "drive-stare", "--preset", "tiny", "--work", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nowhere'}: datasets folder not found; pass --data DIR" in err
