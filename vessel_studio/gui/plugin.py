"""npe2 contributions (see ``napari.yaml``): widgets, readers, sample data."""

from __future__ import annotations

from pathlib import Path

from vessel_studio.store.project import IMAGE_SUFFIXES  # every extension read_image reads


# --- widgets: each finds (or makes) the viewer's shared Studio --------------------------------

#: napari.yaml's name and display_name, and its widgets' display names by the studio's panel keys (``studio.panels``):
#: napari's Plugins menu calls a panel "Review and correction (Vessel Studio)", its ``add_plugin_dock_widget("vessel-
#: studio", "Review and correction")`` "Review and correction (vessel-studio)" (``napari.plugins.menu_item_template``)
PLUGIN_NAME = "vessel-studio"
PLUGIN_TITLE = "Vessel Studio"
MENU_NAMES = {"Project": "Project", "Adaptation": "Adaptation", "Review": "Review and correction", "Export": "Export"}



def _studio(napari_viewer):
    from vessel_studio.gui.studio import get_studio

    return get_studio(napari_viewer)


def _widget_class(module: str, name: str, key: str):
    """A QWidget class napari can instantiate with ``napari_viewer`` (it inspects ``__init__``): the panel in
    a scroll area, as the Vessel Studio window docks it (``qtutil.PanelScroll``: a panel opened from the
    Plugins menu, e.g. again after its dock was closed, kept the window from being made smaller than the
    panel), and the studio's panel ``key`` from then on (``studio.panels``; ``.widget()`` is the panel). As in the
    window, F6 / Shift+F6 go from pane to pane (``pane_keys``) and the control with the focus is framed
    (``app._show_focus``); session 49: neither was set up for the Plugins menu's panels."""
    import importlib

    from vessel_studio.gui.qtutil import PanelScroll

    panel_class = getattr(importlib.import_module(f"vessel_studio.gui.{module}"), name)

    def __init__(self, napari_viewer):
        from vessel_studio.gui import pane_keys
        from vessel_studio.gui.app import _show_focus

        studio = _studio(napari_viewer)
        panel = panel_class(studio)
        PanelScroll.__init__(self, panel)
        studio.panels[key] = panel
        _show_focus(studio.viewer, [self])
        pane_keys.attach(studio)  # once per window

    return type(f"Plugin{name}", (PanelScroll,), {"__init__": __init__, "__module__": __name__})


def __getattr__(name):  # ProjectWidget, AdaptationWidget, ... for the manifest
    table = {
        "ProjectWidget": ("project_panel", "ProjectPanel", "Project"),
        "AdaptationWidget": ("adapt_panel", "AdaptPanel", "Adaptation"),
        "ReviewWidget": ("review_panel", "ReviewPanel", "Review"),
        "ExportWidget": ("export_panel", "ExportPanel", "Export"),
    }
    if name in table:
        cls = _widget_class(*table[name])
        globals()[name] = cls
        return cls
    raise AttributeError(name)


# --- readers ---------------------------------------------------------------------------------


def get_reader(path):
    """A project folder (holding ``project.json``) opens in Vessel Studio; an image file becomes a layer, and so does
    each image of a folder (its top level: session 49 QA, napari offers this reader for every folder, as its manifest
    takes folders for the projects, and chosen for a folder of scans in File > Open Folder…'s "Choose reader" it
    refused it: "Reader 'vessel-studio' was selected to open …, but refused the file")."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir() and (p / "project.json").is_file():
        return _read_project
    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
        return _read_image
    if p.is_dir() and _folder_images(p):
        return _read_folder
    return None


def _folder_images(folder: Path) -> list[Path]:
    """The image files at ``folder``'s top level, by name (``is_image_name``, as the Project panel's Add folder…)."""
    from vessel_studio.store.project import is_image_name

    try:
        return sorted(x for x in folder.iterdir() if x.is_file() and is_image_name(x))
    except OSError:
        return []


def _read_project(path):
    """The project opened in the viewer's studio, with the Project and Review panels docked where none of the studio's
    panels is open (session 49 QA: opened so in a napari with none, the project was open but nothing showed it)."""
    import napari

    if isinstance(path, list):
        path = path[0]
    viewer = napari.current_viewer()
    if viewer is None:
        return [(None,)]
    studio = _studio(viewer)
    if not studio.panels:
        try:
            for key in ("Project", "Review"):
                viewer.window.add_plugin_dock_widget(PLUGIN_NAME, MENU_NAMES[key])
        except (AttributeError, RuntimeError, KeyError):  # a viewer without napari's window
            pass
    studio.open_project(path)
    return [(None,)]  # handled: the studio shows the project's layers itself


def _read_image(path):
    from vessel_studio.io.images import read_image

    if isinstance(path, list):
        path = path[0]
    arr, meta = read_image(path)
    kw = {"name": Path(path).stem, "rgb": arr.ndim == 3}
    if meta.pixel_spacing_mm:
        kw["scale"] = tuple(meta.pixel_spacing_mm)
        kw["units"] = "mm"
    return [(arr, kw, "image")]


def _read_folder(path):
    """Each image of the folder a layer, as :func:`_read_image` (their sizes may differ: not a stack)."""
    if isinstance(path, list):
        path = path[0]
    return [layer for image in _folder_images(Path(path)) for layer in _read_image(image)]


# --- sample data -----------------------------------------------------------------------------


def sample_fundus():
    from vessel_studio.gui.review_layers import mask_colormap  # the Review panel's mask colour
    from vessel_studio.samples import synthetic_fundus

    rgb, mask, _fov = synthetic_fundus((512, 512), seed=0)
    return [
        (rgb, {"name": "synthetic fundus", "rgb": True}, "image"),
        (mask.astype("uint8"), {"name": "true vessels", "opacity": 0.5, "colormap": mask_colormap()}, "labels"),
    ]


def sample_octa():
    from vessel_studio.gui.review_layers import mask_colormap
    from vessel_studio.samples import synthetic_octa

    gray, mask = synthetic_octa((304, 304), seed=0)
    return [
        (gray, {"name": "synthetic OCTA", "colormap": "gray"}, "image"),
        (mask.astype("uint8"), {"name": "true large vessels", "opacity": 0.5, "colormap": mask_colormap()},
         "labels"),
    ]
