"""Message boxes and file pickers in one place (tests replace these functions, all but ``question_open``)."""

from __future__ import annotations

from qtpy.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget


def question_open() -> bool:
    """A modal dialog is open: a question (save / discard / stay, a confirmation), an error or a picker. Its event
    loop delivers timers and the ends of background jobs, and its answer applies to what it named, so what those
    change on screen waits until it is closed (session 31): the studio's watcher of changes made elsewhere, and
    the Review panel's "most uncertain first" order arriving. Before, the image on screen taken out elsewhere, or
    the order's first image shown, while "Unsaved correction" was open made Discard or Save act on another image
    (its autosaved draft lost)."""
    return QApplication.activeModalWidget() is not None


def error(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.critical(parent, title, text)


def info(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.information(parent, title, text)


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Yes / No."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


def save_discard_cancel(parent: QWidget | None, title: str, text: str) -> str:
    """"save", "discard" or "cancel"."""
    answer = QMessageBox.question(
        parent, title, text, QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save
    )
    return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")


def add_or_open(parent: QWidget | None, title: str, text: str) -> str:
    """"add" (to the project), "open" (as napari layers) or "cancel"."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    add = box.addButton("Add to project", QMessageBox.ButtonRole.AcceptRole)
    layers = box.addButton("Open as layers", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(add)
    box.exec()
    return {add: "add", layers: "open"}.get(box.clickedButton(), "cancel")


def pick_folder(parent: QWidget | None, title: str) -> str | None:
    path = QFileDialog.getExistingDirectory(parent, title)
    return path or None


def pick_files(parent: QWidget | None, title: str, filters: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, title, "", filters)
    return list(paths)


def ask_new_project(parent: QWidget | None) -> tuple[str, str] | None:
    """Folder and modality for a new project, or None."""
    from qtpy.QtWidgets import QInputDialog

    folder = QFileDialog.getExistingDirectory(parent, "New project: choose an empty folder")
    if not folder:
        return None
    modality, ok = QInputDialog.getItem(parent, "New project", "Modality of the new scanner:", ["fundus", "octa"], 0, False)
    if not ok:
        return None
    return folder, modality
