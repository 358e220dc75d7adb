"""The Project panel's "Set pixel spacing…" (session 47): a lab sets its scanner's pixel spacing for scans whose
files record none (OCTA-500's PNGs); the Review panel's title and vessel measures follow at once, and a spacing set
in a terminal (``vessel-studio images --set-spacing``) reaches them through the watcher."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import calls_on_gui_thread

pytestmark = pytest.mark.gui


def _measured(review, qtbot, text):
    qtbot.waitUntil(lambda: text in review.measures.text(), timeout=10000)
    return review.last_measures


def test_set_pixel_spacing_in_the_project_panel_changes_the_title_and_the_measures(studio, qtbot, monkeypatch,
                                                                                  dialogs):
    from vessel_studio.gui import dialogs as dialogs_mod
    from vessel_studio.store.project import Project

    on_gui_thread = calls_on_gui_thread(monkeypatch, (Project, "set_spacing"))  # a 1,000-image manifest: ~100 ms
    panel, review = studio.panels["Project"], studio.panels["Review"]
    first = studio.project.images[0]
    assert review.image_id == first.id and review.title.text().endswith("pixel spacing unknown")
    review.mask_layer.data = np.zeros((96, 96), np.uint8)
    review.mask_layer.data[40:45, 10:90] = 1
    review._measure()
    before = _measured(review, qtbot, " px")
    assert before["calibre_mean_um"] is None
    asked, answers = [], [("set", (0.01, 0.01)), ("clear", None)]
    monkeypatch.setattr(dialogs_mod, "ask_pixel_spacing",
                        lambda parent, text, current_um=None: asked.append((text, current_um)) or answers.pop(0))
    panel.list.clearSelection()
    assert not panel.btn_spacing.isEnabled()  # nothing selected
    panel._items[first.id].setSelected(True)
    assert panel.btn_spacing.isEnabled()
    panel.btn_spacing.click()
    assert "Now: unknown." in asked[0][0] and asked[0][1] is None
    qtbot.waitUntil(lambda: panel._spacing_key is None, timeout=5000)
    qtbot.waitUntil(lambda: "10.0 µm/px (set)" in review.title.text(), timeout=5000)
    after = _measured(review, qtbot, " µm")
    assert after["calibre_mean_um"] == pytest.approx(before["calibre_mean_px"] * 10)
    assert after["skeleton_length_mm"] == pytest.approx(before["skeleton_length_px"] * 0.01)
    assert studio.project.image(first.id).pixel_spacing == (0.01, 0.01)
    assert dialogs.errors == []
    panel.btn_spacing.click()  # cleared: in px again
    assert "Now: 10 µm/px (set)." in asked[1][0] and asked[1][1] == pytest.approx(10.0)
    qtbot.waitUntil(lambda: review.title.text().endswith("pixel spacing unknown"), timeout=5000)
    assert _measured(review, qtbot, " px")["calibre_mean_um"] is None
    assert studio.project.image(first.id).set_spacing is None
    assert on_gui_thread == []  # both writes in a worker


def test_a_spacing_set_elsewhere_reaches_the_review_panel(studio, said, qtbot):
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    first = studio.project.images[0]
    Project.open(studio.project.folder).set_spacing([first.id], (0.02, 0.01))  # a terminal's images --set-spacing
    qtbot.waitUntil(lambda: review.title.text().endswith("10.0 × 20.0 µm/px (width × height, set)"), timeout=5000)
    assert any(f"pixel spacing changed: {first.name}" in s for s in said)


def test_a_measure_made_while_the_spacing_changed_is_made_again(studio, qtbot, monkeypatch):
    """A measure that read the old spacing and ended after the spacing was set is not shown: measured again."""
    import threading

    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    review = studio.panels["Review"]
    first = studio.project.images[0]
    review.mask_layer.data = np.zeros((96, 96), np.uint8)
    review.mask_layer.data[40:45, 10:90] = 1
    gate, started, real = threading.Event(), [], tasks.measure_image

    def measured_then_held(*args, **kw):
        m = real(*args, **kw)  # the spacing read now
        started.append(m)
        if len(started) == 1:
            gate.wait(10)
        return m

    monkeypatch.setattr(tasks, "measure_image", measured_then_held)
    review._measure()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=5000)
    Project.open(studio.project.folder).set_spacing([first.id], 0.01)
    studio.images_changed.emit()  # as the panel's write tells it; "measuring…" still: nothing shown to compare
    gate.set()
    m = _measured(review, qtbot, " µm")
    assert m["calibre_mean_um"] == pytest.approx(started[0]["calibre_mean_px"] * 10) and len(started) == 2


def test_the_dialogs_value_in_um_or_mm():
    from vessel_studio.gui.dialogs import spacing_value
    from vessel_studio.store.manifest import spacing_from_text

    assert spacing_value("9.87", True, spacing_from_text) == pytest.approx((0.00987, 0.00987))
    assert spacing_value("0.01", False, spacing_from_text) == (0.01, 0.01)
    assert spacing_value("3/304", True, spacing_from_text) == (3 / 304, 3 / 304)  # a field of view: mm over px
    with pytest.raises(ValueError, match="got '0'"):
        spacing_value("0", True, spacing_from_text)


def test_the_dialog_shows_what_it_will_set_as_it_is_typed():
    """A fraction is mm over px whichever unit is chosen: the line under the value says what OK sets, so "9.87/1"
    typed with µm chosen shows 9870 µm per pixel before it is set (session 47 review)."""
    from vessel_studio.gui.dialogs import spacing_preview
    from vessel_studio.store.manifest import spacing_from_text

    assert spacing_preview("3/304", True, spacing_from_text) == "= 9.868 µm per pixel"
    assert spacing_preview("9.87/1", True, spacing_from_text) == "= 9870 µm per pixel"
    assert spacing_preview("9.87", True, spacing_from_text) == "= 9.87 µm per pixel"
    assert spacing_preview("0.02,0.01", False, spacing_from_text) == "= 20 × 10 µm per pixel (height × width)"
    assert spacing_preview("", True, spacing_from_text) == ""
    assert spacing_preview("3/", True, spacing_from_text) == "not a pixel spacing yet"


def test_the_real_dialog_says_a_bad_value_and_stays_open(qtbot):
    """The dialog itself: a value that is not a positive number is said in it (it stays open); µm typed are taken as
    µm; Clear answers "clear"."""
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication, QComboBox, QDialogButtonBox, QLabel, QLineEdit

    from vessel_studio.gui.dialogs import ask_pixel_spacing

    seen = []

    def answer(steps):
        def act():
            dlg = QApplication.activeModalWidget()
            if dlg is None:
                QTimer.singleShot(20, act)
                return
            steps(dlg)
        QTimer.singleShot(20, act)

    def typed_then_ok(dlg):
        edit, unit = dlg.findChild(QLineEdit), dlg.findChild(QComboBox)
        ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        edit.setText("-3")
        ok.click()  # refused: said in the dialog
        seen.append([w.text() for w in dlg.findChildren(QLabel) if "got '-3'" in w.text()])
        assert unit.currentText() == "µm per pixel"
        edit.setText("9.87")
        ok.click()

    answer(typed_then_ok)
    assert ask_pixel_spacing(None, "Pixel spacing of 1 image(s)") == ("set", pytest.approx((0.00987, 0.00987)))
    assert seen and seen[0]

    def cleared(dlg):
        box = dlg.findChild(QDialogButtonBox)
        next(b for b in box.buttons() if b.text().startswith("Clear")).click()

    answer(cleared)
    assert ask_pixel_spacing(None, "Pixel spacing of 1 image(s)", 10.0) == ("clear", None)


def test_the_dialogs_fields_have_names_and_esc_cancels(qtbot):
    """Session 48 keyboard QA: the dialog's value field and unit had no label of their own (a screen reader said
    "text" and "µm per pixel combo box"); each has a name, the unit a tooltip; Esc cancels (no answer)."""
    from qtpy.QtCore import Qt, QTimer
    from qtpy.QtWidgets import QApplication, QComboBox, QLineEdit

    from vessel_studio.gui.dialogs import ask_pixel_spacing

    names = []

    def act():
        dlg = QApplication.activeModalWidget()
        if dlg is None:
            QTimer.singleShot(20, act)
            return
        edit, unit = dlg.findChild(QLineEdit), dlg.findChild(QComboBox)
        names.extend([edit.accessibleName(), unit.accessibleName(), unit.toolTip()])
        qtbot.keyClick(dlg, Qt.Key.Key_Escape)

    QTimer.singleShot(20, act)
    assert ask_pixel_spacing(None, "Pixel spacing of 1 image(s)") is None
    assert names[0] == "Pixel spacing" and names[1] == "Unit" and "unit" in names[2]
