"""Small pieces of wording shared by messages of the core, the commands and the window (no Qt)."""

from __future__ import annotations

from typing import Sequence


def shown_names(names: Sequence[str], first: int = 3) -> str:
    """The first ``first`` of ``names``, comma-joined, and how many more: ``a, b, c and 4 more``."""
    names = list(names)
    return ", ".join(names[:first]) + (f" and {len(names) - first} more" if len(names) > first else "")


def text_name(name: str) -> str:
    """A file's name as text, for a project's records and what shows them (the window, ``measures.csv``): the bytes
    of a name that the file system's encoding could not decode, which Python holds as escapes (U+DC80-U+DCFF), read
    as UTF-8, and where they are not UTF-8 (an old archive's Latin-1 "M\\xfcller") U+FFFD, as a viewer shows them.
    Under ``LC_ALL=C PYTHONUTF8=0`` "Müller" came as "M\\udcc3\\udcbcller"; a Latin-1 name's letter vanished from
    the window's title and list ("Mller") and stopped the export at ``measures.csv`` (session 49 QA)."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate of another kind (a manifest edited by hand)
        return name.encode("utf-8", "replace").decode("utf-8")


def shell_word(path) -> str:
    """``path`` as one word of a command a person copies into a shell: quoted when it holds a space or another
    character the shell takes apart (``'Université de Genève/Müller project'``). Unquoted, "open it with: vessel-studio
    gui échantillon 眼底" gave the command two folders: "unrecognized arguments" (session 49 QA)."""
    import shlex

    return shlex.quote(str(path))


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


def spacing_um(pair, spec: str, *, origin: str | None = None, width_first: bool = True, times: str = "×",
               unit: str = "µm/px") -> str:
    """A pixel spacing ``(row_mm, col_mm)`` as a person reads it, in µm at ``spec``'s precision (``".1f"``): one number
    when the two agree at that precision, else both, the pixel's width first (the window) or its height first (the
    command line, the spacing dialog), the order said in brackets with ``origin`` (``ImageRecord.spacing_origin``):
    ``9.9 µm/px (set)``, ``10.0 × 20.0 µm/px (width × height, set)``, ``20.000 x 10.000 µm/px (height x width)``."""
    row, col = (format(float(v) * 1000, spec) for v in (pair[0], pair[-1]))
    if row == col:
        return f"{row} {unit}" + (f" ({origin})" if origin else "")
    first, second, order = (col, row, f"width {times} height") if width_first else (row, col, f"height {times} width")
    return f"{first} {times} {second} {unit} ({', '.join(x for x in (order, origin) if x)})"
