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


def _shown(studio, qtbot, widget, least: int = 50):
    """The window shown at the size the app opens it (``app.LAUNCH_SIZE``), ``widget`` in view (the Project panel
    scrolled to it), laid out; ``widget`` at least ``least`` pixels wide and high."""
    from qtpy.QtWidgets import QScrollArea

    from vessel_studio.gui.app import LAUNCH_SIZE

    window = studio.viewer.window._qt_window
    window.resize(*LAUNCH_SIZE)
    window.show()
    qtbot.waitUntil(lambda: widget.isVisible() and widget.width() > least and widget.height() > least, timeout=15000)
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

    qtbot.waitUntil(reaches, timeout=15000)


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
    qtbot.waitUntil(lambda: studio.project.folder.name == "other", timeout=15000)
    assert napari_open == [] and [layer.name for layer in studio.viewer.layers] == [
        "image", "compare", "probability", "uncertainty", "mask"]
    _shown(studio, qtbot, studio.panels["Project"].list)
    assert drop_on(studio.panels["Project"].list.viewport(), [first])
    qtbot.waitUntil(lambda: studio.project.folder == first, timeout=15000)


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


# --- session 41: the other panels, the drag's status line, napari's File > Open ----------------------------------


def _scrolled_to(studio, qtbot, name, widget):
    """``widget`` of the panel ``name`` in view: its dock raised (Adaptation is tabbed under Project, Export under
    Review), the panel scrolled to it. The dock is raised once the window has been shown and its docks sized
    (``app._size_docks_when_shown``): raised before the window's first show, the Adaptation tab was not the one shown
    when the test ran alone (its dock laid out off the window), while in the full run it was. The dock sizing raises
    the Project tab again on a short screen (``tab_layers_if_short``) from zero timers that a loaded machine runs
    later than 50 ms after the show (a full run failed so), so the dock is raised until the widget is in view."""
    from qtpy.QtWidgets import QScrollArea

    from vessel_studio.gui.app import LAUNCH_SIZE

    window = studio.viewer.window._qt_window
    window.resize(*LAUNCH_SIZE)
    window.show()
    qtbot.waitUntil(window.isVisible, timeout=15000)
    scroll = widget.parentWidget()
    while scroll is not None and not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()

    def in_view():
        studio.docks[name].raise_()
        if scroll is not None:
            scroll.ensureWidgetVisible(widget)
        return widget.isVisible() and not widget.visibleRegion().isEmpty()

    # 15 s: a run of tests/gui beside other jobs (load 3-4 on the 2 cores) timed out once at 5 s (session 42)
    qtbot.waitUntil(in_view, timeout=15000)
    qtbot.wait(100)  # the dock sizing's timers have run by now; in view after them too
    qtbot.waitUntil(in_view, timeout=15000)
    _shown(studio, qtbot, widget, least=10)


