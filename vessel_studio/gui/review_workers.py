"""The Review panel's background workers: reading images (neighbours ahead, and a large image
stepped to before they arrived), vessel measures, statistics, and saving large corrected masks.

Each runs one superqt worker at a time and keeps what is still to do (but the image the panel steps
to, which :class:`ReadAhead` reads at once on a thread of its own); what a worker returns is
handed to the panel on the GUI thread (the worker's signals), never applied from the worker.
The tasks are looked up in :mod:`vessel_studio.gui.tasks` when a worker starts (tests replace them).
A panel closed while a worker runs: calls back into it that touch Qt raise ``RuntimeError``,
which is dropped.
"""

from __future__ import annotations

import threading

import numpy as np
from qtpy.QtCore import QObject, Signal

from vessel_studio.gui import tasks
from vessel_studio.gui.jobs import background_priority, start_worker


class _OnGuiThread(QObject):
    """Runs callables handed to :meth:`call` from any thread on the GUI thread (a queued signal)."""

    called = Signal(object)

    def __init__(self):
        super().__init__()
        self.called.connect(self._run)

    def call(self, fn) -> None:
        self.called.emit(fn)

    @staticmethod
    def _run(fn) -> None:
        fn()


class _Read:
    """One read of an image for the panel to show (a thread of its own); ``cancelled`` once it is not."""

    def __init__(self, proj, image_id: str, which: list):
        self.key = (proj, image_id, which)
        self.cancelled = False


