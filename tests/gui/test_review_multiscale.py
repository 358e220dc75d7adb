"""A large image (a camera's 12-16 megapixels) and its maps are shown as napari multiscale layers:
napari then uploads only the level the view needs instead of 15-megapixel textures at every step
(``benchmarks/results/gui/hires/README.md``, session 28). What the reviewer sees at full zoom is the
data itself (the first level), the editable mask stays a single-scale Labels layer. The tests lower
``tasks.MULTISCALE_PIXELS`` and ``review_layers.PYRAMID_TOP`` so that the sample's 96 x 96 images
count as large and get three levels (96, 48, 24)."""

from __future__ import annotations

import numpy as np
import pytest

from test_review_stepping import _write_probs

pytestmark = pytest.mark.gui

MAPS = ("image", "compare", "probability", "uncertainty")


@pytest.fixture
def large(monkeypatch):
    from vessel_studio.gui import review_layers, tasks

    monkeypatch.setattr(tasks, "MULTISCALE_PIXELS", 1000)
    monkeypatch.setattr(review_layers, "PYRAMID_TOP", 32)


def _levels_of(layer, data):
    """The layer is multiscale, its first level is ``data`` and each level every second row and column of the one before."""
    assert layer.multiscale
    levels = list(layer.data)
    assert [lv.shape[:2] for lv in levels] == [(96, 96), (48, 48), (24, 24)]
    assert np.array_equal(levels[0], data)
    for a, b in zip(levels, levels[1:]):
        assert np.array_equal(b, a[::2, ::2])


def test_a_large_image_and_its_maps_are_multiscale_and_the_mask_stays_editable(studio, qtbot, large, dialogs):
    from vessel_studio.gui import tasks

    proj = studio.project
    probs = _write_probs(proj)
    ids = [r.id for r in proj.images]
    review, viewer = studio.panels["Review"], studio.viewer
    review.next()
    assert review.image_id == ids[1]
    _levels_of(viewer.layers["image"], proj.read_image(ids[1]))
    _levels_of(viewer.layers["probability"], probs[ids[1]])
    assert [viewer.layers.index(n) for n in review_layers_names()] == list(range(5))  # the order kept
    unc = viewer.layers["uncertainty"]
    assert not unc.visible
    review.show_unc.setChecked(True)  # made visible: the current image's uncertainty
    assert unc.visible
    _levels_of(unc, tasks.uncertainty(probs[ids[1]]))
    review.compare.setCurrentText(tasks.SOURCE_ONLY)
    assert viewer.layers["compare"].visible
    _levels_of(viewer.layers["compare"], probs[ids[1]])
    review.compare.setCurrentText("none")
    assert not viewer.layers["compare"].visible
    mask = viewer.layers["mask"]
    assert not mask.multiscale and mask.data.shape == (96, 96)
    assert np.array_equal(mask.data > 0, probs[ids[1]] >= 0.5)
    mask.mode = "paint"
    mask.selected_label = 1
    before = mask.data.copy()
    mask.paint((40, 40), 1)
    assert (mask.data != before).any() and review.dirty
    mask.undo()
    assert np.array_equal(mask.data, before)
    assert not dialogs.errors


def review_layers_names():
    from vessel_studio.gui import review_layers

    return review_layers.NAMES


def test_read_ahead_makes_the_levels_in_the_worker(studio, qtbot, large):
    """The neighbours' levels are made by the read-ahead worker; the GUI thread finds them (the same arrays)."""
    from vessel_studio.gui import review_layers

    proj = studio.project
    _write_probs(proj)
    ids = [r.id for r in proj.images]
    review = studio.panels["Review"]
    review.next()
    qtbot.waitUntil(lambda: ids[2] in review._ahead.cache and review._ahead.worker is None, timeout=10000)
    got = review._ahead.cache[ids[2]]
    image_levels = review_layers._PYRAMIDS[id(got["image"])][1]
    map_levels = review_layers._PYRAMIDS[id(got["maps"][None][1])][1]
    review.next()
    assert review.image_id == ids[2]
    assert studio.viewer.layers["image"].data[1] is image_levels[0]
    assert studio.viewer.layers["probability"].data[1] is map_levels[0]