def drag_over(studio, widget, paths):
    """Drag ``paths`` over the middle of ``widget`` and away again without a drop (as Qt delivers it: an enter and a
    move to the widget taking drops there, then a leave); the status line while over it, and whether it took them."""
    from qtpy.QtCore import QMimeData, Qt, QUrl
    from qtpy.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent
    from qtpy.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    window = widget.window()
    at = widget.mapToGlobal(_drop_point(widget))
    target = _target(window, window.mapFromGlobal(at))
    local = target.mapFromGlobal(at)
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction
    args = (mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(local, actions, *args)
    QApplication.sendEvent(target, enter)
    move = QDragMoveEvent(local, actions, *args)
    move.setAccepted(enter.isAccepted())
    QApplication.sendEvent(target, move)
    line = studio.viewer.status
    QApplication.sendEvent(target, QDragLeaveEvent())
    return line, enter.isAccepted() and move.isAccepted()


def test_scans_dropped_on_the_review_or_the_adaptation_panel_are_added(studio, napari_open, qtbot, scans):
    """Session 40 QA: a drop on the Review, Adaptation or Export panel was refused (the "no" cursor: only the Project
    panel and the image took drops). The Review panel and the Adaptation panel (outside its "Labelled source images"
    box) take them as the image list does."""
    before = len(studio.project.images)
    for (name, widget), scan in zip((("Review", studio.panels["Review"]),
                                     ("Adaptation", studio.panels["Adaptation"].btn_run)), scans):
        _scrolled_to(studio, qtbot, name, widget)
        with qtbot.waitSignal(studio.io_runner.finished, timeout=30000) as done:
            assert drop_on(widget, [scan]), name
        assert done.args[0].status == "done", done.args[0].error
    assert len(studio.project.images) == before + 2 and napari_open == []
    assert [layer.name for layer in studio.viewer.layers] == ["image", "compare", "probability", "uncertainty", "mask"]


def test_scans_dropped_on_napari_s_layer_list_or_layer_controls_are_added(studio, napari_open, qtbot, scans):
    """Session 42: napari's layer list and layer controls refused dropped files without a word (the "no" cursor); on
    a narrow screen they are tabs beside the panels (one column). They take them as the panels do."""
    qt_viewer = studio.viewer.window._qt_viewer
    before = len(studio.project.images)
    from vessel_studio.gui.app import LAUNCH_SIZE

    window = studio.viewer.window._qt_window
    window.resize(*LAUNCH_SIZE)
    window.show()
    # the rows of the layer list (its viewport: Qt 6 delivers a drag there, the list taking drags itself), and the
    # layer controls (a drag there reaches their dock)
    for widget, scan in zip((qt_viewer.layers.viewport(), qt_viewer.dockLayerControls.widget()), scans):
        qtbot.waitUntil(lambda w=widget: w.isVisible() and not w.visibleRegion().isEmpty(), timeout=15000)
        with qtbot.waitSignal(studio.io_runner.finished, timeout=30000) as done:
            assert drop_on(widget, [scan]), widget
        assert done.args[0].status == "done", done.args[0].error
    assert len(studio.project.images) == before + 2 and napari_open == []
    assert [layer.name for layer in studio.viewer.layers] == ["image", "compare", "probability", "uncertainty", "mask"]


def test_a_drop_on_the_source_box_or_the_export_panel_is_refused_saying_where_to_drop(studio, napari_open, qtbot,
                                                                                    scans):
    """A folder dropped on the Adaptation panel's "Labelled source images" box may be meant as the source images, and
    one dropped on the Export panel as the export folder: added to the project as target scans they would be a bad
    surprise. They are refused, and the status line says where target scans go and how those are chosen."""
    before = len(studio.project.images)
    folder = scans[0].parent
    for name, widget, start in (
            ("Adaptation", studio.panels["Adaptation"].source, "the labelled source images are chosen with Choose "
                                                               "images… here: drop target scans on the image, "),
            ("Export", studio.panels["Export"], "the Export panel takes no dropped files (Export… chooses the folder): "
                                                "drop target scans on the image, ")):
        _scrolled_to(studio, qtbot, name, widget)
        studio.viewer.status = "Ready"
        line, taken = drag_over(studio, widget, [folder])
        assert line.startswith(start) and not taken, name
        assert studio.viewer.status == "Ready"
        assert not drop_on(widget, [folder]), name
    qtbot.wait(50)
    assert not studio.io_runner.running and len(studio.project.images) == before and napari_open == []


def test_the_drag_line_goes_when_the_drag_leaves_without_a_drop(studio, napari_open, qtbot, scans):
    """Session 40 QA: the status line said while files were dragged over the image ("drop image files or folders to
    add them …") stayed after the drag left the window without a drop; what was there before comes back."""
    line = "drop image files or folders to add them to the project, or a project folder to open it"
    for name, widget in (("Review", _canvas(studio)), ("Project", studio.panels["Project"].list.viewport()),
                         ("Review", studio.panels["Review"])):
        _scrolled_to(studio, qtbot, name, widget)
        studio.viewer.status = "added 3 image(s)"
        assert drag_over(studio, widget, scans[:1]) == (line, True)
        assert studio.viewer.status == "added 3 image(s)"
    assert napari_open == [] and not studio.io_runner.running


@pytest.fixture
def file_menu(studio, monkeypatch):
    """napari's File menu of the studio's window: ``file_menu("Open File(s)...", [paths])`` chooses ``paths`` in its
    file dialog (``Open Folder...``: one folder) and runs the menu's action, as a person does."""
    from qtpy.QtWidgets import QFileDialog

    import napari._qt.qt_viewer as napari_qt_viewer

    monkeypatch.setattr(napari_qt_viewer, "update_open_history", lambda *a, **k: None)  # napari's settings
    chosen: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (list(chosen), "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: chosen[0]))

    def run(title, paths):
        chosen[:] = [str(p) for p in paths]
        (action,) = [a for a in studio.viewer.window.file_menu.actions() if a.text().replace("&", "") == title]
        action.trigger()

    return run


@pytest.fixture
def asked(monkeypatch):
    """The studio's "Add to the project?" question (``dialogs.add_or_open``): its texts; the answer set in
    ``asked.answer``."""
    from vessel_studio.gui import dialogs as dialogs_module

    class Asked(list):
        answer = "add"

    rec = Asked()

    def add_or_open(parent, title, text):
        rec.append(text)
        return rec.answer

    monkeypatch.setattr(dialogs_module, "add_or_open", add_or_open)
    return rec


def test_scans_opened_with_napari_s_file_menu_are_offered_to_the_project(studio, napari_open, asked, file_menu,
                                                                          qtbot, scans, tmp_path):
    """Session 41 QA: napari's own File > Open File(s)… and Open Folder… in the studio's window sent the scans to
    napari's readers ("Choose reader", then layers over the Review panel's image and mask, the mask no longer the
    selected layer), as drops on the image did before session 40. With a project open they are offered to it now:
    "Add to project" adds them as Add images… does, "Open as layers" lets napari open them, Cancel does neither.
    Run through the menu's own actions: a napari whose File > Open no longer goes through ``QtViewer._qt_open`` (the
    private method ``gui.drops.route_file_opens`` wraps) fails here."""
    assert getattr(studio.viewer.window._qt_viewer._qt_open, "vessel_studio", False)
    layers = [layer.name for layer in studio.viewer.layers]
    before = len(studio.project.images)
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000) as done:
        file_menu("Open File(s)...", scans[:2])
    assert done.args[0].status == "done", done.args[0].error
    assert napari_open == [] and len(studio.project.images) == before + 2
    assert asked[0].startswith(f"napari's File menu opens 2 image file(s): {scans[0].name}, {scans[1].name}. Add them "
                               f"to the project {studio.project.name}")
    assert [layer.name for layer in studio.viewer.layers] == layers
    assert studio.viewer.layers.selection.active.name == "mask"
    # a folder of scans
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(scans[2], folder)
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000):
        file_menu("Open Folder...", [folder])
    assert len(studio.project.images) == before + 3 and asked[1].startswith(
        f"napari's File menu opens the images of {folder}.")
    # Open as layers: napari's, as before; Cancel: nothing
    asked.answer = "open"
    file_menu("Open Files as Stack...", scans[:1])
    assert napari_open == [[str(scans[0])]]
    asked.answer = "cancel"
    file_menu("Open File(s)...", scans[1:2])
    assert napari_open == [[str(scans[0])]] and len(asked) == 4
    qtbot.wait(50)
    assert not studio.io_runner.running and len(studio.project.images) == before + 3


