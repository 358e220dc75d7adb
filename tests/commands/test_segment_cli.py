"""``vessel-studio segment`` and ``train-segmenter``, in process, on synthetic images (tiny preset)."""

import json

import numpy as np
import pytest
import torch

from vessel_studio.cli import main
from vessel_studio.io.images import read_image, read_mask, write_image, write_mask
from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
from vessel_studio.preprocess import Preprocessing


@pytest.fixture
def folders(tmp_path, synthetic_fundus):
    image, mask, fov = synthetic_fundus
    imgs, labs, fovs = tmp_path / "images", tmp_path / "labels", tmp_path / "fov"
    for k in range(2):
        write_image(imgs / f"eye{k}.png", np.rot90(image, k).copy())
        write_mask(labs / f"eye{k}_label.png", np.rot90(mask, k).copy())
        write_mask(fovs / f"eye{k}_mask.png", np.rot90(fov, k).copy())
    return imgs, labs, fovs


@pytest.fixture
def tiny_model(tmp_path):
    torch.manual_seed(0)
    seg = Segmenter.create(SegmenterConfig(channels=(8, 16)), Preprocessing.for_modality("fundus", fov_diameter=80))
    return seg.save(tmp_path / "tiny-model")


def test_train_segmenter_cli_then_segment(tmp_path, folders):
    imgs, labs, fovs = folders
    model = tmp_path / "model"
    rc = main(["train-segmenter", "--images", str(imgs), "--labels", str(labs), "--fov", str(fovs),
               "--preset", "tiny", "--steps", "3", "--out", str(model), "--threads", "1"])
    assert rc == 0
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["kind"] == "segmenter" and cfg["training"]["data"]["count"] == 2
    assert cfg["training"]["config"]["steps"] == 3

    out = tmp_path / "out"
    rc = main(["segment", "--model", str(model), "--out", str(out), "--save-prob", "--fov-dir", str(fovs), str(imgs)])
    assert rc == 0
    mask, _ = read_image(out / "eye0.png")
    prob, _ = read_image(out / "eye0_prob.tif")
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert prob.dtype == np.float32 and prob.shape == mask.shape and 0 <= prob.min() and prob.max() <= 1
    fov = read_mask(fovs / "eye0_mask.png")
    assert (prob[~fov] == 0).all()
    np.testing.assert_array_equal(mask > 0, prob >= 0.5)


def test_segment_reports_and_skips_bad_files(tmp_path, folders, tiny_model, capsys):
    imgs, _, _ = folders
    (imgs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)  # truncated
    (imgs / "notes.xyz").write_text("not an image")
    out = tmp_path / "out"
    rc = main(["segment", "--model", str(tiny_model), "--out", str(out), str(imgs), str(imgs / "notes.xyz"),
               str(tmp_path / "missing.png")])
    assert rc != 0
    err = capsys.readouterr().err
    assert "broken.png" in err and "notes.xyz" in err and "missing.png" in err
    assert (out / "eye0.png").is_file() and (out / "eye1.png").is_file()
    assert not (out / "broken.png").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no half-written temporaries


def test_segment_missing_fov_and_bad_model(tmp_path, folders, tiny_model, capsys):
    imgs, _, _ = folders
    empty = tmp_path / "nofov"
    empty.mkdir()
    rc = main(["segment", "--model", str(tiny_model), "--out", str(tmp_path / "o"), "--fov-dir", str(empty),
               str(imgs / "eye0.png")])
    assert rc == 1 and "no FOV mask" in capsys.readouterr().err
    rc = main(["segment", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), str(imgs)])
    assert rc == 2 and "nope" in capsys.readouterr().err
    rc = main(["segment", "--model", str(tiny_model), "--round", "1", "--out", str(tmp_path / "o"), str(imgs)])
    assert rc == 2 and "project" in capsys.readouterr().err


def _project_with_round(tmp_path, tiny_model):
    """A fundus project whose round 0 delivers ``tiny_model``."""
    import shutil

    store = pytest.importorskip("vessel_studio.store")
    from vessel_studio.store.manifest import RoundRecord

    project = store.Project.create(tmp_path / "proj", modality="fundus")
    staged = tmp_path / "round0"
    shutil.copytree(tiny_model, staged / "segmenter")
    project.commit_round(staged, RoundRecord(index=0, folder="", stage="lsm"))
    return project


