"""The window driven by real input events, as its users drive it (session 28 QA): mouse clicks on the
panels' buttons and list rows, keys sent to the focused widget, the window at a laptop's size. Most GUI
tests call the panels' methods; these catch what only the events reach (a key napari's menu takes
first, a selection Qt sets after the handler ran, a window that no screen can hold)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _active_window(studio, qtbot, size=(1900, 1500)):
    """The main window shown and active, as a person has it (window shortcuts need an active window), at
    ``size`` (wide enough that the canvas gets some of it beside the docks)."""
    from qtpy.QtWidgets import QApplication

    window = studio.viewer.window._qt_window
    window.show()
    window.resize(*size)
    window.activateWindow()
    window.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    return window


def _click_row(qtbot, panel, row, modifier=None):
    from qtpy.QtCore import Qt

    rect = panel.list.visualItemRect(panel.list.item(row))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton,
                     modifier or Qt.KeyboardModifier.NoModifier, rect.center())


def test_staying_with_unsaved_edits_keeps_the_image_on_screen_selected(studio, dialogs, qtbot):
    """Session 28 QA: a click on another image's row with unsaved edits, answered "stay" (Cancel), left
    the clicked row selected (highlighted, and what "Remove from project…" or Delete took out) while
    the image on screen stayed the other one: the panel put its row back while Qt's mouse press was
    still selecting the clicked row, which came after."""
    from qtpy.QtCore import Qt

    panel, review = studio.panels["Project"], studio.panels["Review"]
    a, b, c = (r.id for r in studio.project.images)
    _active_window(studio, qtbot)
    _click_row(qtbot, panel, 2)
    assert studio.current_id == c and panel.selected_ids() == [c]
    review.mask_layer.paint((40, 40), 1)
    dialogs.answers["save_discard_cancel"] = "cancel"
    _click_row(qtbot, panel, 0)
    qtbot.wait(10)
    assert dialogs.asked == ["Unsaved correction"]
    assert studio.current_id == c and review.image_id == c and review.dirty
    assert panel.selected_ids() == [c] and panel.list.currentRow() == 2
    qtbot.keyClick(panel.list, Qt.Key.Key_Down)  # the keyboard: the same question, the same answer
    qtbot.wait(10)
    assert studio.current_id == c and panel.selected_ids() == [c]
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)  # takes out the image on screen, not the one clicked
    assert dialogs.asked[-1] == "Remove from project"
    assert [r.id for r in studio.project.images] == [a, b] and studio.current_id == b


class _Modals:
    """Closes (and names) any modal window that opens: a test must not hang on one the recorders miss
    (napari's own dialogs)."""

    def __init__(self):
        from qtpy.QtCore import QTimer

        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self._close)
        self.timer.start(100)

    def _close(self):
        from qtpy.QtWidgets import QApplication

        modal = QApplication.activeModalWidget()
        if modal is not None:
            self.seen.append(modal.windowTitle())
            modal.reject()

    def stop(self):
        self.timer.stop()


def _canvas(studio):
    return studio.viewer.window._qt_viewer.canvas._scene_canvas.native


def test_alt_s_saves_the_correction_wherever_the_focus_is(studio, dialogs, qtbot):
    """Session 28 QA: Alt+S ("Save correction (Alt+S)") was a napari key binding, and napari's File menu
    has "Save Screenshot..." on Alt+S, a window shortcut that comes first: in the window (active, as a
    person has it) the key opened napari's screenshot file dialog wherever the focus was (the canvas just
    painted on, a button) and saved nothing. The tests had called ``save()``."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    review, proj = studio.panels["Review"], studio.project
    window = _active_window(studio, qtbot)
    modals = _Modals()
    try:
        for widget in (_canvas(studio), review.btn_next, review.threshold, review.show_round, review.speck_size,
                       studio.panels["Project"].list):
            image_id = studio.current_id
            review.mask_layer.paint((30, 30), 1)
            assert review.dirty
            if not window.isActiveWindow():
                _active_window(studio, qtbot)
            widget.setFocus()
            qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=2000)
            qtbot.keyClick(widget, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
            qtbot.wait(150)
            assert modals.seen == [], type(widget).__name__
            saved = proj.correction(image_id)
            assert saved is not None and saved[30, 30] and not review.dirty, type(widget).__name__
            proj.remove_correction(image_id)
            review._reload_maps()
    finally:
        modals.stop()
    # the screenshot is still in napari's File menu (without the key); a closed Review panel gives the key back
    actions = [a for m in window.menuBar().actions() if m.menu() for a in m.menu().actions()
               if a.text() == "Save Screenshot..."]
    assert actions and all(a.shortcut().isEmpty() for a in actions)
    studio.docks["Review"].destroyOnClose()
    assert any(a.shortcut().toString() == "Alt+S" for a in actions)