def test_napari_s_file_menu_keeps_other_files_and_a_window_without_project(studio, napari_open, asked, file_menu,
                                                                          qtbot, scans, tmp_path):
    """What is not a scan (a ``.npy``, a folder without images) goes to napari's readers as before, unasked, and so do
    scans when no project is open; a project folder chosen with Open Folder… is opened, as dropped."""
    from vessel_studio.samples import write_sample_project

    npy = tmp_path / "points.npy"
    np.save(npy, np.zeros((4, 4)))
    file_menu("Open File(s)...", [npy])
    file_menu("Open File(s)...", [scans[0], npy])
    (tmp_path / "empty").mkdir()
    file_menu("Open Folder...", [tmp_path / "empty"])
    assert napari_open == [[str(npy)], [str(scans[0]), str(npy)], [str(tmp_path / "empty")]] and asked == []
    write_sample_project(tmp_path / "other", n=1, modality="octa", shape=(32, 32), seed=0)
    file_menu("Open Folder...", [tmp_path / "other"])
    assert studio.project.folder.name == "other" and len(napari_open) == 3 and asked == []
    studio.project = None  # as in a window opened without a project
    file_menu("Open File(s)...", scans[:1])
    assert napari_open[-1] == [str(scans[0])] and asked == []


def test_a_file_named_in_latin1_dropped_from_a_file_manager_is_found(tmp_path):
    """Session 49 QA: a file manager gives a file named in Latin-1 (an old archive's "Jérôme.png" on a UTF-8 disk) as
    its bytes percent-encoded, ``file:///…/J%E9r%F4me.png``, which Qt's ``toLocalFile`` decodes as UTF-8 to
    "J\\ufffdr\\ufffdme.png": no such file, and the drop's add failed. Its path is taken from the address's bytes now;
    a UTF-8 name (percent-encoded too) and a missing file come as before."""
    import os
    from urllib.parse import quote_from_bytes

    from qtpy.QtCore import QMimeData, QUrl

    from vessel_studio.gui.drops import local_paths

    latin1 = os.fsencode(tmp_path) + b"/J\xe9r\xf4me.png"
    utf8 = tmp_path / "Université de Genève 眼底 #1 100%.png"
    for path in (latin1, utf8):
        with open(path, "wb") as f:
            f.write(b"png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromEncoded(b"file://" + quote_from_bytes(latin1).encode()), QUrl.fromLocalFile(str(utf8)),
                  QUrl.fromEncoded(b"file://" + quote_from_bytes(os.fsencode(tmp_path) + b"/gone\xe9.png").encode())])
    got = local_paths(mime)
    assert got[:2] == [os.fsdecode(latin1), str(utf8)] and all(os.path.isfile(p) for p in got[:2])
    assert got[2] == str(tmp_path / "gone\ufffd.png")
