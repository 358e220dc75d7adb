"""benchmarks/disk_estimate.py on a small project: round 0's estimate from the image sizes, later
rounds' from the round before (+ the margin)."""

from __future__ import annotations

import json

import numpy as np
import tifffile
from PIL import Image


def test_disk_estimate(tmp_path, benchmark_script, capsys):
    from vessel_studio.adaptation import AdaptConfig
    from vessel_studio.adaptation.disk import COMPRESSION, MARGIN_BYTES
    from vessel_studio.store import Project, RoundRecord

    de = benchmark_script("disk_estimate")
    (tmp_path / "t").mkdir()
    Image.fromarray(np.full((200, 300), 9, np.uint8)).save(tmp_path / "t" / "a.png")
    proj = Project.create(tmp_path / "p", modality="octa")
    (rec,) = proj.add_images([tmp_path / "t"])
    cfg = AdaptConfig.preset("tiny").resolve_auto("fundus", "octa").to_dict()
    src = tmp_path / "b"
    (src / "pseudo").mkdir(parents=True)
    tifffile.imwrite(src / "pseudo" / f"{rec.id}.tif", np.random.default_rng(0).random((200, 300), dtype=np.float32))
    proj.commit_round(src, RoundRecord(index=0, folder="", config=cfg))
    assert de.main([str(proj.folder)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["images"] == 1 and row["source_weight"] == 0.0
    assert row["round0_estimate_mb"] == round((200 * 300 * 4 / COMPRESSION + MARGIN_BYTES) / 2**20)
    assert row["later_round_estimate_mb"]["1"] == row["rounds_actual_mb"]["0"] + MARGIN_BYTES // 2**20
