"""Atomic writes: write to a temporary file in the same folder, fsync, then rename.

A reader never sees a half-written file, and a crash (even ``kill -9``) leaves either the old
file or the new one. Folders are written the same way: build ``<name>.tmp-<random>`` and
rename it over the destination.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _name_max(folder: Path) -> int:
    """The longest file name ``folder``'s file system takes, in bytes (255 on ext4, XFS, NTFS, APFS)."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or a file system that does not say
        return 255


def _temp_stem(path: Path, name_max: int = 255) -> str:
    """``path``'s stem as :func:`atomic_path`'s temporary name ``.STEM.<8 random>.tmp.EXT`` holds it: cut short so that
    the temporary name fits ``name_max`` bytes. A stem of more than ~240 bytes (an image named by a long sentence, 80
    CJK characters) gave a temporary name longer than the file system takes, and ``segment`` and ``export`` refused
    an image whose own output name fitted (session 49 QA: "[Errno 36] File name too long")."""
    stem = path.stem
    room = name_max - len(os.fsencode(f"..{'x' * 8}.tmp{path.suffix}"))
    while stem and len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return stem


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary name keeps the suffix so that writers choosing a format by extension
    (tifffile, PIL) still work. On an exception the temporary file is removed and ``path``
    is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:  # mkdir's own words: "File exists: 'PARENT'"
        file = next((str(a) for a in (path.parent, *path.parent.parents) if a.is_file()), exc.filename)
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write here: {file} is a file, not a folder",
                                 str(path)) from exc
    name_max = _name_max(path.parent)
    if len(os.fsencode(path.name)) > name_max:  # said before any work, not as a temporary name's error
        raise OSError(errno.ENAMETOOLONG, f"File name too long: {len(os.fsencode(path.name))} bytes, this folder "
                      f"takes names of at most {name_max}", str(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{_temp_stem(path, name_max)}.", suffix=f".tmp{path.suffix}",
                                   dir=path.parent)
    except OSError as exc:  # a read-only or full folder: name the file being written, not a temporary name
        raise type(exc)(exc.errno, f"{exc.strerror or exc}; no new file can be made in its folder",
                        str(path)) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the result the usual permissions (0666 & ~umask).
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_report(folder: str | os.PathLike, name: str, result: Any, lines: list[str]) -> Path:
    """A benchmark's result as ``folder/name.json`` and its Markdown ``lines`` as ``folder/name.md``,
    each written atomically; returns the Markdown file."""
    folder = Path(folder)
    write_json(folder / f"{name}.json", result)
    return write_text(folder / f"{name}.md", "\n".join(lines) + "\n")


def _json_default(obj: Any) -> Any:
    import dataclasses

    import numpy as np

    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def write_with(path: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; on success it replaces ``path``.

    An existing ``path`` is moved aside first and deleted only after the new folder is in
    place, so at every moment one complete version exists on disk (:func:`recover_dir` puts a
    moved-aside version back when a kill came between the two renames).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp creates 0700 folders
        for f in tmp.rglob("*"):  # some writers (safetensors' save_file) create 0600 files
            if f.is_file() and not f.is_symlink():
                os.chmod(f, os.stat(f).st_mode | (0o644 & ~_UMASK))
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: leftovers of a killed ``atomic_dir`` younger than this may be another process's live write
STALE_DIR_S = 600.0


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` is a temporary file or folder of an unfinished write: :func:`atomic_path`'s
    ``.STEM.<random>.tmp.EXT``, :func:`atomic_dir`'s ``.NAME.<random>.tmp``, a round's ``.round-NNN.tmp-PID``
    (``Project.commit_round``). Not a folder moved aside (``.NAME.old-PID``), which :func:`recover_dir` may put back."""
    return name.startswith(".") and ".tmp" in name


def recover_dir(path: str | os.PathLike) -> Path:
    """Repair what a killed :func:`atomic_dir` left beside ``path``; return ``path``.

    A kill between its two renames leaves no ``path`` and the complete previous version at
    ``.NAME.old-PID``: that version is moved back. Temporary ``.NAME.*.tmp`` folders and
    ``.NAME.old-*`` copies older than ``STALE_DIR_S`` are removed (younger ones may belong to a
    live writer in another process). Readers that test ``path`` (a trainer's checkpoint) call this
    first, so that a resume finds the last complete checkpoint.
    """
    import time

    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return path
    olds = sorted(parent.glob(f".{glob.escape(path.name)}.old-*"), key=lambda p: p.stat().st_mtime)
    if not path.exists() and olds:
        with contextlib.suppress(OSError):
            os.replace(olds.pop(), path)
    now = time.time()
    for p in [*olds, *parent.glob(f".{glob.escape(path.name)}.*.tmp")]:
        with contextlib.suppress(OSError):
            if now - p.lstat().st_mtime >= STALE_DIR_S:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    return path


def remove_stale_temporaries(paths) -> list[Path]:
    """Remove the temporary files that :func:`atomic_path` writes of ``paths`` and a killed process left beside them
    (``.STEM.<8 random characters>.tmp.EXT``), only those older than ``STALE_DIR_S`` (a younger one may be another
    process's live write); return the removed. For a command writing into a folder of the person's (``segment
    --out``: before session 44 a run killed mid-write left ``.eye1.<random>.tmp.png`` there for good). Best effort.
    Each folder is listed once (a glob per path listed it once per path: 3.8 s for 2,000 outputs, session 45)."""
    import re
    import time

    now = time.time()
    removed: list[Path] = []
    wanted: dict[Path, set[str]] = {}
    name_max: dict[Path, int] = {}
    for path in map(Path, paths):  # the names as the temporary names hold them (a long stem cut short)
        if path.parent not in name_max:
            name_max[path.parent] = _name_max(path.parent)
        wanted.setdefault(path.parent, set()).add(_temp_stem(path, name_max[path.parent]) + path.suffix)
    temporary = re.compile(r"\.(?P<stem>.+)\.[a-z0-9_]{8}\.tmp(?P<suffix>.*)")
    for parent, names in wanted.items():
        try:
            entries = list(os.scandir(parent))
        except OSError:
            continue
        for e in entries:
            m = temporary.fullmatch(e.name)
            if m is None or m["stem"] + m["suffix"] not in names:
                continue
            p = Path(e.path)
            with contextlib.suppress(OSError):
                if e.is_file(follow_symlinks=False) and now - p.lstat().st_mtime >= STALE_DIR_S:
                    p.unlink()
                    removed.append(p)
    return removed


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Hard-link ``src`` at ``dst`` (no second copy of the data on disk), or copy it (``shutil.copy2``)
    where the file system cannot link (another device, FAT / exFAT, some network shares). For
    ``shutil.copytree(..., copy_function=link_or_copy)`` of files that are never changed in place:
    every writer here replaces a file (atomic rename, a new inode), so a later write to one name
    leaves the other alone."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return str(dst)

