"""Small helpers: numpy thumbnails and QPixmaps."""

from __future__ import annotations

import numpy as np
from qtpy.QtGui import QImage, QPixmap


def thumbnail(image: np.ndarray, size: int = 64) -> np.ndarray:
    """A uint8 thumbnail (longest side ``size``; a smaller image's own) of a gray or RGB image of any dtype.

    Every ``step``-th pixel down to no less than ``size`` (fast on a camera's 15 megapixels), then averaged down to
    ``size`` (Pillow's box filter). Before session 43 the step alone made it, rounded up: a side of ``size`` only
    where the image's was a multiple of it, else down to half of it (96 px at 72 gave 48; ``ProjectPanel`` makes
    thumbnails of 72 px on a screen scaled to 150 %)."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] > 3:
        a = a[..., :3]
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    step = max(1, max(a.shape[:2]) // size)
    a = a[::step, ::step]
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        lo, hi = np.percentile(a, (0.5, 99.5))
        a = np.clip((a - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    h, w = a.shape[:2]
    if max(h, w) > size:
        from PIL import Image

        f = size / max(h, w)
        shape = (max(1, round(w * f)), max(1, round(h * f)))
        a = np.asarray(Image.fromarray(np.ascontiguousarray(a)).resize(shape, Image.Resampling.BOX))
    return np.ascontiguousarray(a)


def array_to_pixmap(a: np.ndarray) -> QPixmap:
    """uint8 H×W or H×W×3 array to a QPixmap (copied)."""
    a = np.ascontiguousarray(a)
    if a.dtype != np.uint8:
        a = thumbnail(a, max(a.shape[:2]))
    h, w = a.shape[:2]
    if a.ndim == 2:
        img = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8)
    else:
        img = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(img.copy())


def fitted_pixmap(image: np.ndarray, side: int, ratio: float = 1.0) -> QPixmap:
    """``image`` as a pixmap that fits a box ``side`` logical px square, its aspect kept, made at ``ratio`` device
    pixels per logical pixel (the screen's: 2 at 200 %): averaged down to the box's device pixels
    (:func:`thumbnail`), or smoothly up where it has fewer. Session 44: the Adaptation panel's previews (the
    synthetic image beside its mask, 128 x 63 px) were stretched square into 72 x 72 px boxes (``setScaledContents``),
    the pair squeezed to half its width, and at 200 % each drawn from fewer pixels than the box's 144."""
    from qtpy.QtCore import Qt

    ratio = max(1.0, float(ratio))
    box = max(1, round(side * ratio))
    a = thumbnail(np.asarray(image), box)
    pix = array_to_pixmap(a)
    if max(a.shape[:2]) < box:
        pix = pix.scaled(box, box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    pix.setDevicePixelRatio(ratio)
    return pix


def fmt_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "–"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


#: where a long name may wrap in a word-wrapped label: after these characters, and within a run of more characters
#: than ``BREAK_RUN`` without a space or one of them
_BREAK_AFTER = "_."
BREAK_RUN = 16


def breakable(name: str) -> str:
    """``name`` with zero-width spaces where a word-wrapped label may wrap it: after each ``_`` and ``.`` and every
    ``BREAK_RUN`` characters of a longer run without one, a space, ``-`` or ``/`` (where Qt wraps by itself).
    Unchanged on screen while it fits its line, and unchanged when short; for labels only, not for text that is
    copied. Session 42, laptop screens: a 60-character image name in the Review panel's title made the panel 532 px
    wide where its rows need 441, the dock scrolling sideways (a word-wrapped label is never narrower than its
    longest word)."""
    import re

    if len(name) <= 2 * BREAK_RUN:  # fits (a 40-character name left the Review panel's width as it was)
        return name

    def split(match) -> str:
        run = match.group(0)
        return "\u200b".join(run[i:i + BREAK_RUN] for i in range(0, len(run), BREAK_RUN))

    name = "".join(c + "\u200b" if c in _BREAK_AFTER else c for c in name)
    return re.sub(r"[^\s\-/\u200b]{%d,}" % (BREAK_RUN + 1), split, name)


def rich_name(name: str) -> str:
    """``name`` (an image's or project's name, a folder) for a rich-text label: :func:`breakable`, then escaped, so
    that ``&``, ``<`` and ``>`` in a file name show as themselves (session 42: "a<b>c.png" showed "ac.png" in bold,
    "&lt;x&gt;" in a name showed "<x>")."""
    import html

    return html.escape(breakable(name), quote=False)


def park_focus(*widgets):
    """When one of ``widgets`` (buttons about to be disabled) has the keyboard focus: give it to the scroll area
    that holds them (the panel's ``PanelScroll``) and return that area; else None. Qt gives the focus of a disabled
    widget to the next enabled control, which after a panel's last button is its dock's "hide this panel" button,
    where a second Space hid the panel (session 48 keyboard QA: Space on Run adaptation, on an export's Cancel)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QAbstractScrollArea

    if not any(w.hasFocus() for w in widgets):
        return None
    area = widgets[0].parentWidget()
    while area is not None and not isinstance(area, QAbstractScrollArea):
        area = area.parentWidget()
    if area is not None:
        area.setFocus(Qt.FocusReason.OtherFocusReason)
    return area


def scrolled(panel):
    """``panel`` in a :class:`PanelScroll` (the Vessel Studio window docks its panels so)."""
    return PanelScroll(panel)


try:
    from qtpy.QtCore import QEvent, QObject, QSize, Qt
    from qtpy.QtWidgets import QAbstractSpinBox, QComboBox, QFrame, QPushButton, QScrollArea, QSlider, QWidget
except ImportError:  # pragma: no cover - Qt without widgets
    QScrollArea = None


def napari_key(event) -> bool:
    """A key napari's bindings take (P / E / F the mask's paint, erase, fill, V show or hide ...): a letter, digit or
    sign typed without Ctrl, Alt or Meta. The image list and the drop-down lists pass them on to napari (through
    the dock, which hands the keys it gets to the viewer) instead of searching their items with them."""
    text = event.text()
    held = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                | Qt.KeyboardModifier.MetaModifier)
    return bool(text) and not held and text.isprintable() and not text.isspace()


if QScrollArea is not None:

    class _WheelToScroll(QObject):
        """A wheel over a drop-down list, spin box or slider that does not have the focus scrolls the panel
        (a person scrolling down the panel set the mask threshold, the queue, Show on the way); clicked
        (focused), the widget takes the wheel as before.

        A letter or digit typed in a drop-down list (not an editable one) goes on to napari's keys (``napari_key``)
        instead of choosing the item it starts: session 40 QA, after Show was chosen with the mouse (the focus stays
        in it), E for the eraser did nothing and S showed the source-only map; M in Queue ordered the queue by
        uncertainty. The arrow keys still choose.

        Enter (Return) presses the button with the focus, as Space does (session 48 keyboard QA: Qt presses a button
        on Enter only in a dialog; in the panels Enter on "Next ▶" or "Save correction" did nothing).
        """

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
            from qtpy.QtWidgets import QApplication

            if (event.type() == QEvent.Type.KeyPress and isinstance(obj, QPushButton)
                    and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                    and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
                if obj.isEnabled() and obj.isVisible():
                    obj.click()
                return True
            if event.type() == QEvent.Type.Wheel and not obj.hasFocus():
                QApplication.sendEvent(self.parent().verticalScrollBar(), event)  # the PanelScroll
                return True
            if (event.type() == QEvent.Type.KeyPress and isinstance(obj, QComboBox) and not obj.isEditable()
                    and napari_key(event) and obj.parentWidget() is not None):
                from qtpy.QtGui import QKeyEvent

                # to the combo's parent: an event nobody takes goes up to the dock, as one the combo ignored would
                QApplication.sendEvent(obj.parentWidget(), QKeyEvent(
                    event.type(), event.key(), event.modifiers(), event.text(), event.isAutoRepeat(), event.count()))
                return True
            return False

    class PanelScroll(QScrollArea):
        """A panel in a scroll area: the window's docks no longer need the panels' full height and width (the
        Adaptation panel alone is ~840 px tall, and with napari's layer docks above it the window could not
        be made shorter than ~1460 px, nor narrower than the two dock columns: the canvas got 0 px).

        napari takes the dock's widget (this) out of the dock when the dock is closed: the panel is then
        taken out of the scroll area as well, so that it sees itself undocked (the Review panel's ``_detach``), and
        out of its studio's ``panels`` (session 49 QA: a closed panel stayed the studio's, kept alive, until one of
        its name was opened again from napari's Plugins menu).
        """

        def __init__(self, panel, parent=None):
            super().__init__(parent)
            self.setObjectName(f"{type(panel).__name__}Scroll")
            self.setFrameShape(QFrame.Shape.NoFrame)
            self.setWidgetResizable(True)
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            self.setWidget(panel)
            self._docked = False
            wheel = _WheelToScroll(self)
            for child in panel.findChildren(QWidget):
                if isinstance(child, QPushButton):
                    child.installEventFilter(wheel)  # Enter presses it
                    continue
                if not isinstance(child, (QComboBox, QAbstractSpinBox, QSlider)):
                    continue
                child.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not focused by a wheel passing over
                child.installEventFilter(wheel)

        def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
            """The panel's width (no horizontal scroll bar at first), not its height (the dock area's)."""
            panel = self.widget()
            if panel is None:
                return super().sizeHint()
            hint = panel.sizeHint()
            return QSize(hint.width() + self.verticalScrollBar().sizeHint().width(), min(hint.height(), 400))

        def event(self, ev) -> bool:
            if ev.type() == QEvent.Type.ParentChange:
                if self.parent() is not None:
                    self._docked = True
                elif self._docked:  # napari closed the dock: the panel leaves with it
                    self._docked = False
                    panel = self.takeWidget()
                    if panel is not None:
                        panel.setParent(None)
                        panels = getattr(getattr(panel, "studio", None), "panels", {})
                        for name in [name for name, held in panels.items() if held is panel]:
                            del panels[name]
            return super().event(ev)