class ReadAhead:
    """What the Review panel shows for other images (image, probability maps, uncertainty), read in
    a worker thread one image at a time (``tasks.read_for_review``).

    ``keep(project, image_id)`` says whether what arrived is still wanted (the same project, not the
    image on screen). ``cache`` maps an image id to what was read for it, with the ``project`` and
    ``which`` maps it was read for; the panel takes it with :meth:`take`.

    :meth:`want` reads the image the panel steps to when it was not read ahead, at once, on a thread of
    its own at the GUI thread's priority (the user waits for it; the neighbours' worker runs below it:
    ``background_priority``): it does not wait for a read in flight, whose image is no longer wanted and
    which stops at its next file (``tasks.ReadCancelled``). Of fast steps only the last image is shown.
    It goes to ``on_arrived(project, which, got)`` (not to the cache), or its error to
    ``on_failed(project, image_id, exc)``, on the GUI thread.
    """

    def __init__(self, keep, on_arrived=None, on_failed=None, *, workers=None):
        self._keep = keep
        self._workers = workers  # the window's (jobs.Workers), waited for when it closes
        self._on_arrived = on_arrived
        self._on_failed = on_failed
        self.cache: dict[str, dict] = {}  # image id -> what the worker read for it
        self.worker = None
        self.pending: list = []  # (project, id, which) still to read ahead, in order
        self.wanted = None  # (project, id, which) of the image to show, until it arrives
        self.reading = None  # (project, id, which) the neighbours' worker reads
        self._reading_cancelled = False  # the neighbour read in flight is no longer wanted
        self.foreground: list[_Read] = []  # reads for the panel to show still running (the last one wanted)
        self._gui = _OnGuiThread()

    def clear(self) -> None:
        self.cache.clear()
        self.pending = []
        self.wanted = None
        self._cancel_stale()

    @property
    def busy(self) -> bool:
        """A read is running or still to start (neighbours or the image to show)."""
        return self.worker is not None or bool(self.pending) or bool(self.foreground)

    @staticmethod
    def _same(a, b) -> bool:
        return a is not None and b is not None and a[0] is b[0] and a[1] == b[1] and a[2] == b[2]

    def _cancel_stale(self) -> None:
        """Every read in flight that is not of the wanted image stops at its next file."""
        for r in self.foreground:
            if not self._same(r.key, self.wanted):
                r.cancelled = True
        if self.reading is not None and not self._same(self.reading, self.wanted):
            self._reading_cancelled = True

    def want(self, proj, image_id: str, which: list) -> None:
        """Read ``image_id`` (maps ``which``) now, for the panel to show: neighbours still to read are
        dropped (and what was read ahead for the image left: memory, a few arrays per image), reads in
        flight of other images stop at their next file. A read of it in flight already (the neighbours'
        worker's, or one wanted before) is waited for instead."""
        self.cache.clear()
        self.wanted = (proj, image_id, which)
        self.pending = []
        self._cancel_stale()
        if (self._same(self.reading, self.wanted) and not self._reading_cancelled) or any(
                self._same(r.key, self.wanted) and not r.cancelled for r in self.foreground):
            return
        self._start_foreground(_Read(proj, image_id, which))

    def unwant(self) -> None:
        """The panel shows an image without waiting for a read (small, or read ahead): the image wanted
        before is not any more (its read stops at its next file; what the neighbours' worker reads is
        kept again: session 27 QA, it was dropped until that read had come in)."""
        self.wanted = None
        for r in self.foreground:
            r.cancelled = True

    def _start_foreground(self, read: _Read) -> None:
        proj, image_id, which = read.key
        self.foreground.append(read)

        def run():  # a new thread: the GUI thread's priority (a pool thread may be below it for good)
            try:
                got = tasks.read_for_review(proj, image_id, which, fov=False, cancelled=lambda: read.cancelled)
            except tasks.ReadCancelled:
                self._gui.call(lambda: self._foreground_done(read))
            except Exception as exc:  # noqa: BLE001 - an unreadable image: on_failed names it
                self._gui.call(lambda e=exc: (self._foreground_done(read), self._errored(proj, image_id, which, e)))
            else:
                self._gui.call(lambda: (self._foreground_done(read), self._arrived(proj, which, got)))

        threading.Thread(target=run, name="vessel-studio-review-read", daemon=True).start()

    def _foreground_done(self, read: _Read) -> None:
        if read in self.foreground:
            self.foreground.remove(read)

    def take(self, image_id: str) -> dict | None:
        return self.cache.pop(image_id, None)

    def read(self, proj, wanted: list[str], which: list) -> None:
        """Read ``wanted`` (in order) for the maps ``which``; drop what was read for any other image
        (memory: a few arrays per image) and skip what was already read for these maps."""
        for k in [k for k in self.cache if k not in wanted]:
            del self.cache[k]
        self.pending = [(proj, j, which) for j in wanted
                        if j not in self.cache or self.cache[j]["which"] != which]
        if self.worker is None and self.pending:
            self._start()

    def _start(self) -> None:
        from superqt.utils import create_worker

        proj, image_id, which = self.reading = self.pending.pop(0)
        self._reading_cancelled = False

        def read():
            background_priority()
            return tasks.read_for_review(proj, image_id, which, cancelled=lambda: self._reading_cancelled)

        worker = create_worker(read, _start_thread=False, _ignore_errors=True)
        # an error (an unreadable image) of a neighbour: nothing is kept, load reads it itself and says
        # what is wrong; of the wanted image (a step to the image being read ahead): on_failed says it
        # the read is over before its outcome is handed on: the panel may want the image again (a file
        # replaced while it was read), which must then start a read, not wait for this one (session 27 QA)
        worker.returned.connect(lambda got, p=proj, w=which: (self._read_over(), self._arrived(p, w, got)))
        worker.errored.connect(lambda exc, p=proj, i=image_id, w=which: (self._read_over(),
                                                                         self._errored(p, i, w, exc)))
        worker.finished.connect(lambda: self._done())
        self.worker = worker
        start_worker(worker, self._workers)

    def _read_over(self) -> None:
        self.reading = None

    def _arrived(self, proj, which, got: dict) -> None:
        try:
            if self._same(self.wanted, (proj, got["image_id"], which)):
                self.wanted = None
                if self._on_arrived is not None:
                    self._on_arrived(proj, which, got)
            elif self.wanted is None and self._keep(proj, got["image_id"]):
                self.cache[got["image_id"]] = {**got, "project": proj, "which": which}
            # else: read for an image stepped past (or ahead of it): dropped
        except RuntimeError:  # the panel was closed meanwhile
            pass

    def _errored(self, proj, image_id: str, which, exc) -> None:
        if isinstance(exc, tasks.ReadCancelled):
            return
        try:
            if self._same(self.wanted, (proj, image_id, which)):
                self.wanted = None
                if self._on_failed is not None:
                    self._on_failed(proj, image_id, exc)
        except RuntimeError:  # the panel was closed meanwhile
            pass

    def _done(self) -> None:
        try:
            self.worker = None
            self.reading = None
            if self.pending:
                self._start()
        except RuntimeError:  # the panel was closed meanwhile
            pass


