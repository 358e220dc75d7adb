"""benchmarks/hires_adapt.py: the codec rows read back bit for bit, and the comparison of two runs'
projects finds a changed map (the adapt runs themselves need the 15-megapixel data: not here)."""

from __future__ import annotations

import json
import shutil

import numpy as np


def _fake_project(folder, prob):
    from safetensors.numpy import save_file

    from vessel_studio.io.images import write_prob

    rd = folder / "rounds" / "round-000"
    for sub in ("pseudo", "pseudo-chain"):
        write_prob(rd / sub / "a.tif", prob, compress=sub == "pseudo")
    (rd / "segmenter").mkdir(parents=True)
    save_file({"w": np.arange(4, dtype=np.float32)}, str(rd / "segmenter" / "model.safetensors"))
    (folder / "project.json").write_text(json.dumps(
        {"images": [], "rounds": [{"folder": "rounds/round-000", "metrics": {"agreement": 0.5, "seconds_segmenter": 1.0}}]}))


def test_compare_and_codec(tmp_path, benchmark_script):
    ha = benchmark_script("hires_adapt")
    p = np.linspace(0, 1, 40 * 30, dtype=np.float32).reshape(40, 30)
    _fake_project(tmp_path / "a" / "proj-4", p)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    same = ha.compare_projects(tmp_path / "a" / "proj-4", tmp_path / "b" / "proj-4")
    assert same["metrics_equal"] and same["tensors_equal"] and same["maps_equal"] and same["maps_compared"] == 2
    q = p.copy()
    q[3, 3] = np.nextafter(q[3, 3], np.float32(1))  # one bit of one value
    from vessel_studio.io.images import write_prob

    write_prob(tmp_path / "b" / "proj-4" / "rounds" / "round-000" / "pseudo-chain" / "a.tif", q)
    diff = ha.compare_projects(tmp_path / "a" / "proj-4", tmp_path / "b" / "proj-4")
    assert not diff["maps_equal"] and diff["differences"] == ["rounds/round-000/pseudo-chain/a.tif"]
    rows = ha.codec_part(tmp_path / "a" / "proj-4" / "rounds" / "round-000" / "pseudo" / "a.tif", tmp_path, 1)
    assert {r["codec"] for r in rows} >= {"none", "zlib-1", "write_prob-compress"} and all(r["identical"] for r in rows)
    assert ha.main(["--data", str(tmp_path / "none"), "--parts", "adapt"]) == 0  # no data: SKIPPED
