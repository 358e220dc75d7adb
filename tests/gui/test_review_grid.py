"""The Review panel's "Side by side (grid)" and the mask's tools (session 36).

napari (0.9) hands a press in any cell of the grid to the active layer, at the world position under the cursor in
that cell: with "Side by side" on, a brush stroke over the image's cell painted the mask there, out of sight (the
mask is drawn in its own cell), and an "Erase piece" click there erased a piece of it. The mask's tools now act
in the mask's cell only. The strokes are Qt mouse events sent to the shown window's canvas (Qt, vispy, napari's
grid cell lookup and callbacks, as a real mouse)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _cell_of(viewer, name):
    return viewer.canvas.grid.position(viewer.layers.index(viewer.layers[name]), viewer.layers)


def _stroke(viewer, qtbot, cell, points, button=1):
    """A press (``button`` 1 left, 2 right) over the image's pixel ``points[0]`` (row, col) in the grid cell ``cell`` (row, col),
    moves through the other points there, and a release at the last (``cell`` is ignored with the grid off)."""
    from qtpy.QtCore import QEvent, QPointF, Qt
    from qtpy.QtGui import QMouseEvent
    from qtpy.QtWidgets import QApplication

    vispy = viewer.window._qt_viewer.canvas
    widget = vispy._scene_canvas.native
    if viewer.canvas.grid.enabled:
        cells = [c for c, _ in viewer.canvas.grid.iter_viewboxes(viewer.layers)]
        view = vispy.grid_views[cells.index(cell)]
    else:
        view = vispy.view
    left = Qt.MouseButton.LeftButton if button == 1 else Qt.MouseButton.RightButton
    none, mods = Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier

    def at(point):
        xy = (view.transform * view.scene.transform).map([point[1], point[0], 0, 1])
        return QPointF(float(xy[0] / xy[3]), float(xy[1] / xy[3]))

    def send(kind, pos, changed, held):
        QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), changed, held, mods))

    send(QEvent.Type.MouseButtonPress, at(points[0]), left, left)
    for p in points[1:]:
        qtbot.wait(5)  # sent with no pause between them, the moves painted nothing
        send(QEvent.Type.MouseMove, at(p), none, left)
    send(QEvent.Type.MouseButtonRelease, at(points[-1]), left, none)
    qtbot.wait(10)


def test_side_by_side_the_mask_is_edited_in_its_own_cell_only(studio, qtbot):
    review, viewer = studio.panels["Review"], studio.viewer
    said = []
    studio.status.connect(said.append)
    layer = review.mask_layer
    window = viewer.window._qt_window
    window.show()
    window.resize(1900, 1500)  # the canvas gets room beside the docks: cells of some size
    review.side_by_side.setChecked(True)
    qtbot.wait(100)
    image_cell, mask_cell = _cell_of(viewer, "image"), _cell_of(viewer, "mask")
    assert image_cell != mask_cell
    review.btn_paint.click()
    layer.brush_size = 3
    before = layer.data.copy()
    line = [(20, 20), (20, 30), (20, 40)]
    _stroke(viewer, qtbot, image_cell, line)  # before: painted the mask at rows 19-21, cols 19-41
    assert np.allclose(viewer.cursor.position[-2:], (20, 40), atol=0.5)  # napari saw the stroke there
    assert np.array_equal(layer.data, before) and not review.dirty
    assert said[-1].startswith("Side by side: the mask is edited in its own cell only")
    _stroke(viewer, qtbot, mask_cell, line)  # in the mask's cell the brush paints where it is
    assert (layer.data[20, 20:41] > 0).all() and review.dirty
    painted = layer.data.copy()
    ring = [(70, 20), (70, 40), (90, 40), (90, 20), (70, 20)]  # napari's right-button encircle-and-fill stroke
    _stroke(viewer, qtbot, image_cell, ring, button=2)
    assert np.array_equal(layer.data, painted)

    review.btn_erase.click()
    _stroke(viewer, qtbot, image_cell, line)
    assert np.array_equal(layer.data, painted)

    review.btn_piece.click()  # Erase piece: a click over the image's cell erases nothing either
    said.clear()
    _stroke(viewer, qtbot, image_cell, [(20, 30)])
    assert np.array_equal(layer.data, painted)
    assert said and said[-1].startswith("Side by side: the mask is edited in its own cell only")
    _stroke(viewer, qtbot, mask_cell, [(20, 30)])
    assert not (layer.data > 0).any() and any("erased a piece" in s for s in said)

    review.side_by_side.setChecked(False)  # one view: the brush paints wherever it is, as before
    review.btn_paint.click()
    qtbot.wait(50)
    _stroke(viewer, qtbot, (0, 0), [(60, 20), (60, 30)])
    assert (layer.data[60, 20:31] > 0).all()


def _double_click(viewer, qtbot, cell, point):
    """A left double-click over the image's pixel ``point`` in the grid cell ``cell``, as Qt delivers one: press,
    release, double-click, release."""
    from qtpy.QtCore import QEvent, QPointF, Qt
    from qtpy.QtGui import QMouseEvent
    from qtpy.QtWidgets import QApplication

    vispy = viewer.window._qt_viewer.canvas
    widget = vispy._scene_canvas.native
    cells = [c for c, _ in viewer.canvas.grid.iter_viewboxes(viewer.layers)]
    view = vispy.grid_views[cells.index(cell)]
    xy = (view.transform * view.scene.transform).map([point[1], point[0], 0, 1])
    pos = QPointF(float(xy[0] / xy[3]), float(xy[1] / xy[3]))
    left, none, mods = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    for kind, changed, held in ((QEvent.Type.MouseButtonPress, left, left), (QEvent.Type.MouseButtonRelease, left, none),
                                (QEvent.Type.MouseButtonDblClick, left, left),
                                (QEvent.Type.MouseButtonRelease, left, none)):
        QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), changed, held, mods))
    qtbot.wait(10)


def test_side_by_side_a_polygon_is_finished_in_the_masks_own_cell_only(studio, qtbot):
    """Session 36 left it: napari's polygon tool adds a vertex at each click (a press: kept to the mask's cell) and
    finishes the polygon, painting it, at a double-click, whose callbacks were run in any cell: a double-click over
    the image's cell painted the mask (out of sight). It does nothing there now; in the mask's cell it finishes it."""
    review, viewer = studio.panels["Review"], studio.viewer
    said = []
    studio.status.connect(said.append)
    layer = review.mask_layer
    window = viewer.window._qt_window
    window.show()
    window.resize(1900, 1500)
    review.side_by_side.setChecked(True)
    qtbot.wait(100)
    image_cell, mask_cell = _cell_of(viewer, "image"), _cell_of(viewer, "mask")
    layer.mode = "polygon"
    before = layer.data.copy()
    for point in ((20, 20), (20, 60), (60, 60)):
        _stroke(viewer, qtbot, mask_cell, [point])
    said.clear()
    _double_click(viewer, qtbot, image_cell, (60, 20))
    assert np.array_equal(layer.data, before) and not review.dirty
    assert said and said[-1].startswith("Side by side: the mask is edited in its own cell only")
    _double_click(viewer, qtbot, mask_cell, (60, 20))
    assert (layer.data[40, 30:50] > 0).all() and review.dirty
