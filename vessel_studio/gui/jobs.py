"""Run a core job (a generator of ``vessel_studio.events``) in a background thread.

The GUI hands a *factory* (``lambda: adapt(project, cfg, source=...)``) to :class:`JobRunner`.
A superqt generator worker calls it in its own thread and drives the job; events are batched
and forwarded at most every ``interval`` seconds (only the latest ``Progress`` per stage, the
last few ``Preview`` thumbnails, every ``Metric`` / ``Artifact``), so the GUI thread sees a few
small updates a second, never arrays per step.

Cancel sets a flag that the *worker thread* checks after every event of the job; it then
closes the job there (``GeneratorExit`` at the job's current ``yield``), which is where the
job restores its saved state. superqt's own ``quit()`` is not used: it stops iterating without
closing the generator.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from qtpy.QtCore import QObject, Signal

from vessel_studio.events import Artifact, Job, Preview, Progress

__all__ = ["GeneratorRuntimeError", "JobOutcome", "JobRunner", "Workers", "drive", "background_priority", "cancel_note",
           "error_text", "outcome_text", "runtime_errors_reported", "start_worker"]

#: how much nicer than the GUI thread a worker thread runs (Linux: per-thread nice value)
WORKER_NICE = 10


def background_priority() -> None:
    """Lower the calling (worker) thread's CPU priority below the GUI thread's.

    On Linux every thread has its own nice value; threads it starts (torch's intra-op pool when
    first used here) inherit it. Where that is not possible this does nothing. Idempotent: the
    pool's threads are reused, and each job calls this again; the thread ends ``WORKER_NICE`` above
    the process's main thread, not 10 more per call (it reached 19, the lowest, by the second job).
    """
    import os

    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + WORKER_NICE)  # pid: the main thread
        if current < target:  # never raise a thread's priority (that needs privileges)
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except (AttributeError, OSError):
        pass


def start_worker(worker, workers: Workers | None) -> None:
    """Start ``worker`` among ``workers`` (a window's :class:`Workers`), or on its own when that is None; a generator
    worker's RuntimeError ends it with ``errored`` and ``finished`` (:func:`runtime_errors_reported`)."""
    if workers is None:
        runtime_errors_reported(worker)
        worker.start()
    else:
        workers.start(worker)


def start_keyed(work, key, done, workers: Workers | None) -> None:
    """Run ``work()`` in a superqt worker thread among ``workers`` (:func:`start_worker`); its value, or ``("error",
    exc)`` when it raised, goes to ``done(key, value)`` on the GUI thread, where ``done`` drops a value whose ``key`` is
    no longer the one wanted (the source box's pairing and restore, the Adaptation panel's sizes for a question). The
    slots hold ``done`` and the key, not the worker (:meth:`Workers.start`)."""
    from superqt.utils import create_worker

    worker = create_worker(work, _start_thread=False, _ignore_errors=True)
    worker.returned.connect(lambda value, key=key: done(key, value))
    worker.errored.connect(lambda exc, key=key: done(key, ("error", exc)))
    start_worker(worker, workers)


class GeneratorRuntimeError(Exception):
    """A RuntimeError raised by a generator worker's generator, as :func:`runtime_errors_reported` re-raises it (not a
    RuntimeError: superqt would swallow it). ``original``: that RuntimeError (also ``__cause__``)."""

    def __init__(self, original: RuntimeError):
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original


def runtime_errors_reported(worker) -> None:
    """Make a superqt generator worker end as any failed worker does when its generator raises a RuntimeError.

    superqt's ``GeneratorWorker`` takes a RuntimeError out of the generator for its own Qt object having been deleted:
    it warns ("RuntimeError in aborted thread") and ends without ``errored`` or ``finished``. A window then counted it
    as running for good (:meth:`Workers.end` waited its whole 10 s at close; the Project panel, its thumbnail worker
    never done, made no thumbnails again). Its generator is wrapped so that such an error leaves it as a
    :class:`GeneratorRuntimeError`: ``errored``, then ``finished``. Any other worker is left as it is; idempotent."""
    gen = getattr(worker, "_gen", None)
    if gen is None or getattr(gen, "_vessel_studio_wrapped", False) or not hasattr(gen, "send"):
        return

    class _Wrapped:
        """The generator, its RuntimeError re-raised as GeneratorRuntimeError (``send`` / ``close`` / ``throw``
        passed on: superqt uses ``send``)."""

        _vessel_studio_wrapped = True

        def __init__(self, inner):
            self._inner = inner

        def __iter__(self):
            return self

        def __next__(self):
            return self.send(None)

        def send(self, value):
            try:
                return self._inner.send(value)
            except RuntimeError as exc:
                raise GeneratorRuntimeError(exc) from exc

        def throw(self, *args):
            return self._inner.throw(*args)

        def close(self):
            return self._inner.close()

    worker._gen = _Wrapped(gen)


def freeze_heap(*, collect: bool = True) -> None:
    """Move every object alive now out of the cyclic GC's reach (``gc.freeze``).

    napari's window holds hundreds of thousands of objects; a full collection triggered by a
    job's allocations walks all of them while holding the GIL (measured: 0.75 s stalls of the
    event loop). Frozen objects are never collected, so call this after the window is built and
    when a job starts, not in a loop.

    Garbage in reference cycles is collected first: frozen, it would stay for good (session 36: after 20 jobs in
    the real window, a full collection with the heap unfrozen found 17,370 garbage objects, 3,727 with this one). The
    collection walks only what is not frozen yet, the objects made since the last freeze, not napari's whole
    graph (about 1 ms a job start there). ``collect=False`` at the window's build: nothing is frozen yet, so the
    collection would walk the whole heap (358 ms there, session 36), for garbage left once, not at every job.
    """
    import gc

    if collect:
        gc.collect()
    gc.freeze()


class Workers:
    """The superqt workers one studio window started (its jobs, thumbnails, reads, measures, saves).

    Closing the window asks these to quit and waits for the ones running (:meth:`end`). superqt's
    ``WorkerBase.await_workers`` (napari's exit) asks every worker of the process and waits for the whole
    thread pool: closing one window then stopped the workers of another viewer or of another plugin in the
    same process (a notebook holding two viewers), and waited for them."""

    def __init__(self):
        #: started and not yet seen finished: id(worker) -> (worker, run began, run ended); the events are set in
        #: the worker's thread
        self._live: dict = {}

    def start(self, worker) -> None:
        """``worker.start()``, remembering it until it has finished."""
        from qtpy.QtCore import Qt

        runtime_errors_reported(worker)
        began, ended = threading.Event(), threading.Event()
        # direct: set in the worker's own thread as the run begins / ends, so that :meth:`end` sees them
        # while it blocks the GUI thread (a queued signal would wait for the event loop)
        worker.started.connect(began.set, Qt.ConnectionType.DirectConnection)
        worker.finished.connect(ended.set, Qt.ConnectionType.DirectConnection)
        # the slot must not hold the worker: the worker owns its signals' QObject, which holds the slot, a
        # cycle through Qt that Python's collector cannot see; no finished worker was freed, nor the image,
        # mask and map its function held (session 35: the window grew ~190 MB per 100 fundus images stepped)
        key = id(worker)
        worker.finished.connect(lambda k=key: self._live.pop(k, None))
        self._live[key] = (worker, began, ended)
        worker.start()

    def running(self) -> int:
        """How many of them have begun and not ended."""
        return sum(began.is_set() and not ended.is_set() for _worker, began, ended in self._live.values())

    def end(self, msecs: int) -> bool:
        """Ask each to quit (a generator stops at its next item), then wait up to ``msecs`` for the ones
        running; True when none is left running. A worker whose run has not begun yet (started from a busy
        event loop, it waits for a timer) is not waited for: it begins with quit asked (a generator yields
        nothing then)."""
        for key, (worker, _began, _ended) in list(self._live.items()):
            try:
                worker.quit()
            except RuntimeError:  # its Qt object is gone: it has ended
                self._live.pop(key, None)
        deadline = time.monotonic() + msecs / 1000
        while self.running():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True


@dataclass
class JobOutcome:
    """How a job ended: ``status`` is "done", "cancelled" or "error"."""

    name: str
    status: str
    result: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    events: int = 0
    #: what reached the GUI thread: the last ``Progress`` per (stage, round), ``Artifact`` counts per kind
    progress: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)
    #: Cancel was asked for: also when the job ended "done", Cancel having come during its last step
    cancel_asked: bool = False

    def last_progress(self, stage: str) -> Progress | None:
        found = [p for (s, _r), p in self.progress.items() if s == stage]
        return found[-1] if found else None


