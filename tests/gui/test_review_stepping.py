"""Stepping through images in the Review panel: neighbours read ahead in a worker thread, never
stale, never applied to another image; the mask layer kept across image sizes; napari's one-time
costs paid and the Review panel's layers made while the window is built."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import fake_probability

pytestmark = pytest.mark.gui


def _write_probs(proj, seed0=0):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    probs = {}
    for i, rec in enumerate(proj.images):
        probs[rec.id] = fake_probability(rec.shape[:2], seed0 + i)
        write_prob(tasks.source_only_path(proj, rec.id), probs[rec.id])
    return probs


def _count_gui_thread_reads(monkeypatch):
    """Count the file reads of images and probability maps made on the GUI (main) thread."""
    from vessel_studio.gui import tasks
    from vessel_studio.store.project import Project

    reads = []
    main = threading.main_thread()
    for owner, name in ((Project, "read_image"), (tasks, "_read_tif")):
        fn = getattr(owner, name)

        def wrapper(*a, _fn=fn, _name=name, **kw):
            if threading.current_thread() is main:
                reads.append(_name)
            return _fn(*a, **kw)

        monkeypatch.setattr(owner, name, wrapper)
    return reads


def test_next_image_is_read_ahead_in_a_worker(studio, qtbot, monkeypatch):
    proj = studio.project
    probs = _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    review.next()  # image 1: its neighbours (2, then 0) are read ahead
    assert studio.current_id == ids[1]
    qtbot.waitUntil(lambda: ids[2] in review._ahead.cache and review._ahead.worker is None, timeout=10000)
    reads = _count_gui_thread_reads(monkeypatch)
    review.next()
    assert studio.current_id == ids[2] and review.image_id == ids[2]
    assert reads == []  # image, map and uncertainty came from the worker
    viewer = studio.viewer
    assert np.array_equal(viewer.layers["image"].data, proj.read_image(ids[2]))
    assert np.array_equal(viewer.layers["probability"].data, probs[ids[2]])
    unc = 1 - np.abs(2 * probs[ids[2]] - 1)
    review.show_unc.setChecked(True)  # the hidden layer gets it when shown (session 38)
    assert np.allclose(viewer.layers["uncertainty"].data, unc)
    assert np.array_equal(viewer.layers["mask"].data > 0, probs[ids[2]] >= 0.5)


def test_a_map_rewritten_after_it_was_read_ahead_is_read_again(studio, qtbot, monkeypatch):
    """A segmentation (or an adaptation round) that rewrites the next image's map after it was
    read ahead: stepping shows the new map, not the one read ahead."""
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob

    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    review.next()
    qtbot.waitUntil(lambda: ids[2] in review._ahead.cache and review._ahead.worker is None, timeout=10000)
    new = fake_probability(proj.images[2].shape[:2], 99)
    write_prob(tasks.source_only_path(proj, ids[2]), new)
    reads = _count_gui_thread_reads(monkeypatch)
    review.next()
    assert "_read_tif" in reads  # read again on the GUI thread
    assert np.array_equal(studio.viewer.layers["probability"].data, new)
    assert np.array_equal(review.prob, new)
    assert np.array_equal(studio.viewer.layers["mask"].data > 0, new >= 0.5)


def test_a_read_ahead_arriving_late_never_changes_the_image_on_screen(studio, qtbot, monkeypatch, dialogs):
    """Step while the neighbour is still being read ahead: the image is read on the GUI thread and
    shown at once; an edit saved then goes to that image, and the read-ahead arriving afterwards
    changes neither the layers nor the image a save goes to."""
    from vessel_studio.gui import tasks

    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    gate, entered = threading.Event(), threading.Event()
    real = tasks.read_for_review

    def slow(project, image_id, which, **kw):
        entered.set()
        gate.wait(10)
        return real(project, image_id, which, **kw)

    qtbot.waitUntil(lambda: review._ahead.worker is None, timeout=10000)  # image 0's neighbours
    monkeypatch.setattr(tasks, "read_for_review", slow)
    review._ahead.cache.clear()
    review.next()  # image 1 shown; reading image 2 ahead (after the delay) blocks on the gate
    qtbot.waitUntil(entered.is_set, timeout=10000)
    review.next()  # image 2 before its read-ahead arrived
    assert studio.current_id == review.image_id == ids[2]
    layer = review.mask_layer
    layer.data = np.zeros_like(layer.data)
    layer.data[10:20, 10:20] = 1
    edited = layer.data > 0
    assert review.dirty
    assert review.save()
    gate.set()
    qtbot.waitUntil(lambda: review._ahead.worker is None and not review._ahead.pending, timeout=10000)
    qtbot.wait(50)
    assert review.image_id == ids[2]
    assert np.array_equal(proj.correction(ids[2]), edited)
    assert proj.correction(ids[1]) is None and proj.correction(ids[0]) is None
    assert np.array_equal(review.mask_layer.data > 0, edited) and not review.dirty
    assert ids[2] not in review._ahead.cache  # what arrived for the image on screen is dropped
    assert np.array_equal(studio.viewer.layers["image"].data, proj.read_image(ids[2]))
    assert not dialogs.errors


def test_mask_layer_kept_across_image_sizes(studio, tmp_path, qtbot, dialogs):
    """Another image size reuses the mask layer (re-adding a Labels layer stalled the GUI ~0.25 s);
    painting and saving work at the new size, and undo does not reach back to the other image."""
    from vessel_studio.io.images import write_image

    rng = np.random.default_rng(1)
    write_image(tmp_path / "wide.png", rng.uniform(0, 255, (60, 130, 3)).astype(np.uint8))
    assert studio.add_images([tmp_path / "wide.png"])
    qtbot.waitUntil(lambda: not studio.io_runner.running, timeout=10000)
    review = studio.panels["Review"]
    layer = review.mask_layer
    assert layer.data.shape == (96, 96)
    wide = [r.id for r in studio.project.images if r.name == "wide"][0]
    assert studio.select_image(wide)
    assert review.mask_layer is layer and layer.data.shape == (60, 130)
    assert studio.viewer.layers["image"].data.shape == (60, 130, 3)
    assert list(studio.viewer.layers).index(layer) == len(studio.viewer.layers) - 1
    layer.paint((30, 100), 1)
    assert review.dirty
    assert review.save()
    assert studio.project.correction(wide)[30, 100]
    assert studio.select_image(studio.project.images[0].id)
    assert review.mask_layer is layer and layer.data.shape == (96, 96)
    layer.undo()  # nothing to undo on this image
    assert not review.dirty
    assert not dialogs.errors


def test_make_viewer_pays_napari_first_layer_costs_and_leaves_no_layer(sample_project, dialogs, qtbot):
    import gc

    from vessel_studio.gui.app import make_viewer

    viewer, studio = make_viewer(sample_project.folder, show=False)
    try:
        assert [layer.name for layer in viewer.layers] == ["image", "compare", "probability", "uncertainty", "mask"]
        assert studio.current_id == sample_project.images[0].id
    finally:
        studio._closing_ok = True
        viewer.close()
        gc.unfreeze()


NAMES = ["image", "compare", "probability", "uncertainty", "mask"]


def _layer_changes(viewer) -> list:
    """Record every layer added to or removed from ``viewer`` from now on."""
    changes = []
    viewer.layers.events.inserted.connect(lambda e: changes.append(("inserted", e.value.name)))
    viewer.layers.events.removed.connect(lambda e: changes.append(("removed", e.value.name)))
    return changes


def test_the_review_layers_exist_hidden_before_any_image(make_napari_viewer, dialogs):
    from vessel_studio.gui.app import attach

    viewer = make_napari_viewer(title="Vessel Studio")
    studio = attach(viewer)
    assert studio.project is None
    assert [layer.name for layer in viewer.layers] == NAMES
    assert not any(layer.visible for layer in viewer.layers)
    assert viewer.layers["mask"].data.shape == (1, 1)
    assert viewer.layers.selection.active is viewer.layers["mask"]


def test_showing_the_first_image_adds_no_layer(make_napari_viewer, sample_project, dialogs, qtbot, tmp_path):
    """Opening a project, and the first images added to an empty one, show the first image in the
    layers made with the panel: adding them then froze the window ~0.6 s."""
    from vessel_studio.gui.app import attach

    viewer = make_napari_viewer(title="Vessel Studio")
    studio = attach(viewer)
    review = studio.panels["Review"]
    first = {layer.name: layer for layer in viewer.layers}
    changes = _layer_changes(viewer)
    assert studio.open_project(sample_project.folder)
    image_id = sample_project.images[0].id
    assert review.image_id == image_id and changes == []
    assert {layer.name: layer for layer in viewer.layers} == first
    assert np.array_equal(viewer.layers["image"].data, sample_project.read_image(image_id))
    assert viewer.layers["image"].visible and viewer.layers["mask"].visible
    assert viewer.layers["mask"].data.shape == (96, 96)
    assert not viewer.layers["probability"].visible  # no prediction yet
    viewer.layers["mask"].paint((10, 10), 1)
    viewer.layers["mask"].paint((10, 20), 1)  # (a programmatic paint's event comes before its data)
    assert review.dirty and "unsaved" in review.edit_state.text()  # the panel follows the made layer's edits

    # another, empty project: the layers are hidden and emptied, not removed ...
    review.revert()
    assert studio.new_project(tmp_path / "empty", "fundus")
    assert review.image_id is None and changes == []
    assert not any(layer.visible for layer in viewer.layers)
    assert viewer.layers["mask"].data.shape == (1, 1) and not viewer.layers["mask"]._undo_history
    # ... and its first images, once added, are shown in them
    assert studio.add_images([sample_project.folder / rec.file for rec in sample_project.images])
    qtbot.waitUntil(lambda: review.image_id is not None and not studio.io_runner.running, timeout=10000)
    assert changes == [] and [layer.name for layer in viewer.layers] == NAMES
    assert viewer.layers["image"].visible and viewer.layers["mask"].visible
    assert viewer.layers["mask"].data.shape == (96, 96)
    assert not dialogs.errors


def test_a_mask_the_user_hid_stays_hidden_on_the_next_image(studio, dialogs):
    viewer = studio.viewer
    viewer.layers["mask"].visible = False
    studio.panels["Review"].next()
    assert not viewer.layers["mask"].visible


def test_an_octa_project_shows_its_first_gray_image_in_no_new_layer(make_napari_viewer, dialogs, qtbot, tmp_path):
    """The image layer is made RGB (fundus); a new OCT-A project makes it gray before its first
    images are added, so showing the first (gray) one at the end of "Adding images" adds no layer."""
    from vessel_studio.gui.app import attach
    from vessel_studio.samples import write_sample_project
    from vessel_studio.store import Project

    write_sample_project(tmp_path / "octa-src", n=2, modality="octa", shape=(64, 64), seed=3)
    src = Project.open(tmp_path / "octa-src")
    assert src.read_image(src.images[0].id).ndim == 2
    viewer = make_napari_viewer(title="Vessel Studio")
    studio = attach(viewer)
    review = studio.panels["Review"]
    assert viewer.layers["image"].rgb
    assert studio.new_project(tmp_path / "octa", "octa")
    assert not viewer.layers["image"].rgb and not viewer.layers["image"].visible
    assert [layer.name for layer in viewer.layers] == NAMES
    changes = _layer_changes(viewer)
    assert studio.add_images([src.folder / rec.file for rec in src.images])
    qtbot.waitUntil(lambda: review.image_id is not None and not studio.io_runner.running, timeout=10000)
    assert changes == [] and viewer.layers["image"].visible
    assert viewer.layers["image"].colormap.name == "gray"
    assert not dialogs.errors
