"""A finished worker must be freed with what its function held (session 35: memory over long use).

Every image stepped to in the Review panel starts workers (the vessel measures, the read-ahead) whose
function holds the image, its mask and field of view. ``jobs.Workers.start`` connected the worker's
``finished`` signal to a lambda holding the worker: a cycle through the Qt connection (the worker owns
its signals' QObject, which holds the slot), which Python's collector cannot see, so no finished worker
was ever freed. Measured with benchmarks/memory_long_use.py: the window's RSS grew ~190 MB per 100
fundus images stepped through, without end.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.gui


def _wait(qapp, cond, seconds=10.0):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.005)
    return cond()


#: run in a process of its own: in the whole suite's processes (session 35: two -n 2 runs and a clean-clone CI run)
#: 1 of 5 and 4 of 8 of them stayed alive with the fix, never in a run of this file alone, in a fresh interpreter
#: or in the real window's 440 steps (benchmarks/results/gui/memory-long-use.md: RSS flat). What holds them after
#: other tests was not found; other tests' workers and superqt's ``warnings.showwarning`` swap (one worker can be
#: left held when two runs overlap) are candidates
CHILD = """
import gc, time, weakref
import numpy as np
from qtpy.QtWidgets import QApplication
app = QApplication([])
from superqt.utils import create_worker
from vessel_studio.gui.jobs import Workers

def wait(cond, seconds=10.0):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)
    return cond()

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
    assert wait(lambda: len(done) == len(held) and not workers._live)

def alive():
    gc.collect()
    return sum(r() is not None for r in held)

from qtpy.QtCore import QThreadPool
QThreadPool.globalInstance().waitForDone(30000)  # every pool thread back from its run
wait(lambda: alive() == 0, 10.0)
left = alive()
if left:  # what holds them, for the next one who looks (the test fails on this)
    import sys
    for w in (o for o in gc.get_objects() if type(o).__name__ == "FunctionWorker"):
        print("worker held by", sorted(type(x).__name__ for x in gc.get_referrers(w)), sys.getrefcount(w),
              file=sys.stderr)
print("alive", left, "running", workers.running())
"""


def test_finished_workers_are_freed_with_what_they_held(tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    # Up to three runs, one must free all 8. Session 36: with other processes running GUI tests beside it, 1 to 5 of
    # the 8 stayed alive in about half the runs, after the thread pool was done and 10 s of events: held by one
    # reference Python's collector does not see (none of its referrers is Python's but the probe's own), not the
    # pool's; never in 19 runs with busy loops as the only load. Suspected: PySide's queued delivery of superqt's
    # ``_finished.emit(self)`` (a Python argument across threads). The leak fixed in session 35 holds all 8 every run
    runs = []
    for _ in range(3):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(done.stdout.split()[-4:])
        if runs[-1] == ["alive", "0", "running", "0"]:
            return
    raise AssertionError(f"finished workers stayed alive in 3 runs: {runs}; {done.stderr[-2000:]}")


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


def test_a_job_start_does_not_freeze_garbage():
    """``freeze_heap`` (each job's start) collects what is garbage before freezing: a frozen object is never
    collected, so garbage in a reference cycle at that moment stayed for good (session 36: after 20 "most
    uncertain first" jobs in the real window, a full collection with the heap unfrozen found 17,370 garbage objects,
    3,727 with this one)."""
    import gc
    import weakref

    from vessel_studio.gui.jobs import freeze_heap

    class Node:
        pass

    was_enabled = gc.isenabled()
    gc.disable()  # no automatic collection between the cycle's making and the freeze
    try:
        node = Node()
        node.me = node  # a reference cycle: only the cyclic collector frees it
        ref = weakref.ref(node)
        del node
        assert ref() is not None
        freeze_heap()
        assert ref() is None, "a cycle that was garbage when the job started was frozen"
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
