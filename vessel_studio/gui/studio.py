"""The controller shared by the dock widgets of one viewer: project, current image, job runner.

Widgets talk to each other only through a :class:`Studio` (its Qt signals), so each can also be
opened alone from napari's plugin menu: :func:`get_studio` finds or makes the viewer's studio.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, Callable

from qtpy.QtCore import QEvent, QObject, QTimer, Signal

from vessel_studio.gui import dialogs
from vessel_studio.gui.jobs import JobOutcome, JobRunner, Workers, error_text, outcome_text
from vessel_studio.gui.studio_watch import WatchMixin

_STUDIOS: "weakref.WeakKeyDictionary[Any, Studio]" = weakref.WeakKeyDictionary()

#: how often (ms) the open project's manifest is looked at for changes made outside this window
#: (``vessel-studio adapt`` / ``images --remove`` / ``rounds --rollback`` in a terminal, another window)
WATCH_MS = 1000


def _real_viewer(viewer):
    """napari passes plugin widgets a PublicOnlyProxy; key the registry on the viewer itself."""
    return getattr(viewer, "__wrapped__", viewer)


def get_studio(viewer) -> "Studio":
    viewer = _real_viewer(viewer)
    studio = _STUDIOS.get(viewer)
    if studio is None:
        studio = _STUDIOS[viewer] = Studio(viewer)
    return studio


def _is_project(path: str | Path) -> bool:
    """Whether ``path`` is a project folder (holds its manifest): dropped or chosen alone, it is opened."""
    from vessel_studio.store.manifest import MANIFEST_NAME

    return (Path(path) / MANIFEST_NAME).is_file()


class Studio(WatchMixin, QObject):
    project_changed = Signal()  # a project was opened / created / closed
    images_changed = Signal()  # images added, states changed, a round was committed
    image_selected = Signal(str)  # id of the image now shown for review
    status = Signal(str)  # one-line messages for the status bar
    source_changed = Signal()  # the source bundle the next adaptation starts from was changed
    #: another process's job took or released the open project (``outside_job``: a terminal's ``adapt``)
    outside_job_changed = Signal()

    def __init__(self, viewer):
        super().__init__()
        # weak: the registry and the panels must not keep a closed viewer (and its Qt window) alive
        self._viewer = weakref.ref(viewer)
        self.project = None
        self.current_id: str | None = None
        #: the background workers of this window's panels and runners, waited for when it closes
        self.workers = Workers()
        self.runner = JobRunner(self, workers=self.workers)
        self.runner.finished.connect(self._job_finished)
        #: short file jobs (adding images: hashing, probing, copying) beside the adaptation runner
        self.io_runner = JobRunner(self, workers=self.workers)
        self.io_runner.events.connect(self._io_events)
        self.io_runner.finished.connect(self._images_added)
        #: hooks asked before the project or image changes / the window closes: each returns
        #: False to veto (e.g. the review panel with unsaved edits)
        self.leave_hooks: list[Callable[[], bool]] = []
        self.close_hooks: list[Callable[[], None]] = []
        #: hooks that finish the writes still in flight (the Review panel's saves of large masks),
        #: called by ``can_leave`` (not when another image is selected) and before a job starts
        self.flush_hooks: list[Callable[[], None]] = []
        #: asked by ``can_leave`` after the writes in flight landed (not when another image is selected):
        #: each returns False to veto (the Review panel's edits that neither a save nor a draft could keep)
        self.keep_checks: list[Callable[[], bool]] = []
        #: called with the ids of images just taken out of the project (``remove_images``): each drops what
        #: it holds of them (the Review panel: their unsaved edits on screen, edits kept in the window)
        self.forget_hooks: list[Callable[[set[str]], None]] = []
        #: the panels by name ("Project", "Adaptation", "Review", "Export") and the window's docks of them
        #: (``app.attach``); a panel opened from napari's Plugins menu takes its name's place, and the Review
        #: panel leaves it when its dock is closed
        self.panels: dict = {}
        self.docks: dict = {}
        #: each returns True while this window has a write of the project in flight outside a job (the Review
        #: panel's saves of large masks): the outside-change watcher waits for it to land
        self.busy_checks: list[Callable[[], bool]] = []
        # changes made outside this window (_look_outside): what the manifest said when this window last told
        # its panels (every project_changed / images_changed), and a change seen once, acted on when seen again
        self._known = None
        self._pending = None
        self._unreadable = None
        self._idle_key = None  # the manifest file's (inode, mtime, size) when a look last found nothing new
        #: True while the panels are told of a change another program made (``_tell_outside``), or of this window's
        #: roll back (``rounds_changed_here``): a panel may read what changed in a worker
        self.outside_change = False
        #: the job of another process holding the open project (``Project.job_elsewhere``: a terminal's
        #: ``vessel-studio adapt``, another window's adaptation), as the watcher last saw it each second; else None
        self.outside_job: str | None = None
        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_MS)
        self._watch.timeout.connect(self._look_outside)
        self.project_changed.connect(self._remember)
        self.images_changed.connect(self._remember)
        self._close_when_done = False
        self._closing_ok = False
        self._filtered = None
        self.status.connect(self._show_status)
        self._install_close_filter()

    @property
    def viewer(self):
        viewer = self._viewer()
        if viewer is None:
            raise RuntimeError("the viewer of this Vessel Studio was closed")
        return viewer

    # --- project -------------------------------------------------------------------------

    def can_leave(self, *, flush: bool = True) -> bool:
        """Ask the leave hooks (unsaved edits: save, discard or stay); then, unless ``flush`` is False
        (another image of the project is shown), let the writes still in flight land (``flush``):
        what follows (an export, an adaptation, another project, closing) may read or need them; then
        ask the ``keep_checks`` (edits that only this window holds)."""
        if not all(hook() for hook in list(self.leave_hooks)):
            return False
        if flush:
            self.flush()
            return all(check() for check in list(self.keep_checks))
        return True

    def flush(self) -> None:
        """Let the writes still in flight land (``flush_hooks``)."""
        for hook in list(self.flush_hooks):
            hook()

    def _busy_elsewhere(self) -> bool:
        """A job works on the open project: say so (another project must wait until it has stopped)."""
        runner = self.runner if self.runner.running else self.io_runner if self.io_runner.running else None
        if runner is None:
            return False
        dialogs.error(self._parent_widget(), "Busy",
                      f"{runner.name} is still running on this project: open another project once it has "
                      "finished or been cancelled.")
        return True

    def open_project(self, folder: str | Path) -> bool:
        from vessel_studio.store import Project

        if self._busy_elsewhere() or not self.can_leave():
            return False
        try:
            project = Project.open(folder)
        except (ValueError, OSError) as exc:
            dialogs.error(self._parent_widget(), "Cannot open project", str(exc))
            return False
        self._set_project(project)
        self.status.emit(f"opened project {project.name} ({len(project.images)} images)")
        return True

    def new_project(self, folder: str | Path, modality: str, name: str | None = None) -> bool:
        from vessel_studio.store import Project

        if self._busy_elsewhere() or not self.can_leave():
            return False
        try:
            project = Project.create(folder, modality=modality, name=name)
        except (ValueError, OSError) as exc:
            dialogs.error(self._parent_widget(), "Cannot create project", str(exc))
            return False
        self._set_project(project)
        self.status.emit(f"created project {project.name}")
        return True

    def _set_project(self, project) -> None:
        self.project = project
        self.current_id = None
        self.project_changed.emit()
        self.images_changed.emit()
        # whether another process's job holds this project (a terminal's adapt), now: the watcher's next look is up
        # to a second away, and till then the panels followed the project open before (session 38)
        self._look_job(project)
        images = project.images
        if images:
            self.select_image(images[0].id)

    def add_images(self, paths: list[str | Path]) -> bool:
        """Copy images into the project in a worker thread (hashing, probing and copying a folder
        of scans takes seconds); ``images_changed`` and a status message follow when it is done,
        an error dialog names a bad file (nothing is added then). Returns False when nothing was
        started (no project, or images are still being added)."""
        if self.project is None:
            dialogs.error(self._parent_widget(), "No project", "Create or open a project first.")
            return False
        if self.io_runner.running:
            dialogs.error(self._parent_widget(), "Busy", "Images are still being added.")
            return False
        project, files = self.project, [Path(p) for p in paths]
        self.io_runner.start("Adding images", lambda: project.add_images_job(files))
        return True

    def dropped(self, paths: list[str | Path]) -> bool:
        """Files or folders dropped on the window (the Project, Review or Adaptation panel, the image: ``gui.drops``): a
        project folder alone is opened; else the images are added to the open project (``add_images``). Dropped
        files that are not images by their name (a file manager's "select all" takes ``Thumbs.db``, ``.DS_Store``,
        notes) are left out and named in the status line, where "Add images…" would refuse the whole add for them
        (folders are filtered the same way already)."""
        from vessel_studio.store.project import is_image_name
        from vessel_studio.wording import shown_names

        if len(paths) == 1 and _is_project(paths[0]):
            return self.open_project(paths[0])
        projects = [Path(p) for p in paths if _is_project(p)]
        if projects:  # dropped with other files: its top level holds no images ("folder holds no image files")
            dialogs.error(self._parent_widget(), "Cannot add images",
                          f"{shown_names([str(p) for p in projects], 2)}: a project folder, dropped with other files "
                          "or folders: drop it alone to open it (nothing was added)")
            return False
        keep, skipped = [], []
        for p in map(Path, paths):
            junk = p.is_file() and not is_image_name(p)
            (skipped if junk else keep).append(p)
        if skipped:
            self.status.emit(f"left out {len(skipped)} dropped file(s) that are not images: "
                             f"{shown_names([p.name for p in skipped], 5)}")
        return bool(keep) and self.add_images(keep)

    def opened(self, paths: list[str | Path]) -> bool:
        """Files or a folder chosen with napari's own File > Open File(s)…, Open Files as Stack… or Open Folder… in
        this window (``gui.drops.route_file_opens``); True when the studio took them, False to let napari open them
        as layers. A project folder alone is opened. With a project open, images (files named as images, or folders
        holding some at their top level) are offered to it: "Add to project" adds them as Add images… does, "Open as
        layers" lets napari open them (over the Review panel's layers, as before), Cancel does neither. Anything else
        (a web address, a ``.npy``, a folder without images), or no project open: napari's (session 41 QA: napari
        asked "Choose reader", then stacked layers over the Review panel's and took the active layer from the
        mask)."""
        from vessel_studio.store.project import is_image_name
        from vessel_studio.wording import shown_names

        if not paths or any("://" in str(p) for p in paths):
            return False
        given = [Path(p) for p in paths]
        if len(given) == 1 and _is_project(given[0]):
            self.open_project(given[0])
            return True
        if self.project is None:
            return False

        def has_images(folder: Path) -> bool:
            try:
                return any(x.is_file() and is_image_name(x) for x in folder.iterdir())
            except OSError:
                return False

        if not all((p.is_file() and is_image_name(p)) or (p.is_dir() and has_images(p)) for p in given):
            return False
        folders = [p for p in given if p.is_dir()]
        what = (f"the images of {shown_names([str(p) for p in folders], 2)}" if folders and len(folders) == len(given)
                else f"{len(given)} image file(s): {shown_names([p.name for p in given], 5)}" if not folders
                else f"{shown_names([p.name for p in given], 5)}")
        answer = dialogs.add_or_open(
            self._parent_widget(), "Add to the project?",
            f"napari's File menu opens {what}. Add them to the project {self.project.name} (as the Project panel's "
            "Add images… does), or open them as napari layers over the Review panel's image and mask (the mask then "
            "stops being the selected layer: select it again to paint)?")
        if answer == "add":
            self.add_images(given)
        return answer != "open"

    def _io_events(self, batch: list) -> None:
        from vessel_studio.events import Progress

        prog = [e for e in batch if isinstance(e, Progress)]
        if prog:
            e = prog[-1]
            self.status.emit(f"adding images: {e.message} ({e.step}/{e.total})")

    def _images_added(self, outcome: JobOutcome) -> None:
        if outcome.status == "error":
            dialogs.error(self._parent_widget(), "Cannot add images", str(outcome.error))
            self.status.emit("no image added")
        elif outcome.status == "cancelled":
            self.status.emit(outcome_text(outcome))  # the Project panel's bar says the same
        else:
            records = outcome.result or []
            unreadable = self._unreadable_now()
            missed = None if unreadable else self._rounds_changed_meanwhile()
            if missed is None and not unreadable:
                self.images_changed.emit()
            note = getattr(records, "orientation_note", None)  # Project.add_images_job's: files with an orientation tag
            kind = getattr(records, "modality_note", None)  # gray scans in a fundus project, photographs in an octa one
            self.status.emit(f"added {len(records)} image(s)" + (f"; {unreadable}" if unreadable else "")
                             + (f"; {note}" if note else "") + (f"; {kind}" if kind else ""))
            if kind:  # the wrong modality spoils every mask and round: not a status line that the next one replaces
                dialogs.info(self._parent_widget(), "Check the project's modality", f"{kind}.")
            if missed is not None:
                self._outside_changed(*missed)
            if records and self.current_id is None and self.project is not None and not unreadable:
                self.select_image(records[0].id)
        self._close_if_done()

    def remove_images(self, image_ids: list[str]) -> bool:
        """Take images out of the open project (``tasks.remove_images``: their copies, saved corrections,
        autosaved edits, source-only maps and FOV estimates; the files they came from stay, the rounds keep
        their maps); the caller has asked. Refused while a job runs (it may read them). The saves in
        flight land first; what the panels hold of the images goes (``forget_hooks``), without the leave
        question; the image after the one on screen is shown when that one was removed."""
        from vessel_studio.gui import tasks
        from vessel_studio.store.project import ProjectBusyError

        proj = self.project
        if proj is None or not image_ids:
            return False
        runner = self.runner if self.runner.running else self.io_runner if self.io_runner.running else None
        if runner is not None:
            dialogs.error(self._parent_widget(), "Busy",
                          f"{runner.name} is still running on this project: remove images once it has finished "
                          "or been cancelled.")
            return False
        self.flush()  # a save still being written of one of them would fail after the removal
        review = self.panels.get("Review")
        try:
            # the order the person steps in: the Review panel's queue ("most uncertain first"), else the project's
            order = review.ids() if review is not None else [r.id for r in proj.images]
            records = tasks.remove_images(proj, image_ids)
        except (ValueError, OSError, KeyError, ProjectBusyError) as exc:
            dialogs.error(self._parent_widget(), "Cannot remove images", str(exc))
            unreadable = self._unreadable_now()
            if unreadable:  # the folder renamed or the manifest broken elsewhere: the panels cannot read it either
                self.status.emit(unreadable)
            else:
                self.images_changed.emit()
            return False
        gone = {r.id for r in records}
        for hook in list(self.forget_hooks):
            hook(gone)
        following = None
        if self.current_id in gone:  # the image after it (else before it) that stays
            following = self._following(self.current_id, order, {x for x in order if x not in gone})
            self.current_id = None
        self.images_changed_here()  # and rounds changed elsewhere while its question was open
        self.status.emit(f"removed {len(records)} image(s) from the project: {', '.join(r.name for r in records)}")
        if following is not None:
            self.select_image(following)
        return True

    @staticmethod
    def _following(image_id: str, order: list[str], staying) -> str | None:
        """The image to show after ``image_id`` was taken out: the next one in ``order`` (else the one before
        it) of those ``staying``."""
        i = order.index(image_id)
        rest = [x for x in order[i + 1:] + order[:i][::-1] if x in staying]
        return rest[0] if rest else None

    def select_image(self, image_id: str) -> bool:
        if image_id == self.current_id:
            return True
        # another image: a save still being written of the one left lands in the background
        if self.current_id is not None and not self.can_leave(flush=False):
            return False
        self.current_id = image_id
        self.image_selected.emit(image_id)
        return True

    def recorded_source(self) -> dict | None:
        """The manifest's ``source`` record (``SourceBundle.identity()`` of the project's rounds)."""
        if self.project is None:
            return None
        try:
            src = self.project.source
        except (OSError, ValueError):  # an unreadable manifest (the folder renamed elsewhere): nothing recorded to say
            return None
        src = src() if callable(src) else src  # a property in the store (a method in early versions)
        return src or None

    def source_description(self) -> str:
        """One readable line: the source the project's rounds were adapted from, or (no round yet)
        the one the next adaptation will use."""
        from vessel_studio.gui.source_text import describe_bundle, describe_record

        record = self.recorded_source()
        if record:
            return describe_record(record)
        return f"not adapted yet; adaptation will use {describe_bundle(self.source_bundle)}"

    def source_identity(self) -> dict | None:
        """``identity()`` of the chosen bundle (cached per bundle; None when its models are missing)."""
        bundle = self.source_bundle
        if self._identity is not None and self._identity[0] is bundle:
            return self._identity[1]
        from vessel_studio.adaptation.job import SourceBundle

        try:
            ident = (bundle or SourceBundle()).identity()
        except (OSError, ValueError):
            ident = None
        self._identity = (bundle, ident)
        return ident

    def prime_source_identity(self, bundle, identity: dict) -> None:
        """``bundle``'s ``identity()``, made elsewhere (a worker: it hashes the models' weights), as
        :meth:`source_identity`'s cached one once ``bundle`` is the chosen source."""
        self._identity = (bundle, identity)

    def source_conflict(self) -> str | None:
        """When the project already has rounds adapted from another source than the chosen one:
        what running the adaptation now does (``adaptation.job.adapt``: it neither refuses nor starts
        afresh; it adds rounds after the latest one, continuing from that round's models but
        synthesising from the new source, and the manifest then records only the new source)."""
        from vessel_studio.gui.source_text import describe_bundle, describe_record, same_source

        proj = self.project
        record = self.recorded_source()
        if proj is None or not record or not proj.rounds or same_source(record, self.source_identity()):
            return None
        indices = [r.index for r in proj.rounds]
        last = max(indices)
        span = f"round {last} was" if len(indices) == 1 else f"rounds {min(indices)}–{last} were"
        return (f"This project's {span} adapted from {describe_record(record)}. Running now with "
                f"{describe_bundle(self.source_bundle)} does not start afresh: it adds rounds from {last + 1} on, "
                f"which continue from round {last}'s models but make their training pairs from the new source, "
                "and the project then records only the new source, so its rounds mix two sources. To adapt "
                "from the new source alone, roll back to \"no round\" first (Keep rounds up to: no round, "
                "Roll back).")

    # --- jobs ------------------------------------------------------------------------------

    #: the source bundle adaptation starts from (None: the engine's default, the bundled models
    #: with procedural vessel masks); set by the Adaptation panel's "Labelled source images"
    _source_bundle = None
    _identity = None

    @property
    def source_bundle(self):
        return self._source_bundle

    @source_bundle.setter
    def source_bundle(self, bundle) -> None:
        self._source_bundle = bundle
        self.source_changed.emit()

    def adapt_factory(self, cfg, stop_requested=None):
        """A no-argument callable that makes the adaptation job (called in the worker thread);
        ``stop_requested``: the job's "stop after this round" (``adaptation.job.adapt``)."""
        project, source = self.project, self.source_bundle

        def factory():
            try:
                from vessel_studio.adaptation import adapt
            except ImportError:
                from vessel_studio.adaptation.job import adapt
            return adapt(project, cfg, source=source, stop_requested=stop_requested)

        return factory

    def job_panel(self, name: str) -> str | None:
        """The panel that shows the progress and Cancel of the job ``name`` on the studio's runner (the Adaptation
        panel its runs, a ``JobBar`` the others'); None when no panel does."""
        from vessel_studio.gui.jobbar import JobBar

        runner = self.runner
        if name == "Adaptation" and "Adaptation" in self.panels:
            return "Adaptation"
        for panel_name, panel in self.panels.items():
            try:
                bars = panel.findChildren(JobBar)
            except RuntimeError:  # a closed panel
                continue
            if any(name in bar.names and bar.runner is runner for bar in bars):
                return panel_name
        return None

    def busy_text(self) -> str:
        """The "Busy" dialog's line: the job still running, and the panel of its progress and Cancel. Session 42 QA:
        in one column of tabs (a laptop's screen) that panel is often a tab behind the one in front."""
        from vessel_studio.gui import tasks

        name = self.runner.name
        panel = self.job_panel(name)
        # a roll back has no Cancel: it cannot stop halfway
        what = "its progress is" if name == tasks.ROLL_BACK else "its progress and Cancel are"
        return f"{name} is still running" + (f" ({what} in the {panel} panel)." if panel else ".")

    def start_job(self, name: str, factory) -> bool:
        if self.runner.running:
            dialogs.error(self._parent_widget(), "Busy", self.busy_text())
            return False
        self.flush()  # a job may read the saved masks (export, adaptation): those being written land first
        self.runner.start(name, factory)
        return True

    def _job_finished(self, outcome: JobOutcome) -> None:
        from vessel_studio.gui import tasks

        unreadable = self._unreadable_now()
        missed = None if unreadable else self._rounds_changed_meanwhile(outcome)
        # a roll back's end: its panel tells the panels (``rounds_changed_here``, after its own line), as a roll back
        # on the GUI thread did before session 45; told here first, the Review panel's note of a rolled-back round on
        # screen was set and then cleared by that
        if self.project is not None and missed is None and not unreadable and outcome.name != tasks.ROLL_BACK:
            self.images_changed.emit()
        if outcome.status == "error":
            dialogs.error(self._parent_widget(), f"{outcome.name} failed", error_text(outcome.error))
        self.status.emit(outcome_text(outcome))  # a cancel: what that job left behind
        if unreadable:
            self.status.emit(unreadable)
        if missed is not None:  # after the job's own line: the status bar keeps the last one
            self._outside_changed(*missed)
        self._close_if_done()

    def _close_if_done(self) -> None:
        if self._close_when_done and not self.runner.running and not self.io_runner.running:
            self._close_when_done = False
            self._closing_ok = True
            # the window stayed usable while the job stopped: edits made since the question are
            # kept as a draft (as closing at once keeps them), not lost with the window
            for hook in list(self.close_hooks):
                hook()
            viewer = self._viewer()
            if viewer is not None:
                viewer.close()

    # --- closing ---------------------------------------------------------------------------

    def _parent_widget(self):
        try:
            return self.viewer.window._qt_window
        except (AttributeError, RuntimeError):
            return None

    def _install_close_filter(self) -> None:
        win = self._parent_widget()
        if win is not None:
            win.installEventFilter(self)
            self._filtered = weakref.ref(win)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        win = self._filtered() if self._filtered is not None else None
        if win is not None and obj is win and event.type() == QEvent.Type.Close:
            if not self._closing_ok and not self.confirm_close():
                event.ignore()
                return True
            self._watch.stop()  # the window closes: nobody to tell of changes made outside it
            self._let_workers_end()
        return False

    #: how long closing waits for the panels' workers (the longest is a vessel measure of a large image)
    CLOSE_WAIT_MS = 10000

    def _let_workers_end(self) -> None:
        """The window closes: the superqt workers this window started (:attr:`workers`) are asked to quit
        (generators, the thumbnails, stop at their next item) and the ones running are waited for, up to
        ``CLOSE_WAIT_MS``, as napari's ``aboutToQuit`` does for every worker when its event loop ends (the close
        hooks have cancelled the Review panel's reads). A script that closes the window without running the
        event loop (``viewer.close()``, then exit) left them running into the interpreter's exit, which printed
        "Signal source has been deleted" tracebacks from superqt (seen in session 32, reproduced in 33). Other
        windows' and plugins' workers are left alone (session 33 asked all of the process's to quit). One still
        running after the wait: the window closes anyway (napari's own exit waits for it)."""
        self.workers.end(self.CLOSE_WAIT_MS)

    def confirm_close(self) -> bool:
        """Called when the window is about to close: True lets it close now.

        A running job: ask, then cancel it and close once it has finished (the job restores the
        project); unsaved corrections: the leave hooks ask to save, discard or stay.
        """
        if self.runner.running:
            from vessel_studio.gui import tasks

            if self._close_when_done:
                return False
            if not dialogs.confirm(
                self._parent_widget(),
                "A job is running",
                f"{self.runner.name} is still running. Cancel it and close?"
                + (" The rounds it has finished are removed: the project goes back to how it was before it "
                   "(Cancel here, then the Adaptation panel's \"Stop after this round\", keeps them)."
                   if self.runner.name == "Adaptation" else
                   " A roll back cannot be stopped halfway: the window closes once it has finished."
                   if self.runner.name == tasks.ROLL_BACK else ""),
            ):
                return False
            if not self.can_leave():
                return False
            if self._stop_jobs_then_close():
                return False
        elif self.io_runner.running:  # adding images: cancel (adds nothing), close when it has stopped
            if not self.can_leave():
                return False
            if self._stop_jobs_then_close():
                return False
        elif not self.can_leave():
            return False
        for hook in list(self.close_hooks):
            hook()
        return True

    def _stop_jobs_then_close(self) -> bool:
        """After ``confirm_close``'s questions: cancel the job still running and close once it has stopped (True).
        False when none runs any more: a job that ended while a question was open (its event loop delivers the
        job's end) leaves nothing to wait for, and the window closes now (before session 31 it waited for that
        end, which had come already: the window stayed open)."""
        if self.runner.running:
            self._close_when_done = True
            self.runner.cancel()
            self.status.emit(f"cancelling {self.runner.name}; the window closes when it has stopped")
            return True
        if self.io_runner.running:
            self._close_when_done = True
            self.io_runner.cancel()
            return True
        return False

    def _show_status(self, text: str) -> None:
        try:
            viewer = self._viewer()
            if viewer is not None:
                viewer.status = text
        except Exception:  # noqa: BLE001 - a closed viewer
            pass
