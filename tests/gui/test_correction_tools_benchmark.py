"""benchmarks/correction_tools.py (session 27's timings of Erase piece / Remove specks) runs in the real
window and measures what it says: each tool removes something, Undo gives the mask back, and the
report has a row per image (skips without the real datasets). The "15-MP" images are stand-ins here:
the native images mirrored, under the names ``hires_data.py`` gives, so that the test takes seconds."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.gui


def test_correction_tools_report(tmp_path, benchmark_script, data_dir, qapp, monkeypatch):
    from vessel_studio.gui import dialogs

    # the script answers the dialogs for itself; monkeypatch gives the module its own functions back
    monkeypatch.setattr(dialogs, "confirm", dialogs.confirm)
    monkeypatch.setattr(dialogs, "save_discard_cancel", dialogs.save_discard_cancel)
    hires = tmp_path / "hires" / "png"
    hires.mkdir(parents=True)
    from vessel_studio.io.images import read_image, write_image

    # mirrored: a copy of the same file would be the same image to the project (it adds each content once)
    for src, name in ((data_dir / "DRIVE" / "test" / "images" / "01_test.png", "drive_01.png"),
                      (data_dir / "CHASE_DB1" / "test" / "images" / "Image_08L.jpg", "chase_Image_08L.png")):
        image, _ = read_image(src)
        write_image(hires / name, image[:, ::-1].copy())
    ct = benchmark_script("correction_tools")
    out = tmp_path / "r.json"
    assert ct.main(["--data", str(data_dir), "--hires", str(tmp_path / "hires"), "--work", str(tmp_path / "w"),
                    "--repeats", "1", "--no-speck-check", "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["repeats"] == 1 and "speck_check" not in rep and len(rep["images"]) == 4
    for row in rep["images"]:
        assert row["tree_px"] > row["blob_px"] > 0 and row["pieces"] > 1
        assert row["erase_tree"]["removed"] == row["tree_px"]  # the whole tree, one click
        assert row["erase_blob"]["removed"] == row["blob_px"]
        pieces, px = row["remove_specks"]["removed"]
        assert 0 < pieces < row["pieces"] and 0 < px < row["mask_px"]
        for key in ("erase_tree", "erase_blob", "remove_specks"):
            assert len(row[key]["calls_ms"]) == 1 and row[key]["call_ms"] > 0 and row[key]["core_ms"] > 0
