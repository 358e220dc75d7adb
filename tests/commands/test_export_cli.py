"""``vessel-studio export``: what the GUI's Export panel writes, from the command line: saved
corrections where there are, else the predictions at p >= 0.5; images never segmented named;
unsaved drafts named; clear errors that leave nothing written."""

import csv

import numpy as np
import pytest

from vessel_studio.cli import main
from vessel_studio.gui import tasks
from vessel_studio.io.images import read_mask, write_prob
from vessel_studio.samples import write_sample_project
from vessel_studio.store import Project


@pytest.fixture
def project(tmp_path):
    """Three images: A corrected, B with a source-only prediction, C never segmented."""
    write_sample_project(tmp_path / "p", n=3, modality="fundus", shape=(64, 64), seed=0)
    proj = Project.open(tmp_path / "p")
    a, b, _ = proj.images
    rng = np.random.default_rng(0)
    probs = {rec.id: rng.uniform(0, 1, (64, 64)).astype(np.float32) for rec in (a, b)}
    for image_id, prob in probs.items():
        write_prob(tasks.source_only_path(proj, image_id), prob)
    corrected = rng.uniform(0, 1, (64, 64)) > 0.8
    proj.save_correction(a.id, corrected)
    return proj, probs, corrected


def _names(proj):
    return [rec.name for rec in proj.images]


def test_exports_saved_corrections_else_predictions(project, tmp_path, capsys):
    proj, probs, corrected = project
    a, b, c = proj.images
    out = tmp_path / "export"
    assert main(["export", str(proj.folder), "--out", str(out)]) == 0
    assert np.array_equal(read_mask(out / "masks" / f"{a.name}.png"), corrected)
    assert np.array_equal(read_mask(out / "masks" / f"{b.name}.png"), probs[b.id] >= 0.5)
    assert not (out / "masks" / f"{c.name}.png").exists()
    assert sorted(p.stem for p in (out / "probabilities").iterdir()) == sorted([a.name, b.name])
    rows = {r["image"]: r for r in csv.DictReader((out / "measures.csv").open())}
    assert [rows[n]["mask"] for n in _names(proj)] == ["corrected", "predicted", ""]
    said = capsys.readouterr().out
    assert "1 saved (corrected or accepted) mask(s)" in said
    assert f"no mask for 1 image(s) never segmented (or whose source-only map was deleted): {c.name}" in said
    # again into the same folder (an earlier export): written over
    proj.remove_correction(a.id)
    assert main(["export", str(proj.folder), "--out", str(out), "--masks", "tif", "--no-probs"]) == 0
    rows = {r["image"]: r for r in csv.DictReader((out / "measures.csv").open())}
    assert rows[a.name]["mask"] == "predicted"
    assert (out / "masks" / f"{a.name}.tif").is_file()


def test_names_unsaved_drafts(project, tmp_path, capsys):
    proj, _, _ = project
    b = proj.images[1]
    tasks.write_draft(proj, b.id, np.ones((64, 64), bool))
    assert main(["export", str(proj.folder), "--out", str(tmp_path / "export")]) == 0
    err = capsys.readouterr().err
    assert "unsaved edits of 1 image(s) are not exported" in err and b.name in err


@pytest.mark.parametrize("extra, message", [
    (["--round", "0"], "no round 0"),
    (["--masks", "none", "--no-probs", "--no-table"], "nothing to export"),
])
def test_bad_options_write_nothing(project, tmp_path, extra, message, capsys):
    proj, _, _ = project
    out = tmp_path / "export"
    assert main(["export", str(proj.folder), "--out", str(out), *extra]) != 0
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_of_other_files_is_refused(project, tmp_path, capsys):
    proj, _, _ = project
    out = tmp_path / "lab-images"
    out.mkdir()
    (out / "scan.png").write_bytes(b"not ours")
    assert main(["export", str(proj.folder), "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert str(out) in err and "not an earlier export (scan.png)" in err  # names what is not an export's
    assert sorted(p.name for p in out.iterdir()) == ["scan.png"]


def test_not_a_project(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "export")]) != 0
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "export").exists()


