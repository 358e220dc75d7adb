"""``vessel-studio train-segmenter``: --out is never a folder of other things or a file; option values
of 0 are refused, not replaced by the preset's; empty labels are named."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vessel_studio.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_set(root, n=2, size=40, empty=()):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        m = np.abs(np.sin(xx / 4 + i) + np.cos(yy / 6)) < 0.35
        Image.fromarray((60 + 120 * m).astype(np.uint8)).save(root / "images" / f"im{i}.png")
        Image.fromarray((m * 255 * (i not in empty)).astype(np.uint8)).save(root / "labels" / f"im{i}.png")
    return root / "images", root / "labels"


def train(images, labels, out, *extra):
    return main(["train-segmenter", "--images", str(images), "--labels", str(labels), "--modality", "octa",
                 "--preset", "tiny", "--steps", "1", "--threads", "1", "--out", str(out), *extra])


def test_out_holding_other_files_or_a_file_is_refused_before_training(tmp_path, capsys):
    images, labels = write_set(tmp_path)
    before = sorted(p.name for p in labels.iterdir())
    assert train(images, labels, labels) == 2  # a slip: the labels folder as --out
    assert "not a segmenter model" in capsys.readouterr().err
    assert sorted(p.name for p in labels.iterdir()) == before
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    assert train(images, labels, f) == 2
    assert "is a file" in capsys.readouterr().err
    assert f.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "labels", "notes.txt"]
    assert train(images, labels, f / "model") == 2
    # a segmenter model folder (or an empty folder) is replaced
    assert train(images, labels, tmp_path / "m") == 0
    assert train(images, labels, tmp_path / "m") == 0
    (tmp_path / "empty").mkdir()
    assert train(images, labels, tmp_path / "empty") == 0 and (tmp_path / "empty" / "config.json").is_file()


@pytest.mark.parametrize("option", ["--steps", "--batch-size", "--crop"])
def test_zero_is_refused_not_read_as_the_presets_value(tmp_path, capsys, option):
    images, labels = write_set(tmp_path)
    assert train(images, labels, tmp_path / "m", option, "0") == 2
    assert f"{option} must be >=" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_empty_labels_are_named(tmp_path, capsys):
    images, labels = write_set(tmp_path, empty=(1,))
    assert train(images, labels, tmp_path / "m") == 0
    assert f"warning: {labels / 'im1.png'}: label is empty" in capsys.readouterr().err
    (labels / "im0.png").write_bytes((labels / "im1.png").read_bytes())
    assert train(images, labels, tmp_path / "m2") == 2
    assert "every label is empty" in capsys.readouterr().err and not (tmp_path / "m2").exists()


def test_negative_fov_diameter_is_refused(tmp_path, capsys):
    images, labels = write_set(tmp_path)
    assert train(images, labels, tmp_path / "m", "--modality", "fundus", "--fov-diameter", "-5") == 2
    assert "--fov-diameter" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_a_crop_larger_than_an_image_is_refused_before_training(tmp_path, capsys, monkeypatch):
    """As train-generator: a crop that does not fit in the smallest image is refused, naming that image
    (file and size, as the model sees it) and the crop, before any training."""
    import vessel_studio.train.segmenter as ts

    images, labels = write_set(tmp_path, size=40)
    monkeypatch.setattr(ts, "train_segmenter", lambda *a, **k: pytest.fail("trained"))
    assert train(images, labels, tmp_path / "m", "--crop", "48") == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"vessel-studio train-segmenter: error: {images / 'im0.png'}: the smallest training image is "
                   "40×40 px, smaller than --crop 48; crops would be mostly padding, so choose --crop of at most 40 "
                   "(nothing was trained)")
    assert not (tmp_path / "m").exists()
