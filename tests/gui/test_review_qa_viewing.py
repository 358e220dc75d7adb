"""What the Review panel shows a person doing visual QA of segmentations (session 38 QA of its viewing features):
the vessel measures are those of the mask on screen, also after the Mask threshold redrew it."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import fake_probability

pytestmark = pytest.mark.gui


def _write_source_only(proj, image_id, p):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    write_prob(tasks.source_only_path(proj, image_id), p)


def test_vessel_measures_follow_the_mask_the_threshold_draws(studio, qtbot):
    """"Vessel measures of the mask on screen" (GUIDE): the Mask threshold redraws the mask of an image with no saved
    mask and no edits, but the measures stayed those of the mask drawn at the threshold before (QA, session 38: on
    STARE im0162 the mask at p >= 0.3 covered 0.131 of the field of view while the panel said a vessel density of
    0.109, the mask at p >= 0.5's)."""
    from vessel_studio.gui import tasks

    proj = studio.project
    image_id = proj.images[0].id
    shape = proj.images[0].shape[:2]
    prob = fake_probability(shape, 7)
    _write_source_only(proj, image_id, prob)
    review = studio.panels["Review"]
    review._reload_maps()
    assert review.image_id == image_id and np.array_equal(review.prob, prob)
    fov = review._fov

    def density_shown():
        m = getattr(review, "last_measures", None)
        return None if m is None or "tortuosity" not in review.measures.text() else m["density"]

    want = tasks.measure_image(proj, image_id, prob >= 0.5, fov=fov)["density"]
    qtbot.waitUntil(lambda: density_shown() == pytest.approx(want), timeout=20000)
    before = want
    review.threshold.setValue(0.3)
    mask = review.viewer.layers["mask"].data > 0
    assert np.array_equal(mask, prob >= 0.3)  # the threshold redrew the mask
    want = tasks.measure_image(proj, image_id, mask, fov=fov)["density"]
    assert want > 0.1 + before
    qtbot.waitUntil(lambda: density_shown() == pytest.approx(want), timeout=20000)


def _center_and_extent(viewer):
    """The camera's centre (rows, cols) and the world extent of the image layer, as (2, 2) (min row/col, max)."""
    cam = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    extent = np.asarray(viewer.layers["image"]._extent_data_augmented)[:, -2:]
    return np.asarray(cam.center)[-2:], extent


@pytest.mark.parametrize("wide_first", [False, True])
def test_stepping_to_an_image_of_another_size_fits_it_in_view(studio, tmp_path, qtbot, wide_first):
    """Stepping between images of different sizes (an OCT-A project's 304x304 scans and a 200x250 one; fundus images of
    two cameras) fits the image stepped to in the canvas. Before (QA, session 38), napari's cached extent of the layer
    list was still the previous image's when the view was reset: a smaller image was drawn off-centre in the corner
    of the previous one's frame, a larger one cut off."""
    import imageio.v3 as iio

    proj = studio.project
    small = proj.images[0]
    other = tmp_path / "other.png"
    iio.imwrite(other, (np.random.default_rng(3).uniform(0, 255, (60, 170, 3))).astype(np.uint8))
    proj.add_images([other])
    studio.images_changed.emit()
    review = studio.panels["Review"]
    ids = review.ids()
    wide = next(i for i in ids if proj.image(i).shape[:2] == (60, 170))
    order = [wide, small.id] if wide_first else [small.id, wide]
    for image_id in order:
        studio.select_image(image_id)
        qtbot.wait(50)
        assert review.image_id == image_id
        center, extent = _center_and_extent(studio.viewer)
        assert center == pytest.approx(extent.mean(axis=0), abs=1e-3), (image_id, center, extent)


def _camera(viewer):
    return viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari 0.9 moved it


def _zoom_into(viewer, factor: float = 4.0):
    """Zoom the camera ``factor`` times into a corner of the image (as a reviewer zooms into the optic disc)."""
    cam = _camera(viewer)
    cam.zoom = cam.zoom * factor
    cam.center = (20.0, 70.0)
    return cam.zoom, np.asarray(cam.center)[-2:].copy()


def test_stepping_to_an_image_of_the_same_size_keeps_the_zoom(studio, tmp_path, qtbot):
    """Page Down / Page Up (and the image list) to an image of the same size keep the zoom and pan, as napari's slider
    through a stack or ImageJ's stack stepping do: before (session 39), every step reset the view to fit the image,
    and a reviewer zoomed into a region lost it at each image. An image of another size is fitted, as is the first
    image of a project opened (napari's home button fits at any time)."""
    import imageio.v3 as iio

    from vessel_studio.samples import write_sample_project

    viewer = studio.viewer
    review = studio.panels["Review"]
    ids = review.ids()
    assert review.image_id == ids[0]
    fitted = _camera(viewer).zoom
    zoom, center = _zoom_into(viewer)
    for step in (review.next, review.next, review.previous):
        step()
        qtbot.wait(20)
        assert _camera(viewer).zoom == pytest.approx(zoom)
        assert np.asarray(_camera(viewer).center)[-2:] == pytest.approx(center)
    studio.select_image(ids[0])  # the image list
    assert review.image_id == ids[0]
    assert _camera(viewer).zoom == pytest.approx(zoom)
    # another size: fitted
    other = tmp_path / "other.png"
    iio.imwrite(other, (np.random.default_rng(3).uniform(0, 255, (60, 170, 3))).astype(np.uint8))
    studio.project.add_images([other])
    studio.images_changed.emit()
    wide = next(i for i in review.ids() if studio.project.image(i).shape[:2] == (60, 170))
    studio.select_image(wide)
    assert review.image_id == wide
    center_now, extent = _center_and_extent(viewer)
    assert center_now == pytest.approx(extent.mean(axis=0), abs=1e-3)
    assert _camera(viewer).zoom != pytest.approx(zoom)
    # another project whose images are of the size of the one zoomed into: its first image is fitted
    studio.select_image(ids[0])
    zoom, _ = _zoom_into(viewer)
    folder = tmp_path / "second"
    write_sample_project(folder, n=2, modality="fundus", shape=(96, 96), seed=8)
    assert studio.open_project(folder)
    assert review.image_id == studio.project.images[0].id
    assert _camera(viewer).zoom == pytest.approx(fitted)
    center_now, extent = _center_and_extent(viewer)
    assert center_now == pytest.approx(extent.mean(axis=0), abs=1e-3)


def _measured_density(review):
    """The vessel density the panel shows, or None while none (or only "measuring…") is shown."""
    m = getattr(review, "last_measures", None)
    text = review.measures.text()
    return None if m is None or "tortuosity" not in text or "updating" in text else m["density"]


def _panel_with_prediction(studio, qtbot):
    from vessel_studio.gui import tasks

    proj = studio.project
    image_id = proj.images[0].id
    prob = fake_probability(proj.images[0].shape[:2], 7)
    _write_source_only(proj, image_id, prob)
    review = studio.panels["Review"]
    review._reload_maps()
    want = tasks.measure_image(proj, image_id, prob >= 0.5, fov=review._fov)["density"]
    qtbot.waitUntil(lambda: _measured_density(review) == pytest.approx(want), timeout=20000)
    return review, prob


def test_vessel_measures_follow_unsaved_edits(studio, qtbot):
    """The vessel measures follow the mask's unsaved edits, once the editing pauses (~0.5 s after the last paint, erase
    or Undo), computed in the worker, and say that they are of the unsaved mask. Before (session 39) they were
    measured again only at Save: a corrector painting in a missed vessel saw the measures of the mask before it."""
    from vessel_studio.gui import tasks

    review, prob = _panel_with_prediction(studio, qtbot)
    proj, image_id, fov = studio.project, review.image_id, review._fov
    assert "unsaved" not in review.measures.text()
    layer = review.mask_layer
    layer.brush_size = 9
    for c in range(10, 90, 4):  # a stroke across the image: many paint events, one measure after it
        layer.paint((48, c), 1)
    edited = layer.data > 0
    assert review.dirty
    want = tasks.measure_image(proj, image_id, edited, fov=fov)["density"]
    assert want != pytest.approx(_measured_density(review) or 0)
    qtbot.waitUntil(lambda: _measured_density(review) == pytest.approx(want), timeout=20000)
    assert "of the unsaved mask" in review.measures.text()
    review.undo()  # the panel's Undo (napari's Ctrl+Z too: the layer's set_data event)
    while review.dirty:
        review.undo()
    want = tasks.measure_image(proj, image_id, prob >= 0.5, fov=fov)["density"]
    qtbot.waitUntil(lambda: _measured_density(review) == pytest.approx(want), timeout=20000)
    assert "unsaved" not in review.measures.text()  # back to the mask drawn from the prediction
    layer.paint((20, 20), 1)  # napari's Ctrl+Z: no panel call, the layer's set_data event
    layer.undo()
    qtbot.wait(800)
    assert "unsaved" not in review.measures.text() and _measured_density(review) == pytest.approx(want)


def test_vessel_measures_follow_remove_specks(studio, qtbot):
    """Remove specks (one undoable step, the layer's paint event inside ``block_history``) is an edit the measures
    follow too, as Erase piece (the same erase)."""
    from vessel_studio.gui import tasks

    review, _ = _panel_with_prediction(studio, qtbot)
    proj, image_id, fov = studio.project, review.image_id, review._fov
    from scipy import ndimage

    before = review.last_measures
    labels, n = ndimage.label(review.mask_layer.data > 0, structure=np.ones((3, 3)))  # 8-connected, as Remove specks
    sizes = np.bincount(labels.ravel())[1:]
    assert n > 1
    review.speck_size.setValue(int(sizes.max()))  # every piece but the largest
    removed, _ = review.remove_specks()
    assert removed == n - 1
    left = review.mask_layer.data > 0
    assert left.any()
    want = tasks.measure_image(proj, image_id, left, fov=fov)["density"]
    assert want != pytest.approx(before["density"])
    qtbot.waitUntil(lambda: _measured_density(review) == pytest.approx(want), timeout=20000)


def test_an_older_masks_measures_arriving_after_an_edit_are_dropped(studio, qtbot, monkeypatch):
    """A measure of the mask still running when the mask is edited again is not shown when it ends (it is of a mask
    no longer on screen); the edited mask's measures are. Before (session 39) the worker's result was shown whatever
    was asked since."""
    import threading

    from vessel_studio.gui import tasks

    review, _ = _panel_with_prediction(studio, qtbot)
    layer = review.mask_layer
    gate, calls, real = threading.Event(), [], tasks.measure_image

    def gated(proj, image_id, mask, image=None, *, fov=None, stop_requested=None):
        calls.append(mask.copy())
        if len(calls) == 1:
            gate.wait(20)
        return real(proj, image_id, mask, image, fov=fov, stop_requested=stop_requested)

    monkeypatch.setattr(tasks, "measure_image", gated)
    shown = []
    on_result = review._measurer._on_result
    review._measurer._on_result = lambda image_id, m: (shown.append(m["density"]), on_result(image_id, m))
    layer.brush_size = 9
    layer.paint((30, 30), 1)  # first edit: measured after the pause, held at the gate
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=10000)
    first = calls[0]
    layer.paint((70, 70), 1)  # a second edit while the first edit's mask is being measured
    second = layer.data > 0
    gate.set()
    qtbot.waitUntil(lambda: len(calls) == 2 and review._measurer.worker is None, timeout=20000)
    qtbot.wait(50)
    assert np.array_equal(calls[1], second)
    want = real(studio.project, review.image_id, second, fov=review._fov)["density"]
    stale = real(studio.project, review.image_id, first, fov=review._fov)["density"]
    assert stale != pytest.approx(want)
    assert shown == [pytest.approx(want)]  # the first edit's never shown
    assert _measured_density(review) == pytest.approx(want) and "of the unsaved mask" in review.measures.text()


