"""benchmarks/gui_watch.py (the cost of the window's watcher of changes made outside it) runs in the real window
on a small procedural project and measures what it says: every outside change it makes is followed by one
"changed outside this window" line (its exit status), and the report has each kind of change."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]  # ~17 s: a napari window in its own process


def test_gui_watch_report(tmp_path):
    """Its own process, as the benchmark is run (a second napari.Viewer in the test process registered napari's
    plugin commands again in a later test's viewer)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "r.json"
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gui_watch.py"
    r = subprocess.run([sys.executable, str(script), "--data", str(tmp_path / "no-data"), "--work", str(tmp_path / "w"),
                        "--images", "4", "--rounds", "1", "--repeats", "2", "--idle-looks", "5", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "QT_API": "pyside6"})
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(out.read_text())
    assert rep["image_source"] == "procedural" and rep["images"] == 4 and rep["rounds_at_start"] == 3
    assert rep["status_lines"] == rep["expected_status_lines"] == 6
    for kind in ("state set", "image taken out (not on screen)", "round rolled back"):
        assert rep[kind]["acting_look"]["n"] == 2 and rep[kind]["acting_look"]["median_ms"] > 0
    assert rep["idle_look"]["n"] == 5
