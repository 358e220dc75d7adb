"""Small pieces of wording shared by messages of the core, the commands and the window (no Qt)."""

from __future__ import annotations

from typing import Sequence


def shown_names(names: Sequence[str], first: int = 3) -> str:
    """The first ``first`` of ``names``, comma-joined, and how many more: ``a, b, c and 4 more``."""
    names = list(names)
    return ", ".join(names[:first]) + (f" and {len(names) - first} more" if len(names) > first else "")


def byte_size(n: float) -> str:
    """``n`` bytes for a person: ``512 bytes``, ``3.0 MB``, ``1.2 GB`` (powers of 1000, as disk tools show)."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} bytes"


def given_up_work(work_dir, *, deleted: bool, freed: int) -> str:
    """What a roll back did with the work of the interrupted adaptation it made unresumable
    (``Project.rollback``'s ``RolledBack``), as ``rounds --rollback`` and the window's Roll back both say it."""
    if deleted:
        return f"its work in {work_dir} was deleted ({byte_size(freed)} freed)"
    return f"its work stays in {work_dir} until the next run starts afresh"
