"""Export panel: masks (PNG/TIFF), probability maps and a CSV of per-image vessel measures."""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from vessel_studio.gui import dialogs, tasks
from vessel_studio.gui.jobbar import JobBar
from vessel_studio.gui.review_correction import confirm_unsaved_drafts


class ExportPanel(QWidget):
    def __init__(self, studio, parent=None):
        super().__init__(parent)
        self.studio = studio
        self.masks = QCheckBox("Masks")
        self.masks.setChecked(True)
        self.mask_format = QComboBox()
        self.mask_format.addItems(["png", "tif"])
        # beside the Masks tick box, no label of its own: its name for a screen reader (session 48: "png combo box")
        self.mask_format.setAccessibleName("Mask file format")
        self.mask_format.setToolTip("file format of the exported masks")
        self.probs = QCheckBox("Probability maps (float32 TIFF)")
        self.probs.setChecked(True)
        self.table = QCheckBox("CSV of vessel measures")
        self.table.setChecked(True)
        self.calibrate = QCheckBox("Fit the mask boundary to my corrected masks")
        self.calibrate.setToolTip(
            "Predicted masks use the probability threshold and thinning that best match the masks you "
            "corrected, instead of p ≥ 0.5 (for a labelling convention that puts the edge elsewhere; "
            "needs at least one corrected image). Written to calibration.json.")
        self.btn = QPushButton("Export…")
        self.state = QLabel("Corrected (or accepted) masks are exported where they exist, else the prediction "
                            "(p ≥ 0.5).")
        self.state.setWordWrap(True)
        self.jobbar = JobBar(studio, ("Export",))  # the export's progress and Cancel
        form = QFormLayout()
        form.addRow(self.masks, self.mask_format)
        form.addRow(self.probs)
        form.addRow(self.table)
        form.addRow(self.calibrate)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.btn)
        lay.addWidget(self.jobbar)
        lay.addWidget(self.state)
        lay.addStretch(1)
        self.btn.clicked.connect(self._pick)
        studio.runner.finished.connect(self._finished)

    def _pick(self) -> None:
        if not self._can_start():  # before the folder picker: a folder chosen for an export that cannot start
            return
        folder = dialogs.pick_folder(self, "Export into folder")
        if folder:
            self.export_to(folder)

    def _can_start(self) -> bool:
        if self.studio.project is None:
            dialogs.error(self, "No project", "Open a project first.")
            return False
        if self.studio.runner.running:  # before asking about unsaved edits: nothing would be exported now
            dialogs.error(self, "Busy", self.studio.busy_text())
            return False
        return True

    def export_to(self, folder) -> bool:
        if not self._can_start():
            return False
        proj = self.studio.project
        try:  # a folder of other things (a lab's images, its own measures.csv) is refused before anything
            tasks.check_export(proj, folder)
        except (ValueError, OSError) as exc:
            dialogs.error(self, "Cannot export into this folder", str(exc))
            return False
        if not self.studio.can_leave():
            return False
        if not confirm_unsaved_drafts(self, proj, "Unsaved edits not exported",
                                      "The export writes their saved correction or prediction instead."):
            return False
        fmt = self.mask_format.currentText() if self.masks.isChecked() else None
        probs, table, calibrate = self.probs.isChecked(), self.table.isChecked(), self.calibrate.isChecked()
        started = self.studio.start_job(
            "Export", lambda: tasks.export(proj, folder, masks=fmt, probs=probs, table=table, calibrate=calibrate,
                                           warn_drafts=False)  # confirm_unsaved_drafts named them
        )
        if started:
            self._calibrating = calibrate
        return started

    _calibrating = False  # the running export fits the mask boundary (its result is said when done)

    @staticmethod
    def _fitted_text(folder) -> str:
        """What the export's boundary fit chose (its ``calibration.json``), in one sentence."""
        import json
        from pathlib import Path

        from vessel_studio.calibration import BoundaryCalibration

        try:
            cal = BoundaryCalibration.from_dict(json.loads((Path(folder) / "calibration.json").read_text()))
        except (OSError, ValueError, TypeError) as exc:
            return f" The fitted boundary could not be read back ({exc})."
        if (cal.threshold, cal.thin) == (0.5, 0):
            rule = "the plain rule (p ≥ 0.50, no thinning) already matches them best"
        else:
            rule = f"p ≥ {cal.threshold:.2f}" + (f", thinned by {cal.thin} px" if cal.thin else "")
        dice = ""
        if cal.dice_plain is not None and cal.dice_fitted is not None:
            dice = f" (their mean Dice {cal.dice_plain:.3f} → {cal.dice_fitted:.3f})"
        return (f" Predicted masks drawn with the boundary fitted to {cal.images} corrected image(s): "
                f"{rule}{dice}.")

    def _finished(self, outcome) -> None:
        if outcome.name != "Export":
            return
        if outcome.status == "done":
            fitted = ("." + self._fitted_text(outcome.result)) if self._calibrating else ""
            self.state.setText(f"exported to {outcome.result}{fitted}")
        elif outcome.status == "cancelled":  # tasks.export swaps the whole export in at its end, or nothing
            self.state.setText("export cancelled: nothing was exported, the folder is as it was")
        else:  # the error dialog has the details; do not leave an earlier "exported to" here
            self.state.setText(f"export failed: {outcome.error}")
