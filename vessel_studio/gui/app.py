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
    _own_plugin_menu(viewer, docks)
    _show_focus(viewer, [dock.widget() for dock in docks.values()])
    from vessel_studio.gui import pane_keys

    pane_keys.attach(studio)  # F6 / Shift+F6: the focus to the next / previous pane (the image, the panels)
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


def _own_plugin_menu(viewer, docks) -> None:
    """Plugins > Vessel Studio > a panel, in this window, shows or hides the window's own dock of it, as napari does
    for a plugin dock it built itself. It built a second panel instead (session 49's plugin QA): a second Review panel
    took ``studio.panels["Review"]`` from the docked one and added a second unsaved-edits hook (two in
    ``studio.leave_hooks``). napari finds a plugin's dock by its menu title ("Review and correction (Vessel Studio)"; by the plugin's
    name in ``add_plugin_dock_widget``) in the window's docks; the window's docks keep their short titles and are named
    there under those titles too, until they are deleted."""
    try:
        from napari.plugins import menu_item_template

        named = viewer.window._wrapped_dock_widgets
    except (ImportError, AttributeError):  # another napari: its menu builds a second panel, as before
        return
    from vessel_studio.gui.plugin import MENU_NAMES, PLUGIN_NAME, PLUGIN_TITLE

    for key, dock in docks.items():
        names = [name for name in (menu_item_template.format(plugin, MENU_NAMES[key]) for plugin in (PLUGIN_TITLE,
                 PLUGIN_NAME)) if named.setdefault(name, dock) is dock]
        # a dock closed with its title bar's button is deleted while studio.docks still holds its wrapper (so the
        # weak dictionary keeps it): the names go with it, and the menu builds a new panel then, as in napari
        dock.destroyed.connect(lambda *_, names=names: [named.pop(name, None) for name in names])


#: the frame drawn around the panel control with the keyboard focus, in the napari theme's text colour
FOCUS_STYLE = "QFocusFrame {{ border: 1px solid {colour}; border-radius: 2px; }}"


def _show_focus(viewer, scrolls) -> None:
    """Draw the keyboard focus on the panels' buttons, tick boxes, drop-down lists, number boxes and sliders: a
    ``QFocusFrame`` (a frame laid over the control with the focus, ``FOCUS_STYLE``), nothing else restyled. Session 48
    keyboard QA: napari's style sheet draws no focus on them (no ``:focus`` rule but its console's and layer list's):
    the Review dock's grabs with the focus on "Save correction", on "Mask as contour" and on Queue were the same
    image, pixel for pixel. A ``:focus`` border in a style sheet of the control's own made a focused drop-down 2 px
    taller (the panel below it moved) and, set on the panels, made the Project panel's disabled buttons 2 px lower."""
    import weakref

    from qtpy.QtWidgets import QAbstractSpinBox, QApplication, QCheckBox, QComboBox, QFocusFrame, QPushButton, QSlider

    refs = [weakref.ref(scroll) for scroll in scrolls]  # held by the application's signal: not the panels (leak check)
    viewer_ref = weakref.ref(viewer)
    kinds = (QPushButton, QComboBox, QAbstractSpinBox, QSlider, QCheckBox)
    frame = QFocusFrame(scrolls[0])
    frame_ref = weakref.ref(frame)

    def colour() -> str:
        try:
            from napari.utils.theme import get_theme

            return get_theme(viewer_ref().theme).text.as_hex()
        except Exception:  # noqa: BLE001 - another napari, a closed viewer: a colour that shows on its dark theme
            return "#f0f1f2"

    def changed(_old, new) -> None:
        box = frame_ref()
        if box is None:
            return
        try:
            if isinstance(new, kinds) and any(ref() is not None and ref().isAncestorOf(new) for ref in refs):
                box.setStyleSheet(FOCUS_STYLE.format(colour=colour()))
                box.setWidget(new)
            elif new is not None:  # not when the window loses the focus (it comes back to the same control)
                box.setWidget(None)
        except RuntimeError:  # a widget being deleted
            pass

    QApplication.instance().focusChanged.connect(changed)
    frame.destroyed.connect(lambda *_: _disconnect(QApplication.instance().focusChanged, changed))


def _disconnect(signal, slot) -> None:
    try:
        signal.disconnect(slot)
    except (RuntimeError, TypeError):
        pass


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


