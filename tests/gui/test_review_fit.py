"""The image on screen stays fitted in view when the canvas changes size before the user zooms or pans.

Session 39 QA (the guide's "Each image is shown whole, fitted in view"): ``vessel-studio gui PROJECT`` showed
the first image fitted to the canvas as it was while the window was being built (752 px wide), and the docks
sized when the window was first shown then left the canvas narrower (91 px in the window's 1089 px): the
first image came up zoomed in about 7 times, a crop of it on screen, until the user stepped to another image.
A dock growing or the window resized did the same to any image shown. The Review panel now fits the image again
when the canvas is resized, unless the view was zoomed or panned since the fit (then it stays as the user left it).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def _shown_window(studio, qtbot, size):
    window = studio.viewer.window._qt_window
    window.show()
    window.resize(*size)
    qtbot.waitExposed(window)
    qtbot.wait(50)
    return window


def _canvas(studio):
    return studio.viewer.window._qt_viewer.canvas._scene_canvas.native


def _camera(viewer):
    from vessel_studio.gui.review_layers import camera_of

    return camera_of(viewer)


def _fitted_zoom(viewer) -> float:
    """The zoom a fit gives at the canvas's size now (the view is put back as it was)."""
    camera = _camera(viewer)
    center, zoom = tuple(camera.center), camera.zoom
    viewer.reset_view()
    fitted = camera.zoom
    camera.center, camera.zoom = center, zoom
    return fitted


def test_the_image_is_fitted_again_when_the_canvas_shrinks(studio, qtbot):
    review, viewer = studio.panels["Review"], studio.viewer
    window = _shown_window(studio, qtbot, (1600, 1000))
    review.next()  # shown (and fitted) at this canvas size
    qtbot.waitUntil(lambda: review.image is not None, timeout=5000)
    canvas = _canvas(studio)
    wide, zoom_wide = canvas.width(), _camera(viewer).zoom
    assert zoom_wide == pytest.approx(_fitted_zoom(viewer))
    window.resize(1100, 700)  # the docks keep their width: the canvas gets narrower
    qtbot.waitUntil(lambda: canvas.width() < wide - 100, timeout=5000)
    qtbot.wait(100)
    assert _camera(viewer).zoom == pytest.approx(_fitted_zoom(viewer))
    assert _camera(viewer).zoom < zoom_wide  # the whole image in the smaller canvas, not a crop of it


def test_a_view_the_user_zoomed_stays_when_the_canvas_changes(studio, qtbot):
    review, viewer = studio.panels["Review"], studio.viewer
    window = _shown_window(studio, qtbot, (1600, 1000))
    review.next()
    qtbot.waitUntil(lambda: review.image is not None, timeout=5000)
    canvas = _canvas(studio)
    wide = canvas.width()
    _camera(viewer).zoom = _camera(viewer).zoom * 3  # the user zooms in on a vessel
    zoomed = _camera(viewer).zoom
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: canvas.width() < wide - 100, timeout=5000)
    qtbot.wait(100)
    assert _camera(viewer).zoom == pytest.approx(zoomed)
    shown = review.image_id
    review.next()  # an image of the same size keeps the user's view (test_review_qa_viewing: the zoom kept)
    qtbot.waitUntil(lambda: review.image_id != shown and review.image is not None, timeout=5000)
    assert _camera(viewer).zoom == pytest.approx(zoomed)
    window.resize(1400, 900)  # and the canvas changing size again does not fit it
    qtbot.wait(150)
    assert _camera(viewer).zoom == pytest.approx(zoomed)
