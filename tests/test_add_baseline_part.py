"""benchmarks/add_baseline_part.py: a later baseline row joins a committed report only when its
source-only segmenters reproduce the committed source-only scores."""
import json

import pytest

KEYS = ("dice", "cldice", "auc", "sensitivity", "specificity")


def _m(x):
    return {k: x + i / 100 for i, k in enumerate(KEYS)}


def _results():
    per_seed = {s: {"source-only": {"mean": _m(0.5 + int(s) / 10)}} for s in ("0", "1", "2")}
    return {"seeds": [0, 1, 2], "per_seed": per_seed, "notes": ["old"],
            "table": {"source-only": {"dice": {"mean": 0.6, "sd": 0.1, "n_seeds": 3}}}}


def test_row_added_with_mean_and_sd(benchmark_script):
    add_part = benchmark_script("add_baseline_part").add_part
    res = _results()
    src = {s: d["source-only"]["mean"] for s, d in res["per_seed"].items()}
    out = add_part(res, "adabn", {"0": _m(0.7), "1": _m(0.8), "2": _m(0.9)}, src, "note")
    assert out["table"]["adabn"]["dice"]["mean"] == pytest.approx(0.8)
    assert out["table"]["adabn"]["dice"]["sd"] == pytest.approx(0.1)
    assert out["table"]["adabn"]["auc"]["n_seeds"] == 3
    assert out["per_seed"]["1"]["adabn"]["mean"]["dice"] == pytest.approx(0.8)
    assert out["notes"] == ["old", "note"] and out["table"]["source-only"] == res["table"]["source-only"]
    assert "adabn" not in res["table"]  # the input is not changed


def test_refuses_other_source_only_or_missing_seed(benchmark_script):
    add_part = benchmark_script("add_baseline_part").add_part
    res = _results()
    src = {s: dict(d["source-only"]["mean"]) for s, d in res["per_seed"].items()}
    src["2"]["auc"] += 1e-4
    with pytest.raises(ValueError, match="seed 2: the source-only segmenter behind adabn does not reproduce"):
        add_part(res, "adabn", {"0": _m(0.7), "1": _m(0.8), "2": _m(0.9)}, src, "")
    with pytest.raises(ValueError, match="scores for seeds"):
        add_part(res, "adabn", {"0": _m(0.7)}, src, "")


def test_writes_the_committed_report(benchmark_script, tmp_path):
    """End to end on a copy of a committed report: only the new row and the note change."""
    from pathlib import Path

    mod = benchmark_script("add_baseline_part")
    repo = Path(mod.REPO)
    folder = tmp_path / "drive-stare"
    folder.mkdir()
    committed = json.loads((repo / "benchmarks/results/drive-stare/results.json").read_text())
    (folder / "results.json").write_text(json.dumps(committed))
    work = tmp_path / "work"
    for s in ("0", "1", "2"):
        d = work / "drive-stare" / f"seed-{s}" / "scores"
        d.mkdir(parents=True)
        (d / "source-only.json").write_text(json.dumps(committed["per_seed"][s]["source-only"]))
        (d / "adabn.json").write_text(json.dumps({"mean": _m(0.7 + int(s) / 100)}))
    assert mod.main(["drive-stare", "adabn"] + [f"{work}:{s}" for s in (0, 1, 2)] + ["--results", str(folder)]) == 0
    md = (folder / "results.md").read_text()
    old = (repo / "benchmarks/results/drive-stare/results.md").read_text()
    new_lines = [x for x in md.splitlines() if x not in old.splitlines()]
    assert new_lines[0].startswith("| adabn | 0.710 ± 0.010 |")
    assert len(new_lines) == 2 and "`adabn` row added later" in new_lines[1]
