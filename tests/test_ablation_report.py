"""benchmarks/ablation_report.py: a committed report (results.json) and a benchmark cache give the
same rows for the same scores, and the reference Dice comes from whichever the first variant is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def ar(benchmark_script):
    return benchmark_script("ablation_report")


def _scores(dice):
    return {"dice": dice, "cldice": dice + 0.01, "auc": 0.9, "sensitivity": 0.7, "specificity": 0.95}


def _write_cache(work: Path, pair: str, dices: dict[int, list[float]]):
    for seed, per_round in dices.items():
        base = work / pair / f"seed-{seed}"
        (base / "scores").mkdir(parents=True)
        for r, d in enumerate(per_round):
            (base / "scores" / f"adapted-round-{r}.json").write_text(json.dumps({"mean": _scores(d)}))
        (base / "scores" / "source-only.json").write_text(json.dumps({"mean": _scores(0.5)}))
        (base / "project").mkdir()
        (base / "project" / "project.json").write_text(json.dumps({"rounds": [
            {"index": r, "config": {"t0": 0.3}, "metrics": {"agreement": 0.8 + r / 100}} for r in range(len(per_round))]}))


def _write_report(path: Path, dices: dict[int, list[float]]):
    per_seed = {str(s): {"source-only": {"mean": _scores(0.4)},
                         "adapted": {"config": {"t0": 0.3}, "rounds": [
                             {"round": r, "scores": _scores(d), "label_free": {"agreement": 0.8 + r / 100}}
                             for r, d in enumerate(rs)]}}
                for s, rs in dices.items()}
    path.write_text(json.dumps({"per_seed": per_seed}))


def test_report_and_cache_read_alike(ar, tmp_path):
    dices = {0: [0.60, 0.70], 1: [0.62, 0.74]}
    _write_cache(tmp_path / "work", "drive-x", dices)
    _write_report(tmp_path / "results.json", dices)
    from_cache = ar.read_variant(tmp_path / "work", "drive-x", [0, 1])
    from_report = ar.read_variant(tmp_path / "results.json", "drive-x", [0, 1])
    assert from_cache["rounds"] == from_report["rounds"]
    assert from_report["rounds"][1]["dice"] == pytest.approx(0.72)
    assert from_report["label_free"][1]["agreement"] == pytest.approx(0.81)
    with pytest.raises(SystemExit, match="no seed 2"):
        ar.read_variant(tmp_path / "results.json", "drive-x", [0, 2])


def test_reference_dice_from_the_first_variant(ar, tmp_path):
    _write_cache(tmp_path / "work", "drive-x", {0: [0.6, 0.7]})
    _write_report(tmp_path / "results.json", {0: [0.6, 0.65]})
    out = tmp_path / "out"
    ar.main(["--pair", "drive-x", "--seeds", "0", "--variant", f"ref={tmp_path / 'results.json'}",
             "--variant", f"other={tmp_path / 'work'}", "--out", str(out), "--name", "a"])
    text = (out / "a.md").read_text()
    assert "| ref | 0.600 | 0.650 |" in text and "| other | 0.600 | 0.700 |" in text
    assert "source-only 0.400" in text  # from the report, not the cache (0.5)


def test_several_seeds_give_the_last_rounds_spread(ar, tmp_path):
    _write_cache(tmp_path / "work", "drive-x", {0: [0.6, 0.70], 1: [0.6, 0.74], 2: [0.6]})
    ar.main(["--pair", "drive-x", "--seeds", "0", "1", "2", "--variant", f"v={tmp_path / 'work'}",
             "--out", str(tmp_path / "out"), "--name", "a"])
    text = (tmp_path / "out" / "a.md").read_text()
    # round 1 exists for two of the three seeds: mean 0.72, sd 0.028 over 2 seeds
    assert "| v | 0.600 | 0.720 | 0.028 (2) |" in text
    assert "last: sd (seeds)" in text
