"""Files and folders dropped on the window, delivered as Qt delivers a drop (session 40 QA, OCT-A lab).

The drop goes to the widget under the cursor that accepts drops, found as Qt 6's ``QWidgetWindow`` finds it
(``findDnDTarget``: the child at the point, then up its parents to the first that accepts drops), and gets a drag
enter, a drag move and the drop, each a real ``QDropEvent`` subclass carrying ``QMimeData`` urls.

Before session 40 scans dropped on the image (napari's canvas) went to napari's readers: "Choose reader" (napari's
and Vessel Studio's both read PNG), then image layers over the Review panel's, which hid the scan and the mask under
them and took the active layer from the mask; a folder asked the same, and a drop holding a non-image file raised
napari's "No plugin found capable of reading …". They go to the project now, as on the Project panel's list.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _target(window, pos):
    """The widget a drop at ``pos`` (window coordinates) is delivered to (Qt 6's ``findDnDTarget``)."""
    w = window.childAt(pos) or window
    while w is not None and not w.isWindow() and not w.acceptDrops():
        w = w.parentWidget()
    return w if w is not None and w.acceptDrops() else None


def _drop_point(widget):
    """Where a person drops on ``widget``: the middle of its part in view (a list taller than its panel's scroll area
    is partly hidden; the middle of the whole of it may lie under another dock)."""
    shown = widget.visibleRegion().boundingRect()
    return (shown if not shown.isEmpty() else widget.rect()).center()


def drop_on(widget, paths) -> bool:
    """Drop ``paths`` (local files / folders) at the middle of ``widget``, as Qt delivers it to
    the widget's window; True when the drop was taken."""
    from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
    from qtpy.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from qtpy.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    window = widget.window()
    at = widget.mapToGlobal(_drop_point(widget))
    target = _target(window, window.mapFromGlobal(at))
    if target is None:
        return False
    local = target.mapFromGlobal(at)
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction
    args = (mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(local, actions, *args)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(local, actions, *args)
    move.setAccepted(True)  # Qt hands a move the enter's answer
    QApplication.sendEvent(target, move)
    if not move.isAccepted():
        return False
    event = QDropEvent(QPointF(local), actions, *args)
    QApplication.sendEvent(target, event)
    return event.isAccepted()


@pytest.fixture
def napari_open(monkeypatch):
    """napari's opening of dropped files (its "Choose reader" dialog would block the test): the calls, recorded."""
    from napari._qt.qt_viewer import QtViewer

    calls = []
    monkeypatch.setattr(QtViewer, "_qt_open", lambda self, filenames, *a, **k: calls.append(list(filenames)))
    return calls


@pytest.fixture
def scans(tmp_path):
    from vessel_studio.samples import write_sample_images

    new = write_sample_images(tmp_path / "more", n=3, modality="octa", seed=11, shape=(64, 64))
    return sorted((new.folder / "images").iterdir())


def _canvas(studio):
    return studio.viewer.window._qt_viewer.canvas.native


def _shown(studio, qtbot, widget):
    """The window shown at the size the app opens it (``app.LAUNCH_SIZE``), ``widget`` in view (the Project panel
    scrolled to it), laid out."""
    from qtpy.QtWidgets import QScrollArea

    from vessel_studio.gui.app import LAUNCH_SIZE

    window = studio.viewer.window._qt_window
    window.resize(*LAUNCH_SIZE)
    window.show()
    qtbot.waitUntil(lambda: widget.isVisible() and widget.width() > 50 and widget.height() > 50, timeout=5000)
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        parent.ensureWidgetVisible(widget)
    qtbot.wait(50)
    # a drop there reaches ``widget`` or a parent of it (the window laid out: once in the full run, loaded, a drop
    # on the list right after another project was opened found no widget taking it)
    window = widget.window()

    def reaches():  # the window itself (napari's main window takes drops) is not ``widget``'s
        target = _target(window, window.mapFromGlobal(widget.mapToGlobal(_drop_point(widget))))
        return target is not None and not target.isWindow() and (target is widget or target.isAncestorOf(widget))

    qtbot.waitUntil(reaches, timeout=5000)


def test_scans_dropped_on_the_image_are_added_to_the_project_not_opened_as_layers(studio, said, napari_open,
                                                                                   qtbot, scans, tmp_path):
    _shown(studio, qtbot, _canvas(studio))
    names = [layer.name for layer in studio.viewer.layers]
    before = len(studio.project.images)
    notes = tmp_path / "more" / "notes.txt"
    notes.write_text("not an image")
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000) as done:
        taken = drop_on(_canvas(studio), [*scans[:2], notes])
        assert napari_open == []  # not napari's readers (before session 40: "Choose reader", then layers)
        assert taken
    assert done.args[0].status == "done", done.args[0].error
    assert [layer.name for layer in studio.viewer.layers] == names
    assert studio.viewer.layers.selection.active.name == "mask"
    assert len(studio.project.images) == before + 2
    assert "left out 1 dropped file(s) that are not images: notes.txt" in said
    # a folder
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(scans[2], folder)
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000) as done:
        assert drop_on(_canvas(studio), [folder])
    assert done.args[0].status == "done", done.args[0].error
    assert len(studio.project.images) == before + 3 and napari_open == []


