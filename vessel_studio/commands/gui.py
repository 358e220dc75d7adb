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
    without a screen, or an ssh session without X forwarding. It aborts the same way when ``DISPLAY`` is set but
    no X server can be connected to there (none running, or the connection refused: no X authority cookie), so an
    X display Qt would use (``DISPLAY`` without ``WAYLAND_DISPLAY``, or ``QT_QPA_PLATFORM=xcb``) is connected to
    first (``x_display_problem``; before session 36 it was left to Qt). Said before napari and Qt are imported.
    A Wayland display, or another platform chosen, is left to Qt."""
    if sys.platform in ("win32", "darwin"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):  # offscreen, wayland, vnc, ...: not an X display
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY")
    if display:
        return x_display_problem(display)
    if platform:
        return (f"no display to open the window on (QT_QPA_PLATFORM={platform} asks for an X display and DISPLAY is "
                f"not set). {_ELSEWHERE}")
    return f"no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set). {_ELSEWHERE}"


_ELSEWHERE = ("On a machine without a screen, run it on a virtual one: xvfb-run -a vessel-studio gui [PROJECT] "
              "(Debian's xvfb package); over ssh, connect with ssh -X. The other commands need no display "
              "(vessel-studio --help).")


def x_display_problem(display: str) -> str | None:
    """None when an X server at ``display`` accepts a connection (opened and closed again through libxcb, the
    library Qt's X platform uses, by ctypes: no Qt, a few milliseconds), else the one-line reason. None too when
    libxcb cannot be loaded (then Qt's X platform cannot work either, and says so itself)."""
    lib = _libxcb()
    if lib is None:
        return None
    conn = lib.xcb_connect(display.encode(), None)
    try:
        error = lib.xcb_connection_has_error(conn)
    finally:
        lib.xcb_disconnect(conn)  # an error connection too (libxcb ignores its static error connections)
    if not error:
        return None
    if error == 5:  # XCB_CONN_CLOSED_PARSE_ERR
        why = "not a display name (:0, localhost:10.0, ...). Set DISPLAY to one that runs"
    else:  # XCB_CONN_ERROR: no server at that socket or port, or it refused the connection; others unlikely
        why = ("no X server answers there, or it refused the connection (no permission to use it, e.g. no X "
               f"authority cookie){'' if error == 1 else f' (xcb error {error})'}. Start an X server there, or set "
               "DISPLAY to one that runs")
    return f"cannot connect to the display DISPLAY={display}: {why}. {_ELSEWHERE}"


def _libxcb():
    """libxcb through ctypes, its three functions typed; None when it cannot be loaded."""
    import ctypes
    import ctypes.util

    for find in (lambda: "libxcb.so.1", lambda: ctypes.util.find_library("xcb")):  # the second runs ldconfig
        name = find()
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.xcb_connect.restype = ctypes.c_void_p
        lib.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
        lib.xcb_connection_has_error.restype = ctypes.c_int
        lib.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        lib.xcb_disconnect.restype = None
        lib.xcb_disconnect.argtypes = [ctypes.c_void_p]
        return lib
    return None