def cancel_note(outcome: JobOutcome) -> str:
    """What a cancelled job of the GUI left behind, by job name (each job's own cancel semantics)."""
    if outcome.name == "Adaptation":  # the engine restores the project on close
        return "the project is as it was before the job"
    if outcome.name == "Segmentation":  # every map written stays, with its image's state
        seg = outcome.last_progress("segment")
        done = outcome.artifacts.get("source-only-prediction", 0)
        if seg is None or not done:
            return "no image was segmented"
        return f"{done} of {seg.total} images segmented, their predictions are kept"
    if outcome.name == "Export":  # tasks.export swaps its folder in at the end; a close removes it
        return "nothing was exported, the folder is as it was"
    if outcome.name == "Review order":  # reads only
        return "the review queue stays in project order"
    if outcome.name == "Roll back":  # tasks.rollback_job: closed before its roll back began (which cannot stop)
        return "nothing was deleted"
    if outcome.name == "Adding images":  # Project.add_images_job names its copies at its end; a close removes them
        return "no image was added, the project is as it was"
    return ""


def error_text(exc: BaseException | None) -> str:
    """A job's error as one line: "ValueError: …"."""
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


def outcome_text(outcome: JobOutcome) -> str:
    """One line on how a job ended, for the status bar and the panel that started it."""
    if outcome.status == "error":
        return f"{outcome.name} failed: {error_text(outcome.error)}"
    if outcome.status == "cancelled":
        note = cancel_note(outcome)
        return f"{outcome.name} cancelled after {outcome.seconds:.0f} s" + (f": {note}" if note else "")
    return f"{outcome.name} finished in {outcome.seconds:.0f} s"


