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


def _zoom_into(viewer, factor: float = 4.0):
    """Zoom the camera ``factor`` times into a corner of the image (as a reviewer zooms into the optic disc)."""
    cam = viewer.camera
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
    fitted = viewer.camera.zoom
    zoom, center = _zoom_into(viewer)
    for step in (review.next, review.next, review.previous):
        step()
        qtbot.wait(20)
        assert viewer.camera.zoom == pytest.approx(zoom)
        assert np.asarray(viewer.camera.center)[-2:] == pytest.approx(center)
    studio.select_image(ids[0])  # the image list
    assert review.image_id == ids[0]
    assert viewer.camera.zoom == pytest.approx(zoom)
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
    assert viewer.camera.zoom != pytest.approx(zoom)
    # another project whose images are of the size of the one zoomed into: its first image is fitted
    studio.select_image(ids[0])
    zoom, _ = _zoom_into(viewer)
    folder = tmp_path / "second"
    write_sample_project(folder, n=2, modality="fundus", shape=(96, 96), seed=8)
    assert studio.open_project(folder)
    assert review.image_id == studio.project.images[0].id
    assert viewer.camera.zoom == pytest.approx(fitted)
    center_now, extent = _center_and_extent(viewer)
    assert center_now == pytest.approx(extent.mean(axis=0), abs=1e-3)
