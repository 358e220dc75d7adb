"""The Qt binding must not leak references to None from worker threads.

PySide6 6.12.0 loses one reference to ``None`` per Python ``QRunnable.run`` (what superqt's
workers are) and per signal emitted from a worker; on Python 3.11, where None is not immortal,
the interpreter aborts ("deallocating None") after enough worker runs. pyproject pins the binding
below 6.12; this test catches a binding with the bug, whatever the pin.
"""

import sys

import pytest

pytestmark = pytest.mark.gui


def test_worker_runs_do_not_leak_none_references(qapp):
    from qtpy.QtCore import QObject, QRunnable, QThreadPool, Signal

    class Emitter(QObject):
        sig = Signal()

    class Run(QRunnable):
        def __init__(self):
            super().__init__()
            self.emitter = Emitter()

        def run(self):
            self.emitter.sig.emit()

    pool = QThreadPool.globalInstance()
    runs = [Run() for _ in range(100)]
    before = sys.getrefcount(None)
    for r in runs:
        r.setAutoDelete(False)
        pool.start(r)
    pool.waitForDone()
    for _ in range(5):
        qapp.processEvents()
    del runs
    assert sys.getrefcount(None) - before > -50