@dataclass
class _Batch:
    events: list = field(default_factory=list)


def drive(factory: Callable[[], Job], cancel: threading.Event, *, interval: float = 0.2, max_previews: int = 4):
    """Generator run by the worker: call ``factory()``, iterate the job, yield event batches
    (lists) at most every ``interval`` s, and return ``("done", result, n)``, ``("cancelled", None, n)`` or
    ``("error", exception, n)`` (``n``: the job's events)."""
    background_priority()
    try:
        job = factory()
    except Exception as exc:  # noqa: BLE001 - the job's error is its outcome (see below)
        return ("error", exc, 0)
    progress: dict[Any, Progress] = {}
    other: list = []
    last = time.monotonic()
    n = 0

    def flush() -> list:
        nonlocal other
        previews = [e for e in other if isinstance(e, Preview)][-max_previews:]
        rest = [e for e in other if not isinstance(e, Preview)]
        batch = rest + previews + list(progress.values())
        progress.clear()
        other = []
        return batch

    while True:
        try:
            if cancel.is_set():
                job.close()  # runs the job's cleanup here, in the worker thread
                if progress or other:
                    yield flush()
                return ("cancelled", None, n)
            event = next(job)
        except StopIteration as stop:
            if progress or other:
                yield flush()
            return ("done", stop.value, n)
        except Exception as exc:  # noqa: BLE001
            # returned, not raised: superqt's generator worker takes a RuntimeError out of the generator for its
            # own object having been deleted, warns and ends without ``errored`` or ``finished``, so a job failing
            # with one (torch's "can't allocate memory", a CUDA error) left the runner running for good, its
            # panel's Cancel doing nothing (found in session 34)
            if progress or other:
                yield flush()
            return ("error", exc, n)
        n += 1
        if isinstance(event, Progress):
            progress[(event.stage, event.round)] = event
        else:
            other.append(event)
        now = time.monotonic()
        if now - last >= interval:
            last = now
            yield flush()


class JobRunner(QObject):
    """One background job at a time; ``events`` carries throttled batches, ``finished`` the outcome."""

    started = Signal(str)
    events = Signal(list)
    finished = Signal(object)  # JobOutcome
    #: the running job's name, once, when Cancel is asked for (by its panel, or by closing the window): the panels
    #: say "cancelling…" and turn their Cancel off whoever asked
    cancel_asked = Signal(str)

    def __init__(self, parent: QObject | None = None, *, interval: float = 0.2, workers: Workers | None = None):
        super().__init__(parent)
        self.interval = interval
        #: where its worker is started (its window's, waited for when the window closes); None: untracked
        self.workers = workers
        self.worker = None
        self.name = ""
        self._cancel = threading.Event()
        self._t0 = 0.0
        self._outcome: JobOutcome | None = None
        self._progress: dict = {}
        self._artifacts: dict = {}

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, name: str, factory: Callable[[], Job]):
        """Start ``factory()`` in a worker thread; raises RuntimeError if a job is running."""
        from superqt.utils import create_worker

        if self.running:
            raise RuntimeError(f"a job ({self.name}) is already running")
        self.name = name
        self._cancel = threading.Event()
        self._t0 = time.monotonic()
        self._outcome = None
        self._progress, self._artifacts = {}, {}
        freeze_heap()
        worker = create_worker(drive, factory, self._cancel, interval=self.interval, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        start_worker(worker, self.workers)
        self.started.emit(name)
        return worker

    def cancel(self) -> None:
        """Ask the job to stop at its next event; ``finished`` follows with status "cancelled"."""
        first = self.running and not self._cancel.is_set()
        self._cancel.set()
        if first:
            self.cancel_asked.emit(self.name)

    @property
    def cancelling(self) -> bool:
        return self.running and self._cancel.is_set()

    def _on_yielded(self, batch: list) -> None:
        for ev in batch:
            if isinstance(ev, Progress):
                self._progress[(ev.stage, ev.round)] = ev
            elif isinstance(ev, Artifact):
                self._artifacts[ev.kind] = self._artifacts.get(ev.kind, 0) + 1
        self.events.emit(batch)

    def _on_returned(self, value) -> None:
        status, result, n = value
        if status == "error":
            self._outcome = JobOutcome(self.name, "error", None, result, time.monotonic() - self._t0, n)
        else:
            self._outcome = JobOutcome(self.name, status, result, None, time.monotonic() - self._t0, n)

    def _on_errored(self, exc: BaseException) -> None:
        self._outcome = JobOutcome(self.name, "error", None, exc, time.monotonic() - self._t0)

    def _on_finished(self) -> None:
        outcome = self._outcome or JobOutcome(self.name, "cancelled", None, None, time.monotonic() - self._t0)
        outcome.progress, outcome.artifacts = dict(self._progress), dict(self._artifacts)
        outcome.cancel_asked = self._cancel.is_set()
        self.worker = None
        self.finished.emit(outcome)