def test_segment_with_a_project_folder(tmp_path, folders, tiny_model):
    imgs, _, _ = folders
    project = _project_with_round(tmp_path, tiny_model)
    out = tmp_path / "out"
    assert main(["segment", "--model", str(project.folder), "--out", str(out), str(imgs / "eye0.png")]) == 0
    assert (out / "eye0.png").is_file()
    assert main(["segment", "--model", str(project.folder), "--round", "0", "--out", str(out),
                 str(imgs / "eye1.png")]) == 0
    assert main(["segment", "--model", str(project.folder), "--round", "7", "--out", str(out),
                 str(imgs / "eye1.png")]) == 2


def test_segment_names_a_round_folder_deleted_by_hand(tmp_path, folders, tiny_model, capsys):
    import shutil

    imgs, _, _ = folders
    project = _project_with_round(tmp_path, tiny_model)
    shutil.rmtree(project.folder / "rounds" / "round-000" / "segmenter")
    rc = main(["segment", "--model", str(project.folder), "--out", str(tmp_path / "out"), str(imgs / "eye0.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "round-000" in err and "missing" in err


def test_default_model_is_the_bundled_one():
    from vessel_studio.commands.segment import resolve_segmenter_path
    from vessel_studio.resources import models_dir

    if not (models_dir() / "fundus-segmenter" / "config.json").is_file():
        pytest.skip("bundled fundus-segmenter not trained yet")
    assert resolve_segmenter_path(None) == models_dir() / "fundus-segmenter"


def test_segment_device_option(tmp_path, folders, tiny_model, capsys, monkeypatch):
    imgs, _, _ = folders
    monkeypatch.delenv("VESSEL_STUDIO_DEVICE", raising=False)
    rc = main(["segment", "--model", str(tiny_model), "--device", "cpu", "--out", str(tmp_path / "o"),
               str(imgs / "eye0.png")])
    assert rc == 0 and (tmp_path / "o" / "eye0.png").is_file()
    import torch

    if not torch.cuda.is_available():  # a GPU asked for where there is none: one clear line, nothing written
        rc = main(["segment", "--model", str(tiny_model), "--device", "cuda", "--out", str(tmp_path / "g"),
                   str(imgs / "eye0.png")])
        assert rc != 0 and "no CUDA GPU" in capsys.readouterr().err
        assert not (tmp_path / "g" / "eye0.png").exists()


def test_segment_warns_when_the_guard_flagged_the_round(tmp_path, folders, tiny_model, capsys):
    """A round whose pseudo-labels the label-free guard flags as collapsed is still used (a person
    may want it), but ``segment`` says so on stderr, naming the round; an unflagged round is silent."""
    import shutil

    store = pytest.importorskip("vessel_studio.store")
    from vessel_studio.store.manifest import RoundRecord

    imgs, _, _ = folders
    project = store.Project.create(tmp_path / "proj", modality="fundus")
    for index, vf in ((0, 0.12), (1, 0.01)):  # round 1 marks a twelfth of what the source did: collapse
        staged = tmp_path / f"round{index}"
        shutil.copytree(tiny_model, staged / "segmenter")
        metrics = {"vessel_fraction": vf}
        if index == 0:
            metrics["source_vessel_fraction"] = 0.12
        project.commit_round(staged, RoundRecord(index=index, folder="", stage="lsm", metrics=metrics))
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["segment", "--model", str(project.folder), "--out", str(out), str(imgs / "eye0.png")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "round 1: collapse" in err and "--round N" in err
    assert main(["segment", "--model", str(project.folder), "--round", "0", "--out", str(out),
                 str(imgs / "eye0.png")]) == 0
    assert "warning:" not in capsys.readouterr().err


def test_segment_mirror_option(tmp_path, folders, tiny_model):
    imgs, _, fovs = folders
    seg = Segmenter.load(tiny_model)
    image, _ = read_image(imgs / "eye0.png")
    fov = read_mask(fovs / "eye0_mask.png", shape=image.shape)
    probs = {}
    for flag in ([], ["--mirror"]):
        out = tmp_path / ("mirror" if flag else "plain")
        assert main(["segment", "--model", str(tiny_model), "--out", str(out), "--save-prob", "--fov-dir",
                     str(fovs), *flag, str(imgs / "eye0.png")]) == 0
        probs[bool(flag)], _ = read_image(out / "eye0_prob.tif")
    np.testing.assert_allclose(probs[False], seg.predict(image, fov=fov).prob, atol=1e-6)
    np.testing.assert_allclose(probs[True], seg.predict(image, fov=fov, mirror=True).prob, atol=1e-6)
    assert np.abs(probs[True] - probs[False]).max() > 1e-4


def test_segment_calibrate_fits_the_boundary_to_the_projects_corrections(tmp_path, folders, tiny_model, capsys):
    """``--calibrate``: the masks' threshold and thinning fitted to the project's corrected masks."""
    imgs, _, _ = folders
    project = _project_with_round(tmp_path, tiny_model)
    out = tmp_path / "out"
    args = ["segment", "--model", str(project.folder), "--calibrate", "--out", str(out), str(imgs / "eye0.png")]
    assert main(args) == 2 and "no corrected masks" in capsys.readouterr().err  # nothing to fit on yet
    assert main(["segment", "--model", str(tiny_model), "--calibrate", "--out", str(out), str(imgs / "eye0.png")]) == 2
    assert "needs a project folder" in capsys.readouterr().err

    rec = project.add_images([imgs / "eye1.png"])[0]
    seg = Segmenter.load(tiny_model)
    prob = seg.predict(read_image(imgs / "eye1.png")[0]).prob
    project.save_correction(rec.id, prob >= np.quantile(prob, 0.9))  # a person marked the top tenth as vessel
    assert main(args + ["--threshold", "0.3"]) == 2 and "leave out --threshold" in capsys.readouterr().err
    assert main(args) == 0
    cal = json.loads((out / "calibration.json").read_text())
    assert cal["images"] == 1 and cal["dice_fitted"] >= cal["dice_plain"]
    assert "calibrated on 1 corrected image(s)" in capsys.readouterr().out
    from vessel_studio.calibration import BoundaryCalibration

    expected = BoundaryCalibration.from_dict({k: cal[k] for k in ("threshold", "thin", "images", "dice_plain",
                                                                  "dice_fitted")})
    pred = seg.predict(read_image(imgs / "eye0.png")[0])
    written = read_mask(out / "eye0.png")
    np.testing.assert_array_equal(written, expected.apply(pred.prob, pred.fov))
    assert (cal["threshold"], cal["thin"]) != (0.5, 0) and (written != pred.mask).any()  # not the plain masks


def test_segment_into_the_input_folder_never_replaces_an_input(tmp_path, folders, tiny_model, capsys):
    """``--out`` = the images' folder: ``<stem>.png`` would be the photograph itself; it is skipped
    with an error instead of being replaced by its mask."""
    imgs, _, _ = folders
    before = (imgs / "eye0.png").read_bytes()
    rc = main(["segment", "--model", str(tiny_model), "--out", str(imgs), str(imgs / "eye0.png")])
    assert rc == 2  # refused before any work: its only image's mask would be the input (nothing to segment)
    assert "eye0.png" in capsys.readouterr().err
    assert (imgs / "eye0.png").read_bytes() == before
    rc = main(["segment", "--model", str(tiny_model), "--out", str(imgs), "--overwrite", str(imgs / "eye0.png")])
    assert rc == 2  # --overwrite: still never the input itself; its only image skipped: nothing to segment
    assert f"its output would overwrite the input image {imgs / 'eye0.png'}" in capsys.readouterr().err
    assert (imgs / "eye0.png").read_bytes() == before
    # a TIFF input beside it: its mask <stem>.png is a new file and is written
    write_image(imgs / "eye2.tif", read_image(imgs / "eye1.png")[0])
    assert main(["segment", "--model", str(tiny_model), "--out", str(imgs), str(imgs / "eye2.tif")]) == 0
    assert (imgs / "eye2.png").is_file()


def test_segment_out_that_is_a_file_is_a_clear_error(tmp_path, folders, tiny_model, capsys):
    imgs, _, _ = folders
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out in (afile, afile / "sub"):
        rc = main(["segment", "--model", str(tiny_model), "--out", str(out), str(imgs / "eye0.png")])
        err = capsys.readouterr().err
        assert rc == 2 and "afile" in err and "Traceback" not in err
    assert afile.read_text() == "keep me"


def test_segment_out_under_a_file_is_named_before_the_model_loads(tmp_path, folders, tiny_model, capsys, monkeypatch):
    """Session 32 QA: ``--out FILE/sub`` loaded the model and failed at mkdir with a bare
    '[Errno 20] Not a directory: FILE/sub'; now the file is named before any work."""
    imgs, _, _ = folders
    afile = tmp_path / "afile"
    afile.write_text("keep me")

    def no_load(*args, **kw):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Segmenter, "load", no_load)
    rc = main(["segment", "--model", str(tiny_model), "--out", str(afile / "sub"), str(imgs / "eye0.png")])
    assert rc == 2
    assert capsys.readouterr().err == (f"vessel-studio segment: error: {afile}: is a file, so {afile / 'sub'} "
                                       "cannot be created there (nothing was changed)\n")
    assert afile.read_text() == "keep me"


def test_segment_out_that_is_a_dangling_link_is_named_before_the_model_loads(tmp_path, folders, tiny_model, capsys,
                                                                            monkeypatch):
    """Session 32 QA: ``--out LINK`` to a folder that no longer exists loaded the model and failed at mkdir with
    a bare '[Errno 17] File exists: LINK'."""
    imgs, _, _ = folders
    link = tmp_path / "masks"
    link.symlink_to(tmp_path / "gone")

    def no_load(*args, **kw):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Segmenter, "load", no_load)
    rc = main(["segment", "--model", str(tiny_model), "--out", str(link), str(imgs / "eye0.png")])
    assert rc == 2
    assert capsys.readouterr().err == (f"vessel-studio segment: error: {link}: --out is a link to {tmp_path / 'gone'}, "
                                       "which does not exist; choose another --out (nothing was changed)\n")
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def test_segment_names_an_empty_fov_mask(tmp_path, folders, tiny_model, capsys):
    """Session 32 QA: an all-black FOV mask in --fov-dir failed its image with 'prepare: the FOV mask is
    empty', naming no FOV file."""
    imgs, _, fovs = folders
    write_mask(fovs / "eye0_mask.png", np.zeros(read_image(imgs / "eye0.png")[0].shape[:2], bool))
    out = tmp_path / "out"
    rc = main(["segment", "--model", str(tiny_model), "--out", str(out), "--fov-dir", str(fovs), str(imgs)])
    assert rc == 1
    err = capsys.readouterr().err
    assert f"error: {imgs / 'eye0.png'}: its FOV mask {fovs / 'eye0_mask.png'} is empty (no pixel > 0)\n" in err
    assert sorted(p.name for p in out.iterdir()) == ["eye1.png", "segment.json"]


def test_segment_threshold_must_be_a_probability(tmp_path, folders, tiny_model, capsys):
    imgs, _, _ = folders
    for bad in ("nan", "1.5", "-0.1", "inf", "high"):
        with pytest.raises(SystemExit) as exc:
            main(["segment", "--model", str(tiny_model), "--threshold", bad, "--out", str(tmp_path / "o"),
                  str(imgs / "eye0.png")])
        assert exc.value.code == 2 and "--threshold" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    # the same for a model folder whose config.json carries a bad threshold: an error naming the folder
    cfg = json.loads((tiny_model / "config.json").read_text())
    for bad in ("high", float("nan"), 3):
        (tiny_model / "config.json").write_text(json.dumps({**cfg, "threshold": bad}))
        rc = main(["segment", "--model", str(tiny_model), "--out", str(tmp_path / "o"), str(imgs / "eye0.png")])
        err = capsys.readouterr().err
        assert rc == 2 and str(tiny_model) in err and "threshold" in err


def test_segment_refuses_the_input_folder_as_out(tmp_path, folders, tiny_model, capsys):
    """Session 28 QA: ``segment --out scans scans`` wrote the masks (and ``_prob.tif``) among the scans, and
    the next run on the folder segmented them too (``eye_prob_prob.tif``); the folder as both is refused
    before any work (files of it given one by one keep the rule above)."""
    imgs, _, _ = folders
    write_image(imgs / "eye2.tif", read_image(imgs / "eye1.png")[0])
    before = sorted(p.name for p in imgs.iterdir())
    rc = main(["segment", "--model", str(tiny_model), "--save-prob", "--out", str(imgs), str(imgs)])
    assert rc == 2
    assert f"{imgs}: --out is the input folder" in capsys.readouterr().err
    assert sorted(p.name for p in imgs.iterdir()) == before
    # the same folder by another spelling
    rc = main(["segment", "--model", str(tiny_model), "--out", str(imgs / ".." / imgs.name), str(imgs)])
    assert rc == 2 and "--out is the input folder" in capsys.readouterr().err
    assert sorted(p.name for p in imgs.iterdir()) == before


def test_nothing_to_segment_is_one_error_and_makes_no_folder(tmp_path, tiny_model, capsys):
    """Session 28 QA: an empty input folder left an empty --out folder behind ("segmented 0 image(s)")."""
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), str(empty), str(tmp_path / "gone.png")]) == 2
    err = capsys.readouterr().err
    assert "nothing to segment" in err and "folder holds no image files" in err and "gone.png" in err
    assert not out.exists()
    # session 43: a folder of patients' folders names those holding images
    write_image(empty / "patient-1" / "scan.png", np.zeros((32, 32), np.uint8))
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), str(empty)]) == 2
    assert ("folder holds no image files at its top level (subfolders are not searched; 1 of its subfolders hold "
            "images: patient-1/; give those folders instead)") in capsys.readouterr().err
    assert not out.exists()


