"""CLI: train-generator, check-inversion, translate on tiny models and tiny files; bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from vessel_studio.cli import main


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_set(root, n=3, size=40, seed=0):
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        m = np.abs(np.sin(xx / 4 + i) + np.cos(yy / 6)) < 0.35
        img = np.clip(60 + 120 * m + rng.normal(0, 8, m.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / "images" / f"im{i}.png")
        Image.fromarray((m * 255).astype(np.uint8)).save(root / "masks" / f"im{i}.png")
    return root / "images", root / "masks"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    images, masks = write_set(root / "data")
    common = ["--modality", "octa", "--preset", "tiny", "--steps", "2", "--crop-size", "16", "--batch-size", "2"]
    assert main(["train-generator", "--images", str(images), "--masks", str(masks), *common,
                 "--out", str(root / "src")]) == 0
    assert main(["train-generator", "--images", str(images), *common, "--out", str(root / "tgt")]) == 0
    return root, images, masks


def test_train_generator_writes_models(models):
    root, _, _ = models
    src = json.loads((root / "src" / "config.json").read_text())
    tgt = json.loads((root / "tgt" / "config.json").read_text())
    assert src["kind"] == "generator" and src["conditioned"] is True and tgt["conditioned"] is False
    assert src["preprocessing"]["modality"] == "octa"
    assert (root / "src" / "model.safetensors").is_file()


def test_check_inversion_prints_psnr(models, capsys):
    root, images, masks = models
    assert main(["check-inversion", "--model", str(root / "src"), "--images", str(images), "--masks", str(masks),
                 "--steps", "20"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 4 and all("PSNR" in line for line in out)
    m = re.fullmatch(r"mean PSNR: (-?[0-9.]+) dB", out[-1])
    assert m and float(m.group(1)) > 15
    assert main(["check-inversion", "--model", str(root / "src"), "--images", str(images), "--masks", str(masks),
                 "--steps", "20", "--size", "16", "--count", "3"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("mean PSNR: ")
    # a conditioned model without --masks runs unconditioned, and says so
    assert main(["check-inversion", "--model", str(root / "src"), "--images", str(images), "--steps", "5"]) == 0
    assert "no --masks" in capsys.readouterr().err


def test_translate_writes_pairs_manifest_and_montage(models, tmp_path):
    root, images, masks = models
    out = tmp_path / "pairs"
    argv = ["translate", "--source-images", str(images), "--source-masks", str(masks), "--source-gen", str(root / "src"),
            "--target-gen", str(root / "tgt"), "--out", str(out), "--count", "5", "--size", "16", "--steps", "20",
            "--montage", str(tmp_path / "m.png"), "--target-images", str(images), "--montage-rows", "3"]
    assert main(argv) == 0
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == [f"{i:06d}.png" for i in range(5)]
    assert sorted(p.name for p in (out / "labels").iterdir()) == names
    man = json.loads((out / "manifest.json").read_text())
    assert man["count"] == 5 and man["t0"] == 0.3 and man["mode"] == "ddpm" and len(man["pairs"]) == 5
    lab = np.asarray(Image.open(out / "labels" / names[0]))
    assert lab.shape == (16, 16) and set(np.unique(lab)) <= {0, 255}
    mont = np.asarray(Image.open(tmp_path / "m.png"))
    assert mont.shape == (3 * 16 + 2 * 2, 5 * 16 + 4 * 2)  # 3 rows x 5 columns
    # same seed -> same images
    again = [tmp_path / "again" if a == str(out) else a for a in argv[:-6]]
    assert main([str(a) for a in again]) == 0
    a = np.asarray(Image.open(out / "images" / names[1]))
    b = np.asarray(Image.open(tmp_path / "again" / "images" / names[1]))
    np.testing.assert_array_equal(a, b)


def test_bad_input_is_reported_and_nothing_written(models, tmp_path, capsys):
    root, images, masks = models
    # mask of the wrong size
    bad = tmp_path / "badmasks"
    bad.mkdir()
    for p in masks.iterdir():
        Image.fromarray(np.zeros((20, 20), np.uint8)).save(bad / p.name)
    out = tmp_path / "o"
    rc = main(["translate", "--source-images", str(images), "--source-masks", str(bad), "--source-gen", str(root / "src"),
               "--target-gen", str(root / "tgt"), "--out", str(out), "--count", "2", "--size", "16"])
    err = capsys.readouterr().err
    assert rc == 2 and "badmasks" in err and not out.exists()
    # an RGB photo where a mask is expected
    rgb = tmp_path / "rgbmasks"
    rgb.mkdir()
    rng = np.random.default_rng(0)
    for p in masks.iterdir():
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(rgb / p.name)
    rc = main(["train-generator", "--images", str(images), "--masks", str(rgb), "--modality", "octa", "--preset", "tiny",
               "--out", str(tmp_path / "g")])
    err = capsys.readouterr().err
    assert rc == 2 and "colour image, not a vessel mask" in err and not (tmp_path / "g").exists()
    # an empty folder
    empty = tmp_path / "empty"
    empty.mkdir()
    rc = main(["train-generator", "--images", str(empty), "--modality", "octa", "--preset", "tiny",
               "--out", str(tmp_path / "g")])
    assert rc == 2 and "empty: no image" in capsys.readouterr().err
    # a model folder without config
    rc = main(["check-inversion", "--model", str(empty), "--images", str(images)])
    assert rc == 2 and "no config.json" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train-generator", "--steps", "0"], "--steps must be >= 1"),
    (["train-generator", "--batch-size", "0"], "--batch-size must be >= 1"),
    (["train-generator", "--checkpoint-every", "0"], "--checkpoint-every must be >= 1"),
    (["train-generator", "--threads", "-1"], "--threads must be >= 1"),
    (["train-generator", "--crop-size", "9"], "crop_size must be >= 8 and a multiple of 2"),
    (["translate", "--batch-size", "0"], "--batch-size and --montage-rows must be >= 1"),
    (["translate", "--montage-rows", "0"], "--batch-size and --montage-rows must be >= 1"),
    (["translate", "--vessel-min", "2"], "--vessel-min is a fraction"),
    (["check-inversion", "--batch-size", "0"], "--batch-size must be >= 1"),
    (["check-inversion", "--count", "0"], "--count must be >= 1"),
    (["check-inversion", "--size", "0"], "--size must be >= 8"),
])
def test_bad_option_values_are_clear_errors(models, tmp_path, capsys, argv, message):
    root, images, masks = models
    cmd, opts = argv[0], argv[1:]
    base = {"train-generator": ["--images", str(images), "--masks", str(masks), "--modality", "octa", "--preset",
                                "tiny", "--out", str(tmp_path / "o")],
            "translate": ["--source-images", str(images), "--source-masks", str(masks), "--source-gen",
                          str(root / "src"), "--target-gen", str(root / "tgt"), "--out", str(tmp_path / "o"),
                          "--count", "2", "--size", "16", "--steps", "4", "--montage", str(tmp_path / "m.png")],
            "check-inversion": ["--model", str(root / "src"), "--images", str(images), "--masks", str(masks),
                                "--steps", "4"]}[cmd]
    assert main([cmd, *base, *opts]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_out_holding_other_files_is_refused(models, tmp_path, capsys):
    root, images, masks = models
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "photo.png").write_bytes(b"mine")
    assert main(["train-generator", "--images", str(images), "--modality", "octa", "--preset", "tiny",
                 "--steps", "1", "--out", str(keep)]) == 2
    assert "not a generator model" in capsys.readouterr().err
    assert main(["translate", "--source-images", str(images), "--source-masks", str(masks), "--source-gen",
                 str(root / "src"), "--target-gen", str(root / "tgt"), "--out", str(keep), "--count", "1",
                 "--size", "16", "--steps", "4"]) == 2
    assert "not this command's output" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"] and (keep / "photo.png").read_bytes() == b"mine"


def test_translate_refuses_masks_without_vessels(models, tmp_path, capsys):
    root, images, masks = models
    empty = tmp_path / "empty-masks"
    empty.mkdir()
    for p in masks.iterdir():
        Image.fromarray(np.zeros((40, 40), np.uint8)).save(empty / p.name)
    assert main(["translate", "--source-images", str(images), "--source-masks", str(empty), "--source-gen",
                 str(root / "src"), "--target-gen", str(root / "tgt"), "--out", str(tmp_path / "o"), "--count", "1",
                 "--size", "16", "--steps", "4"]) == 2
    assert "every mask is empty" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_a_crop_larger_than_an_image_is_refused_before_training(tmp_path, capsys, monkeypatch):
    """train-generator: a crop that does not fit in the smallest image would train mostly on padding;
    refused naming that image (file and size) and the crop, before any training (as train-segmenter)."""
    import vessel_studio.train.generator as tg

    images, masks = write_set(tmp_path / "data", n=2, size=40)
    yy, xx = np.mgrid[0:24, 0:36]
    m = np.abs(np.sin(xx / 4) + np.cos(yy / 6)) < 0.35
    Image.fromarray((60 + 120 * m).astype(np.uint8)).save(images / "small.png")
    Image.fromarray((m * 255).astype(np.uint8)).save(masks / "small.png")
    monkeypatch.setattr(tg, "train_generator", lambda *a, **k: pytest.fail("trained"))
    base = ["train-generator", "--images", str(images), "--masks", str(masks), "--modality", "octa", "--preset", "tiny",
            "--steps", "1", "--out", str(tmp_path / "g")]
    assert main([*base, "--crop-size", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"vessel-studio train-generator: error: {images / 'small.png'}: the smallest training image is "
                   "24×36 px, smaller than --crop-size 32; crops would be mostly padding, so choose --crop-size of "
                   "at most 24 (nothing was trained)")
    assert main(base) == 2  # the tiny preset's crop is 32 px too
    assert "the tiny preset's crop of 32 px" in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_translate_refuses_a_size_larger_than_an_image(models, tmp_path, capsys, monkeypatch):
    """translate --size and check-inversion --size cut crops that the sampler zero-pads when an image
    is smaller: synthetic pairs (or a PSNR) mostly of padding. Refused naming the smallest image
    (file and size) and the size, before any inversion (train-generator's rule)."""
    import vessel_studio.adaptation.synthesis as synthesis

    root, images, masks = models
    monkeypatch.setattr(synthesis, "translate", lambda *a, **k: pytest.fail("translated"))
    out = tmp_path / "pairs"
    assert main(["translate", "--source-images", str(images), "--source-masks", str(masks), "--source-gen",
                 str(root / "src"), "--target-gen", str(root / "tgt"), "--out", str(out), "--count", "1",
                 "--size", "48", "--steps", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"vessel-studio translate: error: {images / 'im0.png'}: the smallest source image is 40×40 px, "
                   "smaller than --size 48; crops would be mostly padding, so choose --size of at most 40 "
                   "(nothing was written)")
    assert not out.exists()


def test_translate_refuses_target_images_smaller_than_the_size(models, tmp_path, capsys, monkeypatch):
    """--target-images (the montage's real target crops) are cut at --size too: a smaller target image
    was zero-padded without a word. Refused naming it (file and size) and the size, before any
    inversion; without --montage the folder is not read (no column to fill)."""
    import vessel_studio.adaptation.synthesis as synthesis

    root, images, masks = models
    target = tmp_path / "target"
    target.mkdir()
    rng = np.random.default_rng(3)
    for name, shape in (("big.png", (40, 40)), ("small.png", (30, 44))):
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(target / name)
    monkeypatch.setattr(synthesis, "translate", lambda *a, **k: pytest.fail("translated"))
    out = tmp_path / "pairs"
    base = ["translate", "--source-images", str(images), "--source-masks", str(masks), "--source-gen",
            str(root / "src"), "--target-gen", str(root / "tgt"), "--out", str(out), "--count", "1", "--steps", "4",
            "--target-images", str(target)]
    assert main([*base, "--size", "32", "--montage", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"vessel-studio translate: error: {target / 'small.png'}: the smallest target image is 30×44 px, "
                   "smaller than --size 32; crops would be mostly padding, so choose --size of at most 30 "
                   "(nothing was written)")
    assert not out.exists() and not (tmp_path / "m.png").exists()
    with pytest.raises(pytest.fail.Exception, match="translated"):  # no montage: past the checks
        main([*base, "--size", "32"])


def test_check_inversion_refuses_a_size_larger_than_an_image(models, capsys, monkeypatch):
    import vessel_studio.adaptation.inversion as inversion

    root, images, masks = models
    monkeypatch.setattr(inversion, "reconstruct", lambda *a, **k: pytest.fail("inverted"))
    assert main(["check-inversion", "--model", str(root / "src"), "--images", str(images), "--masks", str(masks),
                 "--steps", "4", "--size", "48"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"vessel-studio check-inversion: error: {images / 'im0.png'}: the smallest image is 40×40 px, "
                   "smaller than --size 48; crops would be mostly padding, so choose --size of at most 40 "
                   "(nothing was inverted)")


@pytest.mark.parametrize("command", ["check-inversion", "translate"])
def test_inversion_commands_take_the_gpu_when_there_is_one(models, tmp_path, capsys, monkeypatch, command):
    """check-inversion and translate without --device chose the device as segment, train-* and adapt do
    (``device.pick_device``: a CUDA GPU when there is one, ``VESSEL_STUDIO_DEVICE``); before session 47 they left the
    models on the CPU even on a GPU machine. A CUDA device asked for on a machine without one is a clear error before
    any model is read."""
    from vessel_studio import device as device_mod
    from vessel_studio.models import generator as generator_mod

    root, images, masks = models
    argv = {"check-inversion": ["check-inversion", "--model", str(root / "src"), "--images", str(images), "--masks",
                                str(masks), "--steps", "2", "--count", "1"],
            "translate": ["translate", "--source-images", str(images), "--source-masks", str(masks), "--source-gen",
                          str(root / "src"), "--target-gen", str(root / "tgt"), "--out", str(tmp_path / "out"),
                          "--count", "2", "--size", "16", "--steps", "2"]}[command]
    asked, loaded = [], []
    real_pick, real_load = device_mod.pick_device, generator_mod.Generator.load.__func__
    monkeypatch.setattr(device_mod, "pick_device", lambda requested=None: asked.append(requested) or real_pick("cpu"))
    monkeypatch.setattr(generator_mod.Generator, "load", classmethod(
        lambda cls, path, *, device=None: loaded.append(device) or real_load(cls, path, device=device)))
    assert main(argv) == 0
    assert asked == [None]  # the default: pick_device decides (here: the CPU, this machine has no GPU)
    assert loaded and all(d == torch.device("cpu") for d in loaded)
    monkeypatch.setattr(device_mod, "pick_device", real_pick)
    if not torch.cuda.is_available():
        loaded.clear()
        assert main(argv + ["--device", "cuda"]) == 2
        assert "no CUDA GPU is available" in capsys.readouterr().err
        assert loaded == []  # said before any model was read


def test_cond_dropout_given_with_init_is_taken(models, tmp_path):
    """Fine-tuning (``--init``) takes the model's settings from the generator it starts from; ``--cond-dropout`` given
    beside it was dropped without a word before session 47 (the fine-tuned model recorded the start's 0.2). It wins
    now; without it the start's is kept."""
    root, images, masks = models
    common = ["--images", str(images), "--masks", str(masks), "--modality", "octa", "--preset", "tiny", "--steps", "1",
              "--crop-size", "16", "--batch-size", "2", "--init", str(root / "src")]
    assert main(["train-generator", *common, "--cond-dropout", "0", "--out", str(tmp_path / "ft0")]) == 0
    assert main(["train-generator", *common, "--out", str(tmp_path / "ft")]) == 0
    start = json.loads((root / "src" / "config.json").read_text())["architecture"]["cond_dropout"]
    assert start == 0.2
    assert json.loads((tmp_path / "ft0" / "config.json").read_text())["architecture"]["cond_dropout"] == 0.0
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["architecture"]["cond_dropout"] == start