def test_pyramid_levels_and_cache():
    from vessel_studio.gui import review_layers

    a = np.arange(3000 * 2100, dtype=np.float32).reshape(3000, 2100)
    levels = review_layers.pyramid(a)
    assert levels[0] is a
    assert [lv.shape for lv in levels] == [(3000, 2100), (1500, 1050), (750, 525)]
    assert all(lv.flags.c_contiguous for lv in levels)
    assert np.array_equal(levels[2], a[::4, ::4])
    assert review_layers.pyramid(a)[1] is levels[1]  # made once while the array lives
    assert review_layers._level_shapes(a.shape) == [lv.shape for lv in levels]
    rgb = np.zeros((2049, 1000, 3), np.uint8)
    assert [lv.shape for lv in review_layers.pyramid(rgb)] == [(2049, 1000, 3), (1025, 500, 3), (513, 250, 3)]
    key = id(a)
    del a, levels
    import gc

    gc.collect()
    assert key not in review_layers._PYRAMIDS  # dropped with its array


def test_back_to_a_small_image_and_closing(studio, qtbot, large, monkeypatch, dialogs):
    """An image below the threshold is shown single-scale again (the layers replaced, in order); no image
    shown empties multiscale layers too."""
    from vessel_studio.gui import review_layers, tasks

    proj = studio.project
    probs = _write_probs(proj)
    ids = [r.id for r in proj.images]
    review, viewer = studio.panels["Review"], studio.viewer
    review.next()
    assert all(viewer.layers[n].multiscale for n in MAPS)
    review._clear()
    assert viewer.layers["image"].data.shape[:2] == (1, 1) and not viewer.layers["image"].visible
    monkeypatch.setattr(tasks, "MULTISCALE_PIXELS", 10**9)
    review.load(ids[2])
    assert not any(viewer.layers[n].multiscale for n in MAPS)
    assert np.array_equal(viewer.layers["probability"].data, probs[ids[2]])
    assert [viewer.layers.index(n) for n in review_layers.NAMES] == list(range(5))
    assert viewer.layers.selection.active is viewer.layers["mask"]
    assert not dialogs.errors


@pytest.mark.parametrize("multiscale", [False, True])
def test_a_hidden_placeholder_of_the_same_size_is_not_updated(make_napari_viewer, multiscale):
    """No map to compare with, step after step: the hidden placeholder stays as it is (updating it cost
    ~7 ms of napari's events a step); another size, or a map, updates it."""
    from vessel_studio.gui import review_layers

    viewer = make_napari_viewer()
    review_layers.ensure(viewer, opacity=0.5, contour=False, on_paint=lambda *a: None)
    kw = dict(placeholder_shape=(2100, 40), multiscale=multiscale, colormap="green")
    review_layers.set_layer(viewer, "compare", None, "image", **kw)
    layer = viewer.layers["compare"]
    data = layer.data
    review_layers.set_layer(viewer, "compare", None, "image", **kw)
    assert layer.data is data and not layer.visible
    assert not review_layers.full(layer).any()
    review_layers.set_layer(viewer, "compare", None, "image", **{**kw, "placeholder_shape": (2000, 40)})
    assert review_layers.full(layer).shape == (2000, 40)
    m = np.full((2000, 40), 0.5, np.float32)
    review_layers.set_layer(viewer, "compare", m, "image", **{**kw, "placeholder_shape": (2000, 40)})
    assert layer.visible and review_layers.full(layer) is m
    review_layers.set_layer(viewer, "compare", None, "image", **{**kw, "placeholder_shape": (2000, 40)})
    assert not layer.visible and not review_layers.full(layer).any()
