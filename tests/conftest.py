"""Shared fixtures: the real data folder (skipped when absent), tiny synthetic images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_API", "pyside6")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` (or $VESSEL_STUDIO_DATA); tests using it skip when it is absent."""
    if not (DATA / "DRIVE").is_dir():
        pytest.skip(f"real datasets not present at {DATA}")
    return DATA


@pytest.fixture(autouse=True)
def _torch_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.manual_seed(0)


@pytest.fixture
def synthetic_fundus():
    """A 96x96 RGB fundus-like image with dark vessels of known position, its mask and FOV."""
    rng = np.random.default_rng(0)
    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w]
    fov = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.47 * h) ** 2
    mask = np.zeros((h, w), bool)
    mask[:, 30:33] = True
    mask[60:62, :] = True
    mask[np.abs(yy - xx) < 1.2] = True
    mask &= fov
    base = np.stack([np.full((h, w), 180.0), np.full((h, w), 110.0), np.full((h, w), 60.0)], -1)
    base[mask] *= 0.55
    base += rng.normal(0, 4, base.shape)
    base[~fov] = 0
    return np.clip(base, 0, 255).astype(np.uint8), mask, fov


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks: extra threads only add overhead on a shared 2-core CPU."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def benchmark_script():
    """Imports a script of benchmarks/ (not a package) as a module, for its tests."""
    import importlib.util

    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load


@pytest.fixture
def rename_image():
    """``rename_image(project, image_id, name)``: give an image of the project another image's name in its
    manifest (two images named alike, as ``a.png`` and ``a.tif`` added from two folders are)."""

    def rename(project, image_id: str, name: str) -> None:
        def edit(d):
            for x in d["images"]:
                if x["id"] == image_id:
                    x["name"] = name

        project._update(edit)

    return rename
