"""benchmarks/compare_runs.py: paired per-seed last-round deltas and the round-0 set-up check."""

from __future__ import annotations

import json

import pytest


def _report(path, per_seed: dict[str, list[float]]):
    """A ``results.json`` of the benchmark's shape: per seed the adapted rounds and a baseline."""
    path.write_text(json.dumps({"pair": "drive-chase", "per_seed": {
        s: {"adapted": {"rounds": [{"scores": {"dice": d}} for d in dice]},
            "source-only": {"mean": {"dice": 0.5}}} for s, dice in per_seed.items()}}))
    return path


def test_paired_deltas_and_round0_check(tmp_path, benchmark_script):
    cr = benchmark_script("compare_runs")
    base = _report(tmp_path / "b.json", {"0": [0.70, 0.66, 0.69], "1": [0.70, 0.70, 0.70], "2": [0.60, 0.60, 0.60]})
    var = _report(tmp_path / "v.json", {"0": [0.70, 0.67, 0.70], "1": [0.70, 0.69, 0.68]})
    c = cr.compare(base, var)
    assert c["seeds"] == [0, 1]  # only the seeds both hold
    assert [r["last_delta"] for r in c["rows"]] == pytest.approx([0.01, -0.02])
    assert c["mean_last_delta"] == pytest.approx(-0.005)
    assert c["all_round0_equal"]
    md = cr.to_markdown(c, "t")
    assert "| 0 | 0.7000 / 0.7000 | 0.6600 / 0.6700 | 0.6900 / 0.7000 | +0.0100 | yes |" in md

    assert cr.main([str(base), str(var)]) == 0
    _report(var, {"0": [0.70, 0.67, 0.70], "1": [0.71, 0.69, 0.68]})
    assert not cr.compare(base, var)["all_round0_equal"]
    assert cr.main([str(base), str(var)]) == 1  # the set-up check fails
