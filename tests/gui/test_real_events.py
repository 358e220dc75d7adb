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
