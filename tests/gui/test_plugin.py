"""vessel-studio as a plugin of a person's own napari (the Plugins menu, File > Open, File > Open Sample), not the
``vessel-studio`` window: session 49's QA of the plugin. More plugin tests: ``test_review_export.py``."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

WIDGETS = {"Project": "Project", "Adaptation": "Adaptation", "Review": "Review and correction", "Export": "Export"}


def _close_dock(dock, qtbot) -> None:
    """The dock's "close this panel" button (napari's title bar), then the deletions it queued."""
    dock.title.close_button.click()
    qtbot.wait(50)
    gc.collect()


@pytest.mark.parametrize("key", list(WIDGETS))
def test_a_closed_panel_lets_go_of_the_studio(make_napari_viewer, sample_project, dialogs, qtbot, key):
    """A panel whose dock was closed with its "x" is let go: nothing of the studio keeps it (session 49 QA: the studio's
    ``busy_checks`` held a closed Project panel's bound method, and with it the panel and its connections to the
    studio's signals: each Project panel closed and opened again from the Plugins menu was one more hidden panel that
    listed the project's images and made their thumbnails at every change)."""
    viewer = make_napari_viewer()
    dock, scroll = viewer.window.add_plugin_dock_widget("vessel-studio", WIDGETS[key])
    studio = scroll.widget().studio
    assert studio.open_project(sample_project.folder)
    closed = weakref.ref(scroll.widget())
    del scroll
    _close_dock(dock, qtbot)
    assert closed() is None
    # opened again: the new panel is the studio's, and follows the project
    panel = viewer.window.add_plugin_dock_widget("vessel-studio", WIDGETS[key])[1].widget()
    assert studio.panels[key] is panel


def test_the_persons_own_layers_stay_when_review_opens(make_napari_viewer, sample_project, dialogs, qtbot):
    """Session 49 QA: in a viewer where ``viewer.add_image(image)`` and ``viewer.add_labels(mask)`` had made layers
    named "image" and "mask" (napari names a layer after the variable), the Review panel opened from the Plugins menu
    took them for its own and emptied them. They are renamed now, their data kept, and the status bar says so; the
    panel's layers are its own, over the person's (a layer opened before, under them, drew over the Review panel's
    image and mask)."""
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    mask = (rng.random((40, 50)) > 0.5).astype(np.uint8)
    viewer.add_image(image, name="image")
    viewer.add_labels(mask, name="mask")
    viewer.add_image(image[..., 0], name="scan")
    dock, scroll = viewer.window.add_plugin_dock_widget("vessel-studio", "Review and correction")
    review = scroll.widget()
    del scroll
    assert viewer.layers["image [1]"].data is image and viewer.layers["mask [1]"].data is mask
    assert "layer 'image' is now 'image [1]'" in viewer.status and "layer 'mask' is now 'mask [1]'" in viewer.status
    names = [layer.name for layer in viewer.layers]
    assert names == ["image [1]", "mask [1]", "scan", "image", "compare", "probability", "uncertainty", "mask"]
    assert review.studio.open_project(sample_project.folder)
    qtbot.waitUntil(lambda: viewer.layers["mask"].data.shape == (96, 96), timeout=10000)
    assert viewer.layers["image [1]"].data is image and viewer.layers["mask [1]"].data is mask
    assert [layer.name for layer in viewer.layers] == names
    assert viewer.layers.selection.active is viewer.layers["mask"]
    # a Review panel opened again takes the closed one's layers, not the person's
    del review
    _close_dock(dock, qtbot)
    viewer.window.add_plugin_dock_widget("vessel-studio", "Review and correction")
    assert [layer.name for layer in viewer.layers] == names