def test_segment_errors_start_their_own_line_under_the_progress_bar(tmp_path, folders, tiny_model, capsys):
    # session 29 QA: an unreadable image's error was printed after the progress bar on its line
    # ("segment:  33%|███▎      | 1/3 [00:00<00:01,  1.29image/s]error: bad/notes.png: cannot read ...")
    import re

    imgs, _, _ = folders
    (imgs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)  # truncated
    rc = main(["segment", "--model", str(tiny_model), "--out", str(tmp_path / "out"), str(imgs)])
    err = capsys.readouterr().err
    assert rc == 1 and "broken.png" in err
    lines = [line for line in re.split(r"[\r\n]", err) if "error:" in line]
    assert lines and all(line.startswith("error: ") for line in lines), lines


def test_the_record_names_only_what_was_written(tmp_path, folders, tiny_model, capsys):
    """Session 50: an image that failed (here unreadable) wrote nothing, yet its mask's name stayed in
    ``segment.json`` (the record is written before the first output, with every name the run meant to write); a lab's
    own file of that name put into --out afterwards was then replaced by the next run without a word. The record is
    narrowed to the files written at the run's end; the next run refuses the lab's file."""
    imgs, _, _ = folders
    (imgs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)  # truncated
    out = tmp_path / "out"
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), "--save-prob", str(imgs)]) == 1
    written = sorted(p.name for p in out.iterdir() if p.name != "segment.json")
    assert "broken.png" not in written and written
    assert json.loads((out / "segment.json").read_text())["files"] == written
    (out / "broken.png").write_bytes(b"the lab's own label")
    capsys.readouterr()
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), str(imgs)]) == 2
    assert "no segment run wrote there: broken.png" in capsys.readouterr().err
    assert (out / "broken.png").read_bytes() == b"the lab's own label"


