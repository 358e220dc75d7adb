"""benchmarks/review_order_fov.py on the real fundus images (skips without them): the kept FOVs give
the same queue as estimating them again, and the report has both timings."""

from __future__ import annotations

import json


def test_review_order_fov_report(tmp_path, benchmark_script, data_dir):
    ro = benchmark_script("review_order_fov")
    out = tmp_path / "r.json"
    assert ro.main(["--data", str(data_dir), "--work", str(tmp_path / "w"), "--repeats", "1", "--limit", "12",
                    "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["images"] == 12 and rep["same_order"] is True
    assert len(rep["cold_s"]) == len(rep["warm_s"]) == 1 and rep["cache_mb"] > 0
