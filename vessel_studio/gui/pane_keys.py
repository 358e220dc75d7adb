"""F6 / Shift+F6: the keyboard focus to the next / previous pane of the window, as in GTK, Windows and browsers: the
image (napari's canvas), then the Project, Adaptation, Review and Export panels (the order Tab visits them), round
again. A panel gets the focus on its first enabled control that Tab stops on; a panel that is a tab behind another
comes to the front as the focus enters it (``app.DockSizer._focus_changed``), a floated one has its window
activated; a closed panel, or one with no enabled control, is passed over.

Session 48 keyboard QA: Tab from the image took 31 presses to the Project panel's "New project…" and 65 to the
Review panel's "Segment with bundled model" (napari's status bar button, layer list and layer controls first, and
each dock's three title bar buttons); F6 three times and Tab ten times reach it now. napari 0.9.2 binds neither key
(its menus' shortcuts, its keybinding settings, app-model's keybindings and the viewer's and layers' keymaps: none
has F6). Window shortcuts of the main window, as Page Down and Alt+S (``review_keys``): Qt gives them the key before
the widget with the focus (the canvas, the layer list, a number box, a text field, the image list) and in a dock
floated out of the window too; F6 types nothing, so they stay on in text fields.

The panels opened from napari's Plugins menu in a person's own napari (``plugin.py``) have the keys too (session 49:
they had none): the first one opened attaches them to the window, once (:func:`attach` finds the ones there); a
panel's pane is the napari dock that holds it, found from the panel (the window's are ``studio.docks``), and one that
is a tab behind another is raised as the focus enters it (the window's ``DockSizer`` does that there).
"""

from __future__ import annotations

import weakref

from qtpy.QtCore import QObject, Qt
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import QApplication, QDockWidget, QShortcut

#: the object name of the window's keys (:func:`attach` adds them once)
NAME = "VesselStudioPaneKeys"

#: the panels in the order Tab visits them (their docks' order in the window), after the image
PANES = ("Project", "Adaptation", "Review", "Export")

NEXT_KEY, PREVIOUS_KEY = "F6", "Shift+F6"


def first_control(panel):
    """The first control of ``panel`` that Tab stops on (Qt's focus chain, Qt's rule: takes the focus by Tab, no
    focus proxy, enabled, not hidden in the panel); None where it has none."""
    widget = panel.nextInFocusChain()
    seen = 0
    while widget is not None and widget is not panel and seen < 5000:  # the chain is a ring through the window
        seen += 1
        if (panel.isAncestorOf(widget) and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                and widget.focusProxy() is None and widget.isEnabled() and widget.isVisibleTo(panel)):
            return widget
        widget = widget.nextInFocusChain()
    return None


class PaneKeys(QObject):
    """F6 and Shift+F6 in ``window`` (napari's main window) for the studio's panes. A child of the window: it goes
    with it; holds the studio weakly (napari's leak check)."""

    def __init__(self, studio, window):
        super().__init__(window)
        self.setObjectName(NAME)
        self._studio = weakref.ref(studio)
        self.shortcuts = []
        for key, step in ((NEXT_KEY, 1), (PREVIOUS_KEY, -1)):
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda step=step: self.move(step))
            self.shortcuts.append(shortcut)

    def _panes(self) -> list:
        """``[(dock or None, widget to focus)]`` in order: the image, then each panel open (not closed)."""
        studio = self._studio()
        if studio is None:
            return []
        out = []
        try:
            canvas = studio.viewer.window._qt_viewer.canvas.native
            out.append((None, canvas))
        except (AttributeError, RuntimeError):  # another napari layout, a closed window
            pass
        for name in PANES:
            panel = studio.panels.get(name)
            dock = studio.docks.get(name) or dock_of(panel)  # the window's; else napari's dock of a plugin's panel
            try:
                if dock is None or panel is None or dock.isHidden() or not dock.isAncestorOf(panel):
                    continue  # closed (napari takes the panel out of a dock closed for good: qtutil.PanelScroll)
                out.append((dock, panel))
            except RuntimeError:  # a dock deleted
                continue
        return out

    def move(self, step: int) -> None:
        """The focus to the next (``step`` 1) or previous (-1) pane that can take it, round the window."""
        panes = self._panes()
        if not panes:
            return
        focus = QApplication.focusWidget()
        here = None  # the pane the focus is in; elsewhere (napari's layer list, layer controls, status bar): between
        for index, (dock, widget) in enumerate(panes):  # the image and the Project panel, where Tab has them
            if focus is not None and (focus is widget if dock is None else dock.isAncestorOf(focus)):
                here = index
                break
        count = len(panes)
        if here is None:
            start = 0 if step < 0 else (1 if count > 1 else 0)
            order = [(start + step * i) % count for i in range(count)]
        else:
            order = [(here + step * i) % count for i in range(1, count + 1)]
        for index in order:
            dock, widget = panes[index]
            target = widget if dock is None else first_control(widget)
            if target is None or not target.isEnabled() or not target.isVisibleTo(target.window()):
                continue
            window = target.window()
            if not window.isActiveWindow():  # a floated panel, or back from one to the main window
                window.activateWindow()
            target.setFocus(Qt.FocusReason.TabFocusReason)
            if dock is not None and not dock.isFloating() and dock.visibleRegion().isEmpty():
                dock.raise_()  # a tab behind another (the window's DockSizer raised it already)
            return


def dock_of(panel):
    """The dock that holds ``panel``; None."""
    try:
        widget = panel.parentWidget() if panel is not None else None
        while widget is not None and not isinstance(widget, QDockWidget):
            widget = widget.parentWidget()
    except RuntimeError:  # deleted
        return None
    return widget


def attach(studio) -> PaneKeys | None:
    """The keys in the studio's main window, the ones there already if it has them (a second pair would make each
    key ambiguous: Qt runs neither); None without a window (a viewer made without a Qt window)."""
    try:
        window = studio.viewer.window._qt_window
    except (AttributeError, RuntimeError):
        return None
    keys = window.findChild(PaneKeys, NAME, Qt.FindChildOption.FindDirectChildrenOnly)
    return keys if keys is not None else PaneKeys(studio, window)