def test_files_no_segment_run_wrote_are_replaced_only_with_overwrite(tmp_path, folders, tiny_model, capsys, monkeypatch):
    """Session 32 QA: ``segment --out lab/labels lab/images`` replaced the lab's own label ``labels/eye1.png`` with
    the prediction, exit 0. A file of an output's name that no segment run wrote into --out now stops the run
    before the model loads, naming it; a run's own files (its record) are replaced by the next run; ``--overwrite``
    replaces the others too."""
    imgs, _, _ = folders
    out = tmp_path / "lab-labels"
    out.mkdir()
    label = np.zeros(read_image(imgs / "eye1.png")[0].shape[:2], bool)
    label[10:20, 10:20] = True
    write_mask(out / "eye1.png", label)
    write_mask(out / "other.png", label)  # a file of no output's name: stays, not asked about
    before = (out / "eye1.png").read_bytes()
    real_load = Segmenter.load

    def no_load(*args, **kw):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Segmenter, "load", no_load)
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), str(imgs)]) == 2
    err = capsys.readouterr().err
    assert err == (f"vessel-studio segment: error: {out}: holds 1 file(s) that this run would replace and that no "
                   "segment run wrote there: eye1.png (nothing was written). Choose another --out, or add --overwrite "
                   "to replace them\n")
    assert (out / "eye1.png").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["eye1.png",
                                                                                                   "other.png"]
    monkeypatch.setattr(Segmenter, "load", real_load)
    fresh = tmp_path / "fresh"
    for _ in range(2):  # its own files: the second run replaces them without asking
        assert main(["segment", "--model", str(tiny_model), "--out", str(fresh), "--save-prob", str(imgs)]) == 0
    assert json.loads((fresh / "segment.json").read_text())["files"] == [
        "eye0.png", "eye0_prob.tif", "eye1.png", "eye1_prob.tif"]
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), "--overwrite", str(imgs)]) == 0
    assert (out / "eye1.png").read_bytes() != before and (out / "other.png").is_file()
    (out / "segment.json").write_text("{not json")
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), str(imgs)]) == 2
    assert "unreadable record of the files segment wrote here" in capsys.readouterr().err
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), "--overwrite", str(imgs)]) == 0
    assert json.loads((out / "segment.json").read_text())["files"] == ["eye0.png", "eye1.png"]


