import subprocess
import sys

from vessel_studio import cli


def test_help_lists_subcommands(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for name in ("segment", "evaluate", "adapt", "translate", "check-inversion"):
        assert name in out


def test_version_runs_as_module():
    r = subprocess.run([sys.executable, "-m", "vessel_studio", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("vessel-studio ")


def test_resolve_bundled_model_error_lists_names(tmp_path):
    import pytest

    from vessel_studio.resources import resolve_model

    with pytest.raises(FileNotFoundError, match="no such model folder"):
        resolve_model(tmp_path / "nope")


def test_a_tilde_after_equals_is_the_home_folder(tmp_path, monkeypatch, capsys):
    # the shell leaves `--out=~/masks` as it is: segment made a folder named "~" in the working folder
    import numpy as np

    from vessel_studio.io.images import write_image

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    write_image(home / "images" / "eye.png", np.full((32, 32), 100, np.uint8))
    assert cli.main(["segment", "--threads", "1", "--out=~/masks", str(home / "images")]) == 0
    assert (home / "masks" / "eye.png").is_file()
    assert not (work / "~").exists()
    assert f"into {home / 'masks'}" in capsys.readouterr().out


def test_output_into_a_closed_pipe_is_no_traceback(tmp_path):
    # session 29 QA: `vessel-studio images PROJECT | head -3` (or `rounds PROJECT | head`) ended in a
    # BrokenPipeError traceback once head had quit
    import os

    from vessel_studio.store import Project

    Project.create(tmp_path / "proj", modality="octa")
    read, write = os.pipe()
    os.close(read)  # the reader has gone before anything is written
    try:
        r = subprocess.run([sys.executable, "-m", "vessel_studio", "images", str(tmp_path / "proj")], stdout=write,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr, r.stderr


def test_image_names_the_locale_cannot_encode_are_listed_escaped(tmp_path, rename_image):
    """Session 49 QA: under ``LC_ALL=C PYTHONUTF8=0`` (standard output in ASCII; a Latin-1 locale is the same for
    "眼底") ``vessel-studio images`` stopped at the first image named "Mu" + U+0308 "ller" with "error: 'ascii' codec
    can't encode character '\\u0308'", the images after it unlisted, exit 2. Every image is listed now, such letters
    written as backslash escapes; the folder's own bytes (undecodable under that locale) go out as they came."""
    import os

    from vessel_studio.samples import write_sample_project
    from vessel_studio.store import Project

    folder = tmp_path / "Genève"
    write_sample_project(folder, n=3, modality="octa", shape=(32, 32), seed=0)
    proj = Project.open(folder)
    a, b, c = proj.images
    rename_image(proj, a.id, "Mu\u0308ller")
    rename_image(proj, b.id, "眼底 😀")
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    r = subprocess.run([sys.executable, "-m", "vessel_studio", "images", str(folder)], capture_output=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("utf-8")  # the folder's name as its bytes, the images' names escaped
    assert out.startswith(f"3 image(s) in {folder}\n")
    assert f"  Mu\\u0308ller  {a.id}  " in out and f"  \\u773c\\u5e95 \\U0001f600  {b.id}  " in out
    assert f"  {c.name}  {c.id}  " in out