def test_the_library_export_checks_the_folder_and_round_before_writing(project, tmp_path):
    """``vs.export`` (the job behind the command and the panel) refuses what the command refuses, at its
    first step, before any file is written (session 27: it wrote into any folder)."""
    import vessel_studio as vs

    proj, _, _ = project
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "measures.csv").write_text("the lab's own table")
    (lab / "scan.png").write_bytes(b"not ours")
    with pytest.raises(ValueError, match="holds files that are not an earlier export"):
        vs.run(vs.export(proj, lab))
    assert (lab / "measures.csv").read_text() == "the lab's own table" and len(list(lab.iterdir())) == 2
    with pytest.raises(ValueError, match="no round 3"):
        vs.run(vs.export(proj, tmp_path / "new", round=3))
    assert not (tmp_path / "new").exists()
    out = vs.run(vs.export(proj, tmp_path / "new"))
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "masks", "measures.csv", "probabilities"]
    vs.run(vs.export(proj, out))  # an earlier export is written over


def test_only_an_earlier_export_passes_for_one(project, tmp_path):
    """Session 27 QA: a folder holding only the lab's own ``measures.csv`` passed for an earlier export (and
    its table was replaced); a file named ``masks`` passed too and the export failed on it with a bare
    "File exists", as it did on a link to a folder that is not there."""
    import vessel_studio as vs
    from vessel_studio.gui import tasks

    proj, _, _ = project
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "measures.csv").write_text("eye,vessel density\\nOD,0.12\\n")
    with pytest.raises(ValueError, match="holds files that are not an earlier export"):
        tasks.check_export(proj, lab)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "masks").write_bytes(b"a file, not a folder")
    with pytest.raises(ValueError, match="holds files that are not an earlier export"):
        tasks.check_export(proj, odd)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(ValueError, match="is a link to .*gone, which does not exist"):
        vs.run(vs.export(proj, link))
    out = vs.run(vs.export(proj, tmp_path / "new"))  # a real export, cancelled or whole, is one
    assert tasks.check_export(proj, out) == out
    (out / "export.json").unlink()
    assert tasks.check_export(proj, out) == out


def test_an_export_of_an_earlier_version_is_one(project, tmp_path):
    """Its measures.csv had no "map" column (before 2026-12-05): the folder may be written over."""
    from vessel_studio.gui import tasks

    proj, _, _ = project
    old = tmp_path / "old"
    (old / "masks").mkdir(parents=True)
    (old / "measures.csv").write_text("image,id,state,mask,vessel_density\nscan,abc,new,predicted,0.1\n")
    assert tasks.check_export(proj, old) == old


def test_the_refusal_names_what_is_not_an_exports(project, tmp_path):
    proj, _, _ = project
    lab = tmp_path / "lab"
    (lab / "masks").mkdir(parents=True)  # an export's folder: not named
    (lab / "measures.csv").write_text("patient,vessels\n")  # a lab's own table: named
    for i in range(4):
        (lab / f"scan{i}.png").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"not an earlier export \(measures.csv, scan0.png, scan1.png and 2 more\)"):
        tasks.check_export(proj, lab)


def test_an_image_without_a_map_in_the_latest_round_is_not_called_never_segmented(project, tmp_path, capsys):
    """Session 32 CLI QA: an image whose map in the latest round had been deleted by hand (or one added after that
    round) was named "never segmented". The message now says which map it lacks."""
    from vessel_studio.store import RoundRecord

    proj, probs, _ = project
    a, b, c = proj.images
    src = tmp_path / "r0"
    (src / "pseudo").mkdir(parents=True)
    for image_id, prob in probs.items():  # a and b: c has no map in the round
        write_prob(src / "pseudo" / f"{image_id}.tif", prob)
    proj.commit_round(src, RoundRecord(index=0, folder="", metrics={"vessel_fraction": 0.1}))
    assert main(["export", str(proj.folder), "--out", str(tmp_path / "export")]) == 0
    said = capsys.readouterr().out
    assert "never segmented" not in said
    assert (f"no mask for 1 image(s) with no map in round 0 (the latest) nor a source-only map: added after that "
            f"round, or a map deleted: {c.name}") in said


