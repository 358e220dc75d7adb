"""The Adaptation panel keeps its width while a run writes its long status lines.

Session 39 QA, a real window and a tiny run: the stage and time-left lines ("this stage: about 18 s left · the run:
rounds 0-2, time left once a co-optimization round has been timed", "stopped after round 1 in 3 min 35 s: its
rounds are kept; Run adaptation adds Rounds more rounds after them") did not wrap, so the panel grew wider than its
dock (486 px in a 1500 px window) and the dock scrolled sideways: the lines, the form's boxes and the source box's
buttons were cut at the right during the run and after it. They wrap now, as the guard's and the hint's lines do.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

LONG = {
    "stage": "stopped after round 1 in 3 min 35 s: its rounds are kept; Run adaptation adds Rounds more rounds after "
             "them",
    "eta": "this stage: about 18 s left · the run: rounds 0-2, time left once a co-optimization round has been timed",
    "preview_caption": "synthesize: round 12 synthetic 1 (round 12) · a caption as long as a stage's name allows it",
    "device": "device: CPU (2 threads) · process peak memory 1972 MB · a longer device name than this machine's",
    "disk": "disk: 80.6 GB free on the project's drive · and a longer line than that, as on a disk of another name",
    # the guard's re-run line (session 42): 527 px, the panel's widest row 462 px
    "loss": "round 12 flagged by the guard: running it again with another seed (re-run 2)",
}


def test_long_status_lines_wrap_instead_of_widening_the_panel(studio):
    adapt = studio.panels["Adaptation"]
    before = adapt.minimumSizeHint().width()
    for name, text in LONG.items():
        getattr(adapt, name).setText(text)
    adapt.layout().activate()
    assert adapt.minimumSizeHint().width() <= before, {
        name: getattr(adapt, name).minimumSizeHint().width() for name in LONG}
