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
    from vessel_studio.gui.qtutil import scrolled
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
        # in a scroll area: the window fits a laptop's screen and the canvas keeps its width (qtutil.PanelScroll)
        docks[name] = viewer.window.add_dock_widget(scrolled(widget), name=name, area=area)
    try:  # tab Adaptation under Project, Export under Review, to keep the canvas large
        qwin = viewer.window._qt_window
        qwin.tabifyDockWidget(docks["Project"], docks["Adaptation"])
        qwin.tabifyDockWidget(docks["Review"], docks["Export"])
        docks["Project"].raise_()
        docks["Review"].raise_()
    except (AttributeError, RuntimeError):
        pass
    studio.panels.update(panels)
    studio.docks.update(docks)
    # files dropped on the image or on the Project, Review or Adaptation panel go to the project, not to napari's
    # readers as layers over the Review panel's; the Adaptation panel's source box and the Export panel refuse them,
    # saying where to drop; napari's File > Open… offers images to the project first (``gui.drops``)
    from vessel_studio.gui.drops import EXPORT_LINE, SOURCE_LINE, route_drops, route_file_opens

    refused = {"Adaptation": ((panels["Adaptation"].source,), SOURCE_LINE), "Export": ((docks["Export"],), EXPORT_LINE)}
    for name, dock in docks.items():
        route_drops(studio, dock, *refused.get(name, ()))
    try:
        qt_viewer = viewer.window._qt_viewer
        route_drops(studio, qt_viewer)
        # napari's layer list and layer controls too: they refused files without a word (the "no" cursor), and are
        # tabs beside the panels in one column on a narrow screen (session 42). Dragging layers within the list
        # carries no files, so it stays napari's (``drops.local_paths``)
        for dock in (qt_viewer.dockLayerList, qt_viewer.dockLayerControls):
            route_drops(studio, dock)
        route_drops(studio, qt_viewer.layers.viewport())  # the list's rows take drags themselves (Qt 6 finds them)
        route_file_opens(studio, qt_viewer)
    except (AttributeError, RuntimeError):  # another napari layout (tests/gui/test_window_drop.py fails then)
        pass
    try:
        _size_docks_when_shown(studio, viewer.window._qt_window)
    except (AttributeError, RuntimeError):
        pass
    if project is not None:
        studio.open_project(Path(project))
    return studio


#: the least height of the Project dock under napari's layer controls and layer list, below which the layer list is
#: tabbed with the Project and Adaptation docks (``DockSizer``). Session 40 QA, ``vessel-studio gui PROJECT`` with
#: napari's labels controls (356 px) and layer list (183 px) above it: the Project dock got 145 px on a 1366 x 768
#: screen and 97 px on 1280 x 720, its image list out of view (the panel scrolled); 327 px at the 1500 x 950 launch
#: size, two rows of the list in view, where the layout stays as it was
SHORT_PROJECT_DOCK = 250

#: the least share of the window's width the image gets beside the two dock columns (napari's layer docks with Project
#: and Adaptation; Review with Export), below which the panels and napari's layer docks are tabs of one column
#: (``DockSizer.one_column``).
#: Session 42, ``vessel-studio gui PROJECT`` with the columns 461 and 465 px wide: the image got 328 px of a 1280 x 720
#: screen (25.6 %), 414 px of 1366 x 768 (30.3 %) and 488 px of 1440 x 900 (33.9 %); 548 px (36.5 %) at the
#: 1500 x 950 launch size (a larger screen's; the docs' screenshots), where the layout stays as it was
NARROW_CANVAS_SHARE = 0.35


