"""A non-editable install (``pip install .``, a wheel) carries the bundled models and finds them.

Before session 35 the wheel held only the Python package and ``napari.yaml``: ``resources/`` (the
bundled models) is outside the package, so after ``pip install .`` ``vessel-studio segment`` with the
default model, ``adapt`` and the studio's "Segment with bundled model" failed with "fundus-segmenter:
no such model folder, and not a bundled model (bundled: none)". setup.py now puts ``resources/`` into
the wheel as ``vessel_studio/_resources`` and ``resources.resources_dir`` looks there first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import vessel_studio.resources as resources

REPO = Path(__file__).resolve().parents[1]


def test_resources_dir_prefers_the_packaged_folder(tmp_path, monkeypatch):
    """Installed: ``site-packages/vessel_studio/_resources``, not whatever ``site-packages/resources`` is;
    a source checkout (no ``_resources``): the repository's ``resources/``; the variable wins over both."""
    monkeypatch.delenv("VESSEL_STUDIO_RESOURCES", raising=False)
    site = tmp_path / "site-packages"
    package = site / "vessel_studio"
    (package / "_resources" / "models" / "fundus-segmenter").mkdir(parents=True)
    (site / "resources" / "models" / "fundus-segmenter").mkdir(parents=True)  # another distribution's folder
    monkeypatch.setattr(resources, "__file__", str(package / "resources.py"))
    assert resources.models_dir() == package / "_resources" / "models"
    assert resources.resolve_model("fundus-segmenter") == package / "_resources" / "models" / "fundus-segmenter"
    assert resources.is_bundled("fundus-segmenter")

    shutil.rmtree(package / "_resources")  # a checkout: resources/ beside the package
    assert resources.models_dir() == site / "resources" / "models"

    monkeypatch.setenv("VESSEL_STUDIO_RESOURCES", str(tmp_path / "mine"))
    assert resources.models_dir() == tmp_path / "mine" / "models"


def _build_wheel(out: Path) -> Path:
    """Build the wheel from a copy of what a build reads (a build leaves build/ and *.egg-info behind,
    and a stale build/lib would leak into the next wheel)."""
    src = out / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("vessel_studio", "resources"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    code = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_wheel_carries_the_bundled_models_and_finds_them(tmp_path):
    models = sorted(p for p in (REPO / "resources" / "models").iterdir() if p.is_dir())
    if not models:
        pytest.skip("no bundled models in resources/models")
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())

    for folder in models:  # weights, config and the model card (the data it saw, its licence)
        for f in folder.iterdir():
            assert f"vessel_studio/_resources/models/{folder.name}/{f.name}" in names, f"{f} not in the wheel"
    code = {p.relative_to(REPO).as_posix() for p in (REPO / "vessel_studio").rglob("*.py")}
    assert code - names == set()  # every module, as before
    assert "vessel_studio/gui/napari.yaml" in names  # the napari plugin's manifest
    assert not [n for n in names if n.startswith("resources/")]  # no top-level resources folder

    # installed as pip would unpack it, imported from outside the repository: the bundled names resolve there
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "VESSEL_STUDIO_RESOURCES"}
    env["PYTHONPATH"] = str(site)
    probe = ("import vessel_studio, vessel_studio.resources as r; print(vessel_studio.__file__); "
             "print(r.resolve_model(r.DEFAULT_SEGMENTER)); print(r.resolve_model(r.DEFAULT_GENERATOR)); "
             "print(r.is_bundled(r.DEFAULT_SEGMENTER))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    module, segmenter, generator, bundled = done.stdout.split()
    assert Path(module).is_relative_to(site)
    assert Path(segmenter) == site / "vessel_studio" / "_resources" / "models" / resources.DEFAULT_SEGMENTER
    assert Path(generator) == site / "vessel_studio" / "_resources" / "models" / resources.DEFAULT_GENERATOR
    assert bundled == "True"
