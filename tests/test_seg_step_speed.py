"""benchmarks/seg_step_speed.py: both ways train, give the same weights, and the report is written."""

from __future__ import annotations

import json


def test_seg_step_speed_report(tmp_path, benchmark_script):
    ssp = benchmark_script("seg_step_speed")
    assert ssp.main(["--preset", "tiny", "--steps", "4", "--warmup", "1", "--turns", "1",
                     "--out", str(tmp_path), "--name", "t"]) == 0
    res = json.loads((tmp_path / "t.json").read_text())
    assert res["same_weights"] is True
    assert len(res["seconds_per_step"]["off"]) == len(res["seconds_per_step"]["on"]) == 1
    assert res["median_off_s"] > 0 and res["median_on_s"] > 0 and res["draw_batch_median_s"] > 0
    assert res["batch"] == 2 and res["crop"] == 32  # the tiny preset's sizes
    md = (tmp_path / "t.md").read_text()
    assert "| on |" in md and "Same weights both ways: yes" in md
