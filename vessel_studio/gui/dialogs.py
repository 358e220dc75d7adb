"""Message boxes and file pickers in one place (tests replace these functions, all but ``question_open``)."""

from __future__ import annotations

from qtpy.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from vessel_studio.wording import spacing_um


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


#: the pixel spacing dialog's help: how a lab finds its scanner's spacing
SPACING_HELP = ("The pixel spacing is the field of view in mm ÷ its pixels across: a 3 × 3 mm OCTA-500 scan of 304 px is "
                "3/304 mm = 9.87 µm per pixel (a 6 × 6 mm scan of 400 px: 15 µm). Type a number in the unit chosen, "
                "or the field of view over its pixels in mm / px (3/304), or a pixel's height,width. "
                "It is used for the vessel measures (mm, µm) and the exported files' resolution, instead of any "
                "spacing the files record; the segmentation does not use it.")


def ask_pixel_spacing(parent: QWidget | None, text: str, current_um: float | None = None):
    """The pixel spacing to set for images (``text`` says which, and what they have now): ``("set", (row_mm,
    col_mm))``, ``("clear", None)`` to take a set spacing away, or None (cancelled). A value that is not a positive
    number is said in the dialog, which stays open."""
    from qtpy.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout

    from vessel_studio.store.manifest import spacing_from_text

    dlg = QDialog(parent)
    dlg.setWindowTitle("Set pixel spacing")
    intro = QLabel(text)
    intro.setWordWrap(True)
    value = QLineEdit("" if current_um is None else f"{current_um:.4g}")
    value.setPlaceholderText("e.g. 9.87 or 3/304")
    # no label of their own: a screen reader's names (session 48 keyboard QA: "text", "µm per pixel combo box")
    value.setAccessibleName("Pixel spacing")
    unit = QComboBox()
    unit.addItems(["µm per pixel", "mm per pixel"])
    unit.setAccessibleName("Unit")
    unit.setToolTip("the unit of a number typed (a fraction is always mm over px)")
    help_ = QLabel(SPACING_HELP)
    help_.setWordWrap(True)
    help_.setStyleSheet("color: gray")
    problem = QLabel("")
    problem.setWordWrap(True)
    problem.setStyleSheet("color: #d33")
    # what the typed text will set, as it is typed: a fraction is mm over px in either unit (session 47 review:
    # "9.87/1" typed with µm chosen set 9.87 mm without a word)
    preview = QLabel("")
    preview.setWordWrap(True)

    def show_preview() -> None:
        preview.setText(spacing_preview(value.text(), unit.currentIndex() == 0, spacing_from_text))

    value.textChanged.connect(show_preview)
    unit.currentIndexChanged.connect(show_preview)
    show_preview()
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    clear = buttons.addButton("Clear (use the files' own)", QDialogButtonBox.ButtonRole.ResetRole)
    row = QHBoxLayout()
    row.addWidget(value, 1)
    row.addWidget(unit)
    lay = QVBoxLayout(dlg)
    lay.addWidget(intro)
    lay.addLayout(row)
    lay.addWidget(preview)
    lay.addWidget(help_)
    lay.addWidget(problem)
    lay.addWidget(buttons)
    answer = []

    def ok() -> None:
        try:
            answer[:] = [("set", spacing_value(value.text(), unit.currentIndex() == 0, spacing_from_text))]
        except ValueError as exc:
            problem.setText(str(exc))
            return
        dlg.accept()

    def cleared() -> None:
        answer[:] = [("clear", None)]
        dlg.accept()

    buttons.accepted.connect(ok)
    buttons.rejected.connect(dlg.reject)
    clear.clicked.connect(cleared)
    dlg.exec()
    return answer[0] if answer else None


def spacing_preview(text: str, in_um: bool, parse) -> str:
    """The pixel spacing dialog's line under the value: what OK would set, in µm per pixel ("= 9.868 µm per pixel",
    "= 20 × 10 µm per pixel (height × width)"), "" while nothing is typed, or "not a pixel spacing yet" while what is
    typed does not parse."""
    if not text.strip():
        return ""
    try:
        row, col = spacing_value(text, in_um, parse)
    except ValueError:
        return "not a pixel spacing yet"
    return "= " + spacing_um((row, col), ".4g", width_first=False, unit="µm per pixel")


def spacing_value(text: str, in_um: bool, parse) -> tuple[float, float]:
    """(row_mm, col_mm) of what was typed in the pixel spacing dialog: ``parse`` (``spacing_from_text``) of it, in mm;
    a number (not a fraction, which is always mm over px) in µm when ``in_um``."""
    pair = parse(text)
    if in_um and "/" not in text:
        pair = (pair[0] / 1000, pair[1] / 1000)
    return pair
