"""Progress and Cancel of the studio runner's jobs that one panel starts (segmentation, export ...).

The Adaptation panel has its own, fuller display; a :class:`JobBar` shows only the jobs named in
``names``, so each job's progress stays where it was started and ends with how the job ended.
``runner`` is the studio's runner the jobs run on (default ``studio.runner``; adding images runs on
``studio.io_runner``). ``ended``: the line a job of the bar ends with, given its outcome (None: the usual
"… finished in N s"), for a panel that says more; it is asked by the bar's own slot, so the line does not
depend on the order in which the runner's ``finished`` slots run. ``no_cancel``: job name -> why it cannot be
stopped (the Cancel's tooltip while it runs, Cancel disabled): the Adaptation panel's roll back, which cannot stop
halfway through its deletions.
"""

from __future__ import annotations

from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from vessel_studio.events import Progress
from vessel_studio.gui.jobs import outcome_text
from vessel_studio.gui.qtutil import park_focus


CANCEL_TIP = "Stop the job at its next step"


class JobBar(QWidget):
    def __init__(self, studio, names: tuple[str, ...], parent=None, *, runner=None, ended=None,
                 no_cancel: dict[str, str] | None = None):
        super().__init__(parent)
        self.ended = ended
        self.no_cancel = dict(no_cancel or {})
        self.studio = studio
        self.runner = runner if runner is not None else studio.runner
        self.names = tuple(names)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        # no "0%" while no job of this bar has run (session 42 OCT-A QA: idle bars read as a job stuck at 0), nor after
        # one cancelled or failed (the label says how it ended); shown from a job's start, and "100%" once done
        self.progress.setTextVisible(False)
        self.btn_cancel = QPushButton("Cancel")
        self.btn_cancel.setEnabled(False)
        self.btn_cancel.setToolTip(CANCEL_TIP)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: gray")
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.btn_cancel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.label)
        self.btn_cancel.clicked.connect(self.cancel)
        self.runner.started.connect(self._started)
        self.runner.cancel_asked.connect(self._cancel_asked)
        self.runner.events.connect(self._events)
        self.runner.finished.connect(self._finished)

    @property
    def active(self) -> bool:
        """One of this bar's jobs is running."""
        return self.runner.running and self.runner.name in self.names

    def cancel(self) -> None:
        if self.active:
            self.runner.cancel()  # the display: _cancel_asked

    def _cancel_asked(self, name: str) -> None:
        """Cancel asked for here or elsewhere (closing the window during the job)."""
        if name in self.names:
            park_focus(self.btn_cancel)  # not on to the dock's "hide this panel" button (session 48 keyboard QA)
            self.btn_cancel.setEnabled(False)
            self.label.setText(f"cancelling {name}… (stops at its next step)")

    def _started(self, name: str) -> None:
        if name not in self.names:
            return
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.btn_cancel.setEnabled(name not in self.no_cancel)
        self.btn_cancel.setToolTip(self.no_cancel.get(name, CANCEL_TIP))
        self.label.setText(f"{name}: starting…")

    def _events(self, batch: list) -> None:
        if not self.active:
            return
        prog = [e for e in batch if isinstance(e, Progress)]
        if not prog:
            return
        ev = prog[-1]
        self.progress.setRange(0, max(int(ev.total), 1))
        self.progress.setValue(min(int(ev.step), int(ev.total)))
        if not self.runner.cancelling:  # keep "cancelling…" until it has stopped
            msg = f" · {ev.message}" if ev.message else ""
            self.label.setText(f"{ev.stage} · {ev.step}/{ev.total}{msg}")

    def _finished(self, outcome) -> None:
        if outcome.name not in self.names:
            return
        park_focus(self.btn_cancel)
        self.btn_cancel.setEnabled(False)
        self.btn_cancel.setToolTip(CANCEL_TIP)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if outcome.status == "done" else 0)
        self.progress.setTextVisible(outcome.status == "done")
        said = self.ended(outcome) if self.ended is not None else None
        self.label.setText(said or outcome_text(outcome))