def _dock_sizer_class():
    import weakref

    from qtpy.QtCore import QEvent, QObject, Qt, QTimer

    class DockSizer(QObject):
        """Sizes the panels' docks when the window is first shown (when it already is, as ``make_viewer`` shows it
        before the panels are docked: at the event loop's next turn, once the window has laid the new docks out; sized
        at once, the sizes were lost and each dock was 486 px wide, its panels' 461 or 465: session 42): as wide as the
        panels, and the Project panel with most of the left column's height under napari's layer controls
        and layer list (on a short screen, where that leaves the Project dock under ``SHORT_PROJECT_DOCK``, the
        layer list is a tab beside Project and Adaptation instead; on a narrow screen, one column of tabs:
        ``NARROW_CANVAS_SHARE``). In scroll areas (``qtutil.PanelScroll``) the
        docks would keep their narrow minimum and napari's left docks most of the height. Holds the studio weakly
        (napari's leak check)."""

        def __init__(self, studio, window):
            super().__init__(window)
            self._studio = weakref.ref(studio)
            if window.isVisible():
                QTimer.singleShot(0, self.size)
            else:
                window.installEventFilter(self)

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
            if event.type() == QEvent.Type.Show:
                obj.removeEventFilter(self)
                QTimer.singleShot(0, self.size)  # once the shown window is laid out
            return False

        def size(self) -> None:
            studio = self._studio()
            try:
                docks, panels = studio.docks, studio.panels
                win, qt_viewer = studio.viewer.window._qt_window, studio.viewer.window._qt_viewer
                widths = [max(panels[a].sizeHint().width(), panels[b].sizeHint().width()) + 24
                          for a, b in (("Project", "Adaptation"), ("Review", "Export"))]
                # the image's width once the columns have their panels' width (the window is laid out)
                canvas = win.centralWidget().width() + docks["Project"].width() + docks["Review"].width() - sum(widths)
                if (canvas < NARROW_CANVAS_SHARE * win.width()
                        or docks["Review"] in win.tabifiedDockWidgets(docks["Project"])):  # sized again
                    self.one_column(win, qt_viewer, docks, max(widths))
                else:
                    win.resizeDocks([docks["Project"], docks["Review"]], widths, Qt.Orientation.Horizontal)
                controls, layers = qt_viewer.dockLayerControls, qt_viewer.dockLayerList
                win.resizeDocks([controls, layers, docks["Project"]],
                                [controls.minimumHeight(), layers.minimumHeight(), 10000], Qt.Orientation.Vertical)
            except (AttributeError, RuntimeError, KeyError):  # another napari layout, or a closed window
                return
            QTimer.singleShot(0, self.tab_layers_if_short)  # once the docks have their new sizes

        @staticmethod
        def one_column(win, qt_viewer, docks, width) -> None:
            """On a narrow screen, where two columns would leave the image under ``NARROW_CANVAS_SHARE`` of the
            window's width: one column of tabs, Project, Adaptation, Review, Export, napari's layer list and layer
            controls, in the left dock area. The image gets the right column's width, and each panel the column's
            height (under napari's layer controls, 356 px for a labels layer, the Review panel got 289 px of a
            1280 x 720 screen and scrolled to its Paint and Save buttons). The Project tab is raised."""
            project = docks["Project"]
            areas = (win.dockWidgetArea(project), win.dockWidgetArea(docks["Review"]))
            for dock in (docks["Review"], docks["Export"], qt_viewer.dockLayerList, qt_viewer.dockLayerControls):
                if (dock.isFloating() or not dock.isVisible() or dock in win.tabifiedDockWidgets(project)
                        or win.dockWidgetArea(dock) not in areas):
                    continue  # closed, floated or moved elsewhere (napari's saved layout): left as it is
                win.tabifyDockWidget(project, dock)
            project.raise_()
            win.resizeDocks([project], [width], Qt.Orientation.Horizontal)

        def tab_layers_if_short(self) -> None:
            """On a short screen, where the Project dock got less than ``SHORT_PROJECT_DOCK`` under napari's layer
            docks, napari's layer list becomes a tab beside Project and Adaptation, and the Project dock gets its
            height (the Review panel shows and hides its layers itself; the layer list is one tab away)."""
            studio = self._studio()
            try:
                docks, win = studio.docks, studio.viewer.window._qt_window
                qt_viewer = studio.viewer.window._qt_viewer
                controls, layers = qt_viewer.dockLayerControls, qt_viewer.dockLayerList
                project = docks["Project"]
                if (project.height() >= SHORT_PROJECT_DOCK or not layers.isVisible() or layers.isFloating()
                        or layers in win.tabifiedDockWidgets(project)
                        or win.dockWidgetArea(layers) != win.dockWidgetArea(project)):
                    return
                win.tabifyDockWidget(project, layers)
                project.raise_()
                win.resizeDocks([controls, project], [controls.minimumHeight(), 10000], Qt.Orientation.Vertical)
            except (AttributeError, RuntimeError, KeyError):
                pass

    return DockSizer


def _size_docks_when_shown(studio, window) -> None:
    _dock_sizer_class()(studio, window)


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
    # the maps' reader: the Review panel reads a round's maps on the GUI thread, and the first read imported
    # tifffile there (0.26-0.56 s when a terminal's round arrived: benchmarks/results/gui/job-start-held-ab.json)
    ("tifffile", ()),
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


#: the window's size at launch where the screen has room (the size the docs' screenshots are taken at). napari's first
#: size is about two thirds of the screen: 1089 x 712 on a 1600 x 1000 screen, which left the image a strip 91 px
#: wide between the panels and the Project panel's image list no row in view (session 39 QA)
LAUNCH_SIZE = (1500, 950)


def grow_window(window, available=None) -> None:
    """Make ``window`` at least ``LAUNCH_SIZE``, or the screen's available size (``available``, a QRect; default:
    its screen's) where that is smaller; never smaller than it is unless it is larger than that size, and moved
    onto the screen if it grew off it.

    Larger than the screen: napari restores the size its window had when it was last closed (its settings, shared
    by every napari of the environment), on this screen or a larger one. Session 40 QA: closed at 1500 x 950, it
    opened at 1500 x 950 on a 1366 x 768 screen, the left dock's tabs (Project, Adaptation) and the status bar below
    the screen's edge (where no window manager fits it in)."""
    if available is None:
        screen = window.screen()
        if screen is None:
            return
        available = screen.availableGeometry()
    width = min(max(window.width(), LAUNCH_SIZE[0]), available.width())
    height = min(max(window.height(), LAUNCH_SIZE[1]), available.height())
    if (width, height) == (window.width(), window.height()):
        return
    window.resize(width, height)
    frame = window.frameGeometry()
    if frame.right() > available.right() or frame.bottom() > available.bottom():
        window.move(available.topLeft())


def make_viewer(project: str | os.PathLike | None = None, *, show: bool = True):
    """A napari Viewer titled Vessel Studio with the panels docked (the event loop is not run)."""
    import napari

    from vessel_studio.gui.jobs import freeze_heap

    import_engine()  # before the window exists: in the first job it would stall the event loop
    viewer = napari.Viewer(title=TITLE, show=show)
    if show:  # before the docks are sized (attach): the canvas gets what the window gained
        grow_window(viewer.window._qt_window)
    # the Review panel makes its five layers (hidden) when it is built, which pays napari's
    # first-layer costs before the first image
    studio = attach(viewer, project=project)
    freeze_heap(collect=False)  # keep full GC passes off napari's object graph (event-loop stalls)
    return viewer, studio


def launch(project: str | os.PathLike | None = None) -> int:
    """Open the window and run the Qt event loop until it is closed."""
    import napari

    viewer, _studio = make_viewer(project)
    napari.run()
    return 0
