"""The Review panel's two background readers: reading neighbours ahead, and vessel measures.

Each runs one superqt worker at a time and keeps what is still to do; what a worker returns is
handed to the panel on the GUI thread (the worker's signals), never applied from the worker.
The tasks are looked up in :mod:`vessel_studio.gui.tasks` when a worker starts (tests replace them).
A panel closed while a worker runs: calls back into it that touch Qt raise ``RuntimeError``,
which is dropped.
"""

from __future__ import annotations

from vessel_studio.gui import tasks
from vessel_studio.gui.jobs import background_priority


class ReadAhead:
    """What the Review panel shows for other images (image, probability maps, uncertainty), read in
    a worker thread one image at a time (``tasks.read_for_review``).

    ``keep(project, image_id)`` says whether what arrived is still wanted (the same project, not the
    image on screen). ``cache`` maps an image id to what was read for it, with the ``project`` and
    ``which`` maps it was read for; the panel takes it with :meth:`take`.
    """

    def __init__(self, keep):
        self._keep = keep
        self.cache: dict[str, dict] = {}  # image id -> what the worker read for it
        self.worker = None
        self.pending: list = []  # (project, id, which) still to read ahead, in order

    def clear(self) -> None:
        self.cache.clear()
        self.pending = []

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

        proj, image_id, which = self.pending.pop(0)

        def read():
            background_priority()
            return tasks.read_for_review(proj, image_id, which)

        worker = create_worker(read, _start_thread=False, _ignore_errors=True)
        # an error (an unreadable file): nothing is kept, load reads it itself and says what is wrong
        worker.returned.connect(lambda got, p=proj, w=which: self._arrived(p, w, got))
        worker.finished.connect(lambda: self._done())
        self.worker = worker
        worker.start()

    def _arrived(self, proj, which, got: dict) -> None:
        try:
            if self._keep(proj, got["image_id"]):
                self.cache[got["image_id"]] = {**got, "project": proj, "which": which}
        except RuntimeError:  # the panel was closed meanwhile
            pass

    def _done(self) -> None:
        try:
            self.worker = None
            if self.pending:
                self._start()
        except RuntimeError:  # the panel was closed meanwhile
            pass


class Measurer:
    """Vessel measures of a mask (``tasks.measure_image``) in a worker thread: one at a time, and of
    the latest request only (stepping through images must not queue a GIL-heavy measure per image).

    ``on_result(image_id, measures)`` and ``on_error(exc)`` are called on the GUI thread.
    """

    def __init__(self, on_result, on_error):
        self._on_result = on_result
        self._on_error = on_error
        self.worker = None
        self.next = None  # the arguments of `_task` to run once the running one ends

    def request(self, *args) -> None:
        """Measure ``_task(*args)`` (project, image id, ...) once the running one ends; an earlier
        pending request is dropped."""
        self.next = args
        if self.worker is None:
            self._start()

    def drop_pending(self) -> None:
        self.next = None

    @staticmethod
    def _task(proj, image_id, mask, image, fov=None):
        return tasks.measure_image(proj, image_id, mask, image, fov=fov)

    def _start(self) -> None:
        from superqt.utils import create_worker

        args, self.next = self.next, None
        image_id = args[1]

        def measure():
            background_priority()
            return self._task(*args)

        worker = create_worker(measure, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda m, i=image_id: self._returned(i, m))
        worker.errored.connect(lambda exc: self._errored(exc))
        worker.finished.connect(lambda: self._done())
        self.worker = worker
        worker.start()

    def _done(self) -> None:
        try:
            self.worker = None
            if self.next is not None:  # asked for while this one ran: the latest only
                self._start()
        except RuntimeError:  # the panel was closed while the worker measured
            pass

    def _returned(self, image_id: str, m: dict) -> None:
        try:
            self._on_result(image_id, m)
        except RuntimeError:  # the panel was closed while the worker measured
            pass

    def _errored(self, exc) -> None:
        try:
            self._on_error(exc)
        except RuntimeError:
            pass


class StatsReader(Measurer):
    """The field of view and label-free statistics of a large image's map (``tasks.review_stats``) in
    a worker thread, one at a time and of the latest request only, as :class:`Measurer`.

    ``on_result(image_id, got)`` gets ``tasks.review_stats``' dict (``prob`` is the map it was asked
    for: the panel drops it when another map is on screen by then)."""

    @staticmethod
    def _task(proj, image_id, prob, before, image, fov=None):
        return tasks.review_stats(proj, image_id, prob, before, image, fov)
