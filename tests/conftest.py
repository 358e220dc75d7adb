"""Shared fixtures: the real data folder (skipped when absent), tiny synthetic images."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_API", "pyside6")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data"))


def pytest_report_header(config):
    """Say at the top of a run that leaves the ``window`` tests out (the default run) how to run them: a plain
    ``pytest tests/gui/test_app.py`` ran only that file's ``window_smoke`` tests, the others "deselected"."""
    if "not window" in (config.getoption("markexpr", "") or ""):
        return "tests of the whole window (marker 'window') are left out of this run: add -m window to run them"
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` (or $VESSEL_STUDIO_DATA); tests using it skip when it is absent."""
    if not (DATA / "DRIVE").is_dir():
        pytest.skip(f"real datasets not present at {DATA}")
    return DATA


@pytest.fixture(autouse=True)
def _torch_threads():
    """Seed torch; under pytest-xdist (``-n 2``) start each test with one torch thread, and give every test back
    the count it started with. torch takes one thread per core (2 here), and with the other worker busy on the other
    core its 2-thread ops can wait on a thread that is not running; a job run in a test (``adapt`` sets
    ``cfg.threads`` and keeps it) left its count to the tests after it in that worker. Session 36, one pair of
    full runs at similar load: the non-GUI tests' summed time 0.73 of before (the machine's load moved whole runs
    far more: 465-1212 s)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.manual_seed(0)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
    n = torch.get_num_threads()
    yield
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


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


# ---- 16-bit PNGs written by hand (Pillow writes none in colour, nor gray+alpha, nor interlaced): tests/io/test_png16_colour.py
# and tests/adaptation/test_png16_project.py

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


#: Adam7's passes: (first row, first column, row step, column step)
_ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))


def _filtered(a: np.ndarray, bpp: int, *, every_filter: bool) -> bytes:
    """Rows of ``a`` (H x W x C uint16) as PNG scanlines: alternately unfiltered and Sub-filtered (Sub is the filter
    whose byte distance depends on the pixel size), or with ``every_filter`` the five filters in turn (None, Sub, Up,
    Average, Paeth), as an encoder chooses per row."""
    rows, prior = [], None
    for i in range(a.shape[0]):
        raw = np.frombuffer(np.ascontiguousarray(a[i]).astype(">u2").tobytes(), np.uint8).astype(np.int32)
        up = np.zeros_like(raw) if prior is None else prior
        left = np.concatenate([np.zeros(bpp, np.int32), raw[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        kind = i % 5 if every_filter else i % 2
        if kind == 0:
            f = raw
        elif kind == 1:
            f = raw - left
        elif kind == 2:
            f = raw - up
        elif kind == 3:
            f = raw - (left + up) // 2
        else:
            guess = left + up - up_left
            da, db, dc = abs(guess - left), abs(guess - up), abs(guess - up_left)
            f = raw - np.where((da <= db) & (da <= dc), left, np.where(db <= dc, up, up_left))
        rows.append(bytes([kind]) + (f % 256).astype(np.uint8).tobytes())
        prior = raw
    return b"".join(rows)


def png16(path, a: np.ndarray, colour_type: int, *, interlaced: bool = False) -> None:
    """``a`` (H x W x C uint16) as a 16-bit PNG (colour type 2: RGB, 6: RGBA, 4: gray+alpha), interlaced (Adam7, every
    filter used) or not."""
    h, w, c = a.shape
    bpp = 2 * c
    if interlaced:
        data = b"".join(_filtered(a[r::dr, c0::dc], bpp, every_filter=True)
                        for r, c0, dr, dc in _ADAM7 if a[r::dr, c0::dc].size)
    else:
        data = _filtered(a, bpp, every_filter=False)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, int(interlaced))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(data))
                     + _chunk(b"IEND", b""))


@pytest.fixture
def write_png16():
    """:func:`png16`: ``write_png16(path, a, colour_type, interlaced=False)``."""
    return png16
