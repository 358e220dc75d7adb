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


def warm_up(viewer) -> None:
    """Pay napari's one-time costs while the window is built, not when the first image is shown:
    the first layers of each kind (pint's unit registry, lazily imported layer, vispy and Qt
    control modules; measured 1.2 s of GUI-thread stall on the first image). The layers added
    here are removed at once; call it before any layer of the studio exists.

    ``make_viewer`` no longer calls it: the Review panel now makes its five layers when it is
    built (``review_layers.ensure``), which pays the same costs and keeps the layers. Kept for
    ``benchmarks/gui_job_start.py --variants layers-on-demand`` (the build before that)."""
    import numpy as np

    if len(viewer.layers):
        return
    layers = [
        viewer.add_image(np.zeros((8, 8, 3), np.uint8), rgb=True, name="warm-up rgb"),
        viewer.add_image(np.zeros((8, 8), np.float32), colormap="magma", blending="additive",
                         contrast_limits=(0, 1), name="warm-up map"),
        viewer.add_labels(np.zeros((8, 8), np.uint8), name="warm-up mask"),
    ]
    for layer in layers:
        viewer.layers.remove(layer)


#: what the first jobs import (module, names to load from it): torch and safetensors (segmentation,
#: adaptation), diffusers' model and schedulers (adaptation), the skimage functions of FOV masks,
#: resizing and skeletons, and the engine's modules that import them
ENGINE_IMPORTS = (
    ("torch", ()),
    ("safetensors.torch", ()),
    ("skimage.filters", ("threshold_otsu",)),
    ("skimage.morphology", ("skeletonize",)),
    ("skimage.transform", ("resize",)),
    ("vessel_studio.models.segmenter", ()),
    ("vessel_studio.train.segmenter", ()),
    ("vessel_studio.adaptation.job", ()),
    ("diffusers", ("UNet2DModel", "DDPMScheduler", "DDIMScheduler")),
)


def import_engine() -> list[str]:
    """Import what the first jobs need while the window is being built, before the event loop
    runs; return the modules that could not be imported (e.g. an optional package that is missing).

    Imported by a job instead, in its worker thread, these imports freeze the event loop although
    they run in another thread: loading a C extension holds the GIL throughout (libtorch's
    ``dlopen`` alone 0.2–0.3 s on the 2-core machine) and diffusers' import left stalls of up to
    0.3 s (``benchmarks/results/gui/README.md``, "Job start"). The cost moves into the window
    build: about 1 s for torch and 2 s for diffusers there."""
    import importlib

    missing = []
    for module, names in ENGINE_IMPORTS:
        try:
            mod = importlib.import_module(module)
            for name in names:  # diffusers and skimage load lazily: the first attribute access imports
                getattr(mod, name)
        except Exception:  # noqa: BLE001 - a warm-up only: the job that needs it reports the error
            missing.append(module)
    return missing


def make_viewer(project: str | os.PathLike | None = None, *, show: bool = True):
    """A napari Viewer titled Vessel Studio with the panels docked (the event loop is not run)."""
    import napari

    from vessel_studio.gui.jobs import freeze_heap

    import_engine()  # before the window exists: in the first job it would stall the event loop
    viewer = napari.Viewer(title=TITLE, show=show)
    # no warm_up: the Review panel makes its five layers (hidden) when it is built, which pays
    # napari's first-layer costs as well
    studio = attach(viewer, project=project)
    freeze_heap()  # keep full GC passes off napari's object graph (event-loop stalls)
    return viewer, studio


def launch(project: str | os.PathLike | None = None) -> int:
    """Open the window and run the Qt event loop until it is closed."""
    import napari

    viewer, _studio = make_viewer(project)
    napari.run()
    return 0
