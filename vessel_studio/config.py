"""Helpers shared by the frozen config dataclasses (segmenter, generator, adaptation)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping


def check_fields(cls: type, d: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming ``cls`` when ``d`` has keys that are not fields of ``cls``."""
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {unknown}")
