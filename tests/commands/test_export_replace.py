"""Exporting over an earlier export (session 28): only a folder that is an earlier export of ours is
written over."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import vessel_studio as vs
from vessel_studio.cli import main
from vessel_studio.gui import tasks
from vessel_studio.io.images import write_prob
from vessel_studio.samples import write_sample_project
from vessel_studio.store import Project


@pytest.fixture
def proj(tmp_path):
    """Three images, each with a source-only map; the first one corrected."""
    write_sample_project(tmp_path / "p", n=3, modality="fundus", shape=(64, 64), seed=0)
    proj = Project.open(tmp_path / "p")
    rng = np.random.default_rng(0)
    for rec in proj.images:
        write_prob(tasks.source_only_path(proj, rec.id), rng.uniform(0, 1, (64, 64)).astype(np.float32))
    proj.save_correction(proj.images[0].id, rng.uniform(0, 1, (64, 64)) > 0.8)
    return proj


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("held", [["masks"], ["probabilities"], ["masks", "export.json"]])
def test_a_folder_of_masks_is_not_an_earlier_export(proj, tmp_path, held, capsys):
    """A lab's own masks/ folder (or probabilities/, or an export.json not ours) passed for an earlier
    export (its files would be written over): it is refused, its contents named, nothing changed."""
    lab = tmp_path / "lab"
    for name in held:
        if name == "export.json":
            (lab / name).write_text('{"scanner": "ours"}')
        else:
            (lab / name).mkdir(parents=True)
            (lab / name / "scan1.png").write_bytes(b"the lab's mask")
    before = tree(lab)
    with pytest.raises(ValueError, match=rf"holds {held[0]}.* so it is not an earlier export|not an earlier export "
                                         r"\(export.json\)"):
        tasks.check_export(proj, lab)
    with pytest.raises(ValueError, match="not an earlier export"):
        vs.run(vs.export(proj, lab))
    assert main(["export", str(proj.folder), "--out", str(lab)]) != 0
    assert str(lab) in capsys.readouterr().err
    assert tree(lab) == before


def test_an_earlier_export_is_one_by_its_record_or_its_table(proj, tmp_path):
    out = vs.run(vs.export(proj, tmp_path / "a", table=False))  # export.json alone marks it
    assert tasks.check_export(proj, out) == out
    out = vs.run(vs.export(proj, tmp_path / "b"))
    (out / "export.json").unlink()  # an export made before export.json was written: its measures.csv
    assert tasks.check_export(proj, out) == out
