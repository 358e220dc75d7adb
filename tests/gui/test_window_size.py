"""The window opens large enough for the image beside the panels.

Session 39 QA: ``vessel-studio gui`` opened at napari's first size, about two thirds of the screen (1089 x 712 on a
1600 x 1000 screen): the panels' docks left the image a strip 91 px wide, and the Project panel's image list had no
row in view. The window now opens at ``LAUNCH_SIZE`` (1500 x 950) where the screen has room, else at the screen's
available size, never smaller than napari made it.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("start, screen, expected", [
    ((1089, 712), (1600, 1000), (1500, 950)),  # napari's first size on a 1600 x 1000 screen
    ((910, 512), (1366, 740), (1366, 740)),  # a laptop's screen, less its panel: as much as it has
    ((1800, 1000), (1920, 1050), (1800, 1000)),  # a window already larger (napari's saved size) stays
])
def test_grow_window(qtbot, start, screen, expected):
    from qtpy.QtCore import QRect
    from qtpy.QtWidgets import QMainWindow

    from vessel_studio.gui.app import grow_window

    window = QMainWindow()
    qtbot.addWidget(window)
    window.resize(*start)
    grow_window(window, QRect(0, 0, *screen))
    assert (window.width(), window.height()) == expected


def test_the_studio_window_opens_at_the_launch_size_on_a_large_screen(dialogs, qtbot, monkeypatch,
                                                                      make_napari_viewer):
    """On a 1600 x 1000 screen (the test's X screen is smaller: its available size is given as that one's)."""
    import gc

    import napari
    from qtpy.QtCore import QRect
    from qtpy.QtGui import QScreen

    from vessel_studio.gui import app

    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(0, 0, 1600, 1000))
    monkeypatch.setattr(app, "import_engine", lambda: [])
    # napari's fixture, not a plain napari.Viewer: a second plain Viewer in one pytest process registers the
    # plugin's commands twice and fails (test_job_start does the same)
    monkeypatch.setattr(napari, "Viewer", make_napari_viewer)
    viewer, studio = app.make_viewer(show=True)
    try:
        window = viewer.window._qt_window
        assert (window.width(), window.height()) == (1500, 950)  # app.LAUNCH_SIZE; napari's own: 1089 x 712
    finally:
        studio._closing_ok = True
        viewer.close()
        gc.unfreeze()
