"""Files and folders brought into the Vessel Studio window: dropped on it, or chosen with napari's own File > Open….

Dropped on the Project panel (its image list), on the image (napari's canvas), on the Review panel or on napari's layer
list and layer controls (session 42), they go to the open project (``Studio.dropped``: a project folder alone is opened, else the images are added, with the Project
panel's progress and Cancel). The Adaptation panel's "Labelled source images" box and the Export panel refuse them,
saying in the status line where to drop (a folder dropped there may be meant as the source images or the export
folder: added as target images it would be a bad surprise); the rest of the Adaptation panel takes them. While files
are dragged over the window the status line says what a drop does there, and what it said before comes back when the
drag leaves without a drop (session 40 QA: the drag's line stayed).

napari opens what is dropped on its canvas as layers: in the Vessel Studio window a dropped scan asked "Choose reader"
(napari's reader and Vessel Studio's both read PNG), then became a layer over the Review panel's, hiding the image
and the mask under it and taking the active layer from the mask (whose brush then painted nothing); a dropped folder
asked the same, and a drop with a non-image file in it raised napari's "No plugin found capable of reading …" (QA,
session 40). :func:`route_drops` hands such drops to the studio instead; a drop of anything but local files (a web
address) still goes to napari. Session 40 QA left the other docked panels refusing drops (the "no" cursor).

napari's File > Open File(s)…, Open Files as Stack… and Open Folder… did the same as a drop (session 41 QA: "Choose
reader", then layers over the Review panel's). :func:`route_file_opens` asks the studio first
(``Studio.opened``): with a project open, images (files, or a folder of them) are offered to the project ("Add to
project", "Open as layers" as before, Cancel), and a project folder is opened; other files (a ``.npy``, a points
file), "Open with Plugin", or no project open: napari's, as before. It relies on one private napari method,
``QtViewer._qt_open(filenames, stack, choose_plugin=False, plugin=None, layer_type=None, **kwargs)``, through which
every one of napari's File > Open actions opens (napari 0.9): a napari without it makes ``route_file_opens`` raise,
and ``tests/gui/test_window_drop.py`` fails, rather than the menu silently opening layers again.
"""

from __future__ import annotations

import weakref

#: the status line while local files are dragged over a place that takes them
DROP_LINE = "drop image files or folders to add them to the project, or a project folder to open it"
#: ... over the Adaptation panel's "Labelled source images" box, and over the Export panel, which refuse them
SOURCE_LINE = ("the labelled source images are chosen with Choose images… here: drop target scans on the image, the "
               "Project panel's list or the Review panel to add them to the project")
EXPORT_LINE = ("the Export panel takes no dropped files (Export… chooses the folder): drop target scans on the image, "
               "the Project panel's list or the Review panel to add them to the project")


def local_paths(mime) -> list[str]:
    """The local files and folders a drop carries, or [] when it carries none or anything else too (a web address:
    napari's to open)."""
    if mime is None or not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(u.isLocalFile() for u in urls):
        return []
    return [_local_file(u) for u in urls]


def _local_file(url) -> str:
    """The local path of a ``file://`` address. A file named in another encoding than UTF-8 (an old archive's Latin-1
    "Jérôme.png") comes from a file manager as its bytes, percent-encoded (``J%E9r%F4me.png``), which ``toLocalFile``
    decodes as UTF-8: "J\ufffdr\ufffdme.png", a file that does not exist (session 49 QA). Such a path is taken from the
    address's bytes, as Python names the file (``os.fsdecode``), when that file exists."""
    import os
    from urllib.parse import unquote_to_bytes

    from qtpy.QtCore import QUrl

    path = url.toLocalFile()
    if "\ufffd" in path and not os.path.exists(path) and not url.host():
        raw = os.fsdecode(unquote_to_bytes(url.path(QUrl.ComponentFormattingOption.FullyEncoded)))
        if os.path.exists(raw):
            return raw
    return path