def test_segment_records_the_scans_pixel_spacing_in_its_outputs(tmp_path, folders, tiny_model):
    """Session 42: a scan's pixel spacing (here a TIFF's resolution) is recorded in the mask and the map ``segment``
    writes (they had none); a scan without one gives files without one."""
    imgs, _, _ = folders
    import tifffile

    image, _ = read_image(imgs / "eye0.png")
    (tmp_path / "scan").mkdir()  # 1000 / 1.2 px per cm: 0.012 mm per pixel
    tifffile.imwrite(tmp_path / "scan" / "cal.tif", image, photometric="rgb", resolution=(1000 / 1.2, 1000 / 1.2),
                     resolutionunit="CENTIMETER")
    out = tmp_path / "out"
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), "--save-prob",
                 str(tmp_path / "scan" / "cal.tif"), str(imgs / "eye1.png")]) == 0
    assert read_image(out / "cal.png")[1].pixel_spacing_mm == pytest.approx((0.012, 0.012), rel=1e-5)
    assert read_image(out / "cal_prob.tif")[1].pixel_spacing_mm == pytest.approx((0.012, 0.012))
    assert read_image(out / "eye1.png")[1].pixel_spacing_mm is None
    assert read_image(out / "eye1_prob.tif")[1].pixel_spacing_mm is None


