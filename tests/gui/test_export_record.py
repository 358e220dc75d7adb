"""What an export says made it: measures.csv's ``map`` column (which probability map each image's
mask or map came from) and export.json (the software, the project's source, each round used with
its model hashes and label-free signals, what made the source-only maps); the source-only
segmentation records its model per image."""

from __future__ import annotations

import csv
import json

import numpy as np
import tifffile

from vessel_studio.events import collect
from vessel_studio.gui import tasks
from vessel_studio.store import RoundRecord


def _round(proj, tmp_path, k, ids):
    src = tmp_path / f"r{k}"
    (src / "pseudo").mkdir(parents=True)
    for i in ids:
        shape = proj.image(i).shape[:2]
        tifffile.imwrite(src / "pseudo" / f"{i}.tif", np.full(shape, 0.6, np.float32))
    proj.commit_round(src, RoundRecord(index=k, folder="", seed=3, config={"preset_name": "tiny"},
                                       models={"segmenter": f"hash{k}"},
                                       metrics={"vessel_fraction": 0.1, "fragmentation": 5.0 - k}))


def test_export_names_the_maps_and_what_made_them(sample_project, tmp_path):
    proj = sample_project
    a, b, c = proj.images
    collect(tasks.segment_source_only(proj, [b.id]))  # the bundled model, for b only
    record = tasks.source_only_record(proj)
    assert set(record) == {b.id} and record[b.id]["model"] == "fundus-segmenter"
    assert len(record[b.id]["model_hash"]) == 16 and record[b.id]["renormalized"] is False
    _round(proj, tmp_path, 0, [a.id])  # round 0 predicted a; b has only its source-only map; c none
    out, _ = collect(tasks.export(proj, tmp_path / "x"))
    rows = {r["image"]: r for r in csv.DictReader((out / "measures.csv").open())}
    assert [rows[r.name]["map"] for r in (a, b, c)] == ["round 0", "source-only", ""]
    rec = json.loads((out / "export.json").read_text())
    import vessel_studio

    assert rec["vessel_studio"] == vessel_studio.__version__ and rec["asked"] == "latest round"
    assert rec["project"]["modality"] == "fundus" and rec["project"]["images"] == 3
    assert rec["maps"] == {"round 0": 1, "source-only": 1, "none": 1}
    (used,) = rec["rounds_used"]
    assert used["round"] == 0 and used["models"] == {"segmenter": "hash0"} and used["seed"] == 3
    assert used["preset"] == "tiny" and used["label_free"]["vessel_fraction"] == 0.1
    assert used["guard_warnings"] == []
    so = rec["source_only_maps"]
    assert so["images"] == 1 and so["unrecorded"] == 0
    assert so["made_by"] == [f"fundus-segmenter (weights {record[b.id]['model_hash']})"]
    assert rec["calibration"] is None

    # a chosen round: every map is that round's
    _round(proj, tmp_path, 1, [a.id, b.id, c.id])
    out, _ = collect(tasks.export(proj, tmp_path / "y", round=0))
    rec = json.loads((out / "export.json").read_text())
    assert rec["asked"] == "round 0" and rec["maps"] == {"round 0": 1, "none": 2}
    assert rec["rounds_in_project"] == [0, 1] and rec["source_only_maps"] is None
    out, _ = collect(tasks.export(proj, tmp_path / "z"))
    assert json.loads((out / "export.json").read_text())["maps"] == {"round 1": 3}


def test_an_unreadable_source_only_record_reads_as_empty(sample_project):
    path = tasks.source_only_record_path(sample_project)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert tasks.source_only_record(sample_project) == {}
