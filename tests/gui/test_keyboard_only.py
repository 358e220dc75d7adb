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


def _f6(qtbot, back=False):
    """F6 (Shift+F6 with ``back``) on the widget with the focus; the widget with the focus after it."""
    from qtpy.QtCore import Qt

    return _press(qtbot, Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier if back else None)


def _firsts(studio) -> dict:
    """Each panel's first control Tab stops on (session 48's Tab route)."""
    panels = studio.panels
    return {"Project": panels["Project"].btn_new, "Adaptation": panels["Adaptation"].preset,
            "Review": panels["Review"].btn_prev, "Export": panels["Export"].masks}


@pytest.mark.parametrize("size, layout", [((1500, 950), "two columns"), ((1500, 768), "two columns, layer list a tab"),
                                          ((1280, 720), "one column")],
                         ids=["two columns", "layer list a tab", "one column"])
def test_f6_and_shift_f6_move_the_focus_from_pane_to_pane(studio, qtbot, size, layout):
    """Session 48 QA: Tab from the image took 31 presses to the Project panel's "New project…" and 65 to the Review
    panel's "Segment with bundled model" (napari's status bar, layer list and layer controls first, and three title
    bar buttons a dock); F6 did nothing. F6 goes to the next pane, the image then the Project, Adaptation, Review and
    Export panels, each on its first control (in front: a panel behind another's tab is raised), and round to the
    image; Shift+F6 the other way; in each of the window's dock layouts."""
    from qtpy.QtCore import QObject

    from vessel_studio.gui import app

    window = _active(studio, qtbot)
    window.resize(*size)  # laid out again (``app.DockSizer.relayout``) once the size has stayed put
    sizer = window.findChild(QObject, app._SIZER_NAME)
    qtbot.waitUntil(lambda: sizer.layout == layout, timeout=5000)
    qtbot.wait(100)
    canvas = studio.viewer.window._qt_viewer.canvas.native
    docks, firsts = studio.docks, _firsts(studio)
    for back in (False, True):
        _focus(qtbot, canvas)
        names = list(firsts)[::-1] if back else list(firsts)
        for name in names + ["image", names[0]]:
            focus = _f6(qtbot, back)
            if name == "image":
                assert focus is canvas
                continue
            assert focus is firsts[name], (name, focus)
            qtbot.waitUntil(lambda: _in_view(focus), timeout=2000)
            assert not docks[name].isFloating()


def test_f6_from_the_layer_list_a_number_box_a_text_field_and_the_image_list(studio, qtbot):
    """F6 and Shift+F6 reach the window's shortcut wherever the focus is: napari's layer list and a layer's name
    being typed (between the image and the Project panel in Tab's order), the speck size's number box, the Project
    panel's image list. From the image, F6 three times and Tab ten times reach "Segment with bundled model" (65 Tabs
    before)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication, QLineEdit

    _active(studio, qtbot)
    qt_viewer, panels = studio.viewer.window._qt_viewer, studio.panels
    canvas, firsts = qt_viewer.canvas.native, _firsts(studio)
    starts = {"layer list": (qt_viewer.layers, "Project", canvas),
              "number box": (panels["Review"].speck_size, "Export", firsts["Adaptation"]),
              "image list": (panels["Project"].list, "Adaptation", canvas)}
    for place, (widget, after, before) in starts.items():
        for back, expected in ((False, firsts.get(after)), (True, before)):
            _focus(qtbot, widget)
            assert _f6(qtbot, back) is expected, (place, back)
    for back, expected in ((False, firsts["Project"]), (True, canvas)):
        _focus(qtbot, qt_viewer.layers)
        qt_viewer.layers.edit(qt_viewer.layers.model().index(0, 0))  # a layer's name, being typed
        qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit), timeout=2000)
        assert _f6(qtbot, back) is expected, ("name field", back)
    _focus(qtbot, canvas)
    presses = 0
    for key in [Qt.Key.Key_F6] * 3 + [Qt.Key.Key_Tab] * 20:
        presses += 1
        if _press(qtbot, key) is panels["Review"].btn_segment:
            break
    assert QApplication.focusWidget() is panels["Review"].btn_segment and presses == 13


def test_f6_goes_into_a_floated_panel_and_passes_a_closed_one(studio, qtbot):
    """A floated panel is a pane too: F6 activates its window and gives the focus to its first control, and from it
    goes back to the main window (its panel raised where it is a tab behind another); a closed panel is passed
    over."""
    from qtpy.QtWidgets import QApplication

    window = _active(studio, qtbot)
    docks, firsts = studio.docks, _firsts(studio)
    canvas = studio.viewer.window._qt_viewer.canvas.native
    docks["Review"].setFloating(True)
    qtbot.waitUntil(lambda: docks["Review"].isVisible(), timeout=2000)
    qtbot.wait(100)
    _focus(qtbot, firsts["Adaptation"])
    assert _f6(qtbot) is firsts["Review"]
    qtbot.waitUntil(lambda: QApplication.activeWindow() is docks["Review"], timeout=2000)
    _focus(qtbot, studio.panels["Review"].speck_size)
    qtbot.wait(50)
    assert _f6(qtbot) is firsts["Export"]
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    assert _f6(qtbot, back=True) is firsts["Review"]
    qtbot.waitUntil(lambda: QApplication.activeWindow() is docks["Review"], timeout=2000)
    docks["Project"].raise_()  # the person clicked its tab meanwhile
    qtbot.waitUntil(lambda: not _in_view(firsts["Adaptation"]), timeout=2000)
    assert _f6(qtbot, back=True) is firsts["Adaptation"]  # a tab behind Project: raised
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    qtbot.waitUntil(lambda: _in_view(firsts["Adaptation"]), timeout=2000)
    docks["Adaptation"].close()  # its "hide this panel" button
    qtbot.waitUntil(lambda: docks["Adaptation"].isHidden(), timeout=2000)
    _focus(qtbot, canvas)
    assert [_f6(qtbot) for _ in range(4)] == [firsts["Project"], firsts["Review"], firsts["Export"], canvas]
