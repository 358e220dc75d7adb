"""The window driven by the keyboard alone, and what a screen reader is told of its controls (session 48 QA: a lab's
shared workstation with a bad trackpad; a person with RSI). Keys are sent to the widget with the focus
(``QApplication.focusWidget()``), as a person's keys go; the window is shown and active."""

from __future__ import annotations

import pytest

from conftest import shown_at

pytestmark = pytest.mark.gui


def _active(studio, qtbot, size=(1500, 950)):
    """The window at its launch size (two dock columns: Adaptation a tab behind Project, Export behind Review), shown
    and active (keys and focus need an active window)."""
    from qtpy.QtWidgets import QApplication

    window = shown_at(studio, qtbot, size)
    window.activateWindow()
    window.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    return window


def _focus(qtbot, widget) -> None:
    from qtpy.QtWidgets import QApplication

    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=2000)


def _press(qtbot, key, modifier=None):
    """``key`` pressed on the widget with the focus; the widget with the focus after it."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    qtbot.keyClick(QApplication.focusWidget(), key, modifier or Qt.KeyboardModifier.NoModifier)
    qtbot.wait(10)
    return QApplication.focusWidget()


def _in_view(widget) -> bool:
    """On screen: neither hidden nor in a dock that is a tab behind another (which Qt moves off the window without
    hiding it)."""
    return widget.isVisible() and not widget.window().isMinimized() and not widget.visibleRegion().isEmpty()


@pytest.mark.parametrize("forward", [True, False], ids=["Tab", "Shift+Tab"])
def test_tab_into_a_panel_behind_a_tab_brings_it_to_the_front(studio, qtbot, forward):
    """Session 48 QA: from the Project panel's last button, Tab went on into the Adaptation panel behind it (13
    presses, the focus nowhere on screen: Qt moves a tab behind another off the window without hiding it), and from
    the Review panel's first control Shift+Tab went back through it the other way. The dock the focus enters is
    raised; where the focus is stays on screen at each press."""
    from qtpy.QtCore import Qt

    _active(studio, qtbot)
    docks, panels = studio.docks, studio.panels
    assert not _in_view(docks["Adaptation"]) and not _in_view(docks["Export"])
    if forward:
        start, key, modifier = panels["Project"].btn_new, Qt.Key.Key_Tab, None
    else:
        start, key, modifier = panels["Review"].btn_prev, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier
    _focus(qtbot, start)
    entered = False
    for _ in range(40):
        focus = _press(qtbot, key, modifier)
        if focus is None:
            break
        qtbot.wait(20)  # the raised dock laid out
        assert _in_view(focus) or not _dock_of(focus, docks).visibleRegion().isEmpty(), focus
        if docks["Adaptation"].isAncestorOf(focus):
            entered = True
            assert _in_view(docks["Adaptation"]) and not _in_view(docks["Project"])
            break
    assert entered


def _dock_of(widget, docks):
    return next((d for d in docks.values() if d.isAncestorOf(widget)), widget.window())


def _fields_and_buttons(panel):
    """The controls of ``panel`` that take the keyboard focus: buttons, drop-down lists, number boxes, sliders,
    lists, text fields (not the parts of another: a drop-down's list, a number box's text field)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QComboBox,
                                QLineEdit, QWidget)

    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider, QAbstractItemView, QLineEdit)
    out = []
    for w in panel.findChildren(QWidget):
        if not isinstance(w, kinds) or w.focusPolicy() == Qt.FocusPolicy.NoFocus:
            continue
        parent, inner = w.parentWidget(), False
        while parent is not None and parent is not panel:
            inner = inner or isinstance(parent, (QComboBox, QAbstractSpinBox))
            parent = parent.parentWidget()
        if not inner and not (isinstance(w, QAbstractItemView) and w.window() is not panel.window()):
            out.append(w)
    return out


