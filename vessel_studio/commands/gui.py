"""``vessel-studio gui [PROJECT]``: open the Vessel Studio window (the default with no arguments)."""

from __future__ import annotations

import argparse
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
    try:
        from vessel_studio.gui.app import launch
    except ImportError as exc:  # the GUI extra is not installed
        raise SystemExit(f"vessel-studio gui: the desktop app needs napari and Qt: pip install 'vessel-studio[gui]' ({exc})")
    return launch(project)
