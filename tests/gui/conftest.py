"""Fixtures for the GUI tests: a small sample project, tiny source models, a docked studio.

The GUI tests run in a real (virtual) X display via pytest-xvfb, not Qt's offscreen platform:
napari's canvas needs OpenGL (see ../shared/ENVIRONMENT.md). Dialogs are replaced by recorders
so that no test blocks on a modal window.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by ``-m``
def pytest_collection_modifyitems(config, items):
    """Mark ``window`` every test of the ``studio`` fixture (the whole window: a napari viewer with the four panels and
    the Review panel's five layers, ~1.6 s to build and 0.5 s to close a test on the 2-core machine; session 46, 366
    tests, 941 of the 1,427 s the default run's tests took in all) but the ``window_smoke`` ones. The default run leaves
    ``window`` out (``pyproject.toml``), so that it takes a few minutes; ``-m window`` runs them (CI does, after the
    default run); ``-m 'not slow and not gpu'`` runs both."""
    for item in items:
        if "studio" in getattr(item, "fixturenames", ()) and item.get_closest_marker("window_smoke") is None:
            item.add_marker(pytest.mark.window)


@pytest.fixture
def dialogs(monkeypatch):
    """Record every dialog; answers are set per test through ``dialogs.answers``."""
    from vessel_studio.gui import dialogs as mod

    class Recorder:
        def __init__(self):
            self.errors: list[tuple[str, str]] = []
            self.asked: list[str] = []
            self.answers = {"confirm": True, "save_discard_cancel": "save"}

    rec = Recorder()
    monkeypatch.setattr(mod, "error", lambda parent, title, text: rec.errors.append((title, text)))
    monkeypatch.setattr(mod, "info", lambda parent, title, text: None)

    def confirm(parent, title, text):
        rec.asked.append(title)
        return rec.answers["confirm"]

    def sdc(parent, title, text):
        rec.asked.append(title)
        return rec.answers["save_discard_cancel"]

    monkeypatch.setattr(mod, "confirm", confirm)
    monkeypatch.setattr(mod, "save_discard_cancel", sdc)
    return rec


@pytest.fixture(autouse=True)
def _frozen_heap():
    """Keep what was alive before the test (modules, torch, napari's classes: most of the heap) out of the cyclic
    GC's walks, as the app does after its window build (``jobs.freeze_heap``): napari's ``Viewer.close`` runs a full
    ``gc.collect()`` (``_clean_and_update_scenegraph``) and the window's build triggers more, each of which walked the
    whole heap, ~0.2-0.5 s apiece on the 2-core machine (session 37: 24 full collections, 4.75 s, in 10 ``studio``
    tests). Garbage is collected before the freeze; a test's own objects (its window) are made after it and stay
    collectable, so napari's leak check sees them as before. Frozen again only after something unfroze the heap (the
    ``studio`` fixture does when a job froze it, a few tests do themselves)."""
    import gc

    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
    yield


@pytest.fixture(scope="session", autouse=True)
def _napari_settings_unsaved():
    """napari's settings stay in memory: napari wrote its settings file (the user's, ~/.config/napari/<venv>/
    settings.yaml) at every dock added and at ``make_napari_viewer``'s ``settings.reset()``, ~10 writes a ``studio``
    test (19 in two), and both workers of ``-n 2`` (and any other test run of the same environment) wrote the same
    file. What a test sees is unchanged: the file is read once per process, and ``make_napari_viewer`` resets the
    settings to napari's defaults in memory before each test. No test of this project reads that file and the app does
    not write it itself. Time saved: too small to measure against the machine's load (two side-by-side runs of 16
    ``studio`` tests: setup 51.0 s with the writes, 50.2 s without)."""
    from napari.settings import get_settings

    settings = get_settings()
    saved = settings._save_on_change
    settings._save_on_change = False
    yield
    settings._save_on_change = saved


@pytest.fixture(scope="session")
def _sample_project_template(tmp_path_factory):
    """The ``sample_project`` folder, written once per test process (0.15-0.3 s a test when each wrote its own)."""
    from vessel_studio.samples import write_sample_project

    folder = tmp_path_factory.mktemp("sample-template") / "proj"
    write_sample_project(folder, n=3, modality="fundus", shape=(96, 96), seed=5)
    return folder


@pytest.fixture
def sample_project(tmp_path, _sample_project_template):
    """A fundus project of three 96×96 procedural images (and their true masks beside it): a copy of one written by
    ``write_sample_project(tmp_path / "proj", n=3, modality="fundus", shape=(96, 96), seed=5)``, with the images'
    ``origin`` in ``project.json`` naming the copy's own ``samples/images`` as a project written there would. What
    differs from one written here: its ``created`` and log times are the template's, and its files keep the
    template's modification times."""
    import shutil

    from vessel_studio.store import Project

    dest = tmp_path / "proj"
    shutil.copytree(_sample_project_template, dest)
    manifest = dest / "project.json"
    text = manifest.read_text(encoding="utf-8")
    old, new = (json_str(str(p) + "/samples/") for p in (_sample_project_template, dest))
    assert old in text  # the origins, as write_sample_project records them
    manifest.write_text(text.replace(old, new), encoding="utf-8")
    return Project.open(dest)


