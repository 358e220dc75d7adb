"""``vessel-studio renormalize``: a new model folder whose BatchNorm statistics come from the given
images, weights unchanged; clear errors that leave nothing written."""

import json
import re

import numpy as np
import pytest
import torch

from vessel_studio.cli import main
from vessel_studio.io.images import write_image, write_mask
from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
from vessel_studio.preprocess import Preprocessing


@pytest.fixture
def images(tmp_path, synthetic_fundus):
    image, _, fov = synthetic_fundus
    imgs, fovs = tmp_path / "images", tmp_path / "fov"
    for k in range(2):
        write_image(imgs / f"eye{k}.png", np.rot90(image, k).copy())
        write_mask(fovs / f"eye{k}_mask.png", np.rot90(fov, k).copy())
    return imgs, fovs


def _model(tmp_path, norm="batch"):
    torch.manual_seed(0)
    seg = Segmenter.create(SegmenterConfig(channels=(8, 16), norm=norm),
                           Preprocessing.for_modality("fundus", fov_diameter=80))
    return seg.save(tmp_path / f"model-{norm}")


def test_writes_a_renormalised_model(tmp_path, images, capsys):
    imgs, fovs = images
    base = _model(tmp_path)
    out = tmp_path / "renormed"
    rc = main(["renormalize", str(imgs), "--model", str(base), "--out", str(out), "--fov-dir", str(fovs),
               "--batches", "4", "--crop", "16", "--batch-size", "2", "--threads", "1"])
    assert rc == 0
    a, b = Segmenter.load(base), Segmenter.load(out)
    changed = []
    for (k, va), vb in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        if "running_" in k:
            changed.append(not torch.equal(va, vb))
        elif va.is_floating_point():
            assert torch.equal(va, vb), k  # weights unchanged
    assert changed and all(changed)
    rec = json.loads((out / "config.json").read_text())["training"]["batchnorm_statistics"]
    assert rec["images"] == ["eye0.png", "eye1.png"] and rec["batches"] == 4 and rec["base_model"] == str(base)
    assert (out / "README.md").is_file()
    # it segments
    rc = main(["segment", "--model", str(out), "--out", str(tmp_path / "masks"), str(imgs / "eye0.png")])
    assert rc == 0 and (tmp_path / "masks" / "eye0.png").is_file()


def test_modality_switch_sets_the_preprocessing(tmp_path, images):
    imgs, _ = images
    out = tmp_path / "octa-model"
    assert main(["renormalize", str(imgs), "--model", str(_model(tmp_path)), "--modality", "octa",
                 "--out", str(out), "--batches", "2", "--crop", "16", "--threads", "1"]) == 0
    assert Segmenter.load(out).preprocessing.modality == "octa"


