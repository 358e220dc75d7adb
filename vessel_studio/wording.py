"""Small pieces of wording shared by messages of the core, the commands and the window (no Qt)."""

from __future__ import annotations

from typing import Sequence


def shown_names(names: Sequence[str], first: int = 3) -> str:
    """The first ``first`` of ``names``, comma-joined, and how many more: ``a, b, c and 4 more``."""
    names = list(names)
    return ", ".join(names[:first]) + (f" and {len(names) - first} more" if len(names) > first else "")
