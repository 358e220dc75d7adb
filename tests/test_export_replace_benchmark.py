"""benchmarks/export_replace.py on two real DRIVE images (skips without them): both exports run and the
export over an earlier one holds both on the disk at its peak, about twice the export's size."""

from __future__ import annotations

import json


def test_export_replace_report(tmp_path, benchmark_script, data_dir):
    er = benchmark_script("export_replace")
    out = tmp_path / "r.json"
    assert er.main(["--data", str(data_dir), "--work", str(tmp_path / "w"), "--images", "2", "--repeats", "1",
                    "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["images"] == 2 and rep["export_mb"] > 0
    assert rep["into_new_folder_s"]["median"] > 0 and rep["over_earlier_export_s"]["median"] > 0
    assert 1.5 <= rep["peak_over_export_size"] <= 2.5