#: the layouts ``DockSizer`` chooses among: two dock columns; two columns with napari's layer list a tab beside
#: Project and Adaptation (a short window: ``SHORT_PROJECT_DOCK``); one column of tabs (a narrow window:
#: ``NARROW_CANVAS_SHARE``)
TWO_COLUMNS, TWO_COLUMNS_SHORT, ONE_COLUMN = "two columns", "two columns, layer list a tab", "one column"

#: when the window's size changes, the margin the window must pass the threshold by before the layout goes back:
#: two columns again once they would leave the image this many px more than ``NARROW_CANVAS_SHARE`` of the width
#: (about 1490 px wide, against under about 1465 px for one column), the layer list above Project again once the
#: Project dock would get this many px more than ``SHORT_PROJECT_DOCK``. A window dragged to about the threshold does
#: not flip from one layout to the other at each pixel; the 1500 x 950 launch size is two columns either way
RELAYOUT_MARGIN_PX = 24

#: how long the window's size (or screen) must stay as it is before the layout is chosen again, ms: a window being
#: resized by its edge (the window manager's drag, which Qt does not see as mouse buttons held) is laid out once, when
#: it stops, not at each step
RELAYOUT_DELAY_MS = 500

_SIZER_NAME = "VesselStudioDockSizer"
_DOCK_SIZER = None


def _dock_sizer_class():
    global _DOCK_SIZER
    if _DOCK_SIZER is None:
        _DOCK_SIZER = _make_dock_sizer_class()
    return _DOCK_SIZER


