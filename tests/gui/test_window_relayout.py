"""The docks' layout follows the window's size and screen (session 44).

Sessions 40-43 chose the layout once, at the window's first show: two dock columns, napari's layer list a tab beside
Project where the window is short, one column of tabs where two columns would leave the image under 35 % of the width
(``app.NARROW_CANVAS_SHARE``). A window resized from 1500 x 950 to 1280 x 720 kept its two columns, the image 328 px
of the 1280 (25.6 %) and the Project dock 97 px high; one laid out in a single column on a laptop's screen stayed so,
maximised on a 1600 x 1000 monitor. ``app.DockSizer`` now chooses again once the size has stayed put for
``RELAYOUT_DELAY_MS`` (no mouse button held, no dialog open), with a margin to go back (``RELAYOUT_MARGIN_PX``), and
not once the person has moved a dock themselves.
"""

from __future__ import annotations

import pytest

from conftest import shown_at

pytestmark = pytest.mark.gui


def _sizer(window):
    from qtpy.QtCore import QObject

    from vessel_studio.gui import app

    return window.findChild(QObject, app._SIZER_NAME)


def _one_column(studio) -> bool:
    window, docks = studio.viewer.window._qt_window, studio.docks
    return docks["Review"] in window.tabifiedDockWidgets(docks["Project"])


def _canvas_width(studio) -> int:
    return studio.viewer.window._qt_viewer.canvas._scene_canvas.native.width()


def _settled(qtbot, studio, one_column: bool, timeout=5000) -> None:
    """Wait for the layout (one column or two) and for the window to lay the docks out."""
    qtbot.waitUntil(lambda: _one_column(studio) == one_column, timeout=timeout)
    qtbot.wait(100)


def _in_front(dock) -> bool:
    return not dock.isHidden() and not dock.visibleRegion().isEmpty()


def test_a_window_made_narrow_gets_one_column_and_two_again_when_wide(studio, qtbot):
    """1500 x 950 (two columns) to 1280 x 720 and back. Before: two columns at 1280 x 720, the image 328 px (25.6 %),
    the Project dock 97 px high; back at 1500 x 950, the Project dock 138 px (327 at the first show)."""
    from vessel_studio.gui.app import NARROW_CANVAS_SHARE, SHORT_PROJECT_DOCK

    window = shown_at(studio, qtbot, (1500, 950))
    assert not _one_column(studio)
    project, review = studio.docks["Project"], studio.docks["Review"]
    window.resize(1280, 720)
    _settled(qtbot, studio, True)
    assert _canvas_width(studio) >= 0.55 * window.width()  # 798 px of 1280
    assert _in_front(project) and project.height() >= 0.8 * window.height()
    window.resize(1500, 950)
    _settled(qtbot, studio, False)
    assert NARROW_CANVAS_SHARE * window.width() <= _canvas_width(studio) < 0.5 * window.width()  # 548 px of 1500
    assert _in_front(project) and _in_front(review)
    assert project.height() >= SHORT_PROJECT_DOCK  # under napari's layer docks, which are not tabs again
    layers = studio.viewer.window._qt_viewer.dockLayerList
    assert layers not in window.tabifiedDockWidgets(project) and _in_front(layers)


def test_a_short_window_tabs_the_layer_list_and_a_tall_one_puts_it_back(studio, qtbot):
    """Two columns, the window made short (1600 x 768): napari's layer list a tab beside Project (the Project dock
    145 px under it before); tall again (1600 x 1000): above Project again."""
    from vessel_studio.gui.app import SHORT_PROJECT_DOCK

    window = shown_at(studio, qtbot, (1600, 1000))
    project, layers = studio.docks["Project"], studio.viewer.window._qt_viewer.dockLayerList
    assert layers not in window.tabifiedDockWidgets(project)
    window.resize(1600, 768)
    qtbot.waitUntil(lambda: layers in window.tabifiedDockWidgets(project), timeout=5000)
    qtbot.wait(100)
    assert not _one_column(studio) and _in_front(project) and project.height() >= SHORT_PROJECT_DOCK
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: layers not in window.tabifiedDockWidgets(project), timeout=5000)
    qtbot.wait(100)
    assert _in_front(layers) and _in_front(project) and project.height() >= SHORT_PROJECT_DOCK


def test_the_layout_waits_for_the_resize_to_stop_and_goes_back_only_past_a_margin(studio, qtbot):
    """A resize in steps (a window's edge dragged) is laid out once it stops, not at each step; near the threshold
    the layout does not flip back and forth: one column at 1440 px stays one at 1475 (two columns would leave the image
    just over 35 %), and is two again at 1500."""
    from vessel_studio.gui import app

    window = shown_at(studio, qtbot, (1500, 950))
    later = _sizer(window)._later
    assert later.interval() == app.RELAYOUT_DELAY_MS
    later.setInterval(1500)  # the same with room for a loaded machine's slow steps
    for width in range(1490, 1270, -20):  # steps closer together than the delay
        window.resize(width, 720)
        qtbot.wait(100)
        assert not _one_column(studio)
    _settled(qtbot, studio, True)
    later.setInterval(app.RELAYOUT_DELAY_MS)
    window.resize(1440, 950)
    qtbot.wait(app.RELAYOUT_DELAY_MS * 2)
    assert _one_column(studio)
    window.resize(1475, 950)
    qtbot.wait(app.RELAYOUT_DELAY_MS * 2)
    assert _one_column(studio)  # within the margin: stays
    window.resize(1500, 950)
    _settled(qtbot, studio, False)
    window.resize(1470, 950)  # two columns leave the image just over 35 %: they stay
    qtbot.wait(app.RELAYOUT_DELAY_MS * 2)
    assert not _one_column(studio)


