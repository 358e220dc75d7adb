"""Adaptation panel: preset and main parameters, Run / Cancel, progress, live previews, metrics."""

from __future__ import annotations

import statistics
import sys
import threading
import time

import numpy as np
from qtpy.QtCore import QEvent, QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vessel_studio.adaptation.config import CROSS_MODALITY_ROUNDS, SAME_MODALITY_ROUNDS
from vessel_studio.adaptation.selection import FLAGGED_MARK, flag_kinds, flagged_rounds, guard_reruns
from vessel_studio.events import Artifact, Metric, Preview, Progress
from vessel_studio.gui import dialogs, tasks
from vessel_studio.gui.jobbar import JobBar
from vessel_studio.gui.qtutil import fitted_pixmap, fmt_seconds, park_focus
from vessel_studio.gui.review_correction import confirm_unsaved_drafts
from vessel_studio.gui.source_panel import SourceChooser
from vessel_studio.wording import given_up_work

PRESETS = ("tiny", "cpu", "gpu")
COLORS = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#de2d26", "#636363"]
#: label-free round signals worth plotting (all in [0, 1]); other per-round numbers (losses,
#: timings, counts) are shown as text
PLOTTED = ("agreement", "confidence", "entropy", "vessel_fraction")
#: the tooltip of Run adaptation, Roll back, Free disk… and Make maps again while another process's job holds the
#: project (``Studio.outside_job``, a terminal's ``adapt``): they are disabled then, as while this window's own job
#: runs (session 38: they stayed enabled and a click was refused at once, "Busy")
#: (session 39: it named the job twice, "vessel-studio adapt (…) holds this project (a terminal's vessel-studio adapt,
#: another window)"; it names it once, as ``job_holder`` does)
HELD_ELSEWHERE_TIP = "{holder} holds this project: {then} once it has ended (or stop it there)"
#: Free disk…'s answer when every round's maps are to be kept (asked at the click, and again with the sizes added up)
NOTHING_TO_FREE = "Nothing to delete: every round's maps are needed or already deleted."
#: the Cancel's tooltip during a roll back (``tasks.rollback_job``), which cannot be stopped halfway
ROLL_BACK_NO_CANCEL_TIP = ("a roll back cannot be stopped halfway: the project's record is written first, then the "
                           "rounds' folders are deleted")
#: the live previews' boxes, logical px a side; the previews are fitted to them with their aspect kept, at the
#: screen's device pixels (``AdaptPanel.preview_ratio``, ``qtutil.fitted_pixmap``)
PREVIEW_SIDE = 72


def preset_defaults(name: str) -> dict:
    """t0, steps, rounds, count of a preset (the engine's ``AdaptConfig``)."""
    from vessel_studio.adaptation.config import AdaptConfig

    cfg = AdaptConfig.preset(name)
    return {"t0": cfg.t0, "steps": cfg.steps, "rounds": cfg.rounds, "count": cfg.n_synthetic}


