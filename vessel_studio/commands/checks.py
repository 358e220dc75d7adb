"""Checks shared by the subcommands, run before any work so that a bad option costs nothing."""

from __future__ import annotations

import argparse
from pathlib import Path


def check_at_least(args: argparse.Namespace, **least: int) -> None:
    """``--name`` options given (not None) must be at least ``least[name]``; a ``ValueError`` names
    the first that is not (0 is a value to refuse, never read as "the preset's")."""
    for name, low in least.items():
        value = getattr(args, name)
        if value is not None and value < low:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")


def check_out_folder(out, *, kind: str | None = None, replaceable=None) -> Path:
    """``--out`` checked before any work is done. It may be absent, an empty folder, or (with
    ``kind``) a complete model folder of that kind, which the new model replaces atomically at the end;
    ``replaceable(folder) -> bool`` admits other folders a command may replace (its own earlier output).
    A file, or a folder holding anything else (a lab's images, another kind of model), is refused with
    a ``ValueError`` naming it, so that no run ever deletes what it did not write."""
    out = Path(out)
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"{parent}: is a file, so {out} cannot be created there (nothing was changed)")
    if not out.exists():
        return out
    if not out.is_dir():
        raise ValueError(f"{out}: --out is a file, not a folder; choose another --out (nothing was changed)")
    if not any(out.iterdir()):
        return out
    if kind is not None:
        from vessel_studio.models.folder import ModelFolderError, read_config

        try:
            read_config(out, kind=kind)
            return out
        except ModelFolderError:
            pass
    if replaceable is not None and replaceable(out):
        return out
    what = f"a {kind} model" if kind is not None else "this command's output"
    raise ValueError(f"{out}: --out holds files that are not {what}; it would be replaced, so choose an empty "
                     "or new folder (nothing was changed)")