def test_segment_records_the_spacing_given_with_the_files(tmp_path, folders, tiny_model, capsys):
    """Session 47: ``--spacing`` for scans whose files record none (OCTA-500's PNGs); it wins over a file's own, and
    the masks are the same as without it (segmentation does not use it); a bad value is refused before any work."""
    imgs, _, _ = folders
    plain, spaced = tmp_path / "plain", tmp_path / "spaced"
    assert main(["segment", "--model", str(tiny_model), "--out", str(plain), str(imgs / "eye1.png")]) == 0
    assert main(["segment", "--model", str(tiny_model), "--out", str(spaced), "--save-prob", "--spacing", "3/304",
                 str(imgs / "eye1.png")]) == 0
    assert read_image(spaced / "eye1.png")[1].pixel_spacing_mm == pytest.approx((3 / 304, 3 / 304), rel=1e-4)
    assert read_image(spaced / "eye1_prob.tif")[1].pixel_spacing_mm == pytest.approx((3 / 304, 3 / 304))
    assert np.array_equal(read_image(spaced / "eye1.png")[0], read_image(plain / "eye1.png")[0])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["segment", "--model", str(tiny_model), "--out", str(tmp_path / "bad"), "--spacing", "0",
              str(imgs / "eye1.png")])
    assert "pixel spacing must be a positive number" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_a_segment_killed_mid_write_leaves_no_temporary_file_for_good(tmp_path, folders, tiny_model):
    """A ``kill -9`` of ``segment`` between writing an output's temporary file and renaming it left
    ``.eye0_prob.<random>.tmp.tif`` in --out for good (session 44's kill fuzz): the run after removes the
    temporaries of the files it writes once older than ``STALE_DIR_S`` (a younger one may be another run's live
    write), and nothing else."""
    import os
    import subprocess
    import sys
    import time

    from vessel_studio.io.atomic import STALE_DIR_S

    imgs, _, _ = folders
    out = tmp_path / "out"
    code = ("import os, signal, sys\n"
            "import vessel_studio.io.atomic as atomic\n"
            "replace = os.replace\n"
            "def killed(src, dst):\n"
            "    if str(dst).endswith('eye0_prob.tif'):\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "    replace(src, dst)\n"
            "atomic.os = type(sys)('os'); atomic.os.__dict__.update(os.__dict__); atomic.os.replace = killed\n"
            "from vessel_studio.cli import main\n"
            "main(sys.argv[1:])\n")
    args = ["segment", "--model", str(tiny_model), "--out", str(out), "--save-prob", "--threads", "1", str(imgs)]
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert r.returncode == -9, r.stderr[-2000:]
    left = [p for p in out.iterdir() if p.name.startswith(".")]
    assert [p.name.split(".")[1] for p in left] == ["eye0_prob"] and (out / "eye0.png").is_file()
    other = out / ".notes.abcdefgh.tmp.png"  # not a temporary of a file segment writes: left alone
    other.write_bytes(b"x")
    assert main(args) == 0
    assert left[0].exists()  # young: may be another run's live write
    old = time.time() - STALE_DIR_S - 1
    for p in (*left, other):
        os.utime(p, (old, old))
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == [".notes.abcdefgh.tmp.png", "eye0.png", "eye0_prob.tif",
                                                     "eye1.png", "eye1_prob.tif", "segment.json"]


