"""benchmarks/prune_disk.py on a small project of three rounds: the copy is pruned, the original is
not, and the report has the sizes and the commands' exit statuses (segment fails here: the fake
rounds have no real segmenter; the rollback to a pruned round is refused)."""

from __future__ import annotations

import json

import numpy as np
import tifffile
from PIL import Image


def test_prune_disk_report(tmp_path, benchmark_script):
    from vessel_studio.store import Project, RoundRecord

    pd = benchmark_script("prune_disk")
    (tmp_path / "t").mkdir()
    Image.fromarray(np.full((300, 300), 7, np.uint8)).save(tmp_path / "t" / "a.png")
    proj = Project.create(tmp_path / "p", modality="octa")
    (rec,) = proj.add_images([tmp_path / "t"])
    rng = np.random.default_rng(0)
    for k, frag in enumerate((1.0, 5.0, 4.0)):  # round 0: the label-free hint, round 2: the latest
        src = tmp_path / f"b{k}"
        (src / "pseudo").mkdir(parents=True)
        tifffile.imwrite(src / "pseudo" / f"{rec.id}.tif", rng.random((300, 300), dtype=np.float32))
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"fragmentation": frag}))
    out = tmp_path / "r.json"
    assert pd.main(["--project", str(proj.folder), "--work", str(tmp_path / "w"), "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["pruned_rounds"] == [1]
    assert rep["before"]["rounds"]["round-001"]["maps_mb"] > 0.2 and rep["after"]["rounds"]["round-001"]["maps_mb"] == 0
    assert rep["freed_mb"] == rep["before"]["rounds"]["round-001"]["maps_mb"]
    assert rep["runs"]["prune"]["rc"] == 0 and rep["runs"]["dry_run"]["rc"] == 0
    assert rep["runs"]["rollback_to_pruned_round"]["rc"] != 0
    assert all(r.pruned is None for r in Project.open(proj.folder).rounds)  # the original is untouched
