"""The GUI's Qt-free helpers: uncertainty, label-free stats, masks to edit, drafts, export."""

from __future__ import annotations

import numpy as np
import pytest

from vessel_studio.gui import tasks
from vessel_studio.events import collect


def test_uncertainty_is_the_formula_bit_for_bit_and_leaves_its_input():
    """Computed in place in one array since session 31 (faster at 15 MP): the values of 1 - |2p - 1| evaluated as
    before, float32, for float32, float64 and 8-bit-like inputs; the input is not changed."""
    rng = np.random.default_rng(3)
    for p in (rng.random((37, 41), dtype=np.float32), rng.random((9, 7)), np.array([[0, 0.5, 1]], np.float32)):
        before = p.copy()
        got = tasks.uncertainty(p)
        expected = (1.0 - np.abs(2.0 * np.asarray(p, np.float32) - 1.0)).astype(np.float32)
        assert got.dtype == np.float32 and np.array_equal(got, expected)
        assert np.array_equal(p, before) and got is not p


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


def test_export_takes_a_project_folder_as_adapt_and_restore_round_do(sample_project, tmp_path):
    """Session 33 API QA: ``vs.run(vs.export("my-project", "out"))`` raised AttributeError ('str' object has no
    attribute 'own_folder'), where ``vs.adapt`` and ``vs.restore_round`` open a project given by its folder."""
    for given, name in ((str(sample_project.folder), "a"), (sample_project.folder, "b")):
        out, _ = collect(tasks.export(given, tmp_path / name))
        assert len((out / "measures.csv").read_text().splitlines()) == 4


def test_export_of_a_round_given_as_text_says_what_a_round_is(sample_project, tmp_path):
    """Session 33 API QA: ``export(project, out, round="1")`` said "no round 1 (rounds: [0, 1])"."""
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    for k in range(2):
        src = tmp_path / f"built-{k}"
        (src / "pseudo").mkdir(parents=True)
        for rec in sample_project.images:
            write_prob(src / "pseudo" / f"{rec.id}.tif", np.full((96, 96), 0.7, np.float32))
        sample_project.commit_round(src, RoundRecord(index=k, folder=""))
    for bad in ("1", 1.0, True):
        with pytest.raises(ValueError, match=r"round must be a round's number or 'source-only', got "
                                             + repr(bad).replace(".", r"\.") + r" \(rounds: \[0, 1\]"):
            collect(tasks.export(sample_project, tmp_path / "x", round=bad))
    assert not (tmp_path / "x").exists()
    out, _ = collect(tasks.export(sample_project, tmp_path / "y", round=1))
    assert len(list((out / "masks").iterdir())) == 3


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


def test_review_order_scores_inside_the_field_of_view(sample_project, monkeypatch):
    """"most uncertain first" averaged the uncertainty over the whole frame, the label-free statistics
    inside the FOV: a fundus image whose undecided pixels fill its disc but whose black border (sure,
    p = 0) is a third of the frame came after an image undecided everywhere to a lesser degree. The
    queue scores each image by the panel's "mean uncertainty" (inside the FOV); FOVs already known are
    not estimated again, an OCT-A project's (the whole frame) read no image, and an unreadable image
    is scored over the whole frame."""
    from vessel_studio.io.images import write_prob

    proj = sample_project
    a, b, c = proj.images
    fov_a = tasks.image_fov(proj, proj.read_image(a.id))
    assert 0.5 < fov_a.mean() < 0.8
    p_a = np.where(fov_a, 0.5, 0.0).astype(np.float32)  # undecided inside the disc, sure outside
    u_b = (1 + fov_a.mean()) / 2  # between A's whole-frame mean and A's inside-the-FOV mean (1)
    p_b = np.full(fov_a.shape, u_b / 2, np.float32)  # uncertainty 2p below 0.5
    write_prob(tasks.source_only_path(proj, a.id), p_a)
    write_prob(tasks.source_only_path(proj, b.id), p_b)
    assert tasks.uncertainty(p_a).mean() < tasks.uncertainty(p_b).mean()  # the whole frame's order: B, A
    order, _ = collect(tasks.review_order(proj))
    assert [i for i, _ in order] == [a.id, b.id, c.id]
    scores = dict(order)
    assert scores[a.id] == pytest.approx(1.0)
    fov_b = tasks.image_fov(proj, proj.read_image(b.id))
    assert scores[b.id] == pytest.approx(tasks.label_free_stats(p_b, fov_b)["mean_uncertainty"])
    assert scores[c.id] == -1.0  # no map: last
    # known FOVs are used as given (no image read); an image that cannot be read: the whole frame
    read = []
    real_read = type(proj).read_image

    def reading(self, image_id):
        read.append(image_id)
        if image_id == b.id:
            raise ValueError(f"{image_id}: unreadable")
        return real_read(self, image_id)

    monkeypatch.setattr(type(proj), "read_image", reading)
    import shutil

    shutil.rmtree(tasks.gui_dir(proj) / tasks.FOV_CACHE)  # the FOVs the first run kept (cached_fov)
    order, _ = collect(tasks.review_order(proj, fovs={a.id: np.ones_like(fov_a)}))
    assert read == [b.id]  # A's FOV was given, C has no map
    assert dict(order)[a.id] == pytest.approx(tasks.uncertainty(p_a).mean())
    assert dict(order)[b.id] == pytest.approx(u_b)