def _said_name(widget) -> str:
    """What a screen reader says a control is: its accessible name, else (Linux's screen readers, where Qt gives a
    drop-down's or a number box's value as its name) the label buddied to it (Qt's "labelled by" relation)."""
    from qtpy.QtGui import QAccessible
    from qtpy.QtWidgets import QAbstractButton, QComboBox

    if isinstance(widget, QComboBox) and widget.accessibleName().strip():
        # Qt on Linux gives a drop-down's value as its name, not its accessible name: there a screen reader says
        # its label (below) or its description (the tooltip)
        return widget.accessibleName() if widget.toolTip().strip() else ""
    if widget.accessibleName().strip():
        return widget.accessibleName()
    if isinstance(widget, QAbstractButton):
        return widget.text()
    iface = QAccessible.queryAccessibleInterface(widget)
    labels = [rel[0].text(QAccessible.Text.Name) for rel in iface.relations(QAccessible.RelationFlag.Label)]
    return " ".join(t for t in labels if t)


def test_every_control_of_the_panels_has_a_name_a_screen_reader_says(studio):
    """Session 48 QA: the Export panel's mask format (a drop-down beside the Masks tick box, no label of its own), the
    Adaptation panel's "Keep rounds up to" (a label beside the drop-down, not buddied to it), the Review panel's speck
    size (the number box after "Remove specks <") and the Project panel's image list were read out as "png combo
    box", "combo box", "11 px spin box" and "list": no name, only their value. Every button names what it does in
    words (no button shows only a symbol)."""
    import re

    unnamed = []
    for name, panel in studio.panels.items():
        for widget in _fields_and_buttons(panel):
            said = _said_name(widget)
            if not re.search(r"[A-Za-z]", said):
                unnamed.append(f"{name}: {type(widget).__name__} {said!r} (tip {widget.toolTip()[:30]!r})")
    assert unnamed == [], "\n".join(unnamed)


def test_enter_presses_the_panel_button_with_the_focus(studio, qtbot):
    """Session 48 QA: Enter (Return, the keypad's Enter) on a panel's button with the focus did nothing (Qt presses a
    button on Enter only in a dialog); Space did. Both press it now."""
    from qtpy.QtCore import Qt

    _active(studio, qtbot)
    review = studio.panels["Review"]
    ids = [r.id for r in studio.project.images]
    assert review.image_id == ids[0]
    for step, key in enumerate((Qt.Key.Key_Return, Qt.Key.Key_Enter), start=1):
        _focus(qtbot, review.btn_next)
        _press(qtbot, key)
        qtbot.waitUntil(lambda step=step: review.image_id == ids[step], timeout=3000)
    _focus(qtbot, review.btn_prev)
    _press(qtbot, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: review.image_id == ids[1], timeout=3000)


def _grab(widget):
    import numpy as np

    from qtpy.QtGui import QImage

    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    rows = np.array(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :image.width() * 4].copy()


@pytest.mark.parametrize("control", ["btn_save", "contour", "queue", "speck_size"])
def test_the_control_with_the_focus_is_drawn_so(studio, qtbot, control):
    """Session 48 QA: napari's style sheet draws no keyboard focus on buttons, tick boxes, drop-down lists or number
    boxes: the Review dock grabbed with the focus on "Save correction" and on the image were the same image. A frame
    is drawn around the control with the focus, and nowhere else (the panel's layout does not move)."""
    import numpy as np
    from qtpy.QtCore import Qt

    _active(studio, qtbot)
    dock, widget = studio.docks["Review"], getattr(studio.panels["Review"], control)
    canvas = studio.viewer.window._qt_viewer.canvas.native
    _focus(qtbot, canvas)
    qtbot.wait(50)
    rest = _grab(dock)
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=2000)
    qtbot.wait(50)
    focused = _grab(dock)
    rows, cols = np.nonzero(rest != focused)  # cols: bytes, 4 a pixel
    assert rows.size, "the focus is not drawn"
    box = widget.rect().translated(widget.mapTo(dock, widget.rect().topLeft()))
    assert box.top() - 3 <= rows.min() and rows.max() <= box.bottom() + 3
    assert box.left() - 3 <= cols.min() // 4 and cols.max() // 4 <= box.right() + 3
    _focus(qtbot, canvas)
    qtbot.wait(50)
    assert (_grab(dock) == rest).all()