def test_names_that_are_one_file_on_a_case_insensitive_disk_or_a_macs_are_skipped(tmp_path, folders, tiny_model,
                                                                                   capsys):
    """Session 50: ``UPPER.png`` and ``upper.png`` (or "Müller" composed and decomposed, as a Mac's copy makes) were
    written as two masks, which on a case-insensitive disk (macOS, Windows, exFAT) are one file: the second replaced
    the first, silently, exit 0, and the record listed both. The second is skipped with an error naming both (as
    exact twins were), whatever the disk (a folder of both, copied onto such a disk, would lose one); nothing of it
    is written or recorded."""
    import unicodedata

    imgs, _, _ = folders
    image = read_image(imgs / "eye0.png")[0]
    src = tmp_path / "twins"
    composed, decomposed = unicodedata.normalize("NFC", "Müller"), unicodedata.normalize("NFD", "Müller")
    for name in ("UPPER.png", "upper.png", f"{composed}.png", f"{decomposed}.png", "same.png", "same.tif"):
        write_image(src / name, image)
    out = tmp_path / "out"
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), "--save-prob", str(src)]) == 1
    printed, err = capsys.readouterr()
    assert printed.endswith(f"segmented 3 image(s) into {out}; 3 failed\n")
    # sorted by name: UPPER before upper, the decomposed "u" + accent before the composed "ü", same.png before .tif
    kept = ["UPPER", decomposed, "same"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["segment.json", *(f"{k}{end}" for k in kept for end in (".png", "_prob.tif"))])
    assert json.loads((out / "segment.json").read_text())["files"] == sorted(
        f"{k}{end}" for k in kept for end in (".png", "_prob.tif"))
    assert (f"error: {src / 'upper.png'}: same name as {src / 'UPPER.png'} but for upper and lower case (one file on "
            "a disk that ignores case: macOS, Windows, exFAT, most network shares): its outputs would overwrite that "
            "image's, skipped") in err
    assert (f"error: {src / f'{composed}.png'}: same name as {src / f'{decomposed}.png'}, its letters written "
            "otherwise (a composed and a decomposed accent, as a Mac's copy makes; one file on a Mac's disk)") in err
    assert f"error: {src / 'same.tif'}: same name as {src / 'same.png'}: its outputs would overwrite" in err


