"""The napari desktop app: dock widgets, thread workers over the core's jobs, npe2 manifest.

The only package of Vessel Studio that imports Qt / napari / magicgui / superqt; importing
``vessel_studio.gui`` itself is cheap (submodules are imported on use).
Start with ``vessel-studio`` (no arguments) or ``vessel_studio.gui.app.launch(project)``.
"""

__all__ = ["launch"]


def launch(project=None) -> int:
    from vessel_studio.gui.app import launch as _launch

    return _launch(project)
