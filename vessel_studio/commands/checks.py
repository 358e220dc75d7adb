"""Checks shared by the subcommands, run before any work so that a bad option costs nothing."""

from __future__ import annotations

import argparse

from vessel_studio.io.folders import check_out_folder  # noqa: F401 - the commands' --out check


def check_at_least(args: argparse.Namespace, **least: int) -> None:
    """``--name`` options given (not None) must be at least ``least[name]``; a ``ValueError`` names
    the first that is not (0 is a value to refuse, never read as "the preset's")."""
    for name, low in least.items():
        value = getattr(args, name)
        if value is not None and value < low:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