def test_images_sharing_a_name_are_named_as_their_files(tmp_path, capsys):
    """Session 34 guide QA: two images of one name (``eye.png`` from two folders), one with unsaved edits and no
    map, the other exported: the lines named both "eye", so nobody could tell which had no mask. They name each
    image as its files are (``eye-ID``, as the library's export and export.json do)."""
    from vessel_studio.samples import write_sample_images

    a = write_sample_images(tmp_path / "a", n=1, modality="fundus", seed=1, shape=(64, 64))
    b = write_sample_images(tmp_path / "b", n=1, modality="fundus", seed=2, shape=(64, 64))
    for src in (a, b):
        src.images[0].rename(src.images[0].with_name("eye.png"))
    proj = Project.create(tmp_path / "p", modality="fundus")
    proj.add_images([a.images[0].with_name("eye.png"), b.images[0].with_name("eye.png")])
    first, second = proj.images
    assert first.name == second.name == "eye"
    write_prob(tasks.source_only_path(proj, first.id), np.full((64, 64), 0.9, np.float32))
    tasks.write_draft(proj, second.id, np.ones((64, 64), bool))
    out = tmp_path / "export"
    assert main(["export", str(proj.folder), "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert (out / "masks" / f"eye-{first.id}.png").is_file()
    assert f"no mask for 1 image(s) never segmented (or whose source-only map was deleted): eye-{second.id}" in said.out
    assert f"are not exported (their saved correction or prediction is): eye-{second.id};" in said.err


def test_exported_files_record_the_scans_pixel_spacing(project, tmp_path):
    """Session 42 (OCT-A QA): the pixel spacing of a scan was in ``measures.csv`` only; the exported masks (PNG's
    pHYs, TIFF's resolution) and probability maps (TIFF resolution) had none, so a mask opened in Fiji, or read back
    by Vessel Studio, had no scale. They record it now, pixels taller than wide too; a scan without one, none."""
    from vessel_studio.io.images import read_image

    proj, _, _ = project
    a, b, c = proj.images

    def fn(d):  # as the reader records a calibrated TIFF's spacing (row_mm, col_mm) when the image is added
        for x in d["images"]:
            if x["id"] == a.id:
                x["spacing"] = [0.02, 0.01]

    proj._update(fn)
    for fmt in ("png", "tif"):
        out = tmp_path / f"export-{fmt}"
        assert main(["export", str(proj.folder), "--out", str(out), "--masks", fmt]) == 0
        assert read_image(out / "masks" / f"{a.name}.{fmt}")[1].pixel_spacing_mm == pytest.approx((0.02, 0.01))
        assert read_image(out / "probabilities" / f"{a.name}.tif")[1].pixel_spacing_mm == pytest.approx((0.02, 0.01))
        assert read_image(out / "masks" / f"{b.name}.{fmt}")[1].pixel_spacing_mm is None
        assert read_image(out / "probabilities" / f"{b.name}.tif")[1].pixel_spacing_mm is None


def test_a_set_pixel_spacing_gives_measures_in_mm_and_the_files_resolution(project, tmp_path):
    """Session 47: OCTA-500's PNG scans record no pixel spacing, so ``measures.csv`` was in pixels (the guide said to
    convert by hand). A spacing set in the project (``Project.set_spacing``) gives the mm / µm columns, the spacing
    columns with where it comes from, and the exported masks' and maps' resolution; it wins over a file's own."""
    from vessel_studio.io.images import read_image

    proj, _, _ = project
    a, b, c = proj.images

    def fn(d):  # b's file records 0.02 x 0.01 mm
        for x in d["images"]:
            if x["id"] == b.id:
                x["spacing"] = [0.02, 0.01]

    proj._update(fn)
    proj.set_spacing([a.id, b.id], 3 / 304)
    out = tmp_path / "export"
    assert main(["export", str(proj.folder), "--out", str(out)]) == 0
    rows = {r["image"]: r for r in csv.DictReader((out / "measures.csv").open())}
    for rec in (a, b):
        row = rows[rec.name]
        assert float(row["spacing_mm"]) == pytest.approx(3 / 304)
        assert float(row["spacing_row_mm"]) == float(row["spacing_col_mm"]) == pytest.approx(3 / 304)
        assert float(row["skeleton_length_mm"]) == pytest.approx(float(row["skeleton_length_px"]) * 3 / 304)
        assert float(row["calibre_mean_um"]) == pytest.approx(float(row["calibre_mean_px"]) * 3000 / 304)
        assert row["spacing_origin"] == "set"
        assert read_image(out / "masks" / f"{rec.name}.png")[1].pixel_spacing_mm == pytest.approx((3 / 304,) * 2,
                                                                                                  rel=1e-4)
        assert read_image(out / "probabilities" / f"{rec.name}.tif")[1].pixel_spacing_mm == pytest.approx(
            (3 / 304,) * 2)
    proj.set_spacing([a.id, b.id], None)  # cleared: a in px again, b its file's
    assert main(["export", str(proj.folder), "--out", str(out)]) == 0
    rows = {r["image"]: r for r in csv.DictReader((out / "measures.csv").open())}
    assert rows[a.name]["skeleton_length_mm"] == "" and rows[a.name]["spacing_origin"] == ""
    assert float(rows[b.name]["spacing_row_mm"]) == 0.02 and rows[b.name]["spacing_origin"] == "from the file"
    assert rows[c.name]["spacing_origin"] == ""  # no mask: no measures


def test_a_name_in_another_encoding_than_the_file_systems_is_exported(project, tmp_path, rename_image):
    """Session 49 QA: a scan from an old archive named in Latin-1 (b"M\\xfcller.png" on a UTF-8 disk) was added as
    "M\\udcfcller" before session 49 (Python's escape of the byte; it is "M\\ufffdller" now, ``wording.text_name``),
    and the export of such a project stopped at measures.csv: "'utf-8' codec can't encode character '\\udcfc' ...
    surrogates not allowed". The table (UTF-8) names it "M\\ufffdller"; its mask file keeps the name's bytes."""
    import os

    from vessel_studio.events import run

    proj, _probs, _corrected = project
    a = proj.images[0]  # corrected
    rename_image(proj, a.id, os.fsdecode(b"M\xfcller"))
    out = tmp_path / "export"
    # the library's export: the command's progress bar names the image on stderr, which pytest's capture cannot encode
    run(tasks.export(Project.open(proj.folder), out))
    rows = {r["id"]: r for r in csv.DictReader((out / "measures.csv").read_text(encoding="utf-8").splitlines())}
    assert rows[a.id]["image"] == "M\ufffdller" and rows[a.id]["mask"] == "corrected"
    assert (out / "masks" / os.fsdecode(b"M\xfcller.png")).is_file()


def test_names_are_exported_as_utf8_under_an_ascii_locale(project, tmp_path, rename_image):
    """Session 49 QA: under ``LC_ALL=C PYTHONUTF8=0`` (file names in ASCII) the export of a project whose image is
    named "眼底 scan" stopped with "'ascii' codec can't encode characters in position 0-1", nothing exported. Its files
    are named in UTF-8 bytes now, as under a UTF-8 locale."""
    import os
    import subprocess
    import sys

    proj, _probs, _corrected = project
    a, b, _c = proj.images  # a corrected, b predicted
    rename_image(proj, a.id, "眼底 scan")
    rename_image(proj, b.id, "Müller")
    out = tmp_path / "export"
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    r = subprocess.run([sys.executable, "-m", "vessel_studio", "export", str(proj.folder), "--out", str(out)],
                       capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")[-600:]
    assert sorted(os.listdir(os.fsencode(out / "masks"))) == sorted(["Müller.png".encode(), "眼底 scan.png".encode()])
    assert "眼底 scan.tif".encode() in os.listdir(os.fsencode(out / "probabilities"))
    rows = {r["id"]: r for r in csv.DictReader((out / "measures.csv").read_text(encoding="utf-8").splitlines())}
    assert rows[a.id]["image"] == "眼底 scan" and rows[b.id]["image"] == "Müller"


def test_a_name_and_its_mac_copys_decomposed_form_are_two_files(project, tmp_path, rename_image):
    """Session 49 QA: "Müller" composed and "Müller" decomposed (a scan copied from a Mac) are two names to Linux but
    one file on a Mac's disk (APFS, HFS+, which take names whatever their form), where an export of both wrote one
    over the other: they are exported as ``NAME-ID``, as names differing only in case already were."""
    import unicodedata

    proj, _probs, _corrected = project
    a, b, c = proj.images  # a corrected, b predicted
    rename_image(proj, a.id, "Müller")
    rename_image(proj, b.id, unicodedata.normalize("NFD", "Müller"))
    rename_image(proj, c.id, "MÜLLER é")
    stems = tasks.export_stems(Project.open(proj.folder).images)
    assert stems == {a.id: f"Müller-{a.id}", b.id: f"{unicodedata.normalize('NFD', 'Müller')}-{b.id}",
                     c.id: "MÜLLER é"}
