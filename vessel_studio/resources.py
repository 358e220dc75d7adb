"""Where shipped models live, and name -> folder resolution for ``--model NAME``."""

from __future__ import annotations

import os
from pathlib import Path

#: Bundled model names (folders under ``resources/models``).
DEFAULT_SEGMENTER = "fundus-segmenter"
DEFAULT_GENERATOR = "fundus-generator"


def resources_dir() -> Path:
    """``$VESSEL_STUDIO_RESOURCES`` or the repository's ``resources/`` (editable install)."""
    env = os.environ.get("VESSEL_STUDIO_RESOURCES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "resources"


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