class Measurer:
    """Vessel measures of a mask (``tasks.measure_image``) in a worker thread: one at a time, and of
    the latest request only (stepping through images must not queue a GIL-heavy measure per image).

    ``on_result(image_id, measures)`` and ``on_error(exc)`` are called on the GUI thread. ``measures`` has
    ``unsaved_edits``: whether the mask measured differs from the ``baseline`` it was asked with (the saved state;
    compared in the worker: ~30 ms of the GUI thread at 15 megapixels).

    Stale results are dropped (:attr:`drop_stale`): what a worker returns after a later request (or
    :meth:`drop_pending`) is not handed on, and the measure running then stops at its next stage
    (``measure_vessels``' ``stop_requested``; session 48: closing the window waited 5.6-6.9 s for a 15-megapixel
    measure whose result was dropped, and an edit's next measure waited for the one before it). The measures follow the mask's unsaved edits (the panel asks again after
    each pause in the editing), so a measure of an older mask may end after a newer mask was asked for: before
    (session 39) it was shown until the newer one's came, and an older mask's measures could land over
    "empty mask" for good.
    """

    #: the worker thread runs below the GUI thread's priority (``background_priority``)
    background = True
    #: the results of any request but the latest are dropped (the subclasses' panels check theirs themselves)
    drop_stale = True

    def __init__(self, on_result, on_error, *, workers=None):
        self._workers = workers  # the window's (jobs.Workers), waited for when it closes
        self._on_result = on_result
        self._on_error = on_error
        self.worker = None
        self.next = None  # the arguments of `_task` to run once the running one ends
        #: the serial number of the latest request (or drop): only its result is handed on (``drop_stale``)
        self.serial = 0
        self._next_serial = 0

    def request(self, *args) -> None:
        """Measure ``_task(*args)`` (project, image id, ...) once the running one ends; an earlier
        pending request is dropped, and so is the running one's result (``drop_stale``)."""
        self.serial += 1
        self.next, self._next_serial = args, self.serial
        if self.worker is None:
            self._start()

    def drop_pending(self) -> None:
        """Nothing more to hand on: the pending request is dropped, and the running one's result (``drop_stale``)."""
        self.serial += 1
        self.next = None

    @staticmethod
    def _task(proj, image_id, mask, image, fov=None, baseline=None, *, stop_requested=None):
        m = tasks.measure_image(proj, image_id, mask, image, fov=fov, stop_requested=stop_requested)
        m["unsaved_edits"] = baseline is not None and not np.array_equal(mask, baseline)
        return m

    def _start(self) -> None:
        from superqt.utils import create_worker

        args, self.next = self.next, None
        image_id, serial = args[1], self._next_serial

        def measure():
            if self.background:
                background_priority()
            if self.drop_stale:  # its result would be dropped once another is asked for (or dropped): it stops
                return self._task(*args, stop_requested=lambda: self.serial != serial)
            return self._task(*args)

        worker = create_worker(measure, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda m, i=image_id, n=serial: self._returned(i, m, n))
        worker.errored.connect(lambda exc, n=serial: self._errored(exc, n))
        worker.finished.connect(lambda: self._done())
        self.worker = worker
        start_worker(worker, self._workers)

    def _done(self) -> None:
        try:
            self.worker = None
            if self.next is not None:  # asked for while this one ran: the latest only
                self._start()
        except RuntimeError:  # the panel was closed while the worker measured
            pass

    def _stale(self, serial: int) -> bool:
        return self.drop_stale and serial != self.serial

    def _returned(self, image_id: str, m: dict, serial: int = 0) -> None:
        if self._stale(serial):  # asked again since (a newer mask), or dropped
            return
        try:
            self._on_result(image_id, m)
        except RuntimeError:  # the panel was closed while the worker measured
            pass

    def _errored(self, exc, serial: int = 0) -> None:
        if self._stale(serial):
            return
        try:
            self._on_error(exc)
        except RuntimeError:
            pass


class StatsReader(Measurer):
    """The field of view and label-free statistics of a large image's map (``tasks.review_stats``) in
    a worker thread, one at a time and of the latest request only, as :class:`Measurer`.

    ``on_result(image_id, got)`` gets ``tasks.review_stats``' dict (``prob`` is the map it was asked
    for: the panel drops it when another map is on screen by then)."""

    drop_stale = False

    @staticmethod
    def _task(proj, image_id, prob, before, image, fov=None):
        return tasks.review_stats(proj, image_id, prob, before, image, fov)


