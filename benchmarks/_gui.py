"""Event-loop helpers (and the process's resident memory) shared by the GUI benchmark scripts (``gui_lab_run.py``, ``gui_review.py``,
``gui_job_start.py``), which import it from this folder.

Each script had its own copy of these loops; their committed results (``benchmarks/results/gui/``)
were measured with them, so they do exactly what those copies did: ``pump`` calls
``app.processEvents()`` and then sleeps ``sleep`` seconds until ``seconds`` have passed (2 ms in
``gui_review`` and ``gui_job_start``, 3 ms in ``gui_lab_run``); ``wait_finished`` runs a nested
``QEventLoop`` until the runner's ``finished`` signal and returns its argument (the job's outcome).
qtpy is imported on first use, after the scripts have set ``QT_API``.
"""

from __future__ import annotations

import time


def pump(app, seconds: float, *, sleep: float = 0.002) -> None:
    """Process ``app``'s events for ``seconds`` seconds, sleeping ``sleep`` s between rounds."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(sleep)


def wait_finished(runner):
    """Run a nested Qt event loop until ``runner.finished`` is emitted; return what it carried."""
    from qtpy.QtCore import QEventLoop

    loop, out = QEventLoop(), {}

    def fin(o):
        out["o"] = o
        loop.quit()

    runner.finished.connect(fin)
    loop.exec()
    runner.finished.disconnect(fin)
    return out["o"]


def rss_mb() -> float:
    """This process's resident memory now (``VmRSS`` of ``/proc/self/status``), MB; NaN where there is none."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")
