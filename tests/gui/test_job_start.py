"""The window imports the engine before it exists, so that the first job imports nothing heavy.

An import in a job's worker thread freezes the event loop although it runs in another thread
(loading a C extension holds the GIL: libtorch's ``dlopen`` 0.2-0.3 s); measured by
``benchmarks/gui_job_start.py``. These tests check the order and the coverage, not timings.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.gui

#: packages whose import in a worker thread was measured to stall the GUI thread
HEAVY = ("torch", "torchgen", "diffusers", "skimage", "safetensors", "tifffile", "imagecodecs")


def test_make_viewer_imports_the_engine_before_the_window(monkeypatch, dialogs, qtbot, make_napari_viewer):
    import gc

    import napari

    from vessel_studio.gui import app

    order = []
    monkeypatch.setattr(app, "import_engine", lambda: order.append("engine") or [])

    def viewer(*args, **kwargs):
        # napari's fixture, not a plain napari.Viewer: a second plain Viewer in one pytest process
        # (test_review_stepping has one) registers the plugin's commands twice and fails
        order.append("viewer")
        return make_napari_viewer(*args, **kwargs)

    monkeypatch.setattr(napari, "Viewer", viewer)
    v, studio = app.make_viewer(show=False)
    try:
        assert order == ["engine", "viewer"]
    finally:
        studio._closing_ok = True
        v.close()
        gc.unfreeze()


def test_the_first_segmentation_imports_no_heavy_module_after_import_engine(tmp_path):
    """In a fresh process: ``import_engine`` then a source-only segmentation job (the Review
    panel's "Segment with bundled model", run here without a window) imports nothing of torch,
    diffusers, skimage, safetensors or tifffile that ``import_engine`` had not imported (tifffile: the
    maps' reader, imported on the GUI thread by the Review panel's first map read, 0.26 s with
    imagecodecs when a terminal's round 0 arrived; ``benchmarks/results/gui/job-start-held.json``)."""
    code = textwrap.dedent(f"""
        import sys
        from vessel_studio.gui.app import import_engine
        from vessel_studio.gui import tasks
        from vessel_studio.events import run
        from vessel_studio.samples import write_sample_project
        from vessel_studio.store import Project

        assert 'torch' not in sys.modules  # a fresh process: nothing imported it yet
        missing = import_engine()
        assert missing == [], missing
        assert 'diffusers.models.unets.unet_2d' in sys.modules
        write_sample_project({str(tmp_path / 'p')!r}, n=1, modality='fundus', seed=1, shape=(96, 96))
        proj = Project.open({str(tmp_path / 'p')!r})
        before = set(sys.modules)
        run(tasks.segment_source_only(proj, [proj.images[0].id]), lambda e: None)
        new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {HEAVY!r})
        print('NEW', new)
        assert not new, new
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def test_background_priority_is_idempotent_in_a_reused_thread():
    """The pool's worker threads are reused and each job lowers its thread's priority again: it stays
    WORKER_NICE above the main thread (it was raised by 10 per call, to 19 by the second job)."""
    import os
    import sys
    import threading

    from vessel_studio.gui.jobs import WORKER_NICE, background_priority

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice values are Linux's")
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    seen = []

    def work():
        for _ in range(3):
            background_priority()
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [min(19, base + WORKER_NICE)] * 3
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == base  # the main thread is left alone
