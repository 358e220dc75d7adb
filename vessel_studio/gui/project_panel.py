"""Project panel: new / open a project, add images (folder, files, drag and drop), image list."""

from __future__ import annotations

import time
import weakref

import numpy as np
from qtpy.QtCore import QEvent, QItemSelectionModel, QSize, Qt, QTimer
from qtpy.QtGui import QIcon, QKeySequence, QShortcut
from qtpy.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from vessel_studio.gui import dialogs
from vessel_studio.gui.drops import route_drops
from vessel_studio.gui.jobbar import JobBar
from vessel_studio.gui.jobs import background_priority, error_text, start_keyed, start_worker
from vessel_studio.gui.qtutil import array_to_pixmap, napari_key, rich_name, thumbnail
from vessel_studio.store.project import IMAGE_SUFFIXES
from vessel_studio.wording import shown_names, spacing_um

IMAGE_FILTER = "Images (" + " ".join("*" + s for s in IMAGE_SUFFIXES) + ")"
#: the image list's thumbnails, logical px a side. They are made at the screen's device pixels (``ProjectPanel.
#: thumb_ratio``): made at 48 px, a screen scaled to 200 % drew each pixel of them as 2 x 2 (session 43, 3840 x 2160
#: at ``QT_SCALE_FACTOR=2``: blocky thumbnails beside sharp text)
THUMB_SIDE = 48
#: the thumbnail worker hands its thumbnails to the list in batches, at most one every THUMB_BATCH_S (and one at its
#: end). Handed one by one, each thumbnail repainted the whole window, ~60 ms a frame with napari's canvas drawn in
#: software: opening a 1,000-image project took 49 s until its last thumbnail, with 166 stalls over 100 ms; 6.7 s
#: and 1 in batches (medians of 6, session 45, ``benchmarks/gui_stalls.py --only "open 1000-image project"``,
#: benchmarks/results/gui/README.md)
THUMB_BATCH_S = 0.2
STATE_MARK = {"new": "○ new", "predicted": "◐ predicted", "reviewed": "● reviewed", "corrected": "✎ corrected"}


#: the Remove from project… button's tool tip (when no job runs)
REMOVE_TIP = ("take the selected images out of the project (an image added by mistake): their copies, saved corrections "
              "and autosaved edits; the files they were added from are not touched (Delete key in the list)")
#: "Remove from project…" while another process's job holds the project (``Studio.outside_job``: a terminal's
#: ``adapt``, which reads the images): disabled with this tooltip, as while this window's own job runs (session 38:
#: it stayed enabled, asked its question and then failed, "Cannot remove images")
#: (session 39: the tooltip named the job twice, "vessel-studio adapt (…) holds this project (a terminal's vessel-studio
#: adapt, another window)"; it names it once, as ``job_holder`` does)
REMOVE_HELD_TIP = "{holder} holds this project: remove images once it has ended (or stop it there)"
#: the Set pixel spacing… button's tool tip
SPACING_TIP = ("set the pixel spacing of the selected images (mm or µm per pixel: the field of view ÷ its pixels), for "
               "scans whose files record none: the vessel measures are then in mm / µm, and the exported masks and maps "
               "record it; a set spacing wins over the file's; the segmentation does not use it")


class ImageList(QListWidget):
    """The image list. A letter or digit typed in it goes on to napari's keys, as from the panels' buttons (P / 2
    paint, E / 1 erase, F / 4 fill, V shows or hides the selected layer ...), instead of the list's type-ahead
    search. Session 40 QA: after a click on an image's row (the focus stays in the list) the keys a person
    correcting the mask presses did nothing, or moved the list to the next image whose name starts with the key
    ("s" twice in images named "sample-…") and showed that image. The arrow keys, Home / End, Page keys (the
    window's image steps) and Delete stay the list's."""

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if napari_key(event):
            event.ignore()  # to the dock, which hands it to napari's key bindings
            return
        super().keyPressEvent(event)


