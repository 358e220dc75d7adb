"""benchmarks/mirror_speed.py: the three paths run, each in its own process, and agree."""

from __future__ import annotations

import json


def test_mirror_speed_report(tmp_path, benchmark_script):
    import torch

    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    torch.manual_seed(0)  # a small untrained model (not flip-symmetric): quick, and the paths must still agree
    Segmenter.create(SegmenterConfig(channels=(8, 16, 32)),
                     Preprocessing.for_modality("fundus", fov_diameter=None)).save(tmp_path / "model")
    ms = benchmark_script("mirror_speed")
    assert ms.main(["--repeats", "1", "--out", str(tmp_path), "--name", "t", "--model", str(tmp_path / "model")]) == 0
    res = json.loads((tmp_path / "t.json").read_text())
    assert set(res["rows"]) == {"plain", "sequential", "batched"}
    assert all(r["peak_mb"] > 0 and len(r["times_s"]) == 1 for r in res["rows"].values())
    assert res["rows"]["batched"]["max_abs_diff_vs_sequential"] < 1e-4
    assert res["batched_over_sequential"] > 0
    md = (tmp_path / "t.md").read_text()
    assert "| batched |" in md and "Batched / sequential" in md
