"""``vessel-studio gui [PROJECT]``: open the Vessel Studio window (the default with no arguments)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", nargs="?", type=Path, help="a project folder to open (holds project.json)")


def run(args: argparse.Namespace) -> int:
    project = args.project
    if project is not None and not (project / "project.json").is_file():
        raise ValueError(
            f"{project}: not a Vessel Studio project (no project.json); "
            "make a sample one with `vessel-studio sample-data DIR`"
        )
    missing = missing_gui_packages()
    if missing:  # the GUI extra is not installed (a library-only `pip install .`)
        raise SystemExit(f"vessel-studio gui: error: the desktop app needs napari and Qt, and {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not installed: pip install 'vessel-studio[gui]' "
                         "(from a checkout: pip install '.[gui]')")
    problem = no_display()
    if problem:
        raise SystemExit(f"vessel-studio gui: error: {problem}")
    from vessel_studio.gui.app import launch

    return launch(project)


#: what the window imports first (the gui extra; qtpy finds the Qt binding)
GUI_PACKAGES = ("napari", "qtpy", "superqt", "magicgui")


def missing_gui_packages() -> list[str]:
    """The packages of the gui extra that cannot be imported, found without importing them (napari takes
    seconds). Before session 35 the command's check caught an ImportError of ``vessel_studio.gui.app``,
    which imports nothing of napari at its top, so without the extra ``launch`` ended in a traceback
    ("ModuleNotFoundError: No module named 'napari'")."""
    import importlib.util

    missing = []
    for name in GUI_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: in sys.modules as None (a blocked import)
            found = False
        if not found:
            missing.append(name)
    return missing


def no_display() -> str | None:
    """Why the window cannot open here, or None. On Linux (and other X11 / Wayland systems) with neither
    ``DISPLAY`` nor ``WAYLAND_DISPLAY`` set and no ``QT_QPA_PLATFORM`` chosen, Qt aborts the process when the
    window is made ("could not connect to display", then SIGABRT, after 6 s of imports in session 35): a machine
    without a screen, or an ssh session without X forwarding. Said before napari and Qt are imported. A display
    that is set but unreachable is left to Qt."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set). On a machine without a "
            "screen, run it on a virtual one: xvfb-run -a vessel-studio gui [PROJECT] (Debian's xvfb package); "
            "over ssh, connect with ssh -X. The other commands need no display (vessel-studio --help).")