def _held_job(gate):
    """A job that waits for ``gate`` (at most 10 s) between two events."""
    def job():
        from vessel_studio.events import Artifact, Progress

        yield Progress("x", 0, 1)
        gate.wait(10)
        yield Artifact("x", "held", "")
        return 1

    return job


def test_the_focus_stays_on_the_adaptations_buttons_when_it_starts_and_is_cancelled(studio, qtbot, dialogs):
    """Session 48 QA: Space on Run adaptation started the run and disabled the button; Qt gave the focus to the next
    enabled control, the Adaptation dock's "hide this panel" button (Stop and Cancel were enabled after it), where a
    second Space hid the panel; the same after Space on Cancel. Now the focus goes to "Stop after this round" (then
    Tab: Cancel), and from Cancel it waits in the panel and is on Run adaptation again at the run's end."""
    import threading

    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    _active(studio, qtbot)
    panel = studio.panels["Adaptation"]
    studio.docks["Adaptation"].raise_()
    _focus(qtbot, panel.btn_run)
    gate = threading.Event()
    assert studio.start_job("Adaptation", _held_job(gate))  # what Run adaptation starts, held
    qtbot.wait(10)
    assert QApplication.focusWidget() is panel.btn_stop, QApplication.focusWidget().objectName()
    assert _press(qtbot, Qt.Key.Key_Tab) is panel.btn_cancel
    with qtbot.waitSignal(studio.runner.finished, timeout=10000) as blocker:
        _press(qtbot, Qt.Key.Key_Space)
        focus = QApplication.focusWidget()
        assert focus is not None and studio.docks["Adaptation"].isAncestorOf(focus)
        assert focus.objectName() != "QTitleBarHideButton"
        gate.set()
    assert blocker.args[0].status == "cancelled"
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.btn_run, timeout=3000)


@pytest.mark.parametrize("cancel", [True, False], ids=["cancelled", "ended"])
def test_the_focus_on_an_exports_cancel_stays_in_the_panel(studio, qtbot, dialogs, cancel):
    """Session 48 QA: Space on the Export panel's Cancel (or the export's end, with the focus on Cancel) disabled it,
    and Qt gave the focus to the next enabled control, the dock's "hide this panel" button. It waits in the panel."""
    import threading

    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    _active(studio, qtbot)
    bar, dock = studio.panels["Export"].jobbar, studio.docks["Export"]
    dock.raise_()
    gate = threading.Event()
    assert studio.start_job("Export", _held_job(gate))  # what Export… starts, held
    _focus(qtbot, bar.btn_cancel)
    with qtbot.waitSignal(studio.runner.finished, timeout=10000) as blocker:
        if cancel:
            _press(qtbot, Qt.Key.Key_Space)
        gate.set()
    assert blocker.args[0].status == ("cancelled" if cancel else "done")
    focus = QApplication.focusWidget()
    assert focus is not None and dock.isAncestorOf(focus) and focus.objectName() != "QTitleBarHideButton"


def test_the_focus_stays_in_the_review_panel_after_discard_saved_mask(studio, qtbot, dialogs):
    """Session 48 QA: Space on "Discard saved mask" (the Review panel's last button), answered yes, disabled it (no
    saved mask left), and Qt gave the focus to the dock's "hide this panel" button. It waits in the panel."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    _active(studio, qtbot)
    review, dock = studio.panels["Review"], studio.docks["Review"]
    review.mask_layer.paint((40, 40), 1)
    assert review.save()
    qtbot.waitUntil(lambda: review.btn_discard.isEnabled(), timeout=3000)
    _focus(qtbot, review.btn_discard)
    _press(qtbot, Qt.Key.Key_Space)
    assert dialogs.asked[-1:] and not review.btn_discard.isEnabled()
    focus = QApplication.focusWidget()
    assert focus is not None and dock.isAncestorOf(focus) and focus.objectName() != "QTitleBarHideButton"