def test_not_while_a_mouse_button_is_held_or_a_dialog_is_open(studio, qtbot, monkeypatch):
    """A dock's splitter being dragged (a button held) or a dialog open: the layout waits until it is over."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication, QDialog

    from vessel_studio.gui import app

    window = shown_at(studio, qtbot, (1500, 950))
    held = [Qt.MouseButton.LeftButton]
    monkeypatch.setattr(QApplication, "mouseButtons", staticmethod(lambda: held[0]))
    window.resize(1280, 720)
    qtbot.wait(app.RELAYOUT_DELAY_MS * 3)
    assert not _one_column(studio)
    held[0] = Qt.MouseButton.NoButton
    _settled(qtbot, studio, True)
    dialog = QDialog(window)
    dialog.setModal(True)
    dialog.show()
    try:
        qtbot.waitUntil(lambda: QApplication.activeModalWidget() is dialog, timeout=3000)
        window.resize(1500, 950)
        qtbot.wait(app.RELAYOUT_DELAY_MS * 3)
        assert _one_column(studio)
    finally:
        dialog.close()
    _settled(qtbot, studio, False)


def test_the_panel_in_use_stays_in_front_and_edits_and_a_job_go_on(studio, qtbot):
    """The docks move, the panels do not: the tab in front (the panel last used) stays in front, unsaved edits stay
    unsaved edits on screen, a running job runs on, and the Review panel stays docked (it does not ``_detach``)."""
    import threading

    from vessel_studio.events import Progress

    window = shown_at(studio, qtbot, (1280, 720))
    _settled(qtbot, studio, True)
    docks = studio.docks
    review = studio.panels["Review"]
    review.mask_layer.data[40:50, 40:50] = 1
    review._edited()
    assert review.dirty
    gate = threading.Event()

    def job():
        while not gate.wait(0.02):
            yield Progress("x", 0, 1)
        return 1

    assert studio.start_job("Segmentation", job)
    try:
        docks["Export"].raise_()  # the person clicks the Export tab
        qtbot.waitUntil(lambda: _in_front(docks["Export"]), timeout=3000)
        window.resize(1500, 950)
        _settled(qtbot, studio, False)
        assert _in_front(docks["Export"]) and _in_front(docks["Project"])  # Export over Review, on the right
        window.resize(1280, 720)
        _settled(qtbot, studio, True)
        assert _in_front(docks["Export"])
        assert studio.runner.running and review.dirty and review._docked
        assert review.mask_layer.data[45, 45]
    finally:
        gate.set()
        qtbot.waitUntil(lambda: not studio.runner.running, timeout=10000)


def test_docks_the_person_moved_stay_where_they_put_them(studio, qtbot):
    """Once the person has moved a dock themselves (a drag floats it, then docks it elsewhere), the window's size
    no longer re-arranges the docks: theirs stays. (This guards the new behaviour: before, no resize moved a dock.)"""
    from qtpy.QtCore import Qt

    from vessel_studio.gui import app

    window = shown_at(studio, qtbot, (1500, 950))
    export = studio.docks["Export"]
    export.setFloating(True)  # what a drag of its title does first
    qtbot.wait(50)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, export)  # dropped in the left column
    export.setFloating(False)
    qtbot.wait(50)
    assert _sizer(window).user_arranged
    window.resize(1280, 720)
    qtbot.wait(app.RELAYOUT_DELAY_MS * 3)
    assert not _one_column(studio)
    assert window.dockWidgetArea(export) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert window.dockWidgetArea(studio.docks["Review"]) == Qt.DockWidgetArea.RightDockWidgetArea


def test_the_layout_follows_a_move_to_a_smaller_screen(studio, qtbot, monkeypatch):
    """Moved to a 1280 x 720 screen (a laptop's, from a monitor), a 1500 x 950 window is made to fit it, as at launch
    (``grow_window``), and gets one column. The test's X screen is another size: the new screen's available area is
    given, and its screenChanged signal sent as Qt sends it."""
    from qtpy.QtCore import QRect
    from qtpy.QtGui import QScreen

    window = shown_at(studio, qtbot, (1500, 950))
    assert not _one_column(studio)
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(0, 0, 1280, 720))
    handle = window.windowHandle()
    handle.screenChanged.emit(handle.screen())
    _settled(qtbot, studio, True)
    assert QRect(0, 0, 1280, 720).contains(window.frameGeometry())
    assert _canvas_width(studio) >= 0.55 * window.width()