def _make_dock_sizer_class():
    import weakref

    from qtpy.QtCore import QEvent, QObject, Qt, QTimer
    from qtpy.QtWidgets import QApplication, QStyle

    class DockSizer(QObject):
        """Lays the panels' docks out when the window is first shown (when it already is, as ``make_viewer`` shows it
        before the panels are docked: at the event loop's next turn, once the window has laid the new docks out; sized
        at once, the sizes were lost and each dock was 486 px wide, its panels' 461 or 465: session 42): as wide as the
        panels, and the Project panel with most of the left column's height under napari's layer controls
        and layer list (on a short screen, where that leaves the Project dock under ``SHORT_PROJECT_DOCK``, the
        layer list is a tab beside Project and Adaptation instead; on a narrow screen, one column of tabs:
        ``NARROW_CANVAS_SHARE``). In scroll areas (``qtutil.PanelScroll``) the
        docks would keep their narrow minimum and napari's left docks most of the height.

        And again when the window's size or screen changes (session 44: resized from 1500 x 950 to 1280 x 720, the
        two columns stayed and left the image 328 px, 25.6 % of the width; a window laid out in one column on a
        laptop's screen stayed so, maximised on a 1600 x 1000 monitor): once the size has stayed put for
        ``RELAYOUT_DELAY_MS``, with no mouse button held (a dock's splitter being dragged) and no dialog open, the
        layout is chosen as at the first show, with a margin (``RELAYOUT_MARGIN_PX``) to go back. Only the docks
        move: the panels, their edits and a running job are not touched; the panel in front (the one the person
        last used) stays in front. Not once the person has moved a dock themselves (dragged it to another place,
        floated it: ``user_arranged``): their arrangement stays, whatever the size. Holds the studio weakly
        (napari's leak check)."""

        def __init__(self, studio, window):
            super().__init__(window)
            self.setObjectName(_SIZER_NAME)
            self._studio = weakref.ref(studio)
            #: the layout set last (``TWO_COLUMNS``, ``TWO_COLUMNS_SHORT``, ``ONE_COLUMN``); None before the first show
            self.layout = None
            #: a dock was moved or floated by the person (not by this): the layout is left to them from then on
            self.user_arranged = False
            self._arranging = False
            self._watching = False
            self._screen_changed = False
            self._front = None  # the dock the person used last (its tab raised, or its panel given the keyboard focus)
            self._later = QTimer(self)
            self._later.setSingleShot(True)
            self._later.setInterval(RELAYOUT_DELAY_MS)
            self._later.timeout.connect(self.relayout)
            window.installEventFilter(self)
            if window.isVisible():
                QTimer.singleShot(0, self.size)

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
            kind = event.type()
            if kind == QEvent.Type.Show and self.layout is None:
                QTimer.singleShot(0, self.size)  # once the shown window is laid out
            elif kind == QEvent.Type.Resize and self._watching:
                self._later.start()  # again at each step of a resize: once it stops
            return False

        def _parts(self):
            studio = self._studio()
            win, qt_viewer = studio.viewer.window._qt_window, studio.viewer.window._qt_viewer
            return studio.docks, studio.panels, win, qt_viewer

        @staticmethod
        def _widths(panels) -> list[int]:
            """The two columns' widths: each its panels' (and the scroll bar's)."""
            return [max(panels[a].sizeHint().width(), panels[b].sizeHint().width()) + 24
                    for a, b in (("Project", "Adaptation"), ("Review", "Export"))]

        def size(self) -> None:
            try:
                docks, panels, win, qt_viewer = self._parts()
                widths = self._widths(panels)
                # the image's width once the columns have their panels' width (the window is laid out)
                canvas = win.centralWidget().width() + docks["Project"].width() + docks["Review"].width() - sum(widths)
                if (canvas < NARROW_CANVAS_SHARE * win.width()
                        or docks["Review"] in win.tabifiedDockWidgets(docks["Project"])):  # sized again
                    self._arranging = True
                    self.one_column(win, qt_viewer, docks, max(widths))
                    self.layout = ONE_COLUMN
                else:
                    self._arranging = True
                    win.resizeDocks([docks["Project"], docks["Review"]], widths, Qt.Orientation.Horizontal)
                    self.layout = TWO_COLUMNS
                controls, layers = qt_viewer.dockLayerControls, qt_viewer.dockLayerList
                win.resizeDocks([controls, layers, docks["Project"]],
                                [controls.minimumHeight(), layers.minimumHeight(), 10000], Qt.Orientation.Vertical)
            except (AttributeError, RuntimeError, KeyError, TypeError):  # another napari layout, or a closed window
                return
            finally:
                self._arranging = False
            self._watch(win, qt_viewer, docks)
            QTimer.singleShot(0, self.tab_layers_if_short)  # once the docks have their new sizes

        # --- following the window's size and screen, and the person's own arrangement ---------------------------

        def _watch(self, win, qt_viewer, docks) -> None:
            """From the first layout on: the docks' moves (the person's, ``user_arranged``), the dock the person
            uses (the tab they raise, the keyboard focus), the window's screen."""
            if self._watching:
                return
            self._watching = True
            for dock in self._all_docks(qt_viewer, docks):
                dock.topLevelChanged.connect(self._moved)
                dock.dockLocationChanged.connect(self._moved)
                dock.visibilityChanged.connect(self._tab_raised)
            QApplication.instance().focusChanged.connect(self._focus_changed)
            handle = win.windowHandle()
            if handle is not None:
                handle.screenChanged.connect(self._screen_change)

        @staticmethod
        def _all_docks(qt_viewer, docks) -> list:
            return [docks["Project"], docks["Adaptation"], docks["Review"], docks["Export"],
                    qt_viewer.dockLayerList, qt_viewer.dockLayerControls]

        def _moved(self, *_args) -> None:
            """A dock moved to another area or tab, or floated (a drag floats it until it is dropped): by the
            person, unless this is arranging them."""
            if not self._arranging:
                self.user_arranged = True
                self._later.stop()

        def _tab_raised(self, shown: bool) -> None:
            """A tab brought to the front by the person (a click on its title): the panel they use."""
            try:
                dock, win = self.sender(), self._parts()[2]
                if (shown and dock is not None and not self._arranging and win.isVisible() and not win.isMinimized()
                        and win.tabifiedDockWidgets(dock)):
                    self._front = dock
            except (AttributeError, RuntimeError, KeyError):  # a closed window
                pass

        def _focus_changed(self, old, new) -> None:
            """The dock the focus moved into is the one the person uses; one that is a tab behind another is raised.
            Qt moves a tab behind another off the window without hiding it, so Tab and Shift+Tab go through its
            widgets as through the one in front (session 48 keyboard QA: from the Project panel's last button, 13
            presses of Tab went through the Adaptation panel behind it, nothing on screen showing where the focus
            was). Not when the window gets the focus back (``old`` is None: the person may have raised another tab
            with the mouse meanwhile, leaving the focus behind)."""
            try:
                docks, _panels, win, qt_viewer = self._parts()
                for dock in self._all_docks(qt_viewer, docks):
                    if new is not None and dock.isAncestorOf(new):
                        self._front = dock
                        if (old is not None and not dock.isFloating() and dock.visibleRegion().isEmpty()
                                and win.tabifiedDockWidgets(dock)):
                            dock.raise_()
                        return
            except (AttributeError, RuntimeError, KeyError):  # a closed window
                pass

        def _screen_change(self, *_args) -> None:
            self._screen_changed = True
            self._later.start()

        def relayout(self) -> None:
            """The layout chosen again for the window's size (``wanted``), when it has changed; later while a mouse
            button is held (a splitter or a dock being dragged), a dialog or menu is open. On another screen first
            made to fit it where it is larger (not maximised: the window manager sizes that)."""
            if self.user_arranged or self.layout is None:
                return
            app = QApplication.instance()
            if (app.mouseButtons() != Qt.MouseButton.NoButton or app.activeModalWidget() is not None
                    or app.activePopupWidget() is not None):
                self._later.start()  # after the drag, the dialog, the menu
                return
            try:
                docks, panels, win, qt_viewer = self._parts()
                if win.isMinimized() or not win.isVisible():
                    return
                if self._screen_changed:
                    self._screen_changed = False
                    if self._fit_screen(win):
                        self._later.start()  # laid out once this resize has settled
                        return
                wanted = self.wanted()
                if wanted != self.layout:
                    self.arrange(wanted)
            except (AttributeError, RuntimeError, KeyError, TypeError):  # another napari layout, or a closed window
                pass

        @staticmethod
        def _fit_screen(win) -> bool:
            """A window (not maximised: the window manager sizes that) larger than its new screen's available area
            made to fit it, as ``grow_window`` does at launch, and moved onto it where it overflows; True when it was
            resized."""
            screen = win.screen()
            if win.isMaximized() or win.isFullScreen() or screen is None:
                return False
            available, frame = screen.availableGeometry(), win.frameGeometry()
            extra_w, extra_h = frame.width() - win.width(), frame.height() - win.height()  # the title bar, borders
            width = min(win.width(), available.width() - extra_w)
            height = min(win.height(), available.height() - extra_h)
            if (width, height) == (win.width(), win.height()):
                return False
            win.resize(width, height)
            # moved only as far as it takes to be on the screen (a window manager may ignore it during a drag)
            right, bottom = frame.left() + width + extra_w - 1, frame.top() + height + extra_h - 1
            x = frame.left() - max(0, right - available.right())
            y = frame.top() - max(0, bottom - available.bottom())
            x, y = max(x, available.left()), max(y, available.top())
            if (x, y) != (frame.left(), frame.top()):
                win.move(x, y)
            return True

        def wanted(self):
            """The layout for the window's size now: one column where two would leave the image under
            ``NARROW_CANVAS_SHARE`` of the window's width; else two, napari's layer list a tab where the Project dock
            would get under ``SHORT_PROJECT_DOCK`` under it. ``RELAYOUT_MARGIN_PX`` more to go back from one column
            or from the layer list's tab."""
            docks, panels, win, qt_viewer = self._parts()
            project, review = docks["Project"], docks["Review"]
            controls, layers = qt_viewer.dockLayerControls, qt_viewer.dockLayerList
            widths = self._widths(panels)
            separator = win.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent, None, win)
            central = win.centralWidget()
            if self.layout == ONE_COLUMN:  # the image beside two columns: the one column's width, less theirs
                canvas = central.width() + project.width() - sum(widths) - separator
                margin = RELAYOUT_MARGIN_PX
            else:
                canvas = central.width() + project.width() + review.width() - sum(widths)
                margin = 0
            if canvas < NARROW_CANVAS_SHARE * win.width() + margin:
                return ONE_COLUMN
            # the Project dock's height under napari's layer controls and layer list (at their least, as ``size``
            # gives them): the left column's (the image's) less theirs
            room = central.height() - _least_height(controls) - _least_height(layers) - 2 * separator
            margin = RELAYOUT_MARGIN_PX if self.layout == TWO_COLUMNS_SHORT else 0
            if room < SHORT_PROJECT_DOCK + margin and layers.toggleViewAction().isChecked() and not layers.isFloating():
                return TWO_COLUMNS_SHORT
            return TWO_COLUMNS

        def arrange(self, layout) -> None:
            """Put the docks in ``layout``, sized as at the first show; the panel in front before (or the one the
            person last used) in front after. Docks the person closed or floated are left as they are."""
            docks, panels, win, qt_viewer = self._parts()
            project, adaptation, review, export = (docks[n] for n in ("Project", "Adaptation", "Review", "Export"))
            controls, layers = qt_viewer.dockLayerControls, qt_viewer.dockLayerList
            every = self._all_docks(qt_viewer, docks)
            front = [d for d in every if not d.isHidden() and not d.visibleRegion().isEmpty()]
            # docks the person closed (hidden, not a tab behind another: those are hidden by the layout) stay closed
            closed = {d for d in every if not d.toggleViewAction().isChecked() or d.isFloating()}
            widths = self._widths(panels)

            def raise_in(group, default) -> None:
                """In front in ``group`` (tabs): the dock the person used last, else the one in front before, else
                ``default``."""
                used = [self._front] if self._front in group else []
                for dock in used + [d for d in front if d in group] + [default]:
                    if dock not in closed:
                        dock.raise_()
                        return

            left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
            self._arranging = True
            try:
                if layout == ONE_COLUMN:
                    for dock in (adaptation, review, export, layers, controls):
                        if dock not in closed and dock not in win.tabifiedDockWidgets(project):
                            win.tabifyDockWidget(project, dock)
                    raise_in(every, project)
                    win.resizeDocks([project], [max(widths)], Qt.Orientation.Horizontal)
                else:
                    for dock in (controls, layers, project):
                        if dock not in closed:
                            win.addDockWidget(left, dock, Qt.Orientation.Vertical)
                    tabs = [adaptation] + ([layers] if layout == TWO_COLUMNS_SHORT else [])
                    for dock in tabs:
                        if dock not in closed:
                            win.tabifyDockWidget(project, dock)
                    if review not in closed:
                        win.addDockWidget(right, review, Qt.Orientation.Vertical)
                        if export not in closed:
                            win.tabifyDockWidget(review, export)
                    elif export not in closed:
                        win.addDockWidget(right, export, Qt.Orientation.Vertical)
                    raise_in(tabs + [project], project)
                    raise_in([review, export], review)
                    win.resizeDocks([project, review], widths, Qt.Orientation.Horizontal)
                    column = [controls] + ([] if layout == TWO_COLUMNS_SHORT else [layers]) + [project]
                    column = [d for d in column if d not in closed]
                    win.resizeDocks(column, [_least_height(d) for d in column[:-1]] + [10000],
                                    Qt.Orientation.Vertical)
            finally:
                self._arranging = False
            self.layout = layout

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
            try:
                docks, _panels, win, qt_viewer = self._parts()
                controls, layers = qt_viewer.dockLayerControls, qt_viewer.dockLayerList
                project = docks["Project"]
                if (project.height() >= SHORT_PROJECT_DOCK or not layers.isVisible() or layers.isFloating()
                        or layers in win.tabifiedDockWidgets(project)
                        or win.dockWidgetArea(layers) != win.dockWidgetArea(project)):
                    return
                self._arranging = True
                win.tabifyDockWidget(project, layers)
                project.raise_()
                win.resizeDocks([controls, project], [controls.minimumHeight(), 10000], Qt.Orientation.Vertical)
                if self.layout == TWO_COLUMNS:
                    self.layout = TWO_COLUMNS_SHORT
            except (AttributeError, RuntimeError, KeyError):
                pass
            finally:
                self._arranging = False

    return DockSizer