def test_uncertainty_ticked_for_an_image_with_no_map_shows_nothing(studio, qtbot):
    """**Uncertainty map** ticked for an image with no prediction: the layer stays hidden and the line under Show says
    that there is no uncertainty map for this image. Before (session 39) the tick showed the layer's placeholder of
    zeros: listed as shown, a black cell in "Side by side", as if the image had a map that was sure everywhere. An
    image with a map shows its map, ticked before or after."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    viewer = studio.viewer
    ids = review.ids()
    assert review.image_id == ids[0] and review.prob is None  # the sample project has no prediction yet
    layer = viewer.layers["uncertainty"]
    review.show_unc.setChecked(True)
    assert not layer.visible
    assert "No uncertainty map for this image" in review.showing.text()
    assert review.showing.text().startswith("No prediction for this image yet")
    review.side_by_side.setChecked(True)  # the grid: no black cell of it
    assert not layer.visible
    review.side_by_side.setChecked(False)
    # a map for the next image: stepping to it shows its uncertainty, ticked before
    prob = fake_probability(studio.project.images[1].shape[:2], 4)
    _write_source_only(studio.project, ids[1], prob)
    review.next()
    assert review.image_id == ids[1] and review.prob is not None
    assert layer.visible and np.allclose(layer.data, tasks.uncertainty(prob))
    assert "uncertainty" not in review.showing.text().lower()
    review.previous()  # none again: hidden, said
    assert review.image_id == ids[0]
    assert not layer.visible and "No uncertainty map for this image" in review.showing.text()
    review.show_unc.setChecked(False)
    assert "uncertainty" not in review.showing.text().lower()
    review.next()
    review.show_unc.setChecked(True)  # ticked on an image with a map
    assert layer.visible and np.allclose(layer.data, tasks.uncertainty(prob))


def test_napari_eye_on_a_map_the_image_does_not_have_shows_nothing(studio, qtbot):
    """napari's eye (the layer list) clicked on the uncertainty, probability or compared layer of an image with no
    prediction: the layer is hidden again and the status line says there is no such map. Before (session 39's
    leftover) the placeholder's zeros were shown, a black cell in "Side by side". The eye on an image with a map
    shows the map."""
    from vessel_studio.gui import tasks

    review = studio.panels["Review"]
    viewer = studio.viewer
    said: list[str] = []
    studio.status.connect(said.append)
    ids = review.ids()
    assert review.image_id == ids[0] and review.prob is None
    review.side_by_side.setChecked(True)
    for name, what in (("uncertainty", "uncertainty map"), ("probability", "prediction"),
                       ("compare", "compared map")):
        viewer.layers[name].visible = True  # what the eye's click does
        assert not viewer.layers[name].visible
        assert said and said[-1].endswith(f"has no {what} to show")
    review.side_by_side.setChecked(False)
    prob = fake_probability(studio.project.images[1].shape[:2], 4)
    _write_source_only(studio.project, ids[1], prob)
    review.next()
    assert review.image_id == ids[1] and review.prob is not None
    n = len(said)
    layer = viewer.layers["uncertainty"]
    assert not layer.visible
    layer.visible = True  # its map, put aside while hidden, is filled in
    assert layer.visible and np.allclose(layer.data, tasks.uncertainty(prob))
    assert not any("to show" in line for line in said[n:])
