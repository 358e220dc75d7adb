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

    review, proj = studio.panels["Review"], studio.project
    window = _active_window(studio, qtbot)
    modals = _Modals()
    try:
        for widget in (_canvas(studio), review.btn_next, review.threshold, review.show_round, review.speck_size,
                       studio.panels["Project"].list):
            image_id = studio.current_id
            review.mask_layer.paint((30, 30), 1)
            assert review.dirty
            _alt_key_in(studio, qtbot, window, widget, Qt.Key.Key_S)
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


def _alt_key_in(studio, qtbot, window, widget, key) -> None:
    """Alt+``key`` pressed with the focus in ``widget`` of the active ``window``."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    if not window.isActiveWindow():
        _active_window(studio, qtbot)
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=2000)
    qtbot.keyClick(widget, key, Qt.KeyboardModifier.AltModifier)


def test_alt_a_accepts_the_mask_as_reviewed_wherever_the_focus_is(studio, dialogs, qtbot):
    """Session 40 QA: a person stepping through the masks with Page Down had no key for "Accept as reviewed" (Tab
    from the canvas goes to napari's status bar, not into the panels). Alt+A is a window shortcut, as Alt+S."""
    from qtpy.QtCore import Qt

    review, proj = studio.panels["Review"], studio.panels["Review"].studio.project
    window = _active_window(studio, qtbot)
    modals = _Modals()
    try:
        for widget in (_canvas(studio), review.btn_next, review.threshold, studio.panels["Project"].list):
            image_id = studio.current_id
            review.mask_layer.paint((30, 30), 1)
            _alt_key_in(studio, qtbot, window, widget, Qt.Key.Key_A)
            qtbot.wait(50)
            assert modals.seen == [] and dialogs.errors == [], type(widget).__name__
            saved = proj.correction(image_id)
            assert saved is not None and saved[30, 30] and not review.dirty, type(widget).__name__
            assert proj.image(image_id).state == "reviewed", type(widget).__name__
            proj.remove_correction(image_id)
            review._reload_maps()
    finally:
        modals.stop()
    studio.docks["Review"].destroyOnClose()  # a closed Review panel lets go of the key
    assert review._keys is None


def _menu_action(window, text):
    """The action of ``window``'s menus (submenus too) named ``text``."""
    def walk(actions):
        for action in actions:
            if action.menu() is not None:
                yield from walk(action.menu().actions())
            yield action

    return next(a for a in walk(window.menuBar().actions()) if a.text().replace("&", "") == text)


def test_the_window_fits_a_laptop_screen(studio, dialogs, qtbot):
    """Session 28 QA: the window could not be made shorter than ~1460 px nor narrower than ~1170 px (the
    docks took the panels' full size: the Adaptation panel alone ~840 px tall under napari's layer docks),
    so on a 1080-line screen the bottom of the left column (Roll back, Free disk…, Remove from project…)
    was off the screen, and at the narrowest the canvas got 0 px. The panels scroll now; a wheel over a
    drop-down list or spin box that was not clicked scrolls the panel instead of changing the value."""
    from qtpy.QtCore import QPoint, QPointF, Qt
    from qtpy.QtGui import QWheelEvent
    from qtpy.QtWidgets import QApplication, QScrollArea, QWidget

    from vessel_studio.gui.review_panel import ReviewPanel

    review, proj = studio.panels["Review"], studio.project
    window = _active_window(studio, qtbot, size=(1280, 720))
    qtbot.wait(50)
    assert window.width() <= 1280 and window.height() <= 720
    assert _canvas(studio).width() >= 300

    def scroll_of(panel):
        area = panel.parent()
        while not isinstance(area, QScrollArea):
            area = area.parent()
        return area

    def reachable(panel, widget):  # inside the window once its panel is scrolled to it
        scroll_of(panel).ensureWidgetVisible(widget)
        qtbot.wait(20)
        top_left = widget.mapTo(window, QPoint(0, 0))
        return (widget.isVisible() and 0 <= top_left.y() and top_left.y() + widget.height() <= window.height()
                and 0 <= top_left.x() and top_left.x() + widget.width() <= window.width())

    adapt = studio.panels["Adaptation"]
    studio.docks["Adaptation"].raise_()
    qtbot.wait(20)
    assert reachable(adapt, adapt.btn_prune) and reachable(adapt, adapt.disk)
    studio.docks["Project"].raise_()
    studio.docks["Review"].raise_()  # a tab of the one column on a 1280 x 720 screen (app.NARROW_CANVAS_SHARE)
    qtbot.wait(20)
    assert reachable(review, review.btn_save)
    review.mask_layer.paint((30, 30), 1)
    qtbot.mouseClick(review.btn_save, Qt.MouseButton.LeftButton)
    assert proj.correction(studio.current_id)[30, 30] and not review.dirty

    # the wheel over the mask threshold, not clicked: the panel scrolls, the threshold stays
    scroll = scroll_of(review)
    scroll.verticalScrollBar().setValue(0)
    review.btn_next.setFocus()
    spin = review.threshold
    centre = QPointF(spin.rect().center())
    QApplication.sendEvent(spin, QWheelEvent(centre, QPointF(spin.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                                             QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                             Qt.ScrollPhase.NoScrollPhase, False))
    assert spin.value() == 0.5 and scroll.verticalScrollBar().value() > 0

    # the Review dock closed with its title bar's button, opened again from the Plugins menu: the panel that
    # was closed lets go (Page Down asks once, from the open one), the new one works
    first = studio.current_id
    qtbot.mouseClick(studio.docks["Review"].title.close_button, Qt.MouseButton.LeftButton)
    qtbot.wait(20)
    assert review.confirm_leave not in studio.leave_hooks
    _menu_action(window, "Review and correction").trigger()
    qtbot.wait(20)
    reopened = [w for w in window.findChildren(QWidget) if isinstance(w, ReviewPanel) and w is not review]
    assert reopened and reopened[-1].image_id == first
    # in a scroll area as the first one was (the window can be made small again), and the studio's Review panel
    assert scroll_of(reopened[-1]) is not None and studio.panels["Review"] is reopened[-1]
    reopened[-1].mask_layer.paint((50, 50), 1)
    if not window.isActiveWindow():
        _active_window(studio, qtbot, size=(1280, 720))
    qtbot.keyClick(_canvas(studio), Qt.Key.Key_PageDown)
    assert dialogs.asked == ["Unsaved correction"] and studio.current_id != first


def test_napari_tool_keys_work_with_the_focus_in_the_image_list(studio, dialogs, qtbot):
    """Session 40 QA: after a click on an image's row the focus stays in the Project panel's list, which took the
    letters and digits for its type-ahead search: napari's P / E (paint, erase) did nothing there, as from the
    panels' buttons they do, and "s" twice moved the list to the next image named "sample-…" and showed it. The
    list's own keys (arrows, Delete) stay."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    panel, review = studio.panels["Project"], studio.panels["Review"]
    ids = [r.id for r in studio.project.images]
    _active_window(studio, qtbot)
    _click_row(qtbot, panel, 0)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.list, timeout=2000)
    assert studio.current_id == ids[0]
    mask = review.mask_layer
    studio.viewer.layers.selection.active = mask
    mask.mode = "pan_zoom"
    qtbot.keyClick(panel.list, Qt.Key.Key_P)
    assert mask.mode == "paint"
    qtbot.keyClick(panel.list, Qt.Key.Key_E)
    assert mask.mode == "erase"
    for _ in range(2):  # the images' names start with "s"
        qtbot.keyClick(panel.list, Qt.Key.Key_S)
        qtbot.wait(20)
    assert studio.current_id == ids[0] and panel.list.currentRow() == 0 and dialogs.asked == []
    qtbot.keyClick(panel.list, Qt.Key.Key_Down)  # the list's own keys
    qtbot.waitUntil(lambda: studio.current_id == ids[1], timeout=3000)


def test_napari_tool_keys_work_with_the_focus_in_a_drop_down_list(studio, dialogs, qtbot):
    """Session 40 QA: after Show was chosen with the mouse the focus stays in it, and the drop-down list took the
    letters to choose an item: E (eraser) did nothing and S showed the source-only map; M in Queue ordered the queue
    by uncertainty. They go on to napari's keys now; the arrow keys still choose."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    review = studio.panels["Review"]
    mask = review.mask_layer
    _active_window(studio, qtbot)
    studio.viewer.layers.selection.active = mask
    mask.mode = "pan_zoom"
    for combo, key in ((review.show_round, Qt.Key.Key_S), (review.queue, Qt.Key.Key_M)):
        combo.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is combo, timeout=2000)
        before = combo.currentText()
        qtbot.keyClick(combo, key)
        qtbot.wait(20)
        assert combo.currentText() == before and not studio.runner.running
    qtbot.keyClick(review.queue, Qt.Key.Key_E)
    assert mask.mode == "erase"
    qtbot.keyClick(review.queue, Qt.Key.Key_P)
    assert mask.mode == "paint"
    review.show_round.setFocus()
    count = review.show_round.count()
    qtbot.keyClick(review.show_round, Qt.Key.Key_Down)  # the arrows still choose
    assert count < 2 or review.show_round.currentIndex() == 1
