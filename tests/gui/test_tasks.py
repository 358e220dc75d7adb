"""The GUI's Qt-free helpers: uncertainty, label-free stats, masks to edit, drafts, export."""

from __future__ import annotations

import numpy as np
import pytest

from vessel_studio.gui import tasks
from vessel_studio.events import collect


def test_uncertainty_and_stats():
    p = np.array([[0.0, 0.5], [1.0, 0.75]], np.float32)
    assert np.allclose(tasks.uncertainty(p), [[0, 1], [0, 0.5]])
    s = tasks.label_free_stats(p, previous=np.array([[0, 1], [1, 1]], np.float32))
    assert s["vessel_fraction"] == pytest.approx(0.75)
    assert s["mean_uncertainty"] == pytest.approx(0.375)
    assert s["undecided_fraction"] == pytest.approx(0.5)
    assert s["agreement_previous"] == pytest.approx(2 * 3 / (3 + 3))
    fov = np.array([[True, False], [True, False]])
    assert tasks.label_free_stats(p, fov)["vessel_fraction"] == pytest.approx(0.5)


def test_current_mask_precedence_and_drafts(sample_project):
    from vessel_studio.io.images import write_prob

    proj = sample_project
    rec = proj.images[0]
    assert tasks.current_mask(proj, rec.id) == (None, "none")
    p = np.zeros((96, 96), np.float32)
    p[5:10] = 0.9
    write_prob(tasks.source_only_path(proj, rec.id), p)
    m, origin = tasks.current_mask(proj, rec.id)
    assert origin == "predicted" and m[6, 0] and not m[20, 0]
    # the map on screen is None (no map for the chosen round): no mask, not the looked-up one
    assert tasks.current_mask(proj, rec.id, None, look_up=False) == (None, "none")
    d = np.zeros((96, 96), bool)
    d[50, 50] = True
    tasks.write_draft(proj, rec.id, d)
    m, origin = tasks.current_mask(proj, rec.id)
    assert origin == "draft" and np.array_equal(m, d)
    proj.save_correction(rec.id, ~d)
    # a draft beside a saved correction holds edits made after that save (saving drops the draft):
    # it is what the image opens with, not the older saved mask
    m, origin = tasks.current_mask(proj, rec.id)
    assert origin == "draft" and np.array_equal(m, d)
    tasks.drop_draft(proj, rec.id)
    assert not tasks.draft_path(proj, rec.id).exists()
    m, origin = tasks.current_mask(proj, rec.id)
    assert origin == "corrected" and np.array_equal(m, ~d)


def test_review_order_and_export_without_predictions(sample_project, tmp_path):
    order, events = collect(tasks.review_order(sample_project))
    assert [s for _, s in order] == [-1.0, -1.0, -1.0]
    out, _ = collect(tasks.export(sample_project, tmp_path / "x"))
    text = (out / "measures.csv").read_text().splitlines()
    assert len(text) == 4 and text[0].startswith("image,id,state,mask")
    with pytest.raises(ValueError):
        collect(tasks.export(sample_project, tmp_path / "y", masks="jpeg"))


def test_export_with_a_fitted_boundary_needs_a_corrected_prediction(sample_project, tmp_path):
    from vessel_studio.io.images import write_prob

    proj = sample_project
    with pytest.raises(ValueError, match="no corrected image"):
        collect(tasks.export(proj, tmp_path / "x", calibrate=True))
    assert not (tmp_path / "x" / "calibration.json").exists()
    for rec in proj.images:  # predictions: a soft bar
        p = np.zeros((96, 96), np.float32)
        p[:, 40:47] = 0.6
        p[:, 42:45] = 0.9
        write_prob(tasks.source_only_path(proj, rec.id), p)
    proj.save_correction(proj.images[0].id, p >= 0.75)
    out, events = collect(tasks.export(proj, tmp_path / "y", calibrate=True))
    from vessel_studio.io.images import read_mask

    m = read_mask(out / "masks" / f"{proj.images[1].name}.png")
    assert m[:, 42:45].all() and not m[:, 40].any()  # the fitted boundary, not p >= 0.5
    assert any(getattr(e, "kind", None) == "calibration" for e in events)
