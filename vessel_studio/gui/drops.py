"""Files and folders dropped on the Vessel Studio window: on the Project panel's image list and on the image (napari's
canvas), they go to the open project (``Studio.dropped``: a project folder alone is opened, else the images are added,
with the Project panel's progress and Cancel).

napari opens what is dropped on its canvas as layers: in the Vessel Studio window a dropped scan asked "Choose reader"
(napari's reader and Vessel Studio's both read PNG), then became a layer over the Review panel's, hiding the image
and the mask under it and taking the active layer from the mask (whose brush then painted nothing); a dropped folder
asked the same, and a drop with a non-image file in it raised napari's "No plugin found capable of reading …" (QA,
session 40). :func:`route_canvas_drops` hands such drops to the studio instead; a drop of anything but local files (a
web address) still goes to napari.
"""

from __future__ import annotations

import weakref


def local_paths(mime) -> list[str]:
    """The local files and folders a drop carries, or [] when it carries none or anything else too (a web address:
    napari's to open)."""
    if mime is None or not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(u.isLocalFile() for u in urls):
        return []
    return [u.toLocalFile() for u in urls]


def _filter_class():
    from qtpy.QtCore import QEvent, QObject, QTimer

    class CanvasDrops(QObject):
        """An event filter on napari's QtViewer (the canvas and what is around it): a drag of local files is accepted
        here, and dropped, handed to ``Studio.dropped`` once the drop has returned (its questions and dialogs would
        otherwise open inside the drop, the file manager waiting on them). Holds the studio weakly."""

        KINDS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)

        def __init__(self, studio, widget):
            super().__init__(widget)
            self._studio = weakref.ref(studio)
            widget.installEventFilter(self)

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
            if event.type() not in self.KINDS:
                return False
            studio = self._studio()
            paths = local_paths(event.mimeData()) if studio is not None else []
            if not paths:
                return False  # napari's (a web address)
            event.acceptProposedAction()
            if event.type() == QEvent.Type.DragEnter:  # napari's line here ("Hold <Alt> key to open plugin selection…")
                studio.status.emit("drop image files or folders to add them to the project, or a project folder to "
                                   "open it")
            elif event.type() == QEvent.Type.Drop:
                QTimer.singleShot(0, lambda: studio.dropped(paths))
            return True

    return CanvasDrops


def route_canvas_drops(studio, qt_viewer):
    """Send the local files dropped on ``qt_viewer`` (napari's QtViewer) to ``studio.dropped`` rather than napari's
    readers; return the filter."""
    return _filter_class()(studio, qt_viewer)