def _row_text(rec) -> str:
    """An image's row in the list: its name, and its state under it."""
    return f"{rec.name}\n{STATE_MARK.get(rec.state, rec.state)}"


def _spacing_said(rec) -> str:
    """An image's pixel spacing as the panel says it: ``9.87 µm/px (set)``, ``… (from the file)``, or ``unknown``."""
    if rec.pixel_spacing is None:
        return "unknown"
    return spacing_um(rec.pixel_spacing, ".3g", origin=rec.spacing_origin)


class ProjectPanel(QWidget):
    """Shows the project of a :class:`~vessel_studio.gui.studio.Studio` and edits its image set."""

    def __init__(self, studio, parent=None):
        super().__init__(parent)
        self.studio = studio
        # files dropped on it (its image list) go to the studio (``Studio.dropped``), once the drop has returned
        route_drops(studio, self)
        self._thumbs: dict[str, object] = {}
        #: each image's row in the list (refresh makes them): a thumbnail or a selection finds its row at once;
        #: scanning the list for each thumbnail was quadratic (a 1,000-image project: ~1M item reads on the GUI
        #: thread after opening it, stalls of up to seconds; session 32)
        self._items: dict[str, QListWidgetItem] = {}
        self._thumbs_asked: set[str] = set()  # the ids a thumbnail worker was given (read or not)
        self._thumb_errors: dict[str, str] = {}  # the ids whose thumbnail could not be made: the error
        self._thumb_worker = None
        self._thumb_folder = None  # the folder of the project the running thumbnail worker reads
        #: the thumbnail worker's run now: a batch or the end of an earlier run (another project's, one stopped) is
        #: dropped
        self._thumb_run = 0

        self.title = QLabel("No project open")
        self.title.setWordWrap(True)
        self.source = QLabel("")
        self.source.setWordWrap(True)
        self.source.setStyleSheet("color: gray")
        self.btn_new = QPushButton("New project…")
        self.btn_open = QPushButton("Open project…")
        self.btn_folder = QPushButton("Add folder…")
        self.btn_files = QPushButton("Add images…")
        self.list = ImageList()
        self.list.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.list.setAccessibleName("Project images")  # no label above it: a screen reader said "list" (session 48)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setToolTip("Target images of the project; double-click one (or press Enter) to correct it in the "
                             "Review panel; drop image files or folders here to add them; "
                             "select several with Ctrl / Shift to remove them")
        self.btn_remove = QPushButton("Remove from project…")
        self.btn_remove.setToolTip(REMOVE_TIP)
        self.btn_spacing = QPushButton("Set pixel spacing…")
        self.btn_spacing.setToolTip(SPACING_TIP)
        #: the pixel spacing write, in a worker: a 1,000-image manifest's edit took 91-119 ms (medians of 15, three
        #: runs, session 47), over the ~50 ms a click may hold the GUI thread. Its key while it runs, else None
        self._spacing_key = None
        self._spacing_runs = 0
        self.counts = QLabel("")
        self.jobbar = JobBar(studio, ("Adding images",), runner=studio.io_runner)  # its progress and Cancel

        grid = QGridLayout()
        grid.addWidget(self.btn_new, 0, 0)
        grid.addWidget(self.btn_open, 0, 1)
        grid.addWidget(self.btn_folder, 1, 0)
        grid.addWidget(self.btn_files, 1, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.source)
        lay.addLayout(grid)
        lay.addWidget(self.jobbar)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.counts)
        # one under the other: side by side (session 47's first try), 5 of the 7 tests of the docks' layout failed
        # (tests/gui/test_window_relayout.py: the window kept one column of docks where it had two; a wider panel)
        lay.addWidget(self.btn_spacing)
        lay.addWidget(self.btn_remove)

        self.btn_new.clicked.connect(self._new)
        self.btn_open.clicked.connect(self._open)
        self.btn_folder.clicked.connect(self._add_folder)
        self.btn_files.clicked.connect(self._add_files)
        self.list.currentItemChanged.connect(self._item_changed)
        self.list.itemActivated.connect(self._item_activated)  # a double-click or Enter on a row
        self.list.itemSelectionChanged.connect(self._update_remove)
        self.btn_remove.clicked.connect(self.remove_selected)
        self.btn_spacing.clicked.connect(self.set_spacing_selected)
        # the studio's watcher of changes made elsewhere waits for the spacing write (it is this window's change);
        # held weakly: a panel whose dock was closed is let go (session 49 QA: the studio kept every closed Project
        # panel, connected to its signals, listing the images and making thumbnails at each change), while a write
        # still in flight keeps it (its worker's signals hold it)
        setting_spacing = weakref.WeakMethod(self._setting_spacing)

        def busy() -> bool:
            check = setting_spacing()
            if check is None:  # let go: out of the list (the studio outlives its panels)
                if busy in studio.busy_checks:
                    studio.busy_checks.remove(busy)
                return False
            return check()

        studio.busy_checks.append(busy)
        self._delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.list)
        self._delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        self._delete.activated.connect(self.remove_selected)
        studio.runner.started.connect(self._update_remove)
        studio.runner.finished.connect(self._update_remove)
        studio.io_runner.started.connect(self._update_remove)
        studio.io_runner.finished.connect(self._update_remove)
        studio.outside_job_changed.connect(self._update_remove)
        studio.project_changed.connect(self.refresh)
        studio.images_changed.connect(self.refresh)
        studio.image_selected.connect(self._select_row)
        studio.source_changed.connect(self._refresh_source)
        self.refresh()

    # --- actions ---------------------------------------------------------------------------

    def _new(self) -> None:
        answer = dialogs.ask_new_project(self)
        if answer:
            self.studio.new_project(*answer)

    def _open(self) -> None:
        folder = dialogs.pick_folder(self, "Open a Vessel Studio project folder")
        if folder:
            self.studio.open_project(folder)

    def _add_folder(self) -> None:
        folder = dialogs.pick_folder(self, "Add all images of a folder")
        if folder:
            self.studio.add_images([folder])

    def _add_files(self) -> None:
        files = dialogs.pick_files(self, "Add images", IMAGE_FILTER)
        if files:
            self.studio.add_images(files)

    def selected_ids(self) -> list[str]:
        """The images selected in the list, in project order."""
        rows = sorted(self.list.row(it) for it in self.list.selectedItems())
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in rows]

    def _update_remove(self, *_args) -> None:
        # Set pixel spacing… stays enabled while a job runs (session 47): no job reads the spacing but an export, which
        # reads each image's once (its files and its measures.csv row use the same), and the edit is made under the
        # manifest's lock as a job's own edits are
        self.btn_spacing.setEnabled(self.studio.project is not None and bool(self.list.selectedItems())
                                    and self._spacing_key is None)
        busy = self.studio.runner.running or self.studio.io_runner.running
        holder = self.studio.outside_job  # another process's job, as the studio's watcher last saw it
        self.btn_remove.setEnabled(self.studio.project is not None and bool(self.list.selectedItems()) and not busy
                                   and not holder)
        self.btn_remove.setToolTip("remove images once the running job has finished" if busy else
                                   REMOVE_HELD_TIP.format(holder=holder) if holder else REMOVE_TIP)

    def _held_elsewhere(self, proj) -> bool:
        """Another job holds the project (a terminal's ``adapt``, which reads the images): say so now, before the
        question (before session 38 the question was asked and the removal then failed, "Cannot remove images").
        Asked at the click: the watcher that disables the button looks once a second, and the Delete key of the
        list removes with the button disabled."""
        try:
            held = proj.job_running()
            holder = proj.job_holder() if held else ""
        except OSError:  # the lock cannot be read (the folder renamed): the removal says what is wrong
            return False
        if held:
            dialogs.error(self, "Busy", f"{proj.folder}: {holder} holds this project; remove images after it ends "
                                        "(or stop it there). Nothing was removed.")
        return held

    def remove_selected(self) -> bool:
        """Ask, then take the selected images out of the project (``Studio.remove_images``)."""
        from vessel_studio.gui import tasks

        proj, ids = self.studio.project, self.selected_ids()
        if proj is None or not ids:
            return False
        if self.studio.runner.running or self.studio.io_runner.running:
            return self.studio.remove_images(ids)  # says why not
        if self._held_elsewhere(proj):
            return False
        names = tasks.display_names(proj.images)  # a name two images share gets its id
        chosen = set(ids)
        corrected = [names[i] for i in proj.correction_ids() if i in chosen]
        drafts = [names[i] for i in tasks.draft_ids(proj) if i in chosen]
        # the image on screen has unsaved edits only when the Review panel holds some (session 34 guide QA: the
        # question said "their unsaved edits" are deleted whenever the image on screen was among them, edits or not)
        review = self.studio.panels.get("Review")
        unsaved = review.unsaved_among(set(ids)) if review is not None else []
        shown = shown_names([names.get(i, i) for i in ids], 5)
        lost = []
        if corrected:
            lost.append(f"their saved corrections ({len(corrected)}: {', '.join(corrected[:5])}"
                        + ("…" if len(corrected) > 5 else "") + "), trusted labels")
        if drafts or unsaved:
            lost.append("their unsaved edits")
        if not dialogs.confirm(
                self, "Remove from project",
                f"Take {len(ids)} image(s) out of the project: {shown}?\n\n"
                "Their copies in the project" + (", " + ", ".join(lost) if lost else "")
                + " and what the studio keeps of them are deleted; the files they were added from are not touched, "
                "and the rounds keep their maps. Adding an image again brings it back without them. "
                "This cannot be undone."):
            return False
        return self.studio.remove_images(ids)

    def _setting_spacing(self) -> bool:
        """``studio.busy_checks``: a pixel spacing edit is still being written."""
        return self._spacing_key is not None

    def set_spacing_selected(self) -> bool:
        """Ask for the pixel spacing of the selected images (``dialogs.ask_pixel_spacing``), then set it, or clear it,
        in a worker (``Project.set_spacing``: one manifest edit); the Review panel's title and measures follow
        (``images_changed``). Returns whether a write was started."""
        from vessel_studio.gui import tasks

        proj, ids = self.studio.project, self.selected_ids()
        if proj is None or not ids or self._spacing_key is not None:
            return False
        try:
            records = [proj.image(i) for i in ids]
            names = tasks.display_names(proj.images)
        except (KeyError, ValueError, OSError) as exc:
            dialogs.error(self, "Cannot set pixel spacing", str(exc))
            return False
        now = sorted({_spacing_said(r) for r in records})
        current = {r.pixel_spacing for r in records}
        one = next(iter(current)) if len(current) == 1 else None
        text = (f"Pixel spacing of {len(ids)} image(s): {shown_names([names.get(i, i) for i in ids], 5)}.\n"
                f"Now: {'; '.join(now)}.")
        answer = dialogs.ask_pixel_spacing(self, text, None if one is None else one[1] * 1000)
        if answer is None:
            return False
        what, pair = answer
        self._spacing_runs += 1
        key = self._spacing_key = (proj.folder, self._spacing_runs)
        self._update_remove()
        self.studio.status.emit(f"setting the pixel spacing of {len(ids)} image(s)…" if what == "set" else
                                f"clearing the pixel spacing set for {len(ids)} image(s)…")
        start_keyed(lambda: proj.set_spacing(ids, pair), key, self._spacing_written, self.studio.workers)
        return True

    def _spacing_written(self, key, value) -> None:
        """The spacing write's end (GUI thread): the panels are told (``images_changed``), or its error said."""
        if key != self._spacing_key:
            return
        self._spacing_key = None
        self._update_remove()
        proj = self.studio.project
        if isinstance(value, tuple) and value and value[0] == "error":
            dialogs.error(self, "Cannot set pixel spacing", f"{error_text(value[1])} (nothing was changed)")
            return
        if proj is None or proj.folder != key[0]:  # another project opened meanwhile: written, nothing to show
            return
        self.studio.images_changed_here()  # and rounds another program changed meanwhile, told first
        records = value or []
        if records:
            self.studio.status.emit(f"pixel spacing of {len(records)} image(s): {_spacing_said(records[0])}; the "
                                    "vessel measures and exports use it")

    def dropped(self, paths: list[str]) -> bool:
        """Files or folders dropped on the panel (``Studio.dropped``: a project folder alone is opened, else the
        images are added, files that are not images left out and named)."""
        return self.studio.dropped(paths)

    # --- display ---------------------------------------------------------------------------

    def refresh(self) -> None:
        proj = self.studio.project
        enabled = proj is not None
        self.btn_folder.setEnabled(enabled)
        self.btn_files.setEnabled(enabled)
        self.list.blockSignals(True)
        if proj is None:
            self._stop_thumbs()
            self.list.clear()
            self._items = {}
            self.title.setText("No project open: create one or open a project folder.")
            self.source.setText("")
            self.counts.setText("")
            self.list.blockSignals(False)
            self._update_remove()
            return
        if self._thumb_folder is not None and self._thumb_folder != proj.folder:
            self._stop_thumbs()  # another project opened: its thumbnails are not this one's
        images = proj.images
        rounds = proj.rounds
        self.title.setText(  # a long name may wrap (``qtutil.rich_name``: breakable, escaped): it made the panel wider than its dock
            f"<b>{rich_name(proj.name)}</b> — {proj.modality}, {len(images)} images, "
            f"{len(rounds)} round(s)<br><small>{rich_name(str(proj.folder))}</small>"
        )
        self._refresh_source()
        counts: dict[str, int] = {}
        missing = [rec.id for rec in images if rec.id not in self._thumbs]
        if list(self._items) == [rec.id for rec in images]:
            # the same images in the same order (a state changed, a round added): the rows' texts change in place,
            # the list, its icons and its selection stay (made again, a 1,000-image list took ~45 ms of the GUI
            # thread at each state change: session 32)
            for rec in images:
                counts[rec.state] = counts.get(rec.state, 0) + 1
                item, text = self._items[rec.id], _row_text(rec)
                if item.text() != text:
                    item.setText(text)
        else:
            self.list.clear()
            self._items = {}
            for rec in images:
                counts[rec.state] = counts.get(rec.state, 0) + 1
                item = QListWidgetItem(_row_text(rec))
                item.setData(Qt.ItemDataRole.UserRole, rec.id)
                pix = self._thumbs.get(rec.id)
                if pix is not None:
                    item.setIcon(QIcon(pix))
                elif rec.id in self._thumb_errors:
                    self._show_thumb_failed(item, self._thumb_errors[rec.id])
                self.list.addItem(item)
                self._items[rec.id] = item
        self.counts.setText(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no images yet: add some")
        self.list.blockSignals(False)
        if self.studio.current_id:
            self._select_row(self.studio.current_id)
        self._update_remove()
        if missing:
            self._load_thumbs(missing)

    def _refresh_source(self) -> None:
        """The readable source line: what the project's rounds were adapted from (the manifest's
        record), or what the next adaptation will use."""
        self.source.setText("" if self.studio.project is None else f"Source: {self.studio.source_description()}")

    def _load_thumbs(self, ids: list[str]) -> None:
        """Make thumbnails in a worker thread (reading images is I/O and decoding); they come in batches
        (``THUMB_BATCH_S``). A worker reading another project (one closed meanwhile) is stopped first."""
        from superqt.utils import create_worker

        proj = self.studio.project
        if self._thumb_worker is not None:
            if self._thumb_folder == proj.folder:
                return  # ``_thumbs_done`` asks for the images listed meanwhile
            self._stop_thumbs()
        self._thumb_run += 1
        run = self._thumb_run
        self._thumbs_asked.update(ids)
        ratio = self.thumb_ratio()
        side = round(THUMB_SIDE * ratio)

        def work():
            background_priority()
            batch, handed = [], time.monotonic()
            for image_id in ids:
                try:
                    batch.append((image_id, thumbnail(proj.read_image(image_id), side), ratio))
                except KeyError:  # taken out of the project meanwhile
                    pass
                except Exception as exc:  # noqa: BLE001 - an unreadable image: its row says so, the others go on
                    # (a RuntimeError, a reader's "can't allocate memory", ended the worker: superqt swallows it and
                    # the panel waited for the worker for good, making no thumbnail again; session 34 leftover)
                    batch.append((image_id, error_text(exc)))
                if batch and time.monotonic() - handed >= THUMB_BATCH_S:
                    yield run, batch  # (a quit asked stops the worker here)
                    batch, handed = [], time.monotonic()
            if batch:
                yield run, batch
            # not None: PySide6 (6.12, Python 3.11) loses a reference to None when a queued signal
            # carries it, and enough of those crash the interpreter ("deallocating None")
            return len(ids)

        worker = create_worker(work, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._got_thumbs)
        # held weakly, not by a partial of the bound method: with a partial, a dock closed while the worker's signals
        # were queued lost them all (its thumbnails, its end) in 3-5 of 30 closes on a loaded machine, and the closed
        # panel stayed for good, held by the worker that superqt and the studio kept (session 50; 0 of 60 with this;
        # none lost in 30 runs without a close); a running worker no longer keeps a closed panel
        done = weakref.WeakMethod(self._thumbs_done)
        worker.finished.connect(lambda run=run: (method := done()) is not None and method(run))
        self._thumb_worker, self._thumb_folder = worker, proj.folder
        start_worker(worker, self.studio.workers)

    def _stop_thumbs(self) -> None:
        """The project changed or closed: the thumbnail worker stops at its next batch, and what it still hands
        over is dropped (``_thumb_run``). Its images not made yet are asked again when listed again."""
        if self._thumb_worker is None:
            return
        try:
            self._thumb_worker.quit()
        except RuntimeError:  # its Qt object is gone: it has ended
            pass
        self._thumb_worker = self._thumb_folder = None
        self._thumb_run += 1
        self._thumbs_asked.clear()

    def _got_thumbs(self, handed) -> None:
        """A batch of thumbnails (``(id, array, ratio)``) and errors (``(id, text)``) from the worker, set in one go:
        one repaint of the window for the batch. Those of an earlier run, or of an image no longer listed (removed
        meanwhile), are dropped."""
        run, batch = handed
        if run != self._thumb_run:
            return
        try:
            for item in batch:
                if item[0] not in self._items:  # taken out of the list meanwhile: made again if it comes back
                    self._thumbs_asked.discard(item[0])
                elif isinstance(item[1], str):
                    self._thumb_failed(*item)
                else:
                    self._set_thumb(*item)
        except RuntimeError:  # the panel was closed while the worker read images
            pass

    def thumb_ratio(self) -> float:
        """The device pixels per logical pixel the thumbnails are made at: the image list's screen's (1.25, 1.5, 2
        where the desktop scales to 125, 150, 200 %), at least 1."""
        return max(1.0, float(self.list.devicePixelRatioF()))

    def _set_thumb(self, image_id, thumb, ratio: float = 1.0) -> None:
        """Show ``thumb`` (made at ``ratio`` device pixels per logical pixel) in the image's row."""
        pix = array_to_pixmap(np.asarray(thumb))
        pix.setDevicePixelRatio(ratio)  # THUMB_SIDE logical px, each of its pixels one of the screen's
        self._thumbs[image_id] = pix
        failed = self._thumb_errors.pop(image_id, None)
        item = self._items.get(image_id)
        if item is not None:
            item.setIcon(QIcon(pix))
            if failed is not None:
                item.setToolTip("")

    def _thumb_failed(self, image_id, error: str) -> None:
        """An image whose thumbnail could not be made: a warning sign in its row, the error in the row's tool tip."""
        self._thumb_errors[image_id] = error
        item = self._items.get(image_id)
        if item is not None:
            self._show_thumb_failed(item, error)

    def _show_thumb_failed(self, item, error: str) -> None:
        item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
        item.setToolTip(f"no thumbnail: {error}")

    def _stale_thumbs(self) -> list[str]:
        """The images whose thumbnail was made for another screen's scale than the list's now."""
        ratio = self.thumb_ratio()
        return [i for i, pix in self._thumbs.items() if i in self._items and pix.devicePixelRatio() != ratio]

    def event(self, ev) -> bool:
        if ev.type() == QEvent.Type.DevicePixelRatioChange:
            self._scale_changed()
        return super().event(ev)

    def _scale_changed(self) -> None:
        """The window went to a screen of another scale (a laptop's screen at 200 % and a monitor at 100 %): the
        thumbnails are made again at its device pixels; each row keeps its thumbnail until the new one comes. While
        a worker runs, once it has finished (``_thumbs_done``)."""
        if self.studio.project is None or self._thumb_worker is not None:
            return
        stale = self._stale_thumbs()
        if stale:
            self._load_thumbs(stale)

    def _thumbs_done(self, run: int | None = None) -> None:
        if run is not None and run != self._thumb_run:
            return  # an earlier worker (stopped: the project changed); the one running now is still running
        self._thumb_worker = self._thumb_folder = None
        # images listed while that worker ran (added meanwhile) were not in its list: theirs now (not again the
        # ones it could not read); and those made for another screen's scale than the list's now (``_scale_changed``)
        try:
            missing = [i for i in self._items if i not in self._thumbs and i not in self._thumbs_asked]
            missing += self._stale_thumbs()
            if missing and self.studio.project is not None:
                self._load_thumbs(missing)
        except RuntimeError:  # the panel's Qt object is gone (its dock closed while the worker read images)
            pass

    def _select_row(self, image_id: str, *, force: bool = False) -> None:
        """Make the image's row the current one (the image shown elsewhere: Review's Next, a removal). Not
        when it is already current, unless ``force``: a click in the list selected it, and setCurrentRow's
        clear-and-select undid a Ctrl-click's multi-selection (the clicked row then toggled off: nothing
        selected)."""
        item = self._items.get(image_id)
        if item is not None:
            row = self.list.row(item)
            if self.list.currentRow() != row or force:
                self.list.blockSignals(True)  # the selection just that row: not one Remove would act on unseen
                self.list.setCurrentRow(row, QItemSelectionModel.SelectionFlag.ClearAndSelect)
                self.list.blockSignals(False)
        self._update_remove()

    def _item_changed(self, item, _previous) -> None:
        if item is None:
            return
        image_id = item.data(Qt.ItemDataRole.UserRole)
        if not self.studio.select_image(image_id):
            # "stay" with unsaved edits: the row of the image on screen again, once Qt has finished the click
            # or key that moved it (a mouse press selects the clicked row after this handler: the row put back
            # here stayed current, the clicked one selected, and Remove from project… took the clicked one)
            QTimer.singleShot(0, self._restore_row)

    def _item_activated(self, item) -> None:
        """A double-click or Enter on an image's row raises the Review panel's tab, once the image is on screen. In
        one column of tabs (a laptop's screen, ``app.DockSizer.one_column``) the Review panel is a tab behind this one;
        session 42 QA on 1280 x 720: choosing an image here showed it, while its Paint and Save buttons stayed behind
        the Review tab among six at the column's foot. A Review panel opened from napari's Plugins menu: the dock that
        holds it (session 49: none was raised)."""
        from vessel_studio.gui.pane_keys import dock_of

        if item is None or item.data(Qt.ItemDataRole.UserRole) != self.studio.current_id:
            return  # the image stayed on screen ("stay" with unsaved edits)
        dock = self.studio.docks.get("Review") or dock_of(self.studio.panels.get("Review"))
        if dock is not None:  # a closed Review panel stays closed (raise_ does not show it)
            dock.raise_()

    def _restore_row(self) -> None:
        """Make the row of the image on screen the current row and the whole selection."""
        try:
            self._select_row(self.studio.current_id or "", force=True)
        except RuntimeError:  # the panel was closed meanwhile
            pass
