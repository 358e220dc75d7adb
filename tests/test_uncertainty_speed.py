"""benchmarks/uncertainty_speed.py runs and finds the in-place uncertainty map equal to the expression it replaced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_uncertainty_speed_report(tmp_path):
    out = tmp_path / "u.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "uncertainty_speed.py"), "--size", "64",
                           "--repeats", "2", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads(out.read_text())
    assert rep["same_values"] is True and rep["size"] == [64, 64]
    assert rep["before_median_ms"] >= 0 and rep["now_median_ms"] >= 0  # ms rounded to 0.1: 64 x 64 can show 0.0