def json_str(s: str) -> str:
    """``s`` as it is written inside a JSON string (without the quotes)."""
    import json

    return json.dumps(s)[1:-1]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """A tiny untrained mask-conditioned source generator and source segmenter (native scale)."""
    import torch

    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    gen = Generator(config=GeneratorConfig.preset("tiny"), preprocessing=prep, conditioned=True)
    seg = Segmenter.create(SegmenterConfig(channels=(8, 16)), prep)
    gen.save(folder / "generator")
    seg.save(folder / "segmenter")
    return folder / "segmenter", folder / "generator"


@pytest.fixture
def source_bundle(tiny_models, tmp_path):
    from vessel_studio.adaptation import SourceBundle
    from vessel_studio.samples import write_sample_images

    seg, gen = tiny_models
    src = write_sample_images(tmp_path / "src", n=2, modality="fundus", seed=10, shape=(96, 96))
    return SourceBundle(segmenter=seg, generator=gen, modality="fundus",
                        images=list(zip(src.images, src.labels, src.fovs)))


def wait_for_workers(qtbot, timeout_s: float = 30.0) -> None:
    """Let the background workers a test started (the Review panel's vessel measures and read-ahead,
    the Project panel's thumbnails) finish, as napari's ``aboutToQuit`` hook does for the app. A
    worker still running when the test ended went on into the next tests, and the one left by the
    last test emitted after the interpreter had begun to exit: "Error calling Python override of
    QRunnable::run() ... RuntimeError: Signal source has been deleted". Does not fail (a test's own
    blocked worker is that test's business)."""
    import time

    from qtpy.QtCore import QThreadPool

    pool, end = QThreadPool.globalInstance(), time.monotonic() + timeout_s
    while True:
        while pool.activeThreadCount() and time.monotonic() < end:
            qtbot.wait(20)
        qtbot.wait(0)  # deliver their last queued signals while the panels exist
        # ... which may start another worker (the thumbnail worker's ``finished`` starts one for images listed
        # meanwhile): until the pool stays idle across a delivery
        if not pool.activeThreadCount() or time.monotonic() >= end:
            break



def assert_let_go(ref, qtbot, timeout_s: float = 15.0) -> None:
    """The object behind the weak reference ``ref`` (a closed panel) is freed once the workers running have ended and
    their last signals are delivered. Waits for them, collects, and again until ``timeout_s``; fails naming what still
    refers to it. (Session 49's CI failed on a single pass: a closed Project panel held for good by its thumbnail
    worker, whose queued signals never came; fixed in ``ProjectPanel._load_thumbs``, session 50.)"""
    import gc
    import time

    end = time.monotonic() + timeout_s
    while True:
        wait_for_workers(qtbot, timeout_s=max(0.1, end - time.monotonic()))
        qtbot.wait(20)  # deferred deletions; a worker whose start superqt queued on a timer
        gc.collect()
        if ref() is None:
            return
        if time.monotonic() >= end:
            break
    held = [type(r).__name__ + (f" {getattr(r, '__qualname__', '')}" if callable(r) else "")
            for r in gc.get_referrers(ref()) if r is not ref]
    raise AssertionError(f"{ref()!r} still held after {timeout_s} s, by: {held}")

