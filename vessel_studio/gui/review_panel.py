"""Review and correction: overlays, comparison, uncertainty, queue, stats, measures, editing.

The dock widget, navigation and loading live here; the layers in :mod:`.review_layers`, what is
shown and said about it (the Show / Compare with choices, label-free statistics, vessel measures)
in :mod:`.review_shown`, the correction (editing, save, drafts, autosave, leave prompts) in
:mod:`.review_correction`, "Erase piece" and "Remove specks" in :mod:`.review_pieces`, and the
read-ahead and vessel-measures workers in :mod:`.review_workers`.

Layers (named, reused between images): ``image``, ``compare`` (source-only or an earlier round),
``probability``, ``uncertainty`` and ``mask`` (a Labels layer: napari's brush, eraser, fill and
undo/redo edit the correction; "Erase piece" erases the 8-connected piece clicked on, "Remove
specks" every piece under a size, each one undoable step). Save writes the corrected mask to the project atomically;
unsaved edits are autosaved to ``PROJECT/gui/drafts`` and the user is asked before they would
be dropped (another image, another project, closing the window).

Stepping through images: while an image is shown, a worker thread reads its neighbours in the
queue ahead (image, probability map, uncertainty; ``tasks.read_for_review``). ``load`` takes a
read-ahead only when the files it came from are unchanged (same keys). Else a small image is read
on the GUI thread, and a large one (``tasks.READ_IN_WORKER_PIXELS``, by its record's shape) in the
worker: the panel then shows no image, its name and "loading…" at once, and the image when it
arrives, if it is still the one stepped to (stepping faster than the reads shows only the image
stopped on; see :meth:`ReadAhead.want`). ``image_id`` and every layer are switched in one GUI-thread
call (``_show``), and no image is on screen (``image_id`` None) while one is loading, so a save or an
edit always goes to the image on screen. Layers are only touched on the GUI thread.
"""

from __future__ import annotations

import weakref

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt, QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vessel_studio.gui import dialogs, review_layers, tasks
from vessel_studio.gui.jobbar import JobBar
from vessel_studio.gui.jobs import outcome_text
from vessel_studio.gui.qtutil import rich_name
from vessel_studio.gui.review_correction import DISCARD_TIP, DISCARD_WAITS_FOR, CorrectionMixin, _name
from vessel_studio.gui.review_keys import StepKeys
from vessel_studio.gui.review_pieces import PIECE_TIP, SIZE_TIP, SPECKS_TIP, PiecesMixin
from vessel_studio.gui.review_shown import NONE, ShownMixin
from vessel_studio.gui.review_workers import MapsReader, Measurer, ReadAhead, Saver, StatsReader
from vessel_studio.wording import spacing_um

AHEAD_DELAY_MS = 250
#: the vessel measures of an edited mask are computed again this long after the last edit (a stroke's paint events,
#: Undo / Redo, Erase piece, Remove specks: ``_measure_edits``)
MEASURE_EDITS_MS = 500
#: probability maps of the image on screen kept for another Show / Compare with choice (``_maps``)
MAPS_KEPT = 3
#: the heading of the label-free statistics by the project's modality: what they are computed over (an OCT-A scan is
#: used whole: ``io.fov.estimate_fov``)
STATS_HEADING = {"fundus": "<b>Label-free statistics</b> (inside the field of view)",
                 "octa": "<b>Label-free statistics</b> (the whole scan: OCT-A has no field of view)"}


class KeepFitted(QObject):
    """Fits the image on screen again when the canvas changes size, unless the view was zoomed or panned since
    the panel fitted it (``ReviewPanel.refit_if_untouched``). Session 39 QA: the docks, sized once the window is
    shown (``app._dock_sizer_class``), left the first image of ``vessel-studio gui PROJECT`` fitted to the canvas
    as it was before (752 px wide, then 91 px in a 1089 px window): zoomed in ~7 times, a crop of it on screen,
    until the next step. Listens to the canvas's resize events only (vispy's), and holds the panel weakly
    (napari's leak check)."""

    def __init__(self, panel, scene_canvas):
        super().__init__(scene_canvas.native)
        self._panel = weakref.ref(panel)
        self._resize = scene_canvas.events.resize
        self._timer = QTimer(self)  # after napari has taken the canvas's new size (it listens to the same event)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._refit)
        self._resize.connect(self._resized)

    @classmethod
    def attach(cls, panel):
        try:
            scene_canvas = panel.viewer.window._qt_viewer.canvas._scene_canvas
            scene_canvas.events.resize  # noqa: B018 (another napari's layout: no such event)
        except AttributeError:  # a viewer without a Qt window, or another napari's layout
            return None
        return cls(panel, scene_canvas)

    def _resized(self, _event=None) -> None:
        self._timer.start()

    def _refit(self) -> None:
        panel = self._panel()
        if panel is not None:
            panel.refit_if_untouched()

    def close(self) -> None:
        try:
            self._timer.stop()
        except RuntimeError:  # deleted with the canvas (the window closed)
            pass
        try:
            self._resize.disconnect(self._resized)
        except (RuntimeError, ValueError, TypeError):
            pass


