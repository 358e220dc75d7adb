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

