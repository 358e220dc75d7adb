"""A read-only ``--out`` (or ``--json``'s folder) is refused before the work, not after it: session 28's QA
found ``train-segmenter`` training to the end and then failing to save, and ``segment`` segmenting every
image and failing each write, with errors naming hidden temporary files.

The folder is made read-only with ``chmod`` and, since root ignores that (CI and these machines run as
root), ``tempfile``'s file and folder makers refuse it too, as the operating system would."""

import errno
import tempfile
from pathlib import Path

import numpy as np
import pytest

from vessel_studio.cli import main
from vessel_studio.io.images import write_image, write_mask


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    real_mkstemp, real_mkdtemp = tempfile.mkstemp, tempfile.mkdtemp

    def refused(where):
        if where is not None and Path(where).resolve() == folder.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(where))

    def mkstemp(*args, dir=None, **kw):
        refused(dir)
        return real_mkstemp(*args, dir=dir, **kw)

    def mkdtemp(*args, dir=None, **kw):
        refused(dir)
        return real_mkdtemp(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    yield folder
    folder.chmod(0o755)


def write_set(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = tmp_path / "images", tmp_path / "labels"
    for k in range(2):
        write_image(images / f"e{k}.png", rng.integers(0, 255, (48, 48), dtype=np.uint8))
        mask = np.zeros((48, 48), bool)
        mask[:, 20 + k:24 + k] = True
        write_mask(labels / f"e{k}_label.png", mask)
    return images, labels


def test_segment_refuses_a_read_only_out_before_segmenting(tmp_path, read_only, monkeypatch, capsys):
    from vessel_studio.models.segmenter import Segmenter

    images, _ = write_set(tmp_path)

    def predict(*args, **kw):
        raise AssertionError("segmented although --out cannot be written")

    monkeypatch.setattr(Segmenter, "predict", predict)
    assert main(["segment", "--out", str(read_only), "--threads", "1", str(images)]) == 2
    err = capsys.readouterr().err
    assert f"{read_only}: --out cannot be written" in err and "Permission denied" in err
    assert ".tmp" not in err
    assert list(read_only.iterdir()) == []
    # a new --out inside a read-only folder: named with the folder that refused it
    assert main(["segment", "--out", str(read_only / "masks"), "--threads", "1", str(images)]) == 2
    assert f"{read_only / 'masks'}: --out cannot be written (it would be written in {read_only})" in capsys.readouterr().err


def test_train_segmenter_refuses_a_read_only_place_before_training(tmp_path, read_only, monkeypatch, capsys):
    import vessel_studio.train.segmenter as training

    images, labels = write_set(tmp_path)

    def train(*args, **kw):
        raise AssertionError("trained although the model cannot be saved")

    monkeypatch.setattr(training, "train_segmenter", train)
    out = read_only / "model"  # a model folder is built beside --out, then renamed onto it
    rc = main(["train-segmenter", "--images", str(images), "--labels", str(labels), "--preset", "tiny",
               "--steps", "1", "--threads", "1", "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{out}: --out cannot be written (it would be written in {read_only})" in err and ".tmp" not in err
    assert list(read_only.iterdir()) == []


def test_evaluate_refuses_a_read_only_json_folder_before_scoring(tmp_path, read_only, capsys):
    _, labels = write_set(tmp_path)
    pred = tmp_path / "pred"
    for k in range(2):
        write_mask(pred / f"e{k}.png", np.ones((48, 48), bool))
    rc = main(["evaluate", "--pred", str(pred), "--gt", str(labels), "--json", str(read_only / "scores.json")])
    assert rc == 2
    out, err = capsys.readouterr()
    assert "cannot be written" in err and str(read_only) in err and ".tmp" not in err
    assert "pooled" not in out  # nothing scored
    assert main(["evaluate", "--pred", str(pred), "--gt", str(labels), "--json", str(tmp_path)]) == 2
    assert "--json is a folder" in capsys.readouterr().err
