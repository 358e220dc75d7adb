"""benchmarks/memory_long_use.py: its --help, the slope it reports, and a part that skips without the data sets."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "memory_long_use.py"


def _module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("memory_long_use", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_help():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--laps" in proc.stdout and "--predicts" in proc.stdout


def test_slope_is_mb_per_100_images():
    slope = _module().slope_mb_per_100
    assert slope([0, 100, 200], [1000, 1010, 1020]) == 10.0
    assert slope([0, 100, 200], [1000, 1000, 1000]) == 0.0
    assert slope([0, 100], [1, 2]) is None  # too few samples


def test_library_part_skips_without_data(tmp_path):
    out = tmp_path / "m.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--parts", "library", "--data", str(tmp_path / "none"),
                           "--work", str(tmp_path / "w"), "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no DRIVE" in json.loads(out.read_text())["library"]["skipped"]
