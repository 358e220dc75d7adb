"""Where shipped models live, name -> folder resolution for ``--model NAME``, and whether a name or
path is a shipped model (``is_bundled``: the one rule for the CLI's and the GUI's texts)."""

from __future__ import annotations

import os
from pathlib import Path

#: Bundled model names (folders under ``resources/models``).
DEFAULT_SEGMENTER = "fundus-segmenter"
DEFAULT_GENERATOR = "fundus-generator"


def resources_dir() -> Path:
    """``$VESSEL_STUDIO_RESOURCES``; else the package's ``_resources/``, where a wheel or ``pip install .``
    puts the repository's ``resources/`` (setup.py); else the repository's ``resources/`` beside the package
    (a source checkout or an editable install, which has no ``_resources/``). The packaged folder comes
    first: beside an installed package, ``site-packages/resources`` would be anything of that name."""
    env = os.environ.get("VESSEL_STUDIO_RESOURCES")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent
    packaged = package / "_resources"
    if packaged.is_dir():
        return packaged
    return package.parent / "resources"


def models_dir() -> Path:
    return resources_dir() / "models"


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A path to an existing folder is returned as is; a bare name is looked up in the bundle."""
    p = Path(name_or_path)
    if p.is_dir():
        return p
    if p.name == str(name_or_path) and (models_dir() / p.name).is_dir():
        return models_dir() / p.name
    bundled = sorted(x.name for x in models_dir().glob("*") if x.is_dir()) if models_dir().is_dir() else []
    raise FileNotFoundError(
        f"{name_or_path}: no such model folder, and not a bundled model (bundled: {', '.join(bundled) or 'none'})"
    )


def is_bundled(name_or_path: str | os.PathLike) -> bool:
    """Whether ``name_or_path`` is one of the shipped models: it resolves (``resolve_model``) to a
    folder directly in ``models_dir()``. A bundled name ("fundus-generator") is, and so is a path into
    ``resources/models`` however it is spelt (absolute, relative, through a link): it is the same folder.
    A folder of the same name elsewhere, or a name or path that resolves to no folder, is not."""
    try:
        folder = resolve_model(name_or_path)
        return folder.resolve().parent == models_dir().resolve()
    except OSError:  # FileNotFoundError: no such folder and no bundled model of that name
        return False