def test_a_corrupt_scan_dropped_on_the_image_is_named_and_nothing_is_added(studio, dialogs, napari_open, qtbot,
                                                                         scans, tmp_path):
    _shown(studio, qtbot, _canvas(studio))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    before = [r.id for r in studio.project.images]
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000):
        assert drop_on(_canvas(studio), [scans[0], bad])
    assert napari_open == []
    assert [r.id for r in studio.project.images] == before
    ((title, text),) = dialogs.errors
    assert title == "Cannot add images" and str(bad) in text


def test_a_project_folder_dropped_on_the_image_or_the_list_is_opened(studio, napari_open, qtbot, tmp_path):
    from vessel_studio.samples import write_sample_project

    _shown(studio, qtbot, _canvas(studio))
    write_sample_project(tmp_path / "other", n=1, modality="octa", shape=(32, 32), seed=0)
    first = studio.project.folder
    assert drop_on(_canvas(studio), [tmp_path / "other"])
    qtbot.waitUntil(lambda: studio.project.folder.name == "other", timeout=5000)
    assert napari_open == [] and [layer.name for layer in studio.viewer.layers] == [
        "image", "compare", "probability", "uncertainty", "mask"]
    _shown(studio, qtbot, studio.panels["Project"].list)
    assert drop_on(studio.panels["Project"].list.viewport(), [first])
    qtbot.waitUntil(lambda: studio.project.folder == first, timeout=5000)


def test_scans_dropped_on_the_image_list_are_added(studio, napari_open, qtbot, scans):
    """The list itself does not take drops: Qt hands them to the Project panel (the list's parent that does)."""
    lst = studio.panels["Project"].list
    _shown(studio, qtbot, lst)
    before = len(studio.project.images)
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000):
        assert drop_on(lst.viewport(), scans[:2])
    assert len(studio.project.images) == before + 2 and napari_open == []


def test_a_web_address_dropped_on_the_image_is_napari_s(studio, napari_open, qtbot):
    """Only local files and folders go to the project: a drop carrying a web address stays napari's to open."""
    from qtpy.QtCore import QMimeData, QPoint, Qt, QUrl
    from qtpy.QtGui import QDragEnterEvent, QDropEvent
    from qtpy.QtWidgets import QApplication

    qt_viewer = studio.viewer.window._qt_viewer
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.org/scan.png")])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(qt_viewer, QDragEnterEvent(QPoint(5, 5), *args))
    QApplication.sendEvent(qt_viewer, QDropEvent(QPoint(5, 5).toPointF(), *args))
    assert napari_open == [["https://example.org/scan.png"]]
    assert not studio.io_runner.running and np.all([r.state for r in studio.project.images])


def test_gray_scans_added_to_a_fundus_project_ask_to_check_its_modality(studio, said, qtbot, monkeypatch, tmp_path):
    """The sample project is a fundus one; OCT-A scans (gray) dropped on it: the status line and a message say that a
    fundus project takes them as photographs (``Project.add_images``' ``modality_note``)."""
    from PIL import Image

    from vessel_studio.gui import dialogs as dialogs_module

    told = []
    monkeypatch.setattr(dialogs_module, "info", lambda parent, title, text: told.append((title, text)))
    folder = tmp_path / "octa"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (48, 48), dtype=np.uint8)).save(folder / f"{i}.png")
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000):
        assert studio.panels["Project"].dropped([str(folder)])
    ((title, text),) = told
    assert title == "Check the project's modality"
    assert text.startswith("all 2 images are gray (one channel), as OCT-A scans are, but this is a fundus project")
    assert any(s.startswith("added 2 image(s); all 2 images are gray") for s in said)


def test_a_dropped_folder_of_subfolders_is_named(studio, dialogs, qtbot, tmp_path, scans):
    """A scanner's export folder of one subfolder per patient, dropped: "Cannot add images" names it (the window
    said "added 0 image(s)" before session 40)."""
    (tmp_path / "export" / "patient-1").mkdir(parents=True)
    shutil.copy(scans[0], tmp_path / "export" / "patient-1")
    before = len(studio.project.images)
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000):
        assert studio.panels["Project"].dropped([str(tmp_path / "export")])
    ((title, text),) = dialogs.errors
    assert title == "Cannot add images" and text.startswith(f"{tmp_path / 'export'}: folder holds no image files")
    assert len(studio.project.images) == before


def test_a_project_folder_dropped_with_other_files_is_named(studio, dialogs, qtbot, tmp_path, scans):
    """A project folder dropped together with scans: it is named as a project folder to drop alone, and nothing is
    added (before, the add failed saying the folder "holds no image files", which did not say why)."""
    from vessel_studio.samples import write_sample_project

    write_sample_project(tmp_path / "other", n=1, modality="fundus", shape=(32, 32), seed=0)
    before, folder = len(studio.project.images), studio.project.folder
    assert studio.panels["Project"].dropped([str(tmp_path / "other"), str(scans[0])]) is False
    ((title, text),) = dialogs.errors
    assert title == "Cannot add images" and text.startswith(f"{tmp_path / 'other'}: a project folder")
    assert "drop it alone to open it" in text
    assert len(studio.project.images) == before and studio.project.folder == folder and not studio.io_runner.running
