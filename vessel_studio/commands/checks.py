"""Checks shared by the subcommands, run before any work so that a bad option costs nothing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from vessel_studio.io.folders import check_out_folder as _check_out_folder, check_writable


def check_out_folder(out, **kw) -> Path:
    """The commands' ``--out`` check (``io.folders.check_out_folder``) for a folder written atomically
    beside itself (a model, a translation), with the folder that holds it probed for writing
    (``check_writable``): a read-only place fails before the training, not after it."""
    if kw.get("kind") is not None and "of_kind" not in kw:  # a model folder of that kind may be replaced
        from vessel_studio.models.folder import is_model_folder

        kind = kw["kind"]
        kw["of_kind"] = lambda folder: is_model_folder(folder, kind)
    path = _check_out_folder(out, **kw)
    check_writable(path, beside=True, name=kw.get("name", "--out"))
    return path


def check_not_bundled(out, *, repo: Path, replace_bundled: bool, option: str = "--out") -> None:
    """A script of ``training/`` writes into a shipped model folder (``resources/models/NAME`` of the checkout
    ``repo``, or of ``resources.models_dir()``) only when ``--replace-bundled`` is given: before session 36 their
    ``--out`` defaulted to the bundled folder, so a run to try something replaced the model the app uses. A
    ``ValueError`` naming the folder otherwise, before any work."""
    from vessel_studio.resources import models_dir

    if replace_bundled:
        return
    parent = Path(out).resolve().parent
    bundled = {(Path(repo) / "resources" / "models").resolve(), models_dir().resolve()}
    if parent in bundled:
        raise ValueError(f"{out}: {option} is a bundled model folder, the model the app uses by default; to replace "
                         "it, add --replace-bundled; else choose another folder (nothing was changed)")


def check_at_least(args: argparse.Namespace, **least: int) -> None:
    """``--name`` options given (not None) must be at least ``least[name]``; a ``ValueError`` names
    the first that is not (0 is a value to refuse, never read as "the preset's")."""
    for name, low in least.items():
        value = getattr(args, name)
        if value is not None and value < low:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")


def parse_set(items: list[str], *, chosen_elsewhere: dict[str, str] | None = None) -> dict:
    """``--set KEY=VALUE ...`` as overrides: each value read as JSON (a number, true/false, null), else taken as the
    word it is. A list or an object is refused (no field takes one; its check raised a TypeError), and so is a key
    of ``chosen_elsewhere``, with its reason (the preset is chosen with ``--preset``)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        key, text = item.split("=", 1)
        if key in (chosen_elsewhere or {}):
            raise ValueError(f"--set {item!r}: {chosen_elsewhere[key]}")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
        if isinstance(out[key], (list, dict)):
            raise ValueError(f"--set {item!r}: a number, true/false, null or a word, not a list or an object")
    return out


def run_script(main: Callable[[list[str] | None], int], script: str, argv: list[str] | None = None) -> int:
    """``main(argv)`` of a script of ``training/`` with bad input (a ``ValueError`` or a missing file, named) said
    in one line, ``SCRIPT: error: ...``, and exit status 2, as ``vessel-studio`` says it (``cli.main``)."""
    try:
        return main(argv)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"{Path(script).name}: error: {exc}", file=sys.stderr)
        return 2