def _filter_class():
    from qtpy.QtCore import QEvent, QObject, QTimer

    class Drops(QObject):
        """An event filter on a widget of the window (napari's QtViewer: the canvas and what is around it; a panel's
        dock; the Project panel): a drag of local files is accepted, and dropped, handed to ``Studio.dropped`` once
        the drop has returned (its questions and dialogs would otherwise open inside the drop, the file manager
        waiting on them). Over the ``refused`` widgets (inside ``widget``) the drag is refused (the "no" cursor; it
        is accepted at its enter so that it does not go on to the parents, which may take it) and ``refused_line``
        is said. The status line said before the drag comes back when the drag leaves. Holds the studio weakly."""

        KINDS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)

        def __init__(self, studio, widget, refused=(), refused_line: str = ""):
            super().__init__(widget)
            self._studio = weakref.ref(studio)
            self._widget = weakref.ref(widget)
            self._refused = [weakref.ref(w) for w in refused]
            self._refused_line = refused_line
            self._said: str | None = None  # the line this filter put in the status bar, while the drag is over
            self._before = ""  # the status line before it
            widget.setAcceptDrops(True)
            widget.installEventFilter(self)

        def _over_refused(self, event) -> bool:
            widget = self._widget()
            if widget is None or not self._refused:
                return False
            pos = event.position().toPoint()
            child = widget.childAt(pos)
            for ref in self._refused:
                w = ref()
                if w is not None and (w is widget or (child is not None and (child is w or w.isAncestorOf(child)))):
                    return True
            return False

        def _say(self, studio, line: str) -> None:
            if self._said is None:
                self._before = self._status(studio)
            if self._said != line:
                studio.status.emit(line)
                self._said = line

        @staticmethod
        def _status(studio) -> str:
            try:
                return str(studio.viewer.status)
            except (AttributeError, RuntimeError):  # a closed viewer
                return ""

        def _leave(self) -> None:
            """The drag left (or was dropped): the status line said before it, unless something else was said
            meanwhile."""
            studio, said = self._studio(), self._said
            self._said = None
            if studio is not None and said is not None and self._status(studio) == said:
                studio.status.emit(self._before)

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
            kind = event.type()
            if kind == QEvent.Type.DragLeave:
                self._leave()
                return False
            if kind not in self.KINDS:
                return False
            studio = self._studio()
            paths = local_paths(event.mimeData()) if studio is not None else []
            if not paths:
                return False  # napari's (a web address)
            if kind == QEvent.Type.DragEnter:
                event.acceptProposedAction()  # this widget is the drag's target from now on, refused parts or not
            if self._over_refused(event):
                if kind != QEvent.Type.DragEnter:
                    event.ignore()  # the "no" cursor; a drop here is not taken
                self._say(studio, self._refused_line)
                if kind == QEvent.Type.Drop:
                    self._leave()
                return True
            event.acceptProposedAction()
            if kind == QEvent.Type.Drop:
                self._leave()  # the drop's own lines follow ("adding images: …", "added 3 image(s)")
                QTimer.singleShot(0, lambda: studio.dropped(paths))
            else:  # napari's line here ("Hold <Alt> key to open plugin selection…")
                self._say(studio, DROP_LINE)
            return True

    return Drops


def route_drops(studio, widget, refused=(), refused_line: str = ""):
    """Send the local files dropped on ``widget`` (napari's QtViewer, a dock, a panel) to ``studio.dropped`` rather
    than napari's readers or nobody, except over the ``refused`` widgets (``refused_line`` is said there); return
    the filter."""
    return _filter_class()(studio, widget, refused, refused_line)


def route_file_opens(studio, qt_viewer) -> None:
    """Have napari's File > Open… actions of this window (``qt_viewer``: its QtViewer) ask ``studio.opened`` first:
    True there means the studio took the files (or the person cancelled); else napari opens them as before. Raises
    AttributeError when napari has no ``QtViewer._qt_open`` (a napari this was not made for)."""
    import inspect

    napari_open = type(qt_viewer)._qt_open
    params = list(inspect.signature(napari_open).parameters)
    if params[:4] != ["self", "filenames", "stack", "choose_plugin"]:
        raise AttributeError(f"napari's QtViewer._qt_open takes {params}, not (self, filenames, stack, choose_plugin, "
                             "…): Vessel Studio cannot route napari's File > Open")
    studio_ref, viewer_ref = weakref.ref(studio), weakref.ref(qt_viewer)

    def _qt_open(filenames, stack=False, choose_plugin=False, plugin=None, layer_type=None, **kwargs):
        studio, viewer = studio_ref(), viewer_ref()
        # "Open with Plugin" (choose_plugin), or a plugin or layer type named by the caller: napari's
        if (studio is not None and not choose_plugin and plugin is None and layer_type is None
                and studio.opened(list(filenames))):
            return None
        return type(viewer)._qt_open(viewer, filenames, stack, choose_plugin=choose_plugin, plugin=plugin,
                                     layer_type=layer_type, **kwargs)

    _qt_open.vessel_studio = True  # what tests look for
    qt_viewer._qt_open = _qt_open