def test_errors_are_clear_and_write_nothing(tmp_path, images, capsys):
    imgs, _ = images
    base = _model(tmp_path)
    out = tmp_path / "x"
    (imgs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    assert main(["renormalize", str(imgs), "--model", str(base), "--out", str(out), "--batches", "1"]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "nothing was written" in err and not out.exists()
    (imgs / "broken.png").unlink()
    # an existing model is never overwritten
    assert main(["renormalize", str(imgs), "--model", str(base), "--out", str(base), "--batches", "1"]) == 2
    assert "already holds a model" in capsys.readouterr().err
    # a GroupNorm model has nothing to re-estimate
    assert main(["renormalize", str(imgs), "--model", str(_model(tmp_path, "group")), "--out", str(out),
                 "--batches", "1"]) == 2
    assert "no BatchNorm layers" in capsys.readouterr().err and not out.exists()


def test_segment_modality_option_prepares_for_the_images(tmp_path, images):
    """``segment --modality octa`` with a fundus model equals the model applied with OCT-A's preprocessing."""
    from vessel_studio.io.images import read_image

    imgs, _ = images
    base = _model(tmp_path)
    out = tmp_path / "m"
    assert main(["segment", "--model", str(base), "--modality", "octa", "--save-prob", "--out", str(out),
                 str(imgs / "eye0.png")]) == 0
    seg = Segmenter.load(base)
    seg.preprocessing = Preprocessing.for_modality("octa")
    image, _ = read_image(imgs / "eye0.png")
    prob, _ = read_image(out / "eye0_prob.tif")
    np.testing.assert_allclose(prob, seg.predict(image).prob, atol=1e-6)


def test_out_that_is_a_file_or_a_folder_of_other_files_is_refused(tmp_path, images, capsys):
    imgs, _ = images
    base = _model(tmp_path)
    before = sorted(p.name for p in imgs.iterdir())
    assert main(["renormalize", str(imgs), "--model", str(base), "--out", str(imgs), "--batches", "1"]) == 2
    assert "not this command's output" in capsys.readouterr().err
    assert sorted(p.name for p in imgs.iterdir()) == before
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    assert main(["renormalize", str(imgs), "--model", str(base), "--out", str(f), "--batches", "1"]) == 2
    assert "is a file" in capsys.readouterr().err and f.read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert main(["renormalize", str(imgs), "--model", str(base), "--out", str(tmp_path / "o"), "--crop", "0"]) == 2
    assert "--crop must be >= 8" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_a_crop_larger_than_the_images_is_refused(tmp_path, images, capsys, monkeypatch):
    """The crop sampler zero-pads an image smaller than --crop: statistics of mostly padding. Refused
    naming the smallest image as the model sees it and the crop, before any re-estimation."""
    import vessel_studio.train.segmenter as ts

    imgs, fovs = images
    monkeypatch.setattr(ts, "reestimate_norm_statistics_job", lambda *a, **k: pytest.fail("re-estimated"))
    out = tmp_path / "o"
    assert main(["renormalize", str(imgs), "--model", str(_model(tmp_path)), "--out", str(out),
                 "--fov-dir", str(fovs), "--crop", "512"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the 'read' progress bar
    assert re.fullmatch(
        re.escape(f"vessel-studio renormalize: error: {imgs / 'eye0.png'}: the smallest image is ") + r"\d+×\d+"
        + re.escape(" px after rescaling to a FOV diameter of 80 px, smaller than --crop 512; crops would be mostly "
                    "padding, so choose --crop of at most ") + r"\d+" + re.escape(" (nothing was written)"), err), err
    assert not out.exists()


@pytest.mark.parametrize("with_fovs", [True, False])
def test_the_library_function_gives_the_commands_statistics(tmp_path, images, with_fovs):
    """``train.segmenter.renormalize(seg, raw images, fovs)`` (what a script calls) prepares the images
    as the command does: the same running statistics, value for value."""
    from vessel_studio.io.images import read_image, read_mask
    from vessel_studio.train.segmenter import renormalize

    imgs, fovs = images
    base = _model(tmp_path)
    out = tmp_path / "renormed"
    args = ["renormalize", str(imgs), "--model", str(base), "--out", str(out), "--batches", "3", "--crop", "16",
            "--batch-size", "2", "--threads", "1"]
    assert main(args + (["--fov-dir", str(fovs)] if with_fovs else [])) == 0
    raw = [read_image(imgs / f"eye{k}.png")[0] for k in range(2)]
    masks = [read_mask(fovs / f"eye{k}_mask.png") for k in range(2)] if with_fovs else None
    seg = renormalize(Segmenter.load(base), raw, masks, crop=16, batch_size=2, batches=3)
    cli = Segmenter.load(out).net.state_dict()
    for k, v in seg.net.state_dict().items():
        assert torch.equal(v, cli[k]), k
    assert seg.training["batchnorm_statistics"]["image_count"] == 2


def test_the_library_function_names_the_image_it_cannot_use(tmp_path, images):
    """Session 33 API QA: ``vs.renormalize(seg, [path, ...])`` (paths, not arrays) said "estimate_fov: expected
    H x W or H x W x 3, got shape ()", and an image with a NaN "prepare: image contains NaN or infinite values",
    neither saying which image; the model is left as it was."""
    import numpy as np

    from vessel_studio.io.images import read_image
    from vessel_studio.train.segmenter import renormalize

    imgs, _ = images
    seg = Segmenter.load(_model(tmp_path))
    before = {k: v.clone() for k, v in seg.net.state_dict().items()}
    for path in (imgs / "eye1.png", str(imgs / "eye1.png")):
        with pytest.raises(ValueError, match=r"renormalize: image 1 is the path '.*eye1.png'; give the images as "
                                             r"arrays, as read_image returns them"):
            renormalize(seg, [read_image(imgs / "eye0.png")[0], path], crop=16, batch_size=2, batches=3)
    bad = read_image(imgs / "eye1.png")[0].astype(np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"renormalize: image 1: .*NaN or infinite values \(nothing was changed\)"):
        renormalize(seg, [read_image(imgs / "eye0.png")[0], bad], crop=16, batch_size=2, batches=3)
    # one image, not a list of them: its rows were taken for images (session 33)
    one = read_image(imgs / "eye0.png")[0]
    for image in (one, one[..., 1]):
        with pytest.raises(ValueError, match=r"renormalize: images is one image of shape .*; give a list of images"):
            renormalize(seg, image, crop=16, batch_size=2, batches=3)
    for k, v in seg.net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert "batchnorm_statistics" not in (seg.training or {})


def test_prepared_images_are_required_where_they_are_expected(tmp_path, images):
    """``reestimate_norm_statistics`` takes prepared float arrays: raw uint8 / RGB images (as
    ``read_image`` returns them) used to be taken as they were, statistics of 0..255 pixels."""
    from vessel_studio.io.images import read_image
    from vessel_studio.train.segmenter import reestimate_norm_statistics

    imgs, _ = images
    seg = Segmenter.load(_model(tmp_path))
    before = {k: v.clone() for k, v in seg.net.state_dict().items()}
    raw = read_image(imgs / "eye0.png")[0]
    for bad in (raw, raw[..., 1]):  # RGB uint8, one uint8 channel
        with pytest.raises(ValueError, match="renormalize"):
            reestimate_norm_statistics(seg, [bad], crop=16, batches=1)
    assert all(torch.equal(v, before[k]) for k, v in seg.net.state_dict().items())


def test_every_unreadable_image_is_named_at_once(tmp_path, images, capsys):
    """Session 28 QA: renormalize stopped at the first unreadable input (adding images names them all)."""
    imgs, _ = images
    for name in ("broken.png", "empty.png"):
        (imgs / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10 if name == "broken.png" else b"")
    out = tmp_path / "x"
    assert main(["renormalize", str(imgs), "--model", str(_model(tmp_path)), "--out", str(out), "--batches", "1"]) == 2
    err = capsys.readouterr().err
    assert "2 of the 4 images cannot be used" in err and "broken.png" in err and "empty.png" in err
    assert "nothing was written" in err and not out.exists()


def test_a_blank_image_is_refused(tmp_path, images, capsys):
    """Session 32 QA: renormalize on one all-black image wrote a model, its BatchNorm statistics those of a
    constant, without a word. A blank image (one value everywhere) is now an error naming it."""
    imgs, _ = images
    blank = tmp_path / "blank"
    write_image(blank / "black.png", np.zeros((96, 96, 3), np.uint8))
    write_image(blank / "grey.png", np.full((96, 96, 3), (90, 60, 30), np.uint8))  # one colour: blank too
    out = tmp_path / "x"
    assert main(["renormalize", str(blank), "--model", str(_model(tmp_path)), "--out", str(out), "--batches", "1"]) == 2
    err = capsys.readouterr().err
    assert "black.png" in err and "grey.png" in err and "[90, 60, 30]" in err and "blank image" in err
    assert "nothing was written" in err and not out.exists()


def test_the_library_function_refuses_a_blank_image_as_the_command_does(tmp_path, images):
    """The command's blank-image check (session 33) is ``train.segmenter.refuse_blank``, which the library's
    ``renormalize`` calls on each image too: a script's one blank image was re-estimated from without a word."""
    from vessel_studio.io.images import read_image
    from vessel_studio.train.segmenter import renormalize

    imgs, _ = images
    seg = Segmenter.load(_model(tmp_path))
    blank = np.full((96, 96, 3), (90, 60, 30), np.uint8)
    with pytest.raises(ValueError, match=r"renormalize: image 1: every pixel has the value \[90, 60, 30\]: a blank"):
        renormalize(seg, [read_image(imgs / "eye0.png")[0], blank], crop=16, batch_size=2, batches=3)
    assert "batchnorm_statistics" not in (seg.training or {})
