"""``training/train_fundus_generator.py`` and ``training/train_fundus_segmenter.py``: bad options said in one
line naming the option, before any data are read or any step trained (session 34 QA: ``--steps 0`` was the
preset's steps, ``--threads 0`` a RuntimeError traceback, and a file as ``--out`` failed after the training)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

TRAINING = Path(__file__).resolve().parents[2] / "training"


def _run(monkeypatch, script: str, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", [str(TRAINING / script), *args])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(TRAINING / script), run_name="__main__")
    return exc.value.code


@pytest.mark.parametrize("script, extra, says", [
    ("train_fundus_generator.py", ["--steps", "0"], "--steps must be >= 1, got 0"),
    ("train_fundus_generator.py", ["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    ("train_fundus_generator.py", ["--out", "{file}"], "--out is a file, not a folder"),
    ("train_fundus_segmenter.py", ["--threads", "0"], "--threads must be >= 1, got 0"),
    ("train_fundus_segmenter.py", ["--steps", "0"], "--steps must be >= 1, got 0"),
    ("train_fundus_segmenter.py", ["--out", "{file}"], "--out is a file, not a folder"),
    ("train_fundus_segmenter.py", ["--scores", "{folder}"], "--scores is a folder"),
])
def test_bad_options_are_said_before_any_work(tmp_path, monkeypatch, capsys, script, extra, says):
    (tmp_path / "a-file").write_text("not a model")
    extra = [a.format(file=tmp_path / "a-file", folder=tmp_path) for a in extra]
    defaults = {"--out": str(tmp_path / "model"), "--scores": str(tmp_path / "scores.json")}
    for key, value in defaults.items():
        if key not in extra and (key != "--scores" or "segmenter" in script):
            extra += [key, value]
    # the datasets are not there: reading them would be an error about --data, not about the option
    code = _run(monkeypatch, script, "--data", str(tmp_path / "no-data"), "--checkpoint-dir", str(tmp_path / "ckpt"),
                *extra)
    assert code == 2
    err = capsys.readouterr().err
    assert f"{script}: error: " in err and says in err and "Traceback" not in err
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "model").exists()


BUNDLED = TRAINING.parent / "resources" / "models"
SCRIPTS = {"train_fundus_generator.py": "fundus-generator", "train_fundus_segmenter.py": "fundus-segmenter"}


def _snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_out_defaults_to_a_scratch_folder_not_the_bundled_model(script):
    """Before session 36 ``--out`` defaulted to ``resources/models/NAME``: a run to try something replaced the
    model the app uses."""
    parser = runpy.run_path(str(TRAINING / script), run_name="training_script")["parser"]
    out = Path(parser().parse_args([]).out).resolve()
    assert out == (TRAINING.parent / "scratch" / SCRIPTS[script]).resolve()
    assert BUNDLED.resolve() not in out.parents


@pytest.mark.parametrize("script, extra", [
    ("train_fundus_generator.py", []),
    ("train_fundus_segmenter.py", []),
    ("train_fundus_segmenter.py", ["--eval-only", "--card"]),  # --card writes the bundled model's README.md
])
def test_the_bundled_folder_is_written_only_with_replace_bundled(tmp_path, monkeypatch, capsys, script, extra):
    bundled = BUNDLED / SCRIPTS[script]
    before = _snapshot(bundled)
    args = ["--data", str(tmp_path / "no-data"), "--checkpoint-dir", str(tmp_path / "ckpt"), *extra]
    if "segmenter" in script:
        args += ["--scores", str(tmp_path / "scores.json")]
    monkeypatch.chdir(TRAINING.parent)  # however it is spelt: absolute, relative, with a trailing slash
    name = SCRIPTS[script]
    for out in (str(bundled), f"resources/models/{name}/", f"training/../resources/models/{name}"):
        assert _run(monkeypatch, script, *args, "--out", out) == 2
        err = capsys.readouterr().err
        assert f"{script}: error: " in err and ": --out is a bundled model folder" in err and SCRIPTS[script] in err
        assert "add --replace-bundled" in err and "Traceback" not in err
    assert _snapshot(bundled) == before and not (tmp_path / "ckpt").exists()
    # the flag lets it past that check, to the next one (here the missing --data, so nothing is written)
    if "--eval-only" in extra:  # scoring the bundled model writes nothing into it: no flag needed
        args.remove("--card")
    assert _run(monkeypatch, script, *args, "--out", str(bundled), *([] if extra else ["--replace-bundled"])) == 2
    err = capsys.readouterr().err
    assert "--out is a bundled model folder" not in err and "no-data" in err
    assert _snapshot(bundled) == before


def test_scores_are_not_written_into_a_bundled_model_folder(tmp_path, monkeypatch, capsys):
    """``--scores`` is a file: inside a bundled model folder it added a file to the shipped model, or replaced one of
    its files (``model.safetensors``); refused like ``--out`` (session 36 QA)."""
    bundled = BUNDLED / "fundus-segmenter"
    before = _snapshot(bundled)
    for scores in ("scores.json", "model.safetensors"):
        assert _run(monkeypatch, "train_fundus_segmenter.py", "--data", str(tmp_path / "no-data"), "--eval-only",
                    "--out", str(bundled), "--scores", str(bundled / scores)) == 2
        err = capsys.readouterr().err
        assert ": --scores's folder is a bundled model folder" in err and "Traceback" not in err
    assert _snapshot(bundled) == before