class MetricPlot(QWidget):
    """Label-free metrics per round, drawn with QPainter (no plotting dependency)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.series: dict[str, dict[int, float]] = {}
        self.setMinimumHeight(120)

    def clear(self) -> None:
        self.series.clear()
        self.update()

    def add(self, name: str, round_: int, value: float) -> bool:
        """Add a per-round value of a plotted label-free signal; returns False for other names."""
        if name not in PLOTTED:
            return False
        self.series.setdefault(name, {})[int(round_)] = float(value)
        self.update()
        return True

    def paintEvent(self, _event):  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(34, 8, -104, -20)
        p.fillRect(self.rect(), QColor("#262930"))
        p.setPen(QPen(QColor("#888"), 1))
        p.drawRect(r)
        if not self.series:
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "label-free metrics per round")
            p.end()
            return
        values = [v for s in self.series.values() for v in s.values()]
        rounds = sorted({k for s in self.series.values() for k in s})
        lo, hi = (0.0, 1.0) if min(values) >= 0 and max(values) <= 1 else (min(values), max(values))
        if hi - lo < 1e-9:
            hi = lo + 1.0
        r0, r1 = rounds[0], max(rounds[-1], rounds[0] + 1)

        def pt(k, v):
            return QPointF(r.left() + (k - r0) / (r1 - r0) * r.width(), r.bottom() - (v - lo) / (hi - lo) * r.height())

        p.drawText(QRectF(0, r.top() - 6, 32, 12), Qt.AlignmentFlag.AlignRight, f"{hi:.2g}")
        p.drawText(QRectF(0, r.bottom() - 6, 32, 12), Qt.AlignmentFlag.AlignRight, f"{lo:.2g}")
        for k in rounds:
            p.drawText(QRectF(pt(k, lo).x() - 15, r.bottom() + 2, 30, 14), Qt.AlignmentFlag.AlignCenter, f"r{k}")
        y_legend = r.top() + 2
        for i, (name, s) in enumerate(sorted(self.series.items())):
            color = QColor(COLORS[i % len(COLORS)])
            p.setPen(QPen(color, 2))
            pts = [pt(k, s[k]) for k in sorted(s)]
            for a, b in zip(pts, pts[1:]):
                p.drawLine(a, b)
            for q in pts:
                p.drawEllipse(q, 3, 3)
            p.drawText(QRectF(r.right() + 6, y_legend, 98, 14), Qt.AlignmentFlag.AlignLeft, name)
            y_legend += 15
        p.end()


class AdaptPanel(QWidget):
    """Starts ``vessel_studio.adaptation.adapt`` in the studio's job runner and shows its events."""

    def __init__(self, studio, parent=None):
        super().__init__(parent)
        self.studio = studio
        self._stage_t0: dict = {}
        #: the run's first and last round (``run``), when each round of it started and how long each took
        self._plan: tuple[int, int] | None = None
        self._round_t0: dict[int, float] = {}
        self._round_s: dict[int, float] = {}
        self._device = None
        self._device_worker = None
        self._guard_stale = False
        #: round -> the label-free guard's re-run of it in progress (the job's Metric("guard", "retry")): the stage
        #: line says so (session 40 QA: only "guard: retry 1" showed, in the loss line, and the stage line began the
        #: same round again as if nothing had happened)
        self._rerun: dict[int, int] = {}
        self.flagged: dict[int, list[str]] = {}
        #: further AdaptConfig fields (advanced settings, tests, benchmarks)
        self.overrides: dict = {}
        #: the project's recorded configuration (``adaptation.config.recorded_config``; None: no round): the
        #: rounds Run adaptation adds continue with it, as ``adapt PROJECT`` run again does
        self._recorded: dict | None = None
        #: the project's adaptation that was killed or failed (``adaptation.job.interrupted_job``; None: none): the
        #: form is filled from its settings, with which Run adaptation resumes it
        self._interrupted = None
        #: (project, the form's values) when the form was last filled from its record or run: a form that differs
        #: holds the person's changes, which rounds changed elsewhere keep (``_project_changed``)
        self._filled: tuple | None = None

        self.preset = QComboBox()
        self.preset.addItems(PRESETS)
        self.t0 = QDoubleSpinBox()
        self.t0.setRange(0.05, 1.0)
        self.t0.setSingleStep(0.05)
        self.t0.setDecimals(2)
        self.t0.setToolTip("inversion depth: fraction of the noise schedule the source images are inverted to")
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setToolTip("DDIM steps over the whole schedule (t0 × steps of them run)")
        self.rounds = QSpinBox()
        self.rounds.setRange(-1, 20)  # -1 shows "auto": the preset's count for this pair of modalities
        self.rounds.setSpecialValueText("auto")
        self.rounds.setToolTip(f"co-optimization rounds after round 0 (auto: {SAME_MODALITY_ROUNDS} when the "
                               f"source and the target are one modality, {CROSS_MODALITY_ROUNDS} across modalities)")
        self.count = QSpinBox()
        self.count.setRange(1, 100000)
        self.count.setToolTip("synthetic image/mask pairs per round")
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("t0", self.t0)
        form.addRow("Steps", self.steps)
        form.addRow("Rounds", self.rounds)
        form.addRow("Synthetic pairs", self.count)
        #: which configuration the new rounds continue with (the project's record; empty without rounds)
        self.recorded = QLabel("")
        self.recorded.setWordWrap(True)
        self.recorded.setStyleSheet("color: gray")
        self.recorded.setToolTip("the form is set from the project's latest round when the project is opened or "
                                 "rolled back, so that the rounds added are the same as one longer run; what you "
                                 "change in the form wins; the seed and the settings the form has no field for "
                                 "(adapt --seed / --set) stay the project's. To start afresh: \"Keep rounds up "
                                 "to\" → \"no round\", then Roll back")
        #: the lab's labelled source images (else the bundled generator's procedural vessel masks)
        self.source = SourceChooser(studio)

        self.btn_run = QPushButton("Run adaptation")
        self.btn_cancel = QPushButton("Cancel")
        self.btn_cancel.setEnabled(False)
        self.btn_cancel.setToolTip("stop at the next step and remove the rounds this run has finished: the project "
                                   "goes back to how it was before the run")
        self.btn_stop = QPushButton("Stop after this round")
        self.btn_stop.setEnabled(False)
        self.btn_stop.setToolTip("let the round being run finish, keep it and every round before it, and end the "
                                 "run there; Run adaptation later adds as many rounds as Rounds says after it (not "
                                 "the rounds left out: set Rounds to their number to finish the run), the same "
                                 "rounds as one longer run")
        #: the panel's scroll area while it holds the focus Cancel had (``qtutil.park_focus``)
        self._focus_parked = None
        #: "Stop after this round", asked by the job (adaptation.job.adapt's stop_requested) from its thread
        self._stop = threading.Event()
        buttons = QHBoxLayout()
        buttons.addWidget(self.btn_run)
        buttons.addWidget(self.btn_stop)
        buttons.addWidget(self.btn_cancel)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)  # no "0%" while idle (as ``JobBar``): shown from the run's start
        self.stage = QLabel("idle")
        self.eta = QLabel("")
        # the run's status lines wrap (as the guard's and the hint's do): unwrapped, the longest ones ("this stage:
        # about 18 s left · the run: rounds 0-2, time left once …") made the panel wider than its dock, which then
        # scrolled sideways during the run and after it (session 39 QA)
        for label in (self.stage, self.eta):
            label.setWordWrap(True)
        self.loss = QLabel("")
        self.loss.setStyleSheet("color: gray")
        # and so does the loss line: the guard's re-run line ("round 12 flagged by the guard: running it again with
        # another seed (re-run 2)") made the panel 527 px wide, 65 px wider than it is (session 42, laptop screens)
        self.loss.setWordWrap(True)
        self.previews = [QLabel() for _ in range(4)]
        #: the previews' images, newest first (drawn again for a screen of another scale: ``_show_previews``)
        self._preview_images: list[np.ndarray] = []
        prev_row = QHBoxLayout()
        for lab in self.previews:
            lab.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setStyleSheet("background: #1b1d22; border: 1px solid #444")
            prev_row.addWidget(lab)
        self.preview_caption = QLabel("")
        self.preview_caption.setStyleSheet("color: gray")
        self.preview_caption.setWordWrap(True)
        self.plot = MetricPlot()
        #: the label-free guard's warnings for the project's rounds (selection.round_warnings)
        self.guard = QLabel("")
        self.guard.setWordWrap(True)
        self.guard.setStyleSheet("color: #f0a030")
        self.device = QLabel("device: …")
        self.device.setStyleSheet("color: gray")
        self.device.setWordWrap(True)
        #: free space on the project's drive (a round of a 15-MP project takes ~71 MB per image; adapt
        #: checks it before each round, adaptation.disk; "Free disk…" deletes maps nobody needs)
        self.disk = QLabel("")
        self.disk.setStyleSheet("color: gray")
        self.disk.setWordWrap(True)
        # roll back: keep rounds 0..N of the project (Project.rollback), e.g. after a flagged round
        self.keep_round = QComboBox()
        self.keep_round.setToolTip("the last round to keep; the rounds after it are deleted")
        #: the least fragmented round (selection.select_round): a label-free hint for the reviewer
        self.selection_hint = QLabel("")
        self.selection_hint.setWordWrap(True)
        self.selection_hint.setStyleSheet("color: gray")
        self.btn_rollback = QPushButton("Roll back")
        self.btn_rollback.setToolTip("delete the rounds after the chosen one (their models, pseudo-labels and "
                                     "samples); corrected masks are kept")
        self.btn_prune = QPushButton("Free disk…")
        self.btn_prune.setToolTip("delete the probability maps of every round but the latest and the label-free "
                                  "hint's round; their records and models stay, but they can no longer be "
                                  "reviewed or exported until their maps are made again (\"Make maps again\"; Roll "
                                  "back to such a round does it first)")
        self.btn_restore = QPushButton("Make maps again")
        self.btn_restore.setToolTip("make the chosen round's deleted probability maps again from its models, "
                                    "without rolling back, so that Review can show it and Export can write it "
                                    "(about the time segmenting the images takes; `vessel-studio rounds PROJECT "
                                    "--restore N`)")
        self.btn_restore.setEnabled(False)
        #: a pruned round's maps made again (a job: progress and Cancel here), alone or before a roll back; and the roll
        #: back itself (a job since session 45: its progress here, no Cancel: it cannot stop halfway)
        #: the buttons that start a job needing the project's job lock: their own tooltips, and what to do once
        #: another process's job holding the project has ended (``HELD_ELSEWHERE_TIP``)
        self._lock_tips = {self.btn_run: (self.btn_run.toolTip(), "run the adaptation"),
                           self.btn_rollback: (self.btn_rollback.toolTip(), "roll back"),
                           self.btn_prune: (self.btn_prune.toolTip(), "free disk"),
                           self.btn_restore: (self.btn_restore.toolTip(), "make the round's maps again")}
        #: what "Keep rounds up to" offers: a roll back, and maps Free disk… would delete (``_fill_rollback``)
        self._offered = (False, False)
        self.restore_bar = JobBar(studio, (tasks.RESTORE_MAPS, tasks.ROLL_BACK),
                                  no_cancel={tasks.ROLL_BACK: ROLL_BACK_NO_CANCEL_TIP})
        self.restore_bar.setVisible(False)
        #: (project, round, then roll back to it) of the restore running
        self._restoring: tuple | None = None
        #: (project, its round indices before) of the roll back running in the runner (``_rollback_now``)
        self._rolling_back: tuple | None = None
        #: the sizes a question needs being added up in a worker (``_measure_then``): (its number, project, the
        #: action's name); None when none runs or its result is no longer wanted
        self._measuring: tuple | None = None
        self._measurings = 0
        #: (project, round) the person chose in "Keep rounds up to": kept while that round is offered (a job's
        #: end, a restore cancelled, rounds added) rather than set back to the latest-but-one (session 35 QA)
        self._keep_choice: tuple | None = None
        rollback_row = QHBoxLayout()
        keep_label = QLabel("Keep rounds up to")
        keep_label.setBuddy(self.keep_round)  # its name for a screen reader (session 48: "combo box")
        rollback_row.addWidget(keep_label)
        rollback_row.addWidget(self.keep_round, 1)
        rollback_row.addWidget(self.btn_rollback)
        maps_row = QHBoxLayout()  # in one row with the roll back the panel was ~550 px wide
        maps_row.addStretch(1)
        maps_row.addWidget(self.btn_restore)
        maps_row.addWidget(self.btn_prune)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.recorded)
        lay.addWidget(self.source)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.stage)
        lay.addWidget(self.eta)
        lay.addWidget(self.loss)
        lay.addLayout(prev_row)
        lay.addWidget(self.preview_caption)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.guard)
        lay.addWidget(self.selection_hint)
        lay.addLayout(rollback_row)
        lay.addLayout(maps_row)
        lay.addWidget(self.restore_bar)
        lay.addWidget(self.device)
        lay.addWidget(self.disk)

        self.preset.currentTextChanged.connect(self._apply_preset)
        self.btn_run.clicked.connect(self.run)
        self.btn_cancel.clicked.connect(self.cancel)
        self.btn_stop.clicked.connect(self.stop_after_round)
        self.btn_rollback.clicked.connect(self.rollback)
        self.btn_prune.clicked.connect(self.free_disk)
        self.btn_restore.clicked.connect(self.restore_maps)
        self.keep_round.currentIndexChanged.connect(self._update_restore)
        self.keep_round.currentIndexChanged.connect(self._keep_chosen)  # not while refilled (signals blocked)
        studio.runner.started.connect(self._started)
        studio.runner.cancel_asked.connect(self._cancel_asked)
        studio.runner.events.connect(self.on_events)
        studio.runner.finished.connect(self._finished)
        studio.project_changed.connect(self._project_changed)
        studio.outside_job_changed.connect(self._outside_job_changed)
        self.preset.setCurrentText("cpu")
        self._apply_preset("cpu")
        self._project_changed()
        self._show_outside_job()

    # --- parameters ------------------------------------------------------------------------

    def _apply_preset(self, name: str) -> None:
        """The preset's values in the form, with the t0, steps and synthetic pairs the project's rounds record
        where they differ from their preset (as ``adapt PROJECT --preset NAME`` keeps them): another preset
        changes the sizes, not what the project was given on top of them. Rounds: the preset's."""
        d = preset_defaults(name)
        fields = (self._recorded or {}).get("fields", {})
        self.t0.setValue(fields.get("t0", d["t0"]))
        self.steps.setValue(fields.get("steps", d["steps"]))
        self.rounds.setValue(-1 if d["rounds"] == "auto" else int(d["rounds"]))
        self.count.setValue(fields.get("n_synthetic", d["count"]))
        #: recorded values as the form shows them, and as recorded: a spin box rounds (t0 to 2 decimals) and
        #: clamps (Steps to 1000), and an unchanged box must not change the project's value (session 29 QA)
        self._shown = {k: (w.value(), fields[k]) for k, w in (("t0", self.t0), ("steps", self.steps),
                                                             ("n_synthetic", self.count)) if k in fields}

    def config(self):
        """The AdaptConfig Run adaptation runs: the form's preset and values, over the project's recorded
        fields the form has no widget for (the seed, ``--set`` fields), under ``overrides``."""
        from vessel_studio.adaptation.config import AdaptConfig

        values = {
            "t0": float(self.t0.value()),
            "steps": int(self.steps.value()),
            "rounds": "auto" if self.rounds.value() < 0 else int(self.rounds.value()),
            "n_synthetic": int(self.count.value()),
        }
        for k, (shown, exact) in self._shown.items():
            if values[k] == shown:  # not changed in the form: the recorded value, not its rounded display
                values[k] = exact
        recorded = (self._recorded or {}).get("fields", {})
        return AdaptConfig.preset(self.preset.currentText(), **{**recorded, **values, **self.overrides})

    def take_recorded_config(self, *, form: bool = True) -> None:
        """Continue the project with the configuration its latest round records (``recorded_config``), as
        ``adapt PROJECT`` run again does; a project without rounds gets the defaults, cpu and seed 0. Before
        session 29 the panel ran whatever its form showed (cpu and seed 0 at start, the previous project's
        values after opening another), so rounds added to a project started with ``--preset tiny --seed 3``
        were not the same as one longer run. ``form``: set the Preset box and the spin boxes too (a project
        opened, a roll back, rounds changed elsewhere, unless the form holds changes not yet run:
        ``_project_changed``); after a run they already hold what its rounds record, and Rounds stays as set."""
        from vessel_studio.adaptation.config import recorded_config, recorded_config_items

        proj = self.studio.project
        self._interrupted = self._find_interrupted(proj)
        job = self._interrupted
        # an interrupted run's settings, with which it resumes (session 35 QA: the window said nothing of it, its
        # form showed the latest round's record or the defaults, and Run adaptation discarded the run's work)
        self._recorded = job.record if job is not None else recorded_config(proj) if proj is not None else None
        if form:
            name = self._recorded["preset"] if self._recorded else "cpu"
            self.preset.blockSignals(True)  # the same name emits nothing: _apply_preset is called once, here
            self.preset.setCurrentText(name)
            self.preset.blockSignals(False)
            self._apply_preset(name)
            if job is not None:  # its rounds, counted from the round it started after
                self.rounds.setValue(int(job.config["rounds"]))
            self._filled = (proj, self._form_values())
        rec = self._recorded
        if job is not None:
            runs = f"round {job.round}" if job.round == job.last else f"rounds {job.round}–{job.last}"
            self.recorded.setText(
                f"An adaptation of this project was interrupted in round {job.round} (the process ended, or it "
                f"failed). Run adaptation with its settings ({self._interrupted_settings(job)}) and the same source "
                f"goes on from its last finished step and makes "
                f"{runs}; other settings or another source start afresh and discard its work (you are asked first).")
        else:
            self.recorded.setText("" if rec is None else
                                  "New rounds continue with the project's configuration: "
                                  f"{', '.join(recorded_config_items(rec))} (round {rec['round']}'s record; what "
                                  "you change in the form wins)")
        self.recorded.setVisible(rec is not None)

    @staticmethod
    def _find_interrupted(proj):
        """``adaptation.job.interrupted_job`` of the project (None: none, no project, or it cannot be read)."""
        if proj is None:
            return None
        from vessel_studio.adaptation.job import interrupted_job

        try:
            return interrupted_job(proj)
        except (OSError, ValueError):  # the folder renamed or the manifest broken elsewhere: the studio says so
            return None

    def _outside_job_changed(self) -> None:
        """Another process's job took or released the project (``Studio.outside_job``). A terminal's ``adapt``
        killed mid-round (``kill -9``, a crash) changes no file the window's watcher compares: before session 38 the
        panel went on saying "New rounds continue with …" and offered its run for resuming only once the project
        was opened again; and once that run is resumed elsewhere it is no longer interrupted. The "interrupted"
        line and the form follow now, as when the project is opened. The buttons that need the project's job lock
        are disabled while that job holds it (``_show_outside_job``)."""
        self._show_outside_job()
        if self.studio.outside_job:
            self._drop_measuring(f"{self.studio.outside_job} took the project meanwhile")
        if self.studio.runner.running or self.studio.project is None:
            return
        if self._find_interrupted(self.studio.project) != self._interrupted:
            self._project_changed()

    def _free(self) -> bool:
        """No job holds the project: neither this window's (``runner``) nor another process's (``outside_job``, as
        the studio's watcher last saw it)."""
        return not self.studio.runner.running and not self.studio.outside_job

    def _show_outside_job(self) -> None:
        """Run adaptation, Roll back, Free disk… and Make maps again while another process's job holds the project
        (a terminal's ``adapt``): disabled, their tooltips naming the job, as while this window's own job runs; as
        before once it has ended (a ``kill -9`` included). Before session 38 they stayed enabled, and a click was
        refused at once ("Busy", ``_held_elsewhere``: it still is, the watcher looks once a second)."""
        holder = self.studio.outside_job
        for btn, (tip, then) in self._lock_tips.items():
            btn.setToolTip(HELD_ELSEWHERE_TIP.format(holder=holder, then=then) if holder else tip)
        if self.studio.runner.running:  # this window's job: they wait for its end (_finished)
            return
        self.btn_run.setEnabled(self.studio.project is not None and not holder)
        self.btn_rollback.setEnabled(self._offered[0] and not holder)
        self.btn_prune.setEnabled(self._offered[1] and not holder)
        try:
            self._update_restore()
        except (OSError, ValueError):  # the manifest cannot be read (the folder renamed): the studio says so
            self.btn_restore.setEnabled(False)

    def _form_values(self) -> tuple:
        return (self.preset.currentText(), self.t0.value(), self.steps.value(), self.rounds.value(), self.count.value())

    def _project_changed(self) -> None:
        # the same project's rounds changed (a terminal's adapt or roll back, a roll back here) while the form holds
        # changes not yet run: they stay, over the new record (its label says so: "what you change in the form
        # wins"); before session 31 every round a terminal added set the form back. An unchanged form, or another
        # project: the form from the record, as before
        proj, filled = self.studio.project, self._filled
        self._drop_measuring("another project was opened meanwhile" if self._measuring is not None
                             and self._measuring[1] is not proj else "the project's rounds changed meanwhile")
        edited = filled is not None and proj is not None and filled[0] is proj and self._form_values() != filled[1]
        self.take_recorded_config(form=not edited)
        self.btn_run.setEnabled(self.studio.project is not None and self._free())
        if not self.restore_bar.active:  # how the last restore ended was this project's
            self.restore_bar.setVisible(False)
        self.plot.clear()
        self._project_changed_plot_only()
        self.update_disk()

    def update_disk(self) -> None:
        """The free space of the project's drive (one statvfs call)."""
        import shutil

        proj = self.studio.project
        try:
            free = None if proj is None else shutil.disk_usage(proj.folder).free
        except OSError:
            free = None
        self.disk.setText("" if free is None else f"disk: {free / 1e9:,.1f} GB free on the project's drive")

    def update_guard(self) -> None:
        """Show the label-free guard's warnings for the project's committed rounds, and the rounds it ran again."""
        proj = self.studio.project
        records = proj.rounds if proj is not None else []  # read once (each read copies the manifest's rounds)
        #: the rounds the guard flags, with their warnings (the status line of a round flagged as it is committed)
        self.flagged = flagged_rounds(records)
        lines = [f"⚠ round {k}: {w}" for k, ws in sorted(self.flagged.items()) for w in ws]
        # a round the guard ran again (guard_retries) was said only during the run, in the stage line (session 41): its
        # record says so, as `vessel-studio rounds` prints it
        lines += guard_reruns(records)
        if self.flagged:  # what to do, in the panel and not only in the tooltip (session 40 QA)
            lines.append("A flagged round is best looked at in Review (Show: that round) and rolled back (Keep "
                         "rounds up to a round before it) or run again with other settings.")
        self.guard.setText("\n".join(lines))
        self.guard.setToolTip("label-free checks of each round's pseudo-labels; a flagged round is best rolled "
                              "back or re-run with other settings" if lines else "")
        self._fill_rollback(proj, records, self.flagged)

    def _fill_rollback(self, proj, records: list | None = None, flagged: dict | None = None) -> None:
        """Rollback choices: every committed round but the last ("no round" removes them all), and
        the label-free selection hint. ``records``: the project's rounds, ``flagged``: the guard's flags of them,
        when already read (``update_guard``; before session 41 the guard's warnings were computed twice)."""
        from vessel_studio.adaptation.selection import prune_keep, review_hint, round_rows

        if records is None:
            records = proj.rounds if proj is not None else []
        indices = [r.index for r in records]
        if flagged is None:
            flagged = flagged_rounds(records) if indices else {}
        whole = [r.index for r in records if r.pruned is None]
        hint = review_hint(round_rows(records)) if indices else None
        self.selection_hint.setText(
            "" if hint is None else f"{hint} (label-free hint; compare the rounds in Review)")
        self.keep_round.blockSignals(True)
        self.keep_round.clear()
        if indices:
            self.keep_round.addItem("no round", -1)
            for i in indices[:-1]:
                # a pruned round has no maps to go on from (Project.rollback refuses it): they are made again first
                # a round the guard flagged says so, as the warning above does (session 40 QA)
                mark = FLAGGED_MARK if i in flagged else ""
                self.keep_round.addItem(f"round {i}{mark}" if i in whole
                                        else f"round {i}{mark} (maps deleted: made again first)", i)
            # the person's choice stays while it is offered: refilled after every job (a cancelled "Make maps
            # again" of round 1 included), it went back to the latest-but-one, and the next click made round 2's
            # maps again or rolled back to round 2 (session 35 QA); else the latest-but-one, as before
            chosen = self._keep_choice
            found = self.keep_round.findData(chosen[1]) if chosen is not None and chosen[0] is proj else -1
            self.keep_round.setCurrentIndex(found if found >= 0 else self.keep_round.count() - 1)
        self.keep_round.blockSignals(False)
        can = bool(indices) and not self.studio.runner.running
        self.keep_round.setEnabled(can)  # a choice only: it stays while another process's job holds the project
        keep = prune_keep(records) if indices else []
        spare = [i for i in whole[:-1] if i not in keep]  # what "Free disk…" would prune (store.prune.plan_prune)
        self._offered = (bool(indices), bool(spare))
        self.btn_rollback.setEnabled(bool(indices) and self._free())
        self.btn_prune.setEnabled(bool(spare) and self._free())
        self._update_restore()

    def _chosen_pruned(self) -> int | None:
        """The round chosen in "Keep rounds up to" when its maps were pruned, else None."""
        proj = self.studio.project
        index = self.keep_round.currentData()
        if proj is None or index is None or index < 0:
            return None
        rec = next((r for r in proj.rounds if r.index == index), None)
        return index if rec is not None and rec.pruned is not None else None

    def _keep_chosen(self, *_args) -> None:
        self._keep_choice = (self.studio.project, self.keep_round.currentData())

    def _update_restore(self, *_args) -> None:
        self.btn_restore.setEnabled(self._chosen_pruned() is not None and self._free())

    def rollback(self) -> bool:
        """Ask, then keep the project's rounds up to the chosen one (``Project.rollback``) in the job runner
        (``_rollback_now``); True: started. A round whose maps were pruned gets them made again first, in the job
        runner (``adaptation.restore``), and the rounds after it are deleted when that has finished. A roll back that
        gives up an interrupted adaptation asks once the size of its ``work/`` has been added up in a worker
        (``_measure_then``): True once that has started."""
        proj = self.studio.project
        if proj is None or self.keep_round.count() == 0 or self.studio.runner.running or self._measuring is not None:
            return False
        if self._held_elsewhere(proj, "Roll back failed", "roll back after it ends (or stop it)"):
            return False
        keep = int(self.keep_round.currentData())
        drop = [r.index for r in proj.rounds if r.index > keep]
        if not drop:
            return False
        what = "every round" if keep < 0 else f"round{'s' if len(drop) > 1 else ''} {', '.join(map(str, drop))}"
        target = next((r for r in proj.rounds if r.index == keep), None)
        if target is not None and target.pruned is not None:
            return self._restore_then_rollback(proj, keep, what)
        job = self._find_interrupted(proj)
        if job is not None and job.base_round is not None and keep < job.base_round:
            # the question says how much of work/ goes: a walk of it, in a worker (session 46: on the GUI thread)
            return self._measure_then(proj, "Roll back", f"adding up the interrupted adaptation's work in "
                                      f"{proj.work_dir}…", proj.work_size,
                                      lambda size: self._ask_rollback(proj, keep, what, job, size))
        return self._ask_rollback(proj, keep, what)

    def _ask_rollback(self, proj, keep: int, what: str, job=None, size=None) -> bool:
        if not dialogs.confirm(self, "Roll back",
                               f"Delete {what} of this project (models, pseudo-labels, samples)? "
                               "Corrected masks are kept. This cannot be undone."
                               + self._gives_up_note(proj, job, size)):
            return False
        return self._rollback_now(proj, keep)

    @staticmethod
    def _gives_up_note(proj, job, size) -> str:
        """What a roll back below the round an interrupted adaptation (``job``: a terminal's ``adapt`` killed, ``kill
        -9``) went on from does to it: it can no longer be resumed (``interrupted_job``: the round it started from is
        gone; the next run starts afresh), and its finished steps in ``work/`` (``size``: ``Project.work_size``, or
        ``("error", exc)``) are deleted with the rounds (``Project.discard_given_up_work``). Session 39 QA: the question
        did not say so, and the "interrupted" line just went away after the roll back. "" without ``job``."""
        if job is None:
            return ""
        size = f" ({size / 1e6:,.0f} MB)" if isinstance(size, int) else ""
        return (f" The adaptation interrupted in round {job.round} went on from round {job.base_round}: it can no "
                f"longer be resumed after this (the next run starts afresh), and its finished steps in {proj.work_dir}"
                f"{size} are deleted too.")

    def _measure_then(self, proj, name: str, doing: str, work, then) -> bool:
        """Add up in a worker thread the sizes a question names (``work()``: a walk of the project's files, longer
        the more images and rounds it has), then ``then(value)`` on the GUI thread asks it (``value``: ``("error",
        exc)`` when ``work`` raised). True: started. Before session 46 "Free disk…" walked the maps of the rounds it
        would delete on the GUI thread before its question (0.14 s for the 7,560 maps of a 945-image project's 8
        rounds), and a Roll back giving up an interrupted adaptation walked its ``work/`` (0.03 s for 4,743 files).
        The stage line says what is being added up (``doing``); the question is not asked if a job began (here or in
        another process), another project was opened or the project's rounds changed meanwhile: the stage line says
        so (``_drop_measuring``)."""
        from vessel_studio.gui.jobs import background_priority, start_keyed

        self._measurings += 1
        key = (self._measurings, proj, name)
        self._measuring = key

        def measure():
            background_priority()
            return work()  # raised: ("error", exc), which the question's error dialog says

        self._stage_before = self.stage.text()
        self.stage.setText(f"{name}: {doing}")
        start_keyed(measure, key, lambda key, value: self._measured(key, then, value), self.studio.workers)
        return True

    def _measured(self, key: tuple, then, value) -> None:
        """A ``_measure_then`` worker's value, on the GUI thread: its question asked if it is still the one wanted."""
        try:
            if key != self._measuring:
                return  # dropped: a job began, another project, the rounds changed (the stage line said it)
            if key[1] is not self.studio.project or not self._free():  # (each drops it as it happens)
                self._drop_measuring("the project or its jobs changed meanwhile")
                return
            self._measuring = None
            self.stage.setText(self._stage_before)
            then(value)
        except RuntimeError:  # the panel was closed while its worker walked the files
            pass

    def _drop_measuring(self, why: str) -> None:
        """The sizes being added up (``_measure_then``) are no longer wanted: their question is not asked."""
        if self._measuring is None:
            return
        name = self._measuring[2]
        self._measuring = None
        self.stage.setText(f"{name}: nothing was asked or deleted: {why} (click {name} again)")

    def _restore_then_rollback(self, proj, keep: int, what: str) -> bool:
        return self._start_restore(
            proj, keep, "Roll back",
            lambda n: f"Round {keep}'s probability maps were deleted to free disk. They are made again from its "
                      f"models first ({n} image(s): about the time segmenting them takes; Cancel stops it and "
                      f"changes nothing), then {what} of this project {'are' if what.startswith('rounds') else 'is'} "
                      "deleted (models, pseudo-labels, samples). "
                      "Corrected masks are kept. The deletion cannot be undone.",
            then_rollback=True)

    def restore_maps(self) -> bool:
        """Ask, then make the chosen pruned round's maps again (``adaptation.restore``) in the job runner,
        without rolling back: Review offers the round again and ``export --round`` takes it."""
        proj, keep = self.studio.project, self._chosen_pruned()
        if proj is None or keep is None or self.studio.runner.running:
            return False
        if self._held_elsewhere(proj, "Make maps again", f"restore round {keep} after it ends (or stop it)"):
            return False
        return self._start_restore(
            proj, keep, "Make maps again",
            lambda n: f"Make round {keep}'s probability maps again from its models ({n} image(s): about the time "
                      "segmenting them takes; Cancel stops it and changes nothing)? No round is deleted; Review "
                      "shows the round again. \"Free disk…\" can delete its maps again later.",
            then_rollback=False)

    def _start_restore(self, proj, keep: int, title: str, question, *, then_rollback: bool) -> bool:
        from vessel_studio.adaptation.restore import restore_plan, restore_round_job

        try:
            _plan, ids = restore_plan(proj, keep)  # the images whose maps the prune deleted
        except (ValueError, OSError) as exc:  # a segmenter folder gone: its maps cannot be made again
            dialogs.error(self, title, str(exc))
            return False
        if not dialogs.confirm(self, title, question(len(ids))):
            return False
        started = self.studio.start_job(tasks.RESTORE_MAPS, lambda: restore_round_job(proj, keep))
        if started:
            self._restoring = (proj, keep, then_rollback)
            self.restore_bar.setVisible(True)
        return started

    def _rollback_now(self, proj, keep: int) -> bool:
        """Start the roll back to ``keep`` in the job runner (``tasks.rollback_job``); True: started. Before session 45
        ``Project.rollback`` ran here, on the GUI thread: the manifest checked and written and the rounds' folders
        deleted (thousands of map files) froze the window (0.2 s on a 1,000-image project, longer on a network drive
        or with 15-MP maps). Now the window stays live, the other buttons are disabled as for any job, and what
        followed the roll back follows the job's end (``_rolled_back``)."""
        before = [r.index for r in proj.rounds]  # read before the job writes the manifest
        started = self.studio.start_job(tasks.ROLL_BACK, lambda: tasks.rollback_job(proj, keep))
        if started:
            self._rolling_back = (proj, before)
            self.restore_bar.setVisible(True)
        return started

    def _rolled_back(self, outcome) -> None:
        """The roll back job's end (``_rollback_now``), on the GUI thread: the status line "rolled back: removed
        round(s) …" (with what became of an interrupted adaptation's work), the choices from the latest-but-one again,
        and the panels told (``Studio.rounds_changed_here``: the Review panel's round choices, the fallback of a
        rolled-back round on screen, its maps read again in a worker). A roll back that failed or was closed before it
        began (the window closed) tells the panels only if the rounds changed all the same; the studio says the
        error."""
        pending, self._rolling_back = self._rolling_back, None
        proj, before = pending if pending is not None else (None, None)
        if proj is None or proj is not self.studio.project:
            return
        removed = outcome.result
        if outcome.status == "done" and removed is not None:
            self._keep_choice = None  # done: the choices start again from the latest-but-one
            gave_up = ""
            if getattr(removed, "gave_up", None) is not None:  # an interrupted run's work (``Project.given_up_job``)
                gave_up = ("; the interrupted adaptation can no longer be resumed: " +
                           given_up_work(proj.work_dir, deleted=removed.work_deleted, freed=removed.work_freed))
            self.studio.status.emit(f"rolled back: removed round(s) {', '.join(map(str, removed))}{gave_up}")
        else:
            try:
                if [r.index for r in proj.rounds] == before:
                    return
            except (OSError, ValueError):  # the manifest unreadable: the studio says so, its watcher tells the panels
                return
        self.studio.rounds_changed_here()  # project_changed, images_changed: the image's maps read in a worker

    def free_disk(self) -> bool:
        """Ask, then delete the maps of the rounds nobody needs (``store.prune``: all but the latest and
        the label-free hint's round) in the job runner. The question names their size, added up in a worker first
        (``_measure_then``; ``_ask_free_disk`` asks): True once that has started, False when refused at once."""
        from vessel_studio.adaptation.selection import prune_keep
        from vessel_studio.store.prune import plan_prune

        proj = self.studio.project
        if proj is None or self.studio.runner.running or self._measuring is not None:
            return False
        if self._held_elsewhere(proj, "Free disk", "prune its rounds after it ends (or stop it)"):
            return False
        keep = prune_keep(proj.rounds)
        try:
            plan = plan_prune(proj, keep=keep, measure=False)  # which rounds (the manifest); their sizes in a worker
        except (ValueError, OSError) as exc:
            dialogs.error(self, "Free disk", str(exc))
            return False
        if not plan.rounds:
            dialogs.error(self, "Free disk", NOTHING_TO_FREE)
            return False
        return self._measure_then(proj, "Free disk", f"adding up the maps of round(s) "
                                  f"{', '.join(map(str, plan.rounds))}…", lambda: plan_prune(proj, keep=keep),
                                  lambda measured: self._ask_free_disk(proj, keep, measured))

    def _ask_free_disk(self, proj, keep: list, plan) -> bool:
        """Free disk's question, with the sizes added up in the worker (``plan``: ``plan_prune``'s, or ``("error",
        exc)``), then its job; True: started."""
        from vessel_studio.store.prune import prune_job

        if isinstance(plan, tuple):
            dialogs.error(self, "Free disk", str(plan[1]))
            return False
        if not plan.rounds:
            dialogs.error(self, "Free disk", NOTHING_TO_FREE)
            return False
        hint = keep[0] if keep else None
        rounds = ", ".join(map(str, plan.rounds))
        kept = ", ".join(map(str, plan.kept))
        latest = max(r.index for r in proj.rounds)
        # the hint's round may be the latest (session 42 QA, an OCT-A trial: "round(s) 2 (the latest and round 2,
        # the label-free hint)")
        why = ("the latest" if hint is None else "the latest, also the label-free hint" if hint == latest
               else f"the latest and round {hint}, the label-free hint")
        if not dialogs.confirm(self, "Free disk",
                               f"Delete the probability maps of round(s) {rounds} ({plan.bytes / 1e6:,.0f} MB)?\n\n"
                               f"Kept whole: round(s) {kept} ({why}). "
                               "The deleted rounds keep their records and models, but can no longer be shown "
                               "in Review or exported until their maps are made again from their models (\"Make "
                               "maps again\"; Roll back to such a round does it first; about the time segmenting "
                               "the images takes). Corrected masks are kept."):
            return False
        return self.studio.start_job(tasks.FREE_DISK, lambda: prune_job(proj, keep=keep))

    # --- run / cancel ----------------------------------------------------------------------

    def run(self) -> bool:
        proj = self.studio.project
        if proj is None:
            dialogs.error(self, "No project", "Create or open a project first.")
            return False
        if not proj.images:
            dialogs.error(self, "No images", "Add the new scanner's images to the project first.")
            return False
        if self.studio.runner.running:  # before asking about unsaved edits: nothing would start now
            dialogs.error(self, "Busy", self.studio.busy_text())
            return False
        if self.source.pairing:  # the labelled source images chosen are still being paired (in a worker)
            dialogs.error(self, "Busy", "The labelled source images are still being paired: run once the "
                          "\"Labelled source images\" box says which images it uses.")
            return False
        if self.source.restoring:  # the source of the project's rounds is still being restored (in a worker)
            dialogs.error(self, "Busy", "The source of this project's rounds is still being restored: run once the "
                          "\"Labelled source images\" box says which source it uses.")
            return False
        if self._held_elsewhere(proj):
            return False
        if not self.studio.can_leave():  # unsaved corrections would not reach the next round
            return False
        if not confirm_unsaved_drafts(self, proj, "Unsaved edits not used",  # other images' drafts: neither
                                      "The adaptation trusts saved corrections only: these edits are not used."):
            return False
        try:
            cfg = self.config()
        except (ValueError, ImportError) as exc:
            dialogs.error(self, "Invalid settings", str(exc))
            return False
        conflict = self.studio.source_conflict()  # rounds of another source: say what running does
        if conflict is not None and not dialogs.confirm(self, "Different source", f"{conflict}\n\nRun anyway?"):
            return False
        from vessel_studio.adaptation.job import SourceBundle

        # the default source is None (the bundled models: the box left empty, as most labs run it); its modality was
        # an AttributeError below, so the run's time left was never shown then (session 35 QA)
        source = self.studio.source_bundle or SourceBundle()
        go_on, resumed = self._confirm_discarding(proj, cfg, source)
        if not go_on:
            return False
        self._stop.clear()
        try:  # the rounds this run is to make, for the run's time left (the job resolves "auto" the same way)
            rounds = int(cfg.resolve_auto(source.modality, proj.modality).rounds)
            base = proj.latest_round.index if proj.latest_round is not None else None
            self._plan = (0, rounds) if base is None else (base + 1, base + rounds)
            if resumed is not None:  # its rounds are counted from the round it started after
                self._plan = (resumed.round, resumed.last)
        except (TypeError, ValueError, AttributeError):
            self._plan = None
        factory = self.studio.adapt_factory(cfg, stop_requested=self._stop.is_set)
        self.plot.clear()
        self._project_changed_plot_only()
        return self.studio.start_job("Adaptation", factory)

    def _held_elsewhere(self, proj, title: str = "Busy",
                        then: str = "run the adaptation after it ends (or stop it there). Nothing was started.") -> bool:
        """Another process's job holds the project (a terminal's ``adapt``, another window): say so now (``title``,
        the holder and ``then``). Before session 35 Run adaptation started, asked about unsaved edits, loaded torch
        and the models for seconds, and then failed ("Adaptation failed", the panel's line "failed: …"); Roll back,
        Free disk… and Make maps again asked their question first and then failed."""
        try:
            held = proj.job_running()
            holder = proj.job_holder() if held else ""
        except OSError:  # the job's lock cannot be read (a read-only or vanished folder): the job says what is wrong
            return False
        if held:
            dialogs.error(self, title, f"{proj.folder}: {holder} holds this project; {then}")
        return held

    def _confirm_discarding(self, proj, cfg, source):
        """An interrupted run (``adaptation.job.interrupted_job``) that this one, from ``source`` (a SourceBundle),
        would not resume (other settings, another source, images added or removed: ``would_resume``): ask before its
        work is discarded. Returns (go on, the interrupted run this one resumes or None)."""
        from vessel_studio.adaptation.job import would_resume

        job = self._find_interrupted(proj)  # now: a terminal's run may have been killed since the form was filled
        identity = self.studio.source_identity()
        if job is None or identity is None:  # no source identity: its models are missing, the job says so
            return True, None
        try:
            if would_resume(job, proj, cfg, identity, source.modality):
                return True, job
        except (ValueError, TypeError):
            return True, None
        latest = proj.latest_round
        start = "round 0" if latest is None else f"round {latest.index + 1}, after the project's latest round"
        return dialogs.confirm(
            self, "Interrupted adaptation",
            f"An adaptation of this project was interrupted in round {job.round}. With the settings now in the form "
            f"(or another source, or images added or removed since) it is not resumed: its work in {proj.work_dir} "
            f"is discarded and a new run starts at {start}. To resume it instead, answer No and set the form to "
            f"its settings ({self._interrupted_settings(job)}) with the same source.\n\nStart afresh?"), None

    @staticmethod
    def _interrupted_settings(job) -> str:
        from vessel_studio.adaptation.config import recorded_config_items

        return f"{', '.join(recorded_config_items(job.record))}, Rounds {job.config['rounds']}"

    def _project_changed_plot_only(self) -> None:
        proj = self.studio.project
        for rnd in proj.rounds if proj is not None else []:
            for name, value in (rnd.metrics or {}).items():
                if isinstance(value, (int, float)):
                    self.plot.add(name, rnd.index, value)
        self.update_guard()

    def cancel(self) -> None:
        if self.studio.runner.running and self.studio.runner.name == "Adaptation":
            self.studio.runner.cancel()  # the display: _cancel_asked

    def _cancel_asked(self, name: str) -> None:
        """Cancel asked for, here or by closing the window during the run (session 35 QA: then the panel went on
        showing the stage, with Cancel and "Stop after this round" enabled, until the run had stopped)."""
        if name != "Adaptation":
            return
        self.stage.setText("cancelling… (stops at the next step; the rounds this run finished are removed, "
                           "the project goes back to how it was before it)")
        # the focus on Cancel waits in the panel and is given to Run adaptation at the run's end (``_finished``)
        self._focus_parked = park_focus(self.btn_cancel, self.btn_stop)
        self.btn_cancel.setEnabled(False)
        self.btn_stop.setEnabled(False)

    def stop_after_round(self) -> None:
        """End the running adaptation once the round being run is committed, keeping it (the job's
        ``stop_requested``); Cancel still cancels the whole run."""
        if self.studio.runner.running and self.studio.runner.name == "Adaptation":
            self._stop.set()
            self.btn_stop.setEnabled(False)
            self.stage.setText("stopping after this round… (it is kept, with the rounds before it)")

    def _started(self, name: str) -> None:
        self._drop_measuring(f"{name} began meanwhile")
        ran_here = self.btn_run.hasFocus()  # Space (Enter) on Run adaptation
        self.btn_run.setEnabled(False)
        self.keep_round.setEnabled(False)
        self.btn_rollback.setEnabled(False)
        self.btn_prune.setEnabled(False)
        self.btn_restore.setEnabled(False)
        if name != "Adaptation":  # another panel's job: its progress and Cancel are shown there
            return
        self._stage_t0.clear()
        self._round_t0.clear()
        self._round_s.clear()
        self._rerun.clear()
        self.btn_cancel.setEnabled(True)
        self.btn_stop.setEnabled(True)
        if ran_here:  # the next control, not the dock's "hide this panel" button Qt gave it to (session 48 QA)
            self.btn_stop.setFocus(Qt.FocusReason.OtherFocusReason)
        self.progress.setTextVisible(True)
        self.stage.setText(f"{name}: starting…")
        self.eta.setText("")
        self._probe_device()

    def _finished(self, outcome) -> None:
        self.btn_run.setEnabled(self.studio.project is not None and not self.studio.outside_job)
        parked, self._focus_parked = self._focus_parked, None
        if parked is not None and parked.hasFocus() and self.btn_run.isEnabled():  # Cancel had it
            self.btn_run.setFocus(Qt.FocusReason.OtherFocusReason)
        self.btn_cancel.setEnabled(False)
        self.btn_stop.setEnabled(False)
        try:
            self._fill_rollback(self.studio.project)
        except (OSError, ValueError):  # the folder renamed or the manifest broken elsewhere: the studio says so, and
            pass  # its watcher tells the panels once the manifest can be read again
        self.update_disk()
        if outcome.name == tasks.ROLL_BACK:
            self._rolled_back(outcome)
        if outcome.name == tasks.RESTORE_MAPS:
            pending, self._restoring = self._restoring, None
            proj, keep, then_rollback = pending if pending is not None else (None, "?", False)
            if not then_rollback:
                self.stage.setText(f"Make maps again: round {keep}'s maps were made again; Review shows it again"
                                   if outcome.status == "done" else
                                   f"Make maps again: round {keep}: {outcome.status}; nothing was changed")
            elif outcome.status == "done" and proj is self.studio.project and not outcome.cancel_asked:
                self._rollback_now(proj, keep)  # a second job, started now (the runner is free at its end)
            elif outcome.status == "done":  # Cancel (or closing the window) came during its last step
                self.stage.setText(f"Roll back: round {keep}'s maps were made again, "
                                   "the roll back was cancelled; nothing was deleted")
            else:
                self.stage.setText(f"Roll back: making round {keep}'s maps again "
                                   f"{outcome.status}; nothing was deleted")
        if outcome.name == tasks.FREE_DISK:
            plan = outcome.result
            self.stage.setText(
                f"freed {plan.bytes / 1e6:,.0f} MB: the maps of round(s) {', '.join(map(str, plan.rounds))} deleted"
                if outcome.status == "done" and plan is not None and plan.rounds else f"Free disk: {outcome.status}")
            self.update_guard()
        if outcome.name != "Adaptation":
            return
        self.take_recorded_config(form=False)  # the rounds it added record the form's values (and the seed)
        if outcome.status == "done":
            from vessel_studio.adaptation.job import STOPPED_BY_USER

            self._filled = (self.studio.project, self._form_values())  # what it ran: the form's new starting point
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            result = outcome.result
            if getattr(result, "reason", None) == STOPPED_BY_USER and result.rounds:
                self.stage.setText(f"stopped after round {result.rounds[-1].index} in {fmt_seconds(outcome.seconds)}: "
                                   "its rounds are kept; Run adaptation adds Rounds more rounds after them")
            else:
                self.stage.setText(f"done in {fmt_seconds(outcome.seconds)}" + (
                    ": resumed the interrupted run from its last finished step" if getattr(result, "resumed", False)
                    else ""))
        elif outcome.status == "cancelled":
            self.progress.setValue(0)
            self.progress.setTextVisible(False)  # "cancelled: …" says it
            self.stage.setText("cancelled: the project is as it was before the job")
        else:
            self.progress.setTextVisible(False)
            self.stage.setText(f"failed: {outcome.error}")
        self.eta.setText("")
        self.update_guard()
        self._update_memory()

    # --- events ----------------------------------------------------------------------------

    def on_events(self, batch: list) -> None:
        if self.studio.runner.name != "Adaptation":
            return
        committed: set[int] = set()
        for ev in batch:
            if isinstance(ev, Progress):
                self._progress(ev)
            elif isinstance(ev, Metric) and ev.stage == "guard" and ev.name == "retry" and ev.round is not None:
                self._rerun[ev.round] = int(ev.value)
                self.loss.setText(f"round {ev.round} flagged by the guard: running it again with another seed "
                                  f"(re-run {int(ev.value)})")
            elif isinstance(ev, Metric):
                if not (ev.round is not None and ev.step is None and self.plot.add(ev.name, ev.round, ev.value)):
                    self.loss.setText(f"{ev.stage}: {ev.name} {ev.value:.4g}")
            elif isinstance(ev, Preview):
                self._preview(ev)
            elif isinstance(ev, Artifact) and ev.stage == "commit":  # a round committed (rounds.artifacts_of)
                self._guard_stale = True
                if ev.round is not None:
                    committed.add(ev.round)
                if ev.round in self._round_t0 and ev.round not in self._round_s:
                    self._round_s[ev.round] = time.monotonic() - self._round_t0[ev.round]
        if self._guard_stale:
            self._guard_stale = False
            self.update_guard()
            # a round flagged as it is committed: the status bar says so (session 40 QA: the orange lines are far
            # down the panel, under the fold of a 1000-px-high window, and nothing else said it during the run)
            for r in sorted(committed & set(self.flagged)):
                kinds = flag_kinds(self.flagged[r])
                self.studio.status.emit(f"round {r} was flagged by the label-free guard ({kinds}): see the "
                                        "Adaptation panel's warning")
            # the Review panel's Show / Compare and the Project panel's states and round count follow each round
            # as it is committed (session 28: they waited for the job's end; the kinds checked here never came)
            self.studio.images_changed.emit()
        self._update_memory()

    def _progress(self, ev: Progress) -> None:
        key = (ev.stage, ev.round)
        now = time.monotonic()
        if key not in self._stage_t0 or self._stage_t0[key][1] > ev.step:
            self._stage_t0[key] = (now, ev.step)
        t_start, s_start = self._stage_t0[key]
        self.progress.setRange(0, max(int(ev.total), 1))
        self.progress.setValue(min(int(ev.step), int(ev.total)))
        rnd = f" · round {ev.round}" if ev.round is not None else ""
        if ev.round in self._rerun:
            rnd += f" (re-run {self._rerun[ev.round]}: flagged by the guard)"
        msg = f" · {ev.message}" if ev.message else ""
        stopping = " · stopping after this round" if self._stop.is_set() else ""
        if not self.studio.runner.cancelling:  # keep "cancelling…" until it has stopped (the job's last events)
            self.stage.setText(f"{ev.stage}{rnd} · {ev.step}/{ev.total}{msg}{stopping}")
        if ev.round is not None and ev.round not in self._round_t0:
            self._round_t0[ev.round] = now
        done = ev.step - s_start
        if done > 0 and now > t_start:
            rate = done / (now - t_start)
            text = f"this stage: about {fmt_seconds((ev.total - ev.step) / rate)} left"
        else:
            text = "this stage: estimating time left…"
        run = self._run_left(ev.round, now)
        self.eta.setText(text + (f" · {run}" if run else ""))

    def _run_left(self, current: int | None, now: float) -> str:
        """The run's time left, from the co-optimization rounds it has finished (round 0, latent similarity
        mining, takes longer and is not one of them): the current round's rest and the rounds after it, each
        as long as the median finished one, if every planned round runs (the label-free stopping rule may end
        the run sooner); after "Stop after this round", the round in progress only. "" before a round is planned
        or timed."""
        if self._plan is None or current is None:
            return ""
        first, last = self._plan
        # "Stop after this round": the run ends with the round in progress (session 42 QA: the line went on planning
        # the rounds the stop leaves out, "the run: rounds 0-3, time left once …" while stopping after round 0)
        stopping = self._stop.is_set()
        if stopping:
            last = min(last, current)
        if current >= last and current in self._round_s:
            return ""
        timed = sorted(v for k, v in self._round_s.items() if k >= 1)
        if not timed:
            return f"the run: rounds {first}-{last}, time left once a co-optimization round has been timed" \
                if last > max(current, 1) else ""
        per = statistics.median(timed)
        spent = now - self._round_t0.get(current, now)
        left = max(per - spent, 0.0) + per * max(last - current, 0)
        if stopping:
            return f"the run: about {fmt_seconds(left)} left (it stops after round {current})"
        return f"the run: about {fmt_seconds(left)} left if every round to {last} runs"

    def _preview(self, ev: Preview) -> None:
        self._preview_images = [np.asarray(ev.image)] + self._preview_images[:len(self.previews) - 1]
        self._show_previews()
        rnd = f" (round {ev.round})" if ev.round is not None else ""
        self.preview_caption.setText(f"{ev.stage}: {ev.caption}{rnd}")

    def preview_ratio(self) -> float:
        """The device pixels per logical pixel the previews are made at: their screen's (2 at 200 %), at least 1."""
        return max(1.0, float(self.previews[0].devicePixelRatioF()))

    def _show_previews(self) -> None:
        """The previews, newest first, each fitted to its box with its aspect kept, at the screen's device pixels
        (``qtutil.fitted_pixmap``)."""
        ratio = self.preview_ratio()
        for label, image in zip(self.previews, self._preview_images):
            label.setPixmap(fitted_pixmap(image, PREVIEW_SIDE, ratio))

    def event(self, ev) -> bool:
        if ev.type() == QEvent.Type.DevicePixelRatioChange and self._preview_images:
            self._show_previews()  # the window went to a screen of another scale
        return super().event(ev)

    # --- device ----------------------------------------------------------------------------

    def _probe_device(self) -> None:
        if self._device is not None or self._device_worker is not None:
            return
        from superqt.utils import create_worker

        def probe():
            from vessel_studio.gui.jobs import background_priority

            background_priority()
            from vessel_studio.device import describe, pick_device

            dev = pick_device()
            return dev, describe(dev)

        worker = create_worker(probe, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._got_device)
        worker.finished.connect(lambda: setattr(self, "_device_worker", None))
        self._device_worker = worker
        self.studio.workers.start(worker)

    def _got_device(self, value) -> None:
        self._device, text = value
        self._device_text = text
        self._update_memory()

    def _update_memory(self) -> None:
        if self._device is None or "torch" not in sys.modules:
            return
        from vessel_studio.device import peak_memory_mb

        kind = "GPU peak" if getattr(self._device, "type", "") == "cuda" else "process peak"
        self.device.setText(f"device: {self._device_text} · {kind} memory {peak_memory_mb(self._device):.0f} MB")
