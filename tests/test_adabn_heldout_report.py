"""benchmarks/adabn_heldout_report.py: pairing only seeds whose re-trained source-only segmenter reproduces the
committed score, and the plan's rule for "clearly above" (HELDOUT-PLAN.md, rule 3)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("adabn_heldout_report", REPO / "benchmarks" / "adabn_heldout_report.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _work(tmp_path, source_only: dict[int, float], adabn: dict[int, float]) -> Path:
    for s in source_only:
        d = tmp_path / "work" / "drive-octa500" / f"seed-{s}" / "scores"
        d.mkdir(parents=True)
        m = {"dice": 0.0, "cldice": 0.0, "auc": 0.9, "sensitivity": 0.9, "specificity": 0.9}
        (d / "source-only.json").write_text(json.dumps({"mean": {**m, "dice": source_only[s]}}))
        (d / "adabn.json").write_text(json.dumps({"mean": {**m, "dice": adabn[s]}}))
    return tmp_path / "work"


def test_committed_scores_are_the_reports():
    runs = _module().committed()
    assert sorted(runs) == [0, 1, 2, 3, 4, 5, 6]
    assert [round(runs[s]["adapted"], 3) for s in range(7)] == [0.721, 0.727, 0.727, 0.776, 0.804, 0.654, 0.768]
    assert [round(runs[s]["adabn"], 3) for s in (0, 1, 2)] == [0.658, 0.725, 0.633]
    assert all(runs[s]["round"] == 8 for s in range(7))


def test_only_reproduced_seeds_are_paired_and_the_rule(tmp_path):
    mod = _module()
    runs = mod.committed()
    # seeds 3 and 4 reproduce (to 1e-7), 5 and 6 do not
    so = {3: runs[3]["source_only"] + 1e-7, 4: runs[4]["source_only"], 5: runs[5]["source_only"] + 0.01, 6: 0.1}
    work = _work(tmp_path, so, {3: 0.70, 4: 0.70, 5: 0.30, 6: 0.30})
    assert mod.main([str(work), "--out", str(tmp_path / "out")]) == 0
    out = json.loads((tmp_path / "out" / "heldout.json").read_text())
    assert [r["reproduced"] for r in out["heldout"]] == [True, True, False, False]
    assert out["paired_margins"]["n"] == 5 and out["all_margins_unpaired"]["n"] == 7
    assert not out["status_met"]  # 5 paired seeds: under the 6 the rule needs, and seed 1's margin is +0.002
    assert "stays partly met" in (tmp_path / "out" / "HELDOUT.md").read_text()


def test_summary_interval():
    s = _module().summary([0.1, 0.2, 0.3])
    assert abs(s["mean"] - 0.2) < 1e-12 and abs(s["sd"] - 0.1) < 1e-12
    assert abs(s["ci95"][0] - (0.2 - 4.303 * 0.1 / 3 ** 0.5)) < 1e-9 and s["min"] == 0.1