@pytest.fixture
def studio(make_napari_viewer, sample_project, dialogs, qtbot, monkeypatch):
    """A napari viewer with the Vessel Studio panels docked and the sample project open."""
    import gc

    from vessel_studio.gui import jobs
    from vessel_studio.gui.app import attach

    froze = []  # a job's start froze the heap (jobs.freeze_heap), this window with it

    def freeze_heap(*, collect: bool = True, real=jobs.freeze_heap) -> None:
        froze.append(True)
        real(collect=collect)

    monkeypatch.setattr(jobs, "freeze_heap", freeze_heap)
    viewer = make_napari_viewer(title="Vessel Studio")
    st = attach(viewer, project=sample_project.folder)
    yield st
    if st.runner.running:  # never leave a job behind
        st.runner.cancel()
        qtbot.waitUntil(lambda: not st.runner.running, timeout=60000)
    wait_for_workers(qtbot)
    if froze:
        gc.unfreeze()  # let napari's leak check collect this window (_frozen_heap freezes again before the next test)


@pytest.fixture
def said(studio):
    """The studio's status lines, and a fast watcher (every 30 ms): for the tests of changes made outside the
    window (another program, another window)."""
    lines: list[str] = []
    studio.status.connect(lines.append)
    studio._watch.setInterval(30)
    return lines


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (lock files and the GUI's own folder excluded)."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and p.name not in (".lock", ".job.lock") and rel.parts[0] != "gui":
            out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def tiny_config(**kw):
    from vessel_studio.adaptation import AdaptConfig

    return AdaptConfig.preset("tiny", **{"stop_agreement": 1.01, "threads": 1, **kw})


def fake_probability(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, shape).astype(np.float32)


def commit_rounds(proj, tmp_path, maps: dict[int, dict[str, np.ndarray]]) -> None:
    """Commit rounds whose pseudo/ holds ``maps[index][image_id]`` (made in ``tmp_path / f"r{index}"``), each with
    a vessel_fraction of 0.1."""
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    for index, by_id in maps.items():
        src = tmp_path / f"r{index}"
        (src / "pseudo").mkdir(parents=True)
        for image_id, p in by_id.items():
            write_prob(src / "pseudo" / f"{image_id}.tif", p)
        proj.commit_round(src, RoundRecord(index=index, folder="", metrics={"vessel_fraction": 0.1}))


def shown_at(studio, qtbot, size):
    """The window shown at ``size``, its docks laid out as at its first show (``app.DockSizer``)."""
    from vessel_studio.gui import app

    window = studio.viewer.window._qt_window
    window.show()
    window.resize(*size)
    qtbot.wait(50)
    app._size_docks_when_shown(studio, window)
    qtbot.wait(100)
    return window


def open_modal(parent):
    """A real modal dialog, shown: inside a patched question it makes ``QApplication.activeModalWidget()`` what it is
    while a real question is open (its event loop delivering timers and jobs' ends); close it when done."""
    from qtpy.QtWidgets import QDialog

    box = QDialog(parent)
    box.setModal(True)
    box.show()
    return box


def paired(qtbot, chooser, choose) -> bool:
    """``choose()`` (the "Labelled source images" box's Choose masks… or FOV masks…) and, when it started a pairing,
    the wait for its result: the folders are paired in a worker (session 44). True when the choice was taken (the
    paired folders in use, or FOV masks kept for images still waiting for their masks); False when nothing was
    chosen or the pairing was refused (its error dialog) or dropped."""
    started, before = chooser._pairings, chooser.studio.source_bundle
    if not choose():
        return False
    if chooser._pairings == started:  # nothing to pair yet (FOV masks for images waiting for their masks)
        return True
    qtbot.waitUntil(lambda: not chooser.pairing, timeout=30000)
    return chooser.studio.source_bundle is not before


def calls_on_gui_thread(monkeypatch, *targets) -> list[str]:
    """Patch each ``(owner, name)`` of ``targets`` (a module or a class, and its function's name) so that each call
    made on the GUI (main) thread is recorded by ``"Owner.name"`` in the list returned; the calls go on to the real
    function. For the tests that check a read happens in a worker, not on the GUI thread."""
    import functools
    import threading

    called: list[str] = []
    for owner, name in targets:
        real = getattr(owner, name)
        label = f"{owner.__name__.rsplit('.', 1)[-1]}.{name}"  # "tasks.current_mask", "ReviewPanel._read_map"

        def spy(*args, _real=real, _label=label, **kw):
            if threading.current_thread() is threading.main_thread():
                called.append(_label)
            return _real(*args, **kw)

        monkeypatch.setattr(owner, name, functools.wraps(real)(spy))
    return called


def wait_restored(qtbot, chooser) -> None:
    """Wait for the "Labelled source images" box's restore of the open project's recorded source: the recorded folders
    are paired again (and the models' hashes checked) in a worker (session 45)."""
    qtbot.waitUntil(lambda: not chooser.restoring, timeout=30000)
