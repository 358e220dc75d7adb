"""Page Down / Page Up in the Review panel: the next / previous image, wherever the focus is in the
window, except where the keys are typed into text (napari's console, a text field).

napari's key bindings (``bind_key``) only get the keys nobody else took: with the focus in the
Project panel's image list (after clicking a thumbnail) Page Down jumped a page of images, to the
last one, and then wrapped to the first; in the mask threshold it set the threshold 0.5 lower (the
mask from p >= 0.05); in Show or Compare with it chose another round. Window-wide shortcuts of the
main window come before those widgets' own use of the keys, and Qt keeps them working in a dock
floated out of it (the Review panel's too). They are switched off while the focus is in a text
input: napari's console scrolls with the keys (they stepped images instead), a text field or editor
moves its cursor.

Alt+S (Save correction) is such a shortcut too, on whatever has the focus: as a napari key binding it
never ran in the window, whose File menu has "Save Screenshot..." on Alt+S (a window shortcut, taken
before any key binding): wherever the focus was (the canvas just painted on, a button), the key opened
napari's screenshot file dialog. The menu entry stays, without its key, while the Review panel has the
window (given back when the panel is closed).

Alt+A (Accept as reviewed) is one too (session 40 QA: a person stepping through the masks with Page Down had no key
to accept one, and Tab from the canvas goes to napari's status bar, not into the panels); no napari menu has it.
"""

from __future__ import annotations

from qtpy.QtCore import QObject, Qt
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QShortcut, QTextEdit


def takes_text(widget) -> bool:
    """The focus is where Page Up / Page Down are text keys: a text editor (napari's console is one)
    or a text field; not a spin box's field (the keys would step its value: the image steps instead)."""
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return True
    if isinstance(widget, QLineEdit):
        return not isinstance(widget.parent(), QAbstractSpinBox)
    return False


#: Save correction
SAVE_KEY = "Alt+S"
#: Accept as reviewed
ACCEPT_KEY = "Alt+A"


def take_from_menus(window, key: QKeySequence) -> list[tuple[QAction, list]]:
    """Take ``key`` off the actions of ``window``'s menus that have it (napari's File > "Save Screenshot..."
    on Alt+S): two window shortcuts of one key are ambiguous and neither fires. Returns each action with
    its shortcuts as they were."""
    taken, seen = [], set()

    def actions(items):  # the menus' actions, submenus too (napari's belong to the application, not the window)
        for action in items:
            menu = action.menu()
            if menu is not None and id(menu) not in seen:
                seen.add(id(menu))
                yield from actions(menu.actions())
            yield action

    bar = window.menuBar() if hasattr(window, "menuBar") else None
    for action in actions([*window.actions(), *(bar.actions() if bar is not None else [])]):
        keys = list(action.shortcuts())
        if any(k.matches(key) == QKeySequence.SequenceMatch.ExactMatch for k in keys):
            action.setShortcuts([k for k in keys if k.matches(key) != QKeySequence.SequenceMatch.ExactMatch])
            taken.append((action, keys))
    return taken


class StepKeys(QObject):
    """Page Down / Page Up calling ``next`` / ``previous`` in ``window`` (napari's main window), off
    while the focus takes text. A child of ``window``: it goes with the window (and Qt then
    disconnects it from the application's focus changes); :meth:`close` stops it before."""

    def __init__(self, window, next, previous, save=None, accept=None):
        super().__init__(window)
        self.shortcuts = []
        for key, slot in ((Qt.Key.Key_PageDown, next), (Qt.Key.Key_PageUp, previous)):
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts.append(shortcut)
        #: Alt+S: ``save``, Alt+A: ``accept``, on in text inputs too (they type nothing there)
        self.save_shortcut = self.accept_shortcut = None
        #: the window's menu actions whose Alt+S (Alt+A) was taken, with their shortcuts (given back by ``close``)
        self._taken: list[tuple[QAction, list]] = []
        for name, text, slot in (("save_shortcut", SAVE_KEY, save), ("accept_shortcut", ACCEPT_KEY, accept)):
            if slot is None:
                continue
            key = QKeySequence(text)
            self._taken += take_from_menus(window, key)
            shortcut = QShortcut(key, window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            setattr(self, name, shortcut)
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self._focus_changed(None, QApplication.focusWidget())

    @classmethod
    def attach(cls, viewer, next, previous, save=None, accept=None) -> "StepKeys | None":
        """The keys in ``viewer``'s main window; None without one (a viewer made without a Qt window)."""
        try:
            window = viewer.window._qt_window
        except (AttributeError, RuntimeError):
            return None
        return cls(window, next, previous, save, accept)

    def _focus_changed(self, _old, new) -> None:
        on = not takes_text(new)
        try:
            for shortcut in self.shortcuts:
                shortcut.setEnabled(on)
        except RuntimeError:  # the window (and its shortcuts) is being deleted
            pass

    def close(self) -> None:
        """Stop: the shortcuts belong to the main window, which may stay (a closed Review panel)."""
        try:
            QApplication.instance().focusChanged.disconnect(self._focus_changed)
        except (RuntimeError, TypeError):
            pass
        for shortcut in (self.save_shortcut, self.accept_shortcut):
            if shortcut is not None:
                self.shortcuts.append(shortcut)
        self.save_shortcut = self.accept_shortcut = None
        for action, keys in self._taken:  # napari's menu entries get their Alt+S back
            try:
                if action.shortcut().isEmpty():
                    action.setShortcuts(keys)
            except RuntimeError:
                pass
        self._taken = []
        for shortcut in self.shortcuts:
            try:
                shortcut.setEnabled(False)
                shortcut.activated.disconnect()
                shortcut.deleteLater()
            except (RuntimeError, TypeError):  # the window (and its shortcuts) is already gone
                pass
        self.shortcuts = []
        try:
            self.deleteLater()
        except RuntimeError:
            pass
