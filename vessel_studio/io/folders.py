"""Output folders checked before any work is done, so that no run deletes or overwrites what it did
not write (the commands' ``--out``, the Export panel's folder, ``vs.export``)."""

from __future__ import annotations

import os
from pathlib import Path


def check_out_folder(out, *, kind: str | None = None, replaceable=None, name: str = "--out",
                     output: str = "this command's output", foreign=None) -> Path:
    """``out`` checked before any work is done. It may be absent, an empty folder, or (with ``kind``) a
    complete model folder of that kind, which the new model replaces atomically at the end;
    ``replaceable(folder) -> bool`` admits other folders that may be replaced (the writer's own earlier
    ``output``); or ``foreign(folder) -> list of names``: the entries that are not ``output``'s, a folder
    with none being admitted and the first three named in the error otherwise. A file, or a folder
    holding anything else (a lab's images, another kind of model), is refused with a ``ValueError``
    naming it (``name``: how the caller calls the folder)."""
    out = Path(out)
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"{parent}: is a file, so {out} cannot be created there (nothing was changed)")
    if not out.exists():
        if out.is_symlink():  # a link to nothing: writing into it fails with a bare "File exists"
            raise ValueError(f"{out}: {name} is a link to {os.readlink(out)}, which does not exist; choose "
                             f"another {name} (nothing was changed)")
        return out
    if not out.is_dir():
        raise ValueError(f"{out}: {name} is a file, not a folder; choose another {name} (nothing was changed)")
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
    found = sorted(foreign(out)) if foreign is not None else []
    if foreign is not None and not found:
        return out
    what = f"a {kind} model" if kind is not None else output
    if found:
        what += f" ({', '.join(found[:3])}" + (f" and {len(found) - 3} more)" if len(found) > 3 else ")")
    raise ValueError(f"{out}: {name} holds files that are not {what}; they could be replaced, so choose an empty "
                     "or new folder (nothing was changed)")