class ReviewPanel(ShownMixin, CorrectionMixin, PiecesMixin, QWidget):
    def __init__(self, studio, parent=None, *, autosave_ms: int = 3000):
        super().__init__(parent)
        self.studio = studio
        self.image_id: str | None = None
        self.image: np.ndarray | None = None
        #: the field of view of the image on screen (``tasks.image_fov``, once per image shown): the
        #: label-free statistics and the vessel measures are computed inside it (a large image's comes
        #: from the read-ahead or a worker: None until then)
        self._fov: np.ndarray | None = None
        self.prob: np.ndarray | None = None
        self._baseline: np.ndarray | None = None
        self._draft_digest: str | None = None
        #: ``tasks.stat_key`` of the image on screen's draft as this window last wrote or restored it
        #: (another window's draft of the image is neither dropped nor taken for this one's), and of its saved
        #: correction as last read or saved here (another window's later save of it is followed: ``saved_elsewhere``)
        self._draft_key: tuple | None = None
        self._saved_key: tuple | None = None
        self._shared_draft = None  # (project, image) whose draft is another window's (not written over), said once
        #: (project, image id, fd) of the draft hold this window has (``tasks.hold_draft``): its unsaved edits of the
        #: image on screen are that image's draft, which another window neither restores nor autosaves over
        self._draft_hold = None
        self._mask_origin = "none"
        self._draft_older = False  # the restored draft is older than the saved correction (``_reload_maps``)
        #: the Mask threshold and the map (``_shown``) the mask on screen was drawn from, when its origin is a
        #: prediction ("mask from" names them: unsaved edits keep the mask when either is changed)
        self._mask_threshold: float | None = None
        self._mask_map = None
        self._shown = None  # what Show drew for the image on screen: a round index, "source-only" or None
        self.order: list[str] | None = None  # review queue (ids by uncertainty) when computed
        self._reordering = False  # the queue is being ordered again after new maps (stay on the image)
        self._measurer = Measurer(self._show_measures, self._show_measures_error, workers=studio.workers)
        self._measured = None  # (image id, the table of measures shown for it), kept while new ones are computed
        self._showing_text = ""  # the line of what is shown (``_show_what``), before ``_say_showing``'s addition
        #: a large image's field of view and statistics (``tasks.is_large``), computed in a worker
        self._stats_reader = StatsReader(self._show_large_stats, self._show_stats_error,
                                         workers=studio.workers)
        #: the maps read for the image on screen, ``which -> (key, prob, uncertainty or None)``: shown again
        #: (another Show / Compare with choice) without reading their files while the keys are unchanged
        self._maps: dict = {}
        #: neighbours in the queue read ahead; what arrives for another project or the image on screen is dropped
        self._ahead = ReadAhead(lambda proj, image_id: proj is self.studio.project and image_id != self.image_id,
                                on_arrived=self._arrived, on_failed=self._load_failed, workers=studio.workers)
        #: the large image stepped to that is being read in the worker (nothing is on screen meanwhile)
        self._loading: str | None = None
        #: the (rows, cols) of the image the view was last fitted to (``_show``): an image of the same size keeps the
        #: zoom and pan; None: the next image shown is fitted (none shown yet, another project)
        self._view_shape: tuple | None = None
        #: the image on screen's maps (and mask) read again in a worker when the project's rounds changed
        #: (``_reload_maps_later``); ``_maps_wanted``: ``(project, image id, serial, elsewhere)`` of the read whose maps are to
        #: be shown, None when none is (any other reload of the maps, another image, no image)
        self._maps_reader = MapsReader(self._maps_arrived, self._maps_failed, workers=studio.workers)
        self._maps_serial = 0
        self._maps_wanted = None
        #: large corrected masks being written in a worker, in order (review_correction)
        self._saver = Saver(self._save_landed, workers=studio.workers)
        #: image id -> (project, mask) of a save that failed after its image was left and whose draft
        #: could not be written either: shown again as unsaved edits when the image is (review_correction)
        self._kept_edits: dict = {}
        #: image id -> the stat key of its draft as this window left it (``_kept_edits``; the draft it may replace)
        self._kept_draft_keys: dict = {}
        self._setting_mask = False  # _set_mask is showing a mask (its set_data event is no edit)
        self._docked = False  # napari has put the panel in a dock (its removal detaches the panel)
        self._autosave_failed = False  # told the user once; the timer keeps trying quietly
        self.segmenter_model = "fundus-segmenter"

        # --- widgets -------------------------------------------------------------------------
        self.title = QLabel("No image")
        self.title.setWordWrap(True)
        self.btn_prev = QPushButton("◀ Previous")
        self.btn_next = QPushButton("Next ▶")
        self.btn_prev.setToolTip("Previous image (Page Up)")
        self.btn_next.setToolTip("Next image (Page Down)")
        self.queue = QComboBox()
        self.queue.addItems(["project order", "most uncertain first"])
        self.show_round = QComboBox()
        self.compare = QComboBox()
        for combo in (self.show_round, self.compare):  # session 28: where a pruned round went
            combo.setToolTip("the source-only maps and the project's rounds; a round whose maps \"Free disk…\" "
                             "deleted is not listed until the Adaptation panel's \"Make maps again\" makes them; a "
                             "round the label-free guard flags is marked \"(flagged by the guard)\"")
        #: what "Show" and "Compare with" draw for the image on screen ("latest round" names its round)
        self.showing = QLabel("")
        self.showing.setWordWrap(True)
        #: the chosen rounds that a roll back or a prune removed ("round N") and why, said once beside what is shown
        self._note: dict[str, str] = {}
        #: the round each of Show / Compare with had chosen when its maps were deleted ("Free disk…", ``rounds
        #: --prune``), by the combo's attribute name: chosen again once its maps are made again, unless the person
        #: chose something else meanwhile (``ShownMixin._fill_round_choices``)
        self._pruned_choice: dict[str, int] = {}
        self._choices_for = None  # the project whose rounds the Show / Compare choices list
        self._flagged: dict[int, list[str]] = {}  # the rounds the label-free guard flags, as those choices mark them
        self.side_by_side = QCheckBox("Side by side (grid)")
        self.contour = QCheckBox("Mask as contour")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(55)
        self.show_unc = QCheckBox("Uncertainty map")
        self.show_unc.setToolTip("1−|2p−1| of the prediction shown: bright where the model is undecided (p near 0.5)")
        #: which colour is which overlay (review_layers' colours)
        self.legend = QLabel(review_layers.legend_html())
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.05, 0.95)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(0.5)
        self.threshold.setToolTip(
            "Probability at which the prediction becomes the mask you start correcting from. Raise it when "
            "the prediction over-segments (faint or uncertain structures), lower it when it misses vessels. "
            "It applies to images without a saved correction or draft, and never changes saved masks.")
        self.btn_segment = QPushButton("Segment with bundled model")
        self.btn_segment.setToolTip("Source-only prediction for images without one (runs in the background)")
        self.mirror = QCheckBox("Mirror (4× slower)")
        self.mirror.setToolTip(
            "Average the prediction over the image and its left-right, up-down and doubly flipped copies. "
            "Measured on the benchmark pairs with source-only segmenters like the bundled one: +0.002 to "
            "+0.024 Dice, at 2.4-4x the time (benchmarks/results/mirror-tta/).")

        self.renormalize = QCheckBox("Re-normalise to these images")
        self.renormalize.setToolTip(
            "Before segmenting, re-estimate the bundled model's BatchNorm statistics on all of this project's "
            "images (AdaBN: no labels, weights unchanged, about a minute on a CPU). On by default for OCT-A "
            "projects. Measured: the bundled fundus model on OCTA-500 test 0.128 -> 0.762 Dice "
            "(benchmarks/results/renormalize/); DRIVE-trained models 0.31 -> 0.67 on OCTA-500, 0.64 -> 0.68 on "
            "CHASE_DB1, unchanged on STARE (the 'adabn' rows of benchmarks/results/<pair>/results.md). "
            "An adaptation does better than this on both targets that moved.")

        #: progress and Cancel of the jobs started here (segmentation, the uncertainty queue's order)
        self.jobbar = JobBar(studio, ("Segmentation", "Review order"), ended=self._job_line)

        self.btn_paint = QPushButton("Paint")
        self.btn_erase = QPushButton("Erase")
        self.btn_fill = QPushButton("Fill")
        self.btn_undo = QPushButton("Undo")
        self.btn_redo = QPushButton("Redo")
        self.btn_piece = QPushButton("Erase piece")
        self.btn_piece.setCheckable(True)
        self.btn_piece.setToolTip(PIECE_TIP)
        self.btn_specks = QPushButton("Remove specks <")
        self.btn_specks.setToolTip(SPECKS_TIP)
        self.speck_size = QSpinBox()
        self.speck_size.setRange(1, 1_000_000)
        self.speck_size.setSuffix(" px")
        self.speck_size.setValue(10)  # measures.speck_size of the image shown (_speck_default)
        self.speck_size.setToolTip(SIZE_TIP)
        self.speck_size.setAccessibleName("Speck size")  # after "Remove specks <", no label (session 48: "11 px")
        self.btn_save = QPushButton("Save correction")
        self.btn_save.setToolTip("Write the corrected mask into the project (Alt+S)")
        self.btn_reviewed = QPushButton("Accept as reviewed")
        self.btn_reviewed.setToolTip("Keep the mask on screen (with any edits) as this image's mask: export writes it "
                                     "and the next adaptation round trusts it, as a saved correction (Alt+A)")
        self.btn_revert = QPushButton("Revert edits")
        self.btn_discard = QPushButton("Discard saved mask")
        self.btn_discard.setToolTip(DISCARD_TIP)  # disabled while an adaptation or an export runs (DISCARD_WAITS_FOR)
        self.btn_discard.setEnabled(False)
        self.edit_state = QLabel("")
        self.edit_state.setWordWrap(True)  # "mask from" may name a map, a threshold and what Revert edits does
        #: "(inside the field of view)", or for an OCT-A project the whole scan, which is what the statistics cover
        #: there (session 42 QA: an OCT-A scan has no field of view, and the heading named one; ``_project_changed``)
        self.stats_heading = QLabel(STATS_HEADING["fundus"])
        self.stats_heading.setWordWrap(True)  # OCT-A's longer heading in one line widened the panel past its dock
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        self.stats.setTextFormat(Qt.TextFormat.RichText)
        self.measures = QLabel("")
        self.measures.setWordWrap(True)
        self.measures.setTextFormat(Qt.TextFormat.RichText)

        nav = QHBoxLayout()
        nav.addWidget(self.btn_prev)
        nav.addWidget(self.btn_next)
        form = QFormLayout()
        form.addRow("Queue", self.queue)
        form.addRow("Show", self.show_round)
        form.addRow("Compare with", self.compare)
        form.addRow("Overlay opacity", self.opacity)
        form.addRow("Mask threshold", self.threshold)
        toggles = QHBoxLayout()
        toggles.addWidget(self.side_by_side)
        toggles.addWidget(self.contour)
        toggles.addWidget(self.show_unc)
        edit = QGridLayout()
        for i, b in enumerate((self.btn_paint, self.btn_erase, self.btn_fill, self.btn_undo, self.btn_redo)):
            edit.addWidget(b, 0, i)
        edit.addWidget(self.btn_piece, 1, 0, 1, 2)
        edit.addWidget(self.btn_specks, 1, 2, 1, 2)
        edit.addWidget(self.speck_size, 1, 4)
        edit.addWidget(self.btn_save, 2, 0, 1, 2)
        edit.addWidget(self.btn_reviewed, 2, 2, 1, 2)
        edit.addWidget(self.btn_revert, 2, 4)
        edit.addWidget(self.btn_discard, 3, 2, 1, 3)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addLayout(nav)
        lay.addLayout(form)
        lay.addWidget(self.showing)
        lay.addLayout(toggles)
        lay.addWidget(self.legend)
        lay.addWidget(self.btn_segment)
        seg_row = QHBoxLayout()  # its options under it: in one row the panel was ~600 px wide
        seg_row.addWidget(self.mirror)
        seg_row.addWidget(self.renormalize)
        seg_row.addStretch(1)
        lay.addLayout(seg_row)
        lay.addWidget(self.jobbar)
        lay.addWidget(QLabel("<b>Correction</b>"))
        lay.addLayout(edit)
        lay.addWidget(self.edit_state)
        lay.addWidget(self.stats_heading)
        lay.addWidget(self.stats)
        lay.addWidget(QLabel("<b>Vessel measures</b>"))
        lay.addWidget(self.measures)
        lay.addStretch(1)

        # --- wiring --------------------------------------------------------------------------
        self.btn_prev.clicked.connect(self.previous)
        self.btn_next.clicked.connect(self.next)
        self.queue.currentTextChanged.connect(self._queue_changed)
        # another map shown or compared: unsaved edits stay (without them the mask follows the map)
        self.show_round.currentTextChanged.connect(self._choice_changed)
        self.compare.currentTextChanged.connect(self._choice_changed)
        self.side_by_side.toggled.connect(self._grid)
        self.contour.toggled.connect(self._contour)
        self.opacity.valueChanged.connect(self._opacity)
        self.show_unc.toggled.connect(self._unc_visible)
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.btn_segment.clicked.connect(self.segment_missing)
        self.btn_paint.clicked.connect(lambda: self._mode("paint"))
        self.btn_erase.clicked.connect(lambda: self._mode("erase"))
        self.btn_fill.clicked.connect(lambda: self._mode("fill"))
        self.btn_piece.clicked.connect(self._piece_toggled)  # clicked, not toggled: setChecked is the mode's echo
        self.btn_specks.clicked.connect(self.remove_specks)
        self.btn_undo.clicked.connect(self.undo)
        self.btn_redo.clicked.connect(self.redo)
        self.btn_save.clicked.connect(self.save)
        self.btn_reviewed.clicked.connect(self.mark_reviewed)
        self.btn_revert.clicked.connect(self.revert)
        self.btn_discard.clicked.connect(self.discard_saved)
        studio.image_selected.connect(self.load)
        studio.project_changed.connect(self._project_changed)
        studio.images_changed.connect(self._images_changed)
        studio.runner.started.connect(self._job_started)
        studio.runner.finished.connect(self._job_finished)
        studio.outside_job_changed.connect(self._update_edit_state)  # Discard saved mask waits for it too
        studio.leave_hooks.append(self.confirm_leave)
        studio.close_hooks.append(self._closing)
        studio.flush_hooks.append(self._saver.flush)
        studio.busy_checks.append(self._writing)
        studio.keep_checks.append(self.confirm_kept_edits)
        studio.forget_hooks.append(self.forget)
        # Page Down / Page Up and Alt+S: window-wide shortcuts, not napari key bindings (review_keys), which got
        # the keys a text field left unused (a dock passes them on to the viewer's key map), and Alt+S never:
        # napari's File menu has it ("Save Screenshot...")
        self._keys = StepKeys.attach(self.viewer, self.next, self.previous, lambda: self.save(),
                                     lambda: self.mark_reviewed())
        if self._keys is None:  # a viewer without a Qt window: its key map
            self.viewer.bind_key("Alt-S", lambda _v: self.save(), overwrite=True)
        #: the view the last fit left (``fit_view``): the canvas resized while the view is still that one (the
        #: docks sized when the window is first shown, the window resized) fits the image again
        self._fitted_view = None
        self._keep_fitted = KeepFitted.attach(self)
        self._autosave = QTimer(self)
        self._autosave.setInterval(autosave_ms)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()
        self._edit_state_timer = QTimer(self)  # the "unsaved edits" line after napari's own Undo / Redo
        self._edit_state_timer.setSingleShot(True)
        self._edit_state_timer.setInterval(0)
        self._edit_state_timer.timeout.connect(self._update_edit_state)
        #: the read-ahead starts once the new image has been drawn, not during that frame (a worker
        #: reading and decoding then competes with the GUI thread's rendering for the CPU and the GIL)
        self._ahead_timer = QTimer(self)
        self._ahead_timer.setSingleShot(True)
        self._ahead_timer.setInterval(AHEAD_DELAY_MS)
        self._ahead_timer.timeout.connect(self._read_ahead)
        #: the vessel measures follow the mask's edits once the editing pauses (not at each paint event of a stroke)
        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(MEASURE_EDITS_MS)
        self._measure_timer.timeout.connect(self._measure_edits)
        # the five layers now, hidden: adding them when the first image is shown froze the window
        # ~0.6 s (opening a project, the end of the first "Adding images")
        renamed = review_layers.ensure(self.viewer, opacity=self.opacity.value() / 100,
                                       contour=self.contour.isChecked(), on_paint=self._edited)
        if renamed:  # the person's own layers of those names (napari's Plugins menu), kept under another name
            studio.status.emit("the Review panel's layers are named " + ", ".join(review_layers.NAMES) + ": your "
                               + "; ".join(f"layer {old!r} is now {new!r}" for old, new in renamed))
        for name in ("compare", "probability", "uncertainty"):  # napari's eye on a map the image does not have
            self.viewer.layers[name].events.visible.connect(self._eye_on_no_map)
        self._hook_mask()  # Erase piece: the viewer's clicks, the mask layer's mode
        self._project_changed()
        if studio.project is not None and studio.current_id is not None:
            # opened after the project (napari's plugin menu): show the selected image now
            self.load(studio.current_id)

    @property
    def viewer(self):
        return self.studio.viewer

    def fit_view(self) -> None:
        """The image on screen whole, fitted in view (zoom and pan reset); the view it gives is remembered."""
        self.viewer.reset_view()
        self._fitted_view = self._view_now()

    def _view_now(self) -> tuple:
        camera = review_layers.camera_of(self.viewer)
        return tuple(float(c) for c in camera.center), float(camera.zoom)

    def refit_if_untouched(self) -> None:
        """The canvas changed size (``KeepFitted``): fit the image again, unless the view was zoomed or panned
        since it was fitted (the user's view stays)."""
        if self.image_id is None or self._fitted_view is None:
            return
        (center, zoom), (center_now, zoom_now) = self._fitted_view, self._view_now()
        if len(center) == len(center_now) and np.allclose(center, center_now) and np.isclose(zoom, zoom_now, rtol=1e-6):
            self.fit_view()

    def event(self, ev) -> bool:
        if ev.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif self._docked:  # napari closed the dock ("x"): stop following the studio
                self._docked = False
                self._detach()
        return super().event(ev)

    def changed_elsewhere(self, image_id: str, then: str | None = None) -> bool:
        """The studio's watcher: another window or program changed the state of ``image_id``, the image on
        screen (saved, accepted or discarded its correction). Its mask is read again, as on stepping back to
        it; unsaved edits made here stay, and the status bar says that saving them replaces the mask saved
        there. Before, the window kept the mask it had read, so "Accept as reviewed" here wrote that older mask
        over the other window's correction (QA, session 30). True when the mask is read again (no unsaved edits): in
        a worker since session 38, shown by ``_maps_arrived``, which says ``then`` in the status bar; edits made
        here before it arrives stay, as above."""
        if image_id != self.image_id or self.studio.project is None:
            return False
        if self.dirty:
            self._edits_stay_elsewhere(image_id)
            return False
        # no unsaved edits to keep (asked just above: at 15 MP the comparison is ~30 ms): the mask (and the statistics)
        # read in a worker, as for a round another program added; the maps on screen are not read again (session 38:
        # the GUI thread read the mask and drew the layers again). ``then``: said once it is shown
        self._reload_maps_later(elsewhere=then or "")
        return True

    def _edits_stay_elsewhere(self, image_id: str) -> None:
        """``changed_elsewhere`` with unsaved edits here: they stay, now changes to what is saved there."""
        self._saved_key = tasks.stat_key(self.studio.project.correction_path(image_id))  # told once
        # the edits are now changes to what is saved there: undone, they are still unsaved (before session 33
        # they were compared with the mask read before: undone, the line said "no unsaved edits" over a mask
        # that was not the saved one, and leaving the image did not ask)
        try:
            self._baseline = self._baseline_for("draft", None)
        except (OSError, ValueError):  # an unreadable mask saved there: named when the image is read again
            pass
        self.studio.status.emit(f"{_name(self.studio.project, image_id)} was changed in another window or program: "
                                "your unsaved edits here stay, and saving them replaces the mask saved there")

    def saved_elsewhere(self) -> None:
        """The studio's watcher, when the manifest changed but not the state of the image on screen: its saved
        correction replaced by another window (a second Save there leaves the state "corrected", an Accept of a
        reviewed image "reviewed") is followed as ``changed_elsewhere``. Before (session 32 QA, two windows), the
        mask on screen stayed the first save's, and "Accept as reviewed" here wrote it over the second."""
        proj = self.studio.project
        if proj is None or self.image_id is None or self._saving():
            return
        if tasks.stat_key(proj.correction_path(self.image_id)) == self._saved_key:
            return
        # with unsaved edits here it says that they stay (the 15-MP unsaved-edits comparison asked there once)
        self.changed_elsewhere(self.image_id, then=f"the saved mask of {_name(proj, self.image_id)} was replaced in "
                               "another window or program: it is shown now")

    def _writing(self) -> bool:
        """``studio.busy_checks``: a save of a large mask is still being written (the studio's watcher of
        changes made outside the window waits for it)."""
        return self._saver.busy

    def _detach(self) -> None:
        """Unhook a closed panel from the studio: unsaved edits stay as a draft (a Review panel
        opened later restores them); no more loads, leave prompts or autosaves from this one."""
        self._saver.flush()
        self.autosave()
        self._autosave.stop()
        self._ahead_timer.stop()
        self._ahead.clear()
        self._loading = None
        self._maps_wanted = None
        self._maps_reader.drop_pending()
        studio = self.studio
        for signal, slot in ((studio.image_selected, self.load), (studio.project_changed, self._project_changed),
                             (studio.images_changed, self._images_changed), (studio.runner.started, self._job_started),
                             (studio.runner.finished, self._job_finished),
                             (studio.outside_job_changed, self._update_edit_state)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        if self.confirm_leave in studio.leave_hooks:
            studio.leave_hooks.remove(self.confirm_leave)
        if self._closing in studio.close_hooks:
            studio.close_hooks.remove(self._closing)
        if self._saver.flush in studio.flush_hooks:
            studio.flush_hooks.remove(self._saver.flush)
        if self._writing in studio.busy_checks:
            studio.busy_checks.remove(self._writing)
        if self.confirm_kept_edits in studio.keep_checks:
            studio.keep_checks.remove(self.confirm_kept_edits)
        if self.forget in studio.forget_hooks:
            studio.forget_hooks.remove(self.forget)
        if studio.panels.get("Review") is self:  # the studio's Review panel no longer (removing images asks it)
            del studio.panels["Review"]
        self._edit_state_timer.stop()
        self._measure_timer.stop()
        try:  # the layers stay (a Review panel opened later reuses them): not their paint hooks
            events = self.viewer.layers["mask"].events
            events.paint.disconnect(self._edited)
            events.set_data.disconnect(self._edited)
        except (KeyError, RuntimeError, ValueError, AttributeError):
            pass
        self._unhook_pieces()
        if self._keep_fitted is not None:
            self._keep_fitted.close()
            self._keep_fitted = None
        self._release_draft_hold()  # its draft stays, for a Review panel opened later to restore as its own
        if self._keys is not None:  # its shortcuts belong to the main window, which stays
            self._keys.close()
            self._keys = None
        try:
            self.viewer.bind_key("Alt-S", None)
        except (RuntimeError, KeyError, ValueError):  # a closed viewer, or the keys were rebound
            pass
        # napari has let go of it; the lambdas its own widgets hold keep it alive until Qt deletes it
        self.deleteLater()

    def _closing(self) -> None:
        """Close hook: the saves still being written land, unsaved edits go to their draft, and the reads still
        running stop at their next file. The measures asked for meanwhile are dropped: a save landing in the close
        asked for the saved mask's, and the end of the measure running then started it after the window had closed
        (QA session 48: a second 15-megapixel measure, ~5 s, its signals going to deleted objects: superqt's "Signal
        source has been deleted" tracebacks)."""
        self._saver.flush()
        self.autosave()
        self._ahead.clear()
        self._maps_wanted = None
        self._maps_reader.drop_pending()
        self._measurer.drop_pending()

    # --- project / navigation ------------------------------------------------------------------

    def _project_changed(self) -> None:
        proj = self.studio.project
        # this project's rounds changed (a roll back here, rounds added or rolled back elsewhere): "most uncertain
        # first" stays, ordered again from the new maps as after this window's own adaptation, on the image on
        # screen (before session 31 it went back to project order, the place in the queue lost); another project:
        # project order
        reorder = proj is not None and proj is self._choices_for and self.order is not None \
            and self.queue.currentIndex() == 1
        if not reorder:
            self.order = None
            self.queue.blockSignals(True)
            self.queue.setCurrentIndex(0)
            self.queue.blockSignals(False)
        self._ahead.clear()
        self._loading = None
        if proj is not self._choices_for:
            # another project (or the same folder opened again): its latest round, compared with nothing,
            # not the rounds chosen in the previous one
            self._choices_for = proj
            self._note = {}
            self._pruned_choice = {}
            self._view_shape = None  # its first image is fitted in view
            for combo in (self.show_round, self.compare):
                combo.blockSignals(True)
                combo.setCurrentIndex(0)
                combo.blockSignals(False)
            self._fill_round_choices()
        else:  # this project's rounds changed (roll back): say which chosen round is gone
            self._note = {}
            rounds = proj.rounds if proj is not None else []
            self._note_gone(self._fill_round_choices(rounds), rounds)
        if self.studio.project is None or self.studio.current_id is None:
            # no project, or another one (its first image, if any, is selected next): drop the old image
            self._clear()
        elif self.image_id == self.studio.current_id:  # this project's rounds changed (roll back)
            # by another program (a terminal's adapt), or by this window's roll back (``Studio.rounds_changed_here``):
            # a worker
            if getattr(self.studio, "outside_change", False):
                self._reload_maps_later()
            else:
                self._reload_maps(keep_edits=True)
        if self.studio.project is not None:
            self.stats_heading.setText(STATS_HEADING.get(self.studio.project.modality, STATS_HEADING["fundus"]))
            # the bundled model is a fundus model: re-normalise by default on another modality
            self.renormalize.setChecked(self.studio.project.modality != "fundus")
            if self.image_id is None:  # fundus images are RGB, OCT-A gray: the image layer to match
                review_layers.prepare_image(self.viewer, rgb=self.studio.project.modality == "fundus")
        if reorder:
            self._reorder_later()

    def unsaved_among(self, image_ids: set[str]) -> list[str]:
        """The images among ``image_ids`` whose edits in this window are not saved: the one on screen with
        unsaved edits, and those whose edits neither their save nor a draft could keep (``_kept_edits``)."""
        out = [i for i in image_ids if i in self._kept_edits]
        if self.image_id in image_ids and self.image_id not in out and self.dirty:
            out.append(self.image_id)
        return out

    def forget(self, image_ids: set[str]) -> None:
        """``studio.forget_hooks``: these images were taken out of the project (their drafts with them):
        the one on screen goes, unsaved edits and all, without a draft; edits kept in the window and
        reads ahead of them go too."""
        for image_id in image_ids:
            self._kept_edits.pop(image_id, None)
            self._kept_draft_keys.pop(image_id, None)
            self._ahead.cache.pop(image_id, None)
        if self.image_id in image_ids or self._loading in image_ids:  # on screen, or being read to be
            self._loading = None
            self._draft_digest = None
            self._clear()

    def _images_changed(self) -> None:
        proj = self.studio.project
        # a round committed or pruned (the Adaptation panel's Free disk…): say why a chosen one went
        rounds = proj.rounds if proj is not None else []
        self._note_gone(self._fill_round_choices(rounds), rounds)
        self._show_title()  # the state (predicted, corrected, ...) may have changed
        # the pixel spacing set or cleared (Project panel's "Set pixel spacing…", ``images --set-spacing`` seen by the
        # watcher): the measures shown were in the old unit or scale, measured again at once (session 47); one being
        # measured is checked when it arrives (``_show_measures``)
        measured = getattr(self, "last_measures", None)
        if (proj is not None and self.image_id is not None and self._measured is not None
                and self._measured[0] == self.image_id and measured is not None and "mask" in self.viewer.layers
                and self._spacing_changed(self.image_id, measured)):
            self._measure()

    def ids(self, records: list | None = None) -> list[str]:
        """The images in queue order; ``records``: the project's image records when already read."""
        proj = self.studio.project
        if proj is None:
            return []
        ids = [r.id for r in (proj.images if records is None else records)]
        if self.order:  # sets: the lists' own ``in`` made this quadratic (a 1,000-image queue, at each step)
            present = set(ids)
            known = [i for i in self.order if i in present]
            queued = set(known)
            return known + [i for i in ids if i not in queued]
        return ids

    def _step(self, delta: int) -> None:
        try:
            ids = self.ids()
        except (OSError, ValueError) as exc:  # the folder renamed or the manifest broken by another program
            self.studio.status.emit(f"cannot read the project's manifest: {exc}")
            return
        if not ids:
            return
        current = self.studio.current_id  # the selected image, even one that could not be shown
        i = ids.index(current) if current in ids else -delta
        self.studio.select_image(ids[(i + delta) % len(ids)])

    def next(self) -> None:
        self._step(1)

    def previous(self) -> None:
        self._step(-1)

    def _queue_changed(self, text: str) -> None:
        if text == "project order":
            self.order = None
            self._show_title()  # the image's place in the queue
            return
        proj = self.studio.project
        if proj is None:
            return
        fovs = self._known_fovs()
        if not self.studio.start_job("Review order", lambda: tasks.review_order(proj, fovs=fovs)):
            self.queue.setCurrentIndex(0)

    def _job_started(self, name: str) -> None:
        if name in DISCARD_WAITS_FOR:  # Discard saved mask waits for it
            self._update_edit_state()

    def _job_line(self, outcome) -> str | None:
        """The job bar's line at a job's end (``JobBar(ended=...)``); None: the usual one."""
        shown = self._shown
        if outcome.name == "Segmentation" and outcome.status == "done" and shown not in (None, tasks.SOURCE_ONLY):
            # session 42 QA (Mirror tried on an adapted OCT-A project): the job remade the source-only map of the
            # image on screen and the screen did not change, round 3 staying there, without a word why
            return (f"{outcome_text(outcome)}: it made source-only predictions; round {shown} is on screen "
                    "(Show: source-only to see them)")
        return None

    def _job_finished(self, outcome) -> None:
        if outcome.name in DISCARD_WAITS_FOR:  # Discard saved mask again (before the reload, which may fail)
            self._update_edit_state()
        if outcome.name == "Review order" and outcome.status == "done":
            self.order = [i for i, _ in outcome.result]
            # the maps changed under the queue: stay on the image on screen; so too while a question is open
            # (its event loop delivers this end): its answer applies to the image on screen (before session 31,
            # the queue's first image was shown inside "Unsaved correction", which asked again, and the first
            # answer then discarded or saved that image's autosaved draft)
            if self._reordering or dialogs.question_open():
                self._show_title()
            elif self.order:
                self.studio.select_image(self.order[0])
                # answered "stay" (Cancel) to unsaved edits: the image stays, its place is now in this queue's
                # order (before, session 34 QA, the title kept its place in the project order)
                self._show_title()
            self._reordering = False
        elif outcome.name == "Review order":  # cancelled or failed: the queue is the project order
            self._reordering = False
            self.order = None
            self._show_title()
            self.queue.blockSignals(True)
            self.queue.setCurrentIndex(0)
            self.queue.blockSignals(False)
        elif outcome.name == "Segmentation" and outcome.status in ("done", "cancelled"):
            self._reload_maps(keep_edits=True)  # a cancelled one keeps the maps it wrote (a round's map on screen
            self._reorder_later()  # stays: segmenting makes source-only maps only; the job bar's line says so)
        elif outcome.name == "Adaptation" and outcome.status == "done":
            self._show_latest()
            self._reload_maps(keep_edits=True)
            self._reorder_later()
        elif outcome.name == "Adaptation":
            self._fill_round_choices()
        elif outcome.name in (tasks.FREE_DISK, tasks.RESTORE_MAPS) and self.studio.project is not None:
            # a round shown may be pruned; a restored one is offered again. The maps in a worker (session 44: on the
            # GUI thread, 1.3 s of it at 15 megapixels, the map read again even when the one shown was kept)
            self._sync_round_choices(self.studio.project.rounds)
            self._reload_maps_later()

    def _known_fovs(self) -> dict:
        """The fields of view already estimated (the image on screen, the neighbours read ahead), for
        the "most uncertain first" queue, which estimates the others in its worker."""
        proj = self.studio.project
        known = {i: got["fov"] for i, got in self._ahead.cache.items()
                 if got.get("project") is proj and got.get("fov") is not None}
        if self.image_id is not None and self._fov is not None:
            known[self.image_id] = self._fov
        return known

    def _reorder_later(self) -> None:
        """New maps (a segmentation, an adaptation): the "most uncertain first" queue was ordered by
        the old ones. Order it again once every slot of the finished job has run (the runner is
        free then), keeping the image on screen."""
        if self.order is not None:
            QTimer.singleShot(0, self._reorder)

    def _reorder(self) -> None:
        proj = self.studio.project
        if proj is None or self.order is None or self.queue.currentIndex() != 1 or self.studio.runner.running:
            return
        self._reordering = True
        fovs = self._known_fovs()
        if not self.studio.start_job("Review order", lambda: tasks.review_order(proj, fovs=fovs)):
            self._reordering = False

    # --- loading -------------------------------------------------------------------------------

    def _clear(self) -> None:
        self._release_draft_hold()
        self._measure_timer.stop()
        self._measurer.drop_pending()  # an earlier image's measures are not shown
        self._measured = None
        self._maps_wanted = None
        self.image_id = None
        self.image = self.prob = self._baseline = self._shown = self._fov = None
        self._maps = {}
        review_layers.clear(self.viewer)  # hidden and emptied, kept for the next image
        self.title.setText("No image")
        self._showing_text = ""
        self.showing.setText("")
        self.stats.setText("")
        self.measures.setText("")
        self.edit_state.setText("")
        self.btn_discard.setEnabled(False)

    def load(self, image_id: str) -> None:
        """Show an image (the studio has already asked about unsaved edits): at once from the read-ahead
        or, for a small image, read here; a large one that was not read ahead is read in the worker
        (:meth:`_load_later`)."""
        proj = self.studio.project
        if proj is None:
            return
        self._loading = None
        ahead = self._ahead.take(image_id)
        try:
            # the image records, read once for this image (its title and place in the queue too)
            records = proj.images
            rec = next((r for r in records if r.id == image_id), None)
            if rec is None:
                proj.image(image_id)  # raises the store's error naming the image
            if ahead is not None and ahead["project"] is proj and self._key(tasks.image_key, proj, image_id) == ahead["image_key"]:
                image = ahead["image"]
            elif rec is not None and tasks.pixels(rec.shape) > tasks.READ_IN_WORKER_PIXELS:
                self._load_later(proj, rec, records)
                return
            else:
                ahead = None
                image = proj.read_image(image_id)
        except (KeyError, ValueError, OSError) as exc:
            self._ahead.unwant()
            self._cannot_show(exc)
            return
        self._ahead.unwant()  # a large image stepped past before is not waited for any more
        self._show(proj, image_id, image, ahead, records)

    def _cannot_show(self, exc) -> None:
        dialogs.error(self, "Cannot show image", str(exc))
        self._clear()  # not the previous image under this one's name (a save would go to that one)
        self.title.setText("Cannot show this image (see the error message): choose another one")

    def _load_later(self, proj, rec, records: list) -> None:
        """A large image not read ahead: show its name and "loading…" now, no image (an edit or a save
        then would go to the image left), and read it in the worker (``_arrived`` shows it)."""
        self._clear()
        self._ahead_timer.stop()
        self._loading = rec.id
        self.title.setText(self._title_text(rec, records, "loading…"))
        self._ahead.want(proj, rec.id, self._which_maps())

    def _arrived(self, proj, which, got: dict) -> None:
        """The large image stepped to, read in the worker: shown if it is still the one stepped to and its
        files and the maps chosen are unchanged (else read again)."""
        image_id = got["image_id"]
        if proj is not self.studio.project or image_id != self._loading or image_id != self.studio.current_id:
            return
        maps = [(w, m[0]) for w, m in got["maps"].items()] + [(w, e[0]) for w, e in got["map_errors"].items()]
        fresh = (which == self._which_maps() and self._key(tasks.image_key, proj, image_id) == got["image_key"]
                 and all(self._key(tasks.probability_key, proj, image_id, w) == key for w, key in maps))
        if not fresh:  # a file replaced while it was read (a segmentation), another Show / Compare choice
            self._ahead.want(proj, image_id, self._which_maps())
            return
        self._loading = None
        self._show(proj, image_id, got["image"], got, proj.images)

    def _load_failed(self, proj, image_id: str, exc) -> None:
        if proj is self.studio.project and image_id == self._loading:
            self._loading = None
            self._cannot_show(exc)

    def _show(self, proj, image_id: str, image, ahead: dict | None, records: list) -> None:
        """Put the image and its maps on screen (one GUI-thread call: ``image_id`` and every layer)."""
        if self._saver.in_flight(proj, image_id) is not None:
            # back to an image whose save (left in the background) is still being written: it lands
            # first, then its mask is read (before image_id changes: the layers are still the last image's)
            self._saver.flush()
        self.image_id, self.image = image_id, image
        self._maps = {}
        self._measure_timer.stop()  # the image left's edits: its measures are not wanted (this one's follow)
        if ahead is not None and "fov" in ahead:
            self._fov = ahead["fov"]
        else:  # a large image's is estimated in a worker with its statistics (_show_stats)
            self._fov = None if tasks.is_large(image) else tasks.image_fov(proj, image)
        rgb = image.ndim == 3
        self._speck_default(image.shape)
        self._set_layer("image", image, "image", rgb=rgb, colormap=None if rgb else "gray")
        self._reload_maps(ahead=ahead)
        self._show_title(records)
        if image.shape[:2] != self._view_shape:
            # fitted in view when its size differs from the image shown before (the first image of a project too);
            # an image of the same size keeps the zoom and pan, as napari's slider through a stack or ImageJ's stack
            # stepping do: a reviewer zoomed into the optic disc or a crossing steps through the images there.
            # napari's "home" button (reset view) fits it again
            self._view_shape = image.shape[:2]
            self.fit_view()
        self._ahead_timer.start()  # restarted by every load: stepping fast reads nothing ahead

    def _title_text(self, rec, records: list, state: str | None = None) -> str:
        ids = self.ids(records)
        pos = f"{ids.index(rec.id) + 1}/{len(ids)}" if rec.id in ids else ""
        spacing = ", pixel spacing unknown"
        pair = rec.pixel_spacing  # the one set by a person (Project panel, session 47), else the file's
        if pair:  # (row, col) mm; a pixel taller than wide (or wider) says both
            spacing = ", " + spacing_um(pair, ".1f", origin=rec.spacing_origin)
        # the name may wrap (``qtutil.rich_name``: breakable, escaped): a long one made the panel wider than its dock
        return f"<b>{rich_name(rec.name)}</b> ({pos}) — {state or rec.state}{spacing}"

    def _show_title(self, records: list | None = None) -> None:
        """The image's name, place in the queue, state and pixel spacing; ``records``: the project's
        image records when already read."""
        proj = self.studio.project
        if proj is None or self.image_id is None:
            return
        records = proj.images if records is None else records
        rec = next((r for r in records if r.id == self.image_id), None)
        if rec is None:
            return
        self.title.setText(self._title_text(rec, records))

    @staticmethod
    def _key(fn, *args):
        try:
            return fn(*args)
        except (KeyError, ValueError, OSError):  # the synchronous read says what is wrong
            return None

    def _ahead_map(self, ahead: dict | None, which):
        """``(key, prob, uncertainty or None)`` for ``which`` read ahead, or read before for the image on
        screen (``_maps``), when its files are unchanged (the same key); else None."""
        for got in (ahead["maps"] if ahead is not None else {}, self._maps):
            if which in got:
                key = got[which][0]
                if key is not None and self._key(tasks.probability_key, self.studio.project, self.image_id, which) == key:
                    return got[which]
        return None

    def _raise_ahead_error(self, ahead: dict | None, which) -> None:
        """Raise the error of the map ``which`` that the worker could not read, when its file is unchanged."""
        failed = ahead.get("map_errors", {}) if ahead is not None else {}
        if which in failed:
            key, exc = failed[which]
            if key is not None and self._key(tasks.probability_key, self.studio.project, self.image_id, which) == key:
                raise exc

    def _read_map(self, proj, image_id: str, which, rounds: list):
        """``tasks.probability`` with the key it was read under (taken before reading, as the read-ahead);
        ``rounds``: the round records just read."""
        return (self._key(tasks.probability_key, proj, image_id, which),
                tasks.probability(proj, image_id, which, rounds=rounds))

    def _reload_maps_later(self, elsewhere: str | None = None) -> None:
        """Another program changed the project's rounds (a terminal's ``adapt`` added one, ``rounds --rollback``) under
        the image on screen (``studio.outside_change``), or this window's roll back, "Free disk…" or "Make maps again"
        did: its maps and mask are read again in a worker (``MapsReader``),
        and shown by ``_maps_arrived`` (``_reload_maps`` with what was read) if they are still wanted then. Until then
        the maps of the rounds before stay on screen. Before session 37 they were read on the GUI thread, which
        stalled the window for each round a terminal's job added; a roll back here too until session 44 (1.3 s of the
        GUI thread at 15 megapixels: the map read, its uncertainty, the mask drawn). ``elsewhere``: another window
        changed the image's saved correction (``changed_elsewhere``; the status line to say once it is shown, or ""):
        edits made here meanwhile stay, as that says. The maps the panel holds are not read again while their files
        are unchanged."""
        proj, image_id = self.studio.project, self.image_id
        if proj is None or image_id is None:
            return
        pending = self._maps_wanted
        if elsewhere is None and pending is not None and pending[:2] == (proj, image_id) and pending[3] is not None:
            elsewhere = pending[3]  # a round added during the read of a correction saved elsewhere: this read has both
        self._maps_serial += 1
        self._maps_wanted = (proj, image_id, self._maps_serial, elsewhere)
        self._maps_reader.request(proj, image_id, self._which_maps(), self.threshold.value(), self._fov,
                                  self._maps_serial, dict(self._maps))

    def _maps_arrived(self, image_id: str, got: dict) -> None:
        """What ``_reload_maps_later`` read: shown if it is the latest read asked for and nothing else reloaded the
        maps since (another image, a Show / Compare choice, a job's end: each reads what it needs itself).
        Read for other maps than those chosen now, or from files replaced meanwhile, its maps are not used
        (``_reload_maps`` compares their keys and reads afresh); a read that failed is done again here, which
        names what is wrong."""
        wanted = self._maps_wanted
        if wanted is None or wanted[2] != got.get("serial"):
            return  # superseded: a newer read is on its way, or the maps were reloaded since
        self._maps_wanted = None
        proj = self.studio.project
        if proj is not wanted[0] or self.image_id != wanted[1] or image_id != wanted[1]:
            return
        self._follow_read(wanted, None if "error" in got else got)

    def _maps_failed(self, exc) -> None:
        """The worker itself failed (its read's errors come back as ``got["error"]``): read on the GUI thread."""
        wanted, self._maps_wanted = self._maps_wanted, None
        if wanted is not None and wanted[0] is self.studio.project and wanted[1] == self.image_id:
            self._follow_read(wanted, None)

    def _follow_read(self, wanted: tuple, got: dict | None) -> None:
        """Show what ``_reload_maps_later`` read (``got``; None: read here). For a correction changed in another
        window (``elsewhere``) with edits made here since it was asked for: they stay (``changed_elsewhere``)."""
        elsewhere = wanted[3]
        edits = elsewhere is not None and self.dirty
        self._reload_maps(keep_edits=True, ahead=got)  # edits here stay (the maps on screen are not set again)
        if edits:
            self._edits_stay_elsewhere(wanted[1])
        elif elsewhere:
            self.studio.status.emit(elsewhere)

    def _premade_mask(self, ahead: dict | None, draft_key, saved_key, elsewhere: bool):
        """The mask ``tasks.read_maps_for_review`` drew in the worker, ``(mask, origin, baseline, layer data)``, when
        it is the one ``tasks.current_mask`` would give now: the same draft and saved correction (keys), threshold
        and map on screen (``self.prob``); a draft not to be shown (held by another window, or Revert edits) is read
        here."""
        pre = ahead.get("mask") if ahead is not None else None
        if pre is None:
            return None
        d_key, s_key, threshold, prob, mask, origin, baseline, data = pre
        if (d_key, s_key, threshold) != (draft_key, saved_key, self.threshold.value()):
            return None
        if origin == "draft" and elsewhere:
            return None
        if origin != "corrected" and prob is not self.prob:  # drawn from another map (a draft's baseline too)
            return None
        return mask, origin, baseline, data

    def _reload_maps(self, keep_edits: bool = False, ahead: dict | None = None, *, restore_draft: bool = True) -> None:
        """``restore_draft=False``: the image's draft is not shown either (Revert edits: the saved correction or the
        prediction, as it says; a draft left by a window that ended stays for the next showing of the image)."""
        self._maps_wanted = None  # what this reads supersedes a read of the maps in flight
        proj = self.studio.project
        if proj is None or self.image_id is None:
            return
        image_id = self.image_id
        # the edits on screen are kept (asked once: at 15 MP the comparison takes ~30 ms of the GUI thread; nothing
        # below changes the mask layer before they are used, and a save landing in the flush is of the mask as it is)
        keep = keep_edits and self.dirty
        if not keep and self._saving():
            self._saver.flush()  # the mask is read again below: the one being saved, once it has landed
        rounds = proj.rounds  # the round records, read once for what is shown and said about it
        self._sync_round_choices(rounds)
        shown = self._which(self.show_round.currentText())
        which = self._which(self.compare.currentText())
        got, got_other = self._ahead_map(ahead, shown), self._ahead_map(ahead, which)
        unc = None
        try:
            if got is None:
                self._raise_ahead_error(ahead, shown)  # read in the worker, as _read_map would say it
            key, prob, unc = got if got is not None else (*self._read_map(proj, image_id, shown, rounds), None)
            if which == NONE:
                other_key, other = None, None
            else:
                if got_other is None:
                    self._raise_ahead_error(ahead, which)
                other_key, other = (got_other[:2] if got_other is not None
                                    else self._read_map(proj, image_id, which, rounds))
        except ValueError as exc:
            dialogs.error(self, "Cannot read predictions", str(exc))
            prob = other = unc = key = other_key = None
        self.prob = prob
        op = self.opacity.value() / 100
        self._set_layer("compare", other, "image", colormap=review_layers.COMPARE_COLORMAP, opacity=op, blending="additive",
                        visible=other is not None)
        self._set_layer("probability", prob, "image", colormap=review_layers.PROBABILITY_COLORMAP, opacity=op, blending="additive",
                        contrast_limits=(0, 1))
        if unc is None and prob is not None:
            unc = tasks.uncertainty(prob)
        # what is on screen now and the last map that was, for the next choice of Show / Compare with
        # (Compare with toggled off and on again); at most MAPS_KEPT of them (each 58 MB at 15 megapixels)
        kept = {shown: (key, prob, unc)}
        if which != NONE and which != shown:
            kept[which] = (other_key, other, None)
        for w, got in self._maps.items():  # the most recent first
            if len(kept) >= MAPS_KEPT:
                break
            kept.setdefault(w, got)
        self._maps = kept
        # hidden (Uncertainty map unticked): put in the layer when it is shown (session 38: 6-8 ms of each map shown)
        self._set_layer("uncertainty", unc, "image", colormap=review_layers.UNCERTAINTY_COLORMAP, opacity=op, blending="additive",
                        contrast_limits=(0, 1), visible=self.show_unc.isChecked(), defer=True)
        self._shown = self._resolve(shown, prob, rounds)
        compared = self._show_what(shown, which, other, rounds)
        if not keep:
            # taken before the read (a file replaced meanwhile is taken for another's): which draft this window
            # restored, which saved correction it shows
            draft_key = tasks.stat_key(tasks.draft_path(proj, image_id))
            saved_key = tasks.stat_key(proj.correction_path(image_id))
            # another window's live unsaved edits of the image (it holds its draft): not restored as this one's
            # (session 36: they were, and autosaved here mixed with this window's edits over theirs)
            elsewhere = draft_key is not None and self._draft_held_elsewhere(proj, image_id)
            premade = self._premade_mask(ahead, draft_key, saved_key, elsewhere or not restore_draft)
            data = None
            try:  # an unreadable saved correction or draft: say so, show no other image's mask
                if premade is not None:  # drawn in the worker (the rounds changed: _reload_maps_later)
                    mask, origin, baseline, data = premade
                else:
                    # no map for the round chosen in Show: no mask either (not another round's map under its name)
                    mask, origin = tasks.current_mask(proj, image_id, prob, threshold=self.threshold.value(),
                                                      look_up=False, draft=restore_draft and not elsewhere)
                    if mask is None:
                        mask = np.zeros(self.image.shape[:2], bool)
                    baseline = self._baseline_for(origin, mask)
                kept = self._kept_edits.pop(image_id, None)
                self._kept_draft_keys.pop(image_id, None)
                if kept is not None and kept[0] is proj and np.shape(kept[1]) == np.shape(mask):
                    mask, data = kept[1], None  # a save that failed after the image was left: its edits, unsaved
            except ValueError as exc:
                self._unreadable_mask(exc)
                return
            self._mask_origin = origin
            # a restored draft older than the saved correction: edits made on an earlier mask (a window that ended
            # left them, and another saved the image since), which saving puts in place of that correction (QA,
            # session 37: nothing said so)
            self._draft_older = (origin == "draft" and draft_key is not None and saved_key is not None
                                 and draft_key[2] < saved_key[2])
            self._baseline = baseline
            self._mask_threshold, self._mask_map = self.threshold.value(), self._shown
            self._draft_key = draft_key if origin == "draft" else None
            self._saved_key = saved_key
            if origin == "draft":  # restored (left by a window that ended, or by this one): this window's now
                self._take_draft_hold(proj)
            else:  # held only while this window's draft is the image's (an image left, a draft reverted or gone)
                self._release_draft_hold()
            self._set_mask(mask, data)
            if elsewhere:
                self._draft_theirs_said(proj)
        self._show_stats(rounds, (compared, other), premade=ahead.get("stats") if ahead is not None else None)
        self._update_edit_state()

    def _set_layer(self, name: str, data, kind: str, visible: bool = True, defer: bool = False, **kw):
        shape = None if self.image is None else self.image.shape[:2]
        return review_layers.set_layer(self.viewer, name, data, kind, placeholder_shape=shape, visible=visible,
                                       defer=defer, **kw)

    def _set_mask(self, mask: np.ndarray, data: np.ndarray | None = None) -> None:
        self._setting_mask = True  # its set_data event is no edit to autosave (``_edited``)
        try:
            review_layers.set_mask(self.viewer, mask, opacity=self.opacity.value() / 100,
                                   contour=self.contour.isChecked(), on_paint=self._edited, data=data)
        finally:
            self._setting_mask = False
        self._hook_mask()  # a new mask layer (another number of dimensions) is followed too

    # --- reading ahead -------------------------------------------------------------------------

    def _read_ahead(self) -> None:
        """Read the shown image's neighbours in the queue (next, then previous) in a worker thread;
        drop what was read for any other image (memory: a few arrays per image)."""
        proj, current = self.studio.project, self.image_id
        try:
            ids = self.ids()
        except (OSError, ValueError):  # the manifest unreadable meanwhile (the studio's watcher says so): no read-ahead
            return
        if proj is None or current not in ids or len(ids) < 2:
            return
        i = ids.index(current)
        wanted = list(dict.fromkeys(j for j in (ids[(i + 1) % len(ids)], ids[i - 1]) if j != current))
        self._ahead.read(proj, wanted, self._which_maps())

    # --- overlays ------------------------------------------------------------------------------

    def _grid(self, on: bool) -> None:
        # napari 0.9 moved the grid to viewer.canvas.grid (viewer.grid warns a DeprecationWarning at each toggle);
        # the mask's tools act in its own cell only (review_layers.keep_strokes_in_own_cell)
        grid = review_layers.grid_of(self.viewer)
        grid.enabled = bool(on)
        grid.stride = 1
        self.fit_view()

    def _contour(self, on: bool) -> None:
        if "mask" in self.viewer.layers:
            self.viewer.layers["mask"].contour = 2 if on else 0

    def _opacity(self, value: int) -> None:
        for name in ("compare", "probability", "uncertainty", "mask"):  # every overlay, the compared map too
            if name in self.viewer.layers:
                self.viewer.layers[name].opacity = value / 100

    def _unc_visible(self, on: bool) -> None:
        # the uncertainty of the map on screen, left out of the hidden layer (``review_layers.set_layer``'s defer).
        # An image with no prediction has no uncertainty map: the layer (a placeholder of zeros) stays hidden and the
        # line under Show says so. Before (session 39) ticking it showed the placeholder: a black cell in "Side by side",
        # and an "uncertainty" layer listed as shown, as if the map were there and certain everywhere
        review_layers.show(self.viewer, "uncertainty", on and self.prob is not None)
        self._say_showing()

    def _eye_on_no_map(self, event) -> None:
        """napari's eye in the layer list clicked on a map layer that holds only its placeholder (the image on screen
        has no such map: no prediction yet, no compared map): the layer is hidden again and the status line says
        why. Before (session 39's leftover) the placeholder's zeros were shown: a black cell in "Side by side", and
        the layer listed as shown as if the map were there and zero everywhere. Session 40."""
        layer = event.source
        meta = layer.metadata
        if not layer.visible or review_layers.PLACEHOLDER_KEY not in meta or review_layers.PENDING_KEY in meta:
            return  # a map put aside while hidden is filled in (``review_layers._on_visible``), not refused
        layer.visible = False
        if self.image_id is not None:
            what = {"compare": "compared map", "probability": "prediction"}.get(layer.name, "uncertainty map")
            self.studio.status.emit(f"{_name(self.studio.project, self.image_id)} has no {what} to show")

    # --- segmentation --------------------------------------------------------------------------

    def segment_missing(self) -> bool:
        proj = self.studio.project
        if proj is None:
            return False
        ids = [r.id for r in proj.images if tasks.probability(proj, r.id) is None]
        if not ids and self.image_id is not None:
            ids = [self.image_id]
        model, mirror, renorm = self.segmenter_model, self.mirror.isChecked(), self.renormalize.isChecked()
        return self.studio.start_job("Segmentation",
                                     lambda: tasks.segment_source_only(proj, ids, model=model, mirror=mirror,
                                                                       renormalize=renorm))
