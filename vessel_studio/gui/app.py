"""The Vessel Studio window: a napari viewer with the four dock widgets."""

from __future__ import annotations

import os
from pathlib import Path

TITLE = "Vessel Studio"


def attach(viewer, *, project: str | os.PathLike | None = None):
    """Dock the Project, Adaptation, Review and Export panels on ``viewer``; return the studio."""
    from vessel_studio.gui.adapt_panel import AdaptPanel
    from vessel_studio.gui.export_panel import ExportPanel
    from vessel_studio.gui.project_panel import ProjectPanel
    from vessel_studio.gui.review_panel import ReviewPanel
    from vessel_studio.gui.studio import get_studio

    studio = get_studio(viewer)
    panels = {
        "Project": ProjectPanel(studio),
        "Adaptation": AdaptPanel(studio),
        "Review": ReviewPanel(studio),
        "Export": ExportPanel(studio),
    }
    docks = {}
    for name, widget in panels.items():
        area = "left" if name in ("Project", "Adaptation") else "right"
        docks[name] = viewer.window.add_dock_widget(widget, name=name, area=area)
    try:  # tab Adaptation under Project, Export under Review, to keep the canvas large
        qwin = viewer.window._qt_window
        qwin.tabifyDockWidget(docks["Project"], docks["Adaptation"])
        qwin.tabifyDockWidget(docks["Review"], docks["Export"])
        docks["Project"].raise_()
        docks["Review"].raise_()
    except (AttributeError, RuntimeError):
        pass
    studio.panels = panels
    studio.docks = docks
    if project is not None:
        studio.open_project(Path(project))
    return studio


def make_viewer(project: str | os.PathLike | None = None, *, show: bool = True):
    """A napari Viewer titled Vessel Studio with the panels docked (the event loop is not run)."""
    import napari

    from vessel_studio.gui.jobs import freeze_heap

    try:  # import the engine (torch, diffusers) before the window exists: imported by the first
        # job instead, it holds the GIL long enough to stall the event loop (~0.2 s measured)
        import vessel_studio.adaptation.job  # noqa: F401
    except ImportError:
        pass
    viewer = napari.Viewer(title=TITLE, show=show)
    studio = attach(viewer, project=project)
    freeze_heap()  # keep full GC passes off napari's object graph (event-loop stalls)
    return viewer, studio


def launch(project: str | os.PathLike | None = None) -> int:
    """Open the window and run the Qt event loop until it is closed."""
    import napari

    viewer, _studio = make_viewer(project)
    napari.run()
    return 0