def _least_height(dock) -> int:
    """The height a dock gets at least (its minimum, or what its contents need)."""
    return max(dock.minimumHeight(), dock.minimumSizeHint().height())


def _size_docks_when_shown(studio, window) -> None:
    """The window's ``DockSizer`` (one a window): made, or told to lay the docks out again at the next turn."""
    from qtpy.QtCore import QObject, QTimer

    sizer = window.findChild(QObject, _SIZER_NAME)
    if sizer is None:
        _dock_sizer_class()(studio, window)
    elif window.isVisible():
        QTimer.singleShot(0, sizer.size)


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


def _viewer_with_text_argv(napari, show: bool):
    """``napari.Viewer``, which makes Qt's application from ``sys.argv`` when there is none yet, made with the
    command's arguments as text: an argument holding bytes its locale could not decode (Python's escapes, U+DC80-
    U+DCFF) crashed PySide6's QApplication with a segmentation fault, so ``vessel-studio gui PROJECT`` of a folder named
    in Latin-1 on a UTF-8 disk, or of "été" under ``LC_ALL=C PYTHONUTF8=0``, ended before any window (session 49 QA).
    ``sys.argv`` is as it was afterwards."""
    import sys

    from vessel_studio.wording import text_name

    argv = sys.argv
    sys.argv = [text_name(a) for a in argv]
    try:
        return napari.Viewer(title=TITLE, show=show)
    finally:
        sys.argv = argv


def make_viewer(project: str | os.PathLike | None = None, *, show: bool = True):
    """A napari Viewer titled Vessel Studio with the panels docked (the event loop is not run)."""
    import napari

    from vessel_studio.gui.jobs import freeze_heap

    import_engine()  # before the window exists: in the first job it would stall the event loop
    viewer = _viewer_with_text_argv(napari, show)
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