def test_a_file_of_an_outputs_name_on_a_case_insensitive_disk_is_known_by_its_own_name(tmp_path, folders, tiny_model,
                                                                                       capsys):
    """Session 50: on a case-insensitive disk ``OUT/eye1.png`` is the lab's own ``Eye1.png`` there; an earlier run's
    record of writing ``eye1.png`` let the next run replace it without the refusal. The file is known by its name(s)
    on the disk. Such a disk is played here by a hard link: ``eye1.png`` opens the lab's ``Eye1.png``."""
    import os

    imgs, _, _ = folders
    out = tmp_path / "out"
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), str(imgs / "eye1.png")]) == 0
    (out / "eye1.png").unlink()  # the lab's own label put in its place, of another case
    label = np.zeros(read_image(imgs / "eye1.png")[0].shape[:2], bool)
    write_mask(out / "Eye1.png", label)
    os.link(out / "Eye1.png", out / "eye1.png")
    before = (out / "Eye1.png").read_bytes()
    assert main(["segment", "--model", str(tiny_model), "--out", str(out), str(imgs / "eye1.png")]) == 2
    assert ("holds 1 file(s) that this run would replace and that no segment run wrote there: Eye1.png (nothing was "
            "written)") in capsys.readouterr().err
    assert (out / "eye1.png").read_bytes() == before and os.path.samefile(out / "eye1.png", out / "Eye1.png")


def test_an_image_with_an_output_name_too_long_for_the_disk_is_skipped_before_any_work(tmp_path, folders, tiny_model,
                                                                                      capsys):
    """Session 50: a stem of 248 bytes gives ``<stem>.png`` of 252, which ext4 takes, and ``<stem>_prob.tif`` of 257,
    which it does not: with --save-prob the mask was written, the map failed, and the image, counted failed, left its
    mask in --out and in the record; into an --out that existed the run stopped with a traceback (``File name too
    long`` from the check of the files it would replace). Every output name is checked first: the image is skipped
    with an error naming it, the name and by how much it is too long; nothing of it is written; the others go on."""
    from vessel_studio.io.folders import longest_name

    imgs, _, _ = folders
    limit = longest_name(tmp_path)
    stem = "v" * (limit - len("_prob.tif") + 2)  # <stem>.png fits, <stem>_prob.tif is 2 bytes too long
    src = tmp_path / "long"
    write_image(src / f"{stem}.png", read_image(imgs / "eye0.png")[0])
    write_image(src / "eye1.png", read_image(imgs / "eye1.png")[0])
    for out in (tmp_path / "fresh", tmp_path / "there"):
        if out.name == "there":
            out.mkdir()
        assert main(["segment", "--model", str(tiny_model), "--out", str(out), "--save-prob", str(src)]) == 1
        printed, err = capsys.readouterr()
        assert (f"error: {src / f'{stem}.png'}: its output's name {stem}_prob.tif is {limit + 2} bytes long, 2 more "
                f"than {out}'s disk takes ({limit}); give the image a shorter name, skipped") in err
        assert printed.endswith(f"segmented 1 image(s) into {out}; 1 failed\n")
        assert sorted(p.name for p in out.iterdir()) == ["eye1.png", "eye1_prob.tif", "segment.json"]
        assert json.loads((out / "segment.json").read_text())["files"] == ["eye1.png", "eye1_prob.tif"]
    only = tmp_path / "only"  # every image skipped: nothing to segment, no --out made
    assert main(["segment", "--model", str(tiny_model), "--out", str(only), "--save-prob", str(src / f"{stem}.png")]) == 2
    assert "nothing to segment (nothing was written): " in capsys.readouterr().err and not only.exists()
    # without --save-prob its mask's name fits: written
    assert main(["segment", "--model", str(tiny_model), "--out", str(tmp_path / "masks"), str(src)]) == 0
    assert (tmp_path / "masks" / f"{stem}.png").is_file()
