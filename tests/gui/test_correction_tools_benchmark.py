"""benchmarks/correction_tools.py (session 27's timings of Erase piece / Remove specks) runs in the real
window and measures what it says: each tool removes something, Undo gives the mask back, and the
report has a row per image (skips without the real datasets). The "15-MP" images are stand-ins here:
the native images mirrored and cropped, under the names ``hires_data.py`` gives, so that the test takes
seconds; ``--settle 0.2`` (the event processing between the steps; 1 s by default) leaves 1.5 s of its 7.4 s of
waiting (the timings are only checked to be there, not compared)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.window]  # the whole window, in the benchmark's own process (~22 s)


def test_correction_tools_report(tmp_path, data_dir):
    """Run as the benchmark is run (its own process: a second napari.Viewer made in the test process
    registered napari's plugin commands again in a later test's viewer)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from vessel_studio.io.images import read_image, write_image

    hires = tmp_path / "hires" / "png"
    hires.mkdir(parents=True)
    # mirrored (a copy of the same file would be the same image to the project: it adds each content
    # once) and cropped to 320 px (the bundled model segments them in the script)
    for src, name in ((data_dir / "DRIVE" / "test" / "images" / "01_test.png", "drive_01.png"),
                      (data_dir / "CHASE_DB1" / "test" / "images" / "Image_08L.jpg", "chase_Image_08L.png")):
        image, _ = read_image(src)
        h, w = image.shape[:2]
        write_image(hires / name, image[(h - 320) // 2:(h + 320) // 2, (w - 320) // 2:(w + 320) // 2][:, ::-1].copy())
    out = tmp_path / "r.json"
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "correction_tools.py"
    r = subprocess.run([sys.executable, str(script), "--data", str(data_dir), "--hires", str(tmp_path / "hires"),
                        "--work", str(tmp_path / "w"), "--repeats", "1", "--no-speck-check", "--settle", "0.2", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "QT_API": "pyside6"})
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(out.read_text())
    assert rep["repeats"] == 1 and "speck_check" not in rep and len(rep["images"]) == 4
    assert [row["shape"] for row in rep["images"][2:]] == [[320, 320], [320, 320]]
    for row in rep["images"]:
        assert row["tree_px"] > row["blob_px"] > 0 and row["pieces"] > 1
        assert row["erase_tree"]["removed"] == row["tree_px"]  # the whole tree, one click
        assert row["erase_blob"]["removed"] == row["blob_px"]
        pieces, px = row["remove_specks"]["removed"]
        assert 0 < pieces < row["pieces"] and 0 < px < row["mask_px"]
        for key in ("erase_tree", "erase_blob", "remove_specks"):
            assert len(row[key]["calls_ms"]) == 1 and row[key]["call_ms"] > 0 and row[key]["core_ms"] > 0