class SaveJob:
    """One Save correction / Accept as reviewed of a large mask (``tasks.save_correction``), run once:
    by the :class:`Saver`'s worker, or on the GUI thread by :meth:`Saver.flush` when that worker has
    not started it. ``error``: what the save raised (the mask file was not replaced), ``state_error``:
    the mask landed but "reviewed" could not be set."""

    def __init__(self, project, image_id: str, mask, *, reviewed: bool = False):
        self.project, self.image_id, self.mask, self.reviewed = project, image_id, mask, reviewed
        #: ``tasks.stat_key`` of the image's draft as the panel last wrote or restored it (None: none of its own):
        #: a save failing after the image was left writes its mask over that draft only, not over one that
        #: another window left since (set aside then; the panel keeps it up to date while the save is in flight)
        self.draft_key = None
        #: a Save correction of a prediction with no edits, saved as Accept as reviewed saves it (``reviewed``)
        self.unedited = False
        self.error: BaseException | None = None
        self.state_error: BaseException | None = None
        self.done = threading.Event()
        self.handled = False  # its outcome was handed to the panel (once)
        self._claimed = False
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """True for the one caller that is to run the job."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def run(self) -> None:
        try:
            tasks.save_correction(self.project, self.image_id, self.mask, reviewed=self.reviewed)
        except tasks.ReviewedStateError as exc:
            self.state_error = exc
        except Exception as exc:  # noqa: BLE001 - every failure is the panel's to show, naming the file
            self.error = exc
        finally:
            self.done.set()


class Saver:
    """Saves of large corrected masks in a worker thread, one at a time and in the order asked
    (a second save of an image lands after the first: the last one asked for is the file's).

    ``on_done(job)`` is called on the GUI thread for every job, in order, once it has landed or
    failed. :meth:`flush` waits for every save still in flight (the panel calls it before anything
    that needs the files: another project, closing, an export or an adaptation, Revert, Discard,
    showing the image again)."""

    def __init__(self, on_done, *, workers=None):
        self._workers = workers  # the window's (jobs.Workers), waited for when it closes
        self._on_done = on_done
        self.queue: list[SaveJob] = []  # not started yet, in order
        self.running: SaveJob | None = None  # the job handed to the worker
        self.worker = None

    def in_flight(self, project, image_id: str) -> SaveJob | None:
        """The latest save of ``image_id`` not landed yet (handled), or None."""
        jobs = ([self.running] if self.running is not None else []) + self.queue
        found = [j for j in jobs if not j.handled and j.project is project and j.image_id == image_id]
        return found[-1] if found else None

    @property
    def busy(self) -> bool:
        return bool(self.queue) or (self.running is not None and not self.running.handled)

    def submit(self, job: SaveJob) -> None:
        self.queue.append(job)
        if self.worker is None:
            self._start()

    def _start(self) -> None:
        from superqt.utils import create_worker

        job = self.running = self.queue.pop(0)

        def save():
            background_priority()
            if job.claim():  # else flush() ran it on the GUI thread meanwhile
                job.run()

        worker = create_worker(save, _start_thread=False, _ignore_errors=True)
        worker.finished.connect(lambda: self._finished())
        self.worker = worker
        start_worker(worker, self._workers)

    def _finished(self) -> None:
        try:
            job, self.running, self.worker = self.running, None, None
            if job is not None:
                self._complete(job)
            if self.queue and not self._flushing:  # flush() runs the queued ones itself
                self._start()
        except RuntimeError:  # the panel was closed meanwhile
            pass

    def _complete(self, job: SaveJob) -> None:
        if not job.handled:
            job.handled = True
            self._on_done(job)

    def run_here(self, job: SaveJob) -> None:
        """Run ``job`` now on the calling (GUI) thread and hand its outcome to ``on_done`` (a small
        mask's save: the file is written when this returns). Saves of other images still in flight
        land on their own; a save of the same image never is (an image's size decides the path)."""
        job.claim()
        job.run()
        self._complete(job)

    _flushing = False

    def flush(self) -> None:
        """Wait on the GUI thread until every save asked for has landed or failed, and hand each
        outcome to ``on_done`` now, in order: the running one is waited for (or run here when its
        worker has not started it: the thread pool may be busy), the queued ones are run here."""
        self._flushing = True
        try:
            while True:
                if self.running is not None and not self.running.handled:
                    job = self.running
                elif self.queue:
                    job = self.queue.pop(0)
                else:
                    break
                if job.claim():
                    job.run()
                else:
                    job.done.wait()
                self._complete(job)
        finally:
            self._flushing = False


class MapsReader(Measurer):
    """The maps (and the mask drawn from them) of the image on screen read again when the project's rounds changed
    (``tasks.read_maps_for_review``) in a worker thread, of the latest request only, as :class:`Measurer` (session
    37: a terminal's ``adapt`` adding a round stalled the window while the GUI thread read them). Not below the GUI
    thread's priority: the person waits for the new round's map (a pool thread lowered before by another worker
    stays lower). ``on_result(image_id, got)`` gets the dict read, with ``serial`` (the request's) and, when the read
    failed, ``error`` (the panel then reads on the GUI thread, which names what is wrong). The same for the image's
    mask when another window saved, accepted or discarded its correction (session 38: read on the GUI thread
    before); ``known``: the maps the panel holds, not read again while their files are unchanged."""

    background = False
    drop_stale = False  # the panel compares the request's ``serial`` itself

    @staticmethod
    def _task(proj, image_id, which, threshold, fov, serial, known=None):
        try:
            got = tasks.read_maps_for_review(proj, image_id, which, threshold=threshold, fov=fov, known=known)
        except Exception as exc:  # noqa: BLE001 - the panel's own read says what is wrong
            return {"image_id": image_id, "serial": serial, "error": exc}
        return {**got, "serial": serial}