def test_review_order_of_an_octa_project_reads_no_image(tmp_path, monkeypatch):
    """OCT-A: the field of view is the whole frame (``estimate_fov``), so the queue reads no image."""
    from vessel_studio.io.images import write_prob
    from vessel_studio.samples import write_sample_project
    from vessel_studio.store import Project

    write_sample_project(tmp_path / "octa", n=2, modality="octa", shape=(64, 64), seed=1)
    proj = Project.open(tmp_path / "octa")
    for level, rec in zip((0.2, 0.4), proj.images):
        write_prob(tasks.source_only_path(proj, rec.id), np.full((64, 64), level, np.float32))
    monkeypatch.setattr(type(proj), "read_image", lambda self, image_id: pytest.fail("an image was read"))
    order, _ = collect(tasks.review_order(proj))
    assert [i for i, _ in order] == [r.id for r in proj.images][::-1]
    assert [s for _, s in order] == pytest.approx([0.8, 0.4])


def test_drafts_are_one_bit_pngs_read_back_as_the_mask(tmp_path):
    """The autosaved draft (written on the GUI thread every 3 s while editing) is a 1-bit PNG with fast
    compression: ~0.04 s for a 15-megapixel mask instead of ~0.25 s as an 8-bit 0/255 PNG; it reads back
    as the same mask, and older 8-bit drafts still read."""
    from PIL import Image

    from vessel_studio.io.images import write_mask
    from vessel_studio.samples import write_sample_project
    from vessel_studio.store import Project

    write_sample_project(tmp_path / "p", n=1, modality="fundus", shape=(64, 64), seed=0)
    proj = Project.open(tmp_path / "p")
    image_id = proj.images[0].id
    mask = np.random.default_rng(0).random((64, 64)) > 0.7
    path = tasks.write_draft(proj, image_id, mask)
    with Image.open(path) as im:
        assert im.mode == "1"
    got, origin = tasks.current_mask(proj, image_id)
    assert origin == "draft" and np.array_equal(got, mask)
    write_mask(path, ~mask)  # a draft of an older version (8-bit 0 / 255)
    assert np.array_equal(tasks.current_mask(proj, image_id)[0], ~mask)
    with pytest.raises(ValueError, match="2-D"):
        tasks.write_draft(proj, image_id, np.zeros((4, 4, 3), bool))


def test_review_order_keeps_the_estimated_fovs(sample_project, monkeypatch):
    """The "most uncertain first" queue estimated every fundus image's FOV again on each run; the
    estimate is kept per image (an image's content never changes under its id) and read back the
    same; a broken cache file is estimated again."""
    from conftest import fake_probability
    from vessel_studio.io import fov as fov_module
    from vessel_studio.io.images import write_prob

    proj = sample_project
    for i, rec in enumerate(proj.images):
        write_prob(tasks.source_only_path(proj, rec.id), fake_probability(rec.shape[:2], i))
    calls = []
    real = fov_module.estimate_fov
    monkeypatch.setattr(fov_module, "estimate_fov", lambda *a, **k: calls.append(1) or real(*a, **k))
    first, _ = collect(tasks.review_order(proj))
    assert len(calls) == len(proj.images)
    cache = tasks.gui_dir(proj) / tasks.FOV_CACHE
    assert sorted(p.stem for p in cache.glob("*.png")) == sorted(r.id for r in proj.images)
    again, _ = collect(tasks.review_order(proj))
    assert again == first and len(calls) == len(proj.images)  # read back, not estimated
    rec = proj.images[0]
    assert np.array_equal(tasks.cached_fov(proj, rec.id), real(proj.read_image(rec.id), modality="fundus"))
    (cache / f"{rec.id}.png").write_bytes(b"not a png")
    assert np.array_equal(tasks.cached_fov(proj, rec.id), real(proj.read_image(rec.id), modality="fundus"))
    assert len(calls) == len(proj.images) + 1


def test_remove_images_takes_a_generator_of_ids_or_one_id(sample_project):
    """Session 33 API QA: ``tasks.remove_images(project, (r.id for r in ...))`` checked the ids with the generator
    and handed the store what was left of it, nothing: no image was removed and [] returned, without a word; one
    id as a string was taken character by character."""
    from vessel_studio.store import Project

    first, second, third = (r.id for r in sample_project.images)
    removed = tasks.remove_images(sample_project, (i for i in (first, second)))
    assert [r.id for r in removed] == [first, second]
    assert [r.id for r in tasks.remove_images(sample_project, third)] == [third]
    assert Project.open(sample_project.folder).images == []


def test_measures_of_anisotropic_pixels_and_the_csv_columns(sample_project, tmp_path):
    """Pixels 20 µm tall and 10 µm wide (a TIFF with different X / Y resolution): the measures used the
    mean spacing, 15 µm, for both directions; measures.csv now also has the row and column spacing and
    the length density in px (session 41 QA), after the earlier columns."""
    import csv
    from types import SimpleNamespace

    rec = SimpleNamespace(pixel_spacing=(0.02, 0.01))  # ImageRecord's: the one set, else the file's (session 47)
    fake = SimpleNamespace(image=lambda image_id: rec, modality="fundus")
    mask = np.zeros((300, 100), bool)
    mask[50:251, 48:53] = True  # 5 px wide: 50 µm; 200 row steps: 4 mm
    m = tasks.measure_image(fake, "x", mask, fov=np.ones_like(mask))
    assert m["calibre_median_um"] == pytest.approx(50.0)
    assert m["skeleton_length_mm"] == pytest.approx(m["skeleton_length_px"] * 0.02, rel=0.01)
    assert (m["spacing_row_mm"], m["spacing_col_mm"]) == (0.02, 0.01)
    out, _ = collect(tasks.export(sample_project, tmp_path / "x"))
    with (out / "measures.csv").open() as f:
        header = next(csv.reader(f))
    assert header == ["image", "id", "state", "mask", "map", *tasks.MEASURE_FIELDS]
    assert header[-4:] == ["length_density_per_px", "spacing_row_mm", "spacing_col_mm", "spacing_origin"]
