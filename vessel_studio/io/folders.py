"""Output folders checked before any work is done, so that no run deletes or overwrites what it did
not write (the commands' ``--out``, the Export panel's folder, ``vs.export``), and written whole or not
at all (``staged_output``: the export)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Iterator

from vessel_studio.wording import shown_names


def _bare(name: str) -> str:
    """``name`` after "another": "the export folder" -> "export folder" ("--out" as it is)."""
    return name[4:] if name.startswith("the ") else name


def _dangling_link(out: Path, name: str) -> ValueError:
    """``out`` is a link to nothing: writing into it fails with a bare "File exists"."""
    return ValueError(f"{out}: {name} is a link to {os.readlink(out)}, which does not exist; choose another "
                      f"{_bare(name)} (nothing was changed)")


def _a_file(out: Path, name: str) -> ValueError:
    return ValueError(f"{out}: {name} is a file, not a folder; choose another {_bare(name)} (nothing was changed)")


def check_out_folder(out, *, kind: str | None = None, of_kind=None, replaceable=None, name: str = "--out",
                     output: str = "this command's output", foreign=None) -> Path:
    """``out`` checked before any work is done. It may be absent, an empty folder, or (with ``kind``) a
    complete model folder of that kind (``of_kind(folder) -> bool`` says which is: ``models.folder.is_model_folder``,
    passed in by the caller, as ``io`` imports nothing of ``models``), which the new model replaces atomically at the
    end;
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
        if out.is_symlink():
            raise _dangling_link(out, name)
        return out
    if not out.is_dir():
        raise _a_file(out, name)
    if not any(out.iterdir()):
        return out
    if of_kind is not None and of_kind(out):
        return out
    if replaceable is not None and replaceable(out):
        return out
    found = sorted(foreign(out)) if foreign is not None else []
    if foreign is not None and not found:
        return out
    what = f"a {kind} model" if kind is not None else output
    if found:
        what += f" ({shown_names(found)})"
    raise ValueError(f"{out}: {name} holds files that are not {what}; they could be replaced, so choose an empty "
                     "or new folder (nothing was changed)")


# An output folder written whole or not at all (``staged_output``): the new contents are written into a
# hidden folder beside ``out`` (``.OUT.TAG-partial-PID-HEX8``) and swapped in at the end, the earlier
# contents moved aside (``.OUT.TAG-old-PID-HEX8``) and deleted once the new ones are in place. Where ``out``
# cannot be renamed (a mount point, the current directory, a folder held open), the new contents are
# written into ``out/.TAG-partial-PID-HEX8`` instead and moved in, entry by entry, after the earlier
# contents' ``entries`` are deleted. (PID: the writing process's id; HEX8: 8 random hex digits.)

#: this process's staging folders in use (another thread's export is not a killed one's leftover)
_LIVE: set[str] = set()


def _leftover(name: str, prefix: str) -> tuple[str, int] | None:
    """``("partial", PID)`` or ``("old", PID)`` when ``name`` is ``PREFIX-partial-PID-X`` or
    ``PREFIX-old-PID-X`` (``staged_output``'s names), else None."""
    for kind in ("partial", "old"):
        if name.startswith(f"{prefix}-{kind}-"):
            pid, sep, rest = name[len(prefix) + len(kind) + 2:].partition("-")
            if pid.isdigit() and sep and rest:
                return kind, int(pid)
    return None


def is_staging_leftover(name: str, tag: str) -> bool:
    """``name`` is one of ``staged_output``'s folders inside an output folder (``.TAG-partial-PID-X``):
    not a user's file, and no reason to refuse the folder."""
    found = _leftover(name, f".{tag}")
    return found is not None and found[0] == "partial"


def _gone(path: Path, pid: int) -> bool:
    """The process that made the leftover ``path`` is gone (on this machine): it may be removed."""
    if str(path) in _LIVE:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C there: an old enough leftover is a killed one's
        from vessel_studio.io.atomic import STALE_DIR_S

        try:
            return time.time() - path.lstat().st_mtime >= STALE_DIR_S
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _leftovers(out: Path, tag: str) -> list[tuple[Path, str, int]]:
    """``staged_output``'s folders beside ``out`` and in it: (path, "partial" or "old", process id); in it
    only working folders (``.TAG-partial-PID-X``), the only ones made there."""
    found = []
    for folder, prefix in ((out.parent, f".{out.name}.{tag}"), (out, f".{tag}")):
        try:
            entries = list(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []
        except OSError:
            continue
        for p in entries:
            left = _leftover(p.name, prefix)
            ours = left is not None and (folder == out.parent or left[0] == "partial")
            if ours and p.is_dir() and not p.is_symlink():
                found.append((p, *left))
    return found


def recover_output(out, tag: str) -> Path:
    """Put back ``out``'s earlier contents where a killed ``staged_output`` moved them aside and died before
    the new ones took their place (``out`` absent, ``.OUT.TAG-old-PID-X`` beside it): the earlier contents
    come back and the new ones are dropped (removed by the next ``staged_output``). Returns ``out``."""
    out = Path(os.path.realpath(out))
    if out.exists() or out.is_symlink() or not out.name:
        return out
    olds = [p for p, kind, pid in _leftovers(out, tag) if kind == "old" and _gone(p, pid)]
    for old in sorted(olds, key=lambda p: p.stat().st_mtime, reverse=True)[:1]:
        os.rename(old, out)
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move_in(tmp: Path, out: Path, entries) -> None:
    """The fallback: delete ``out``'s ``entries`` (what the earlier output held), then move ``tmp``'s
    entries into ``out`` one by one, in ``entries``' order (the last one, a record, last), and remove ``tmp``."""
    for name in entries:
        _remove(out / name)
    order = {name: i for i, name in enumerate(entries)}
    for p in sorted(tmp.iterdir(), key=lambda p: order.get(p.name, -1)):
        try:
            os.replace(p, out / p.name)
        except OSError:  # another file system
            shutil.move(str(p), str(out / p.name))
    tmp.rmdir()


def _inside(out: Path) -> bool:
    """Stage inside ``out`` rather than beside it: it is a mount point, or the current directory or one
    above it (renamed, it would leave the shell that is in it in a deleted folder)."""
    if os.path.ismount(out):
        return True
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return cwd == out or out in cwd.parents


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` itself (a directory's descriptor: no lock file left beside the
    output), blocking: ``staged_output``'s swaps into one parent run one at a time, and the next one sees the
    output the previous one left. Where the file system refuses it, nothing is locked."""
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def staged_output(out, *, tag: str, entries) -> Iterator[Path]:
    """Yield a new empty folder to write ``out``'s new contents into; when the ``with`` block ends normally
    they take ``out``'s place, whole: ``out`` absent → the folder is renamed to it; ``out`` a folder (empty,
    or earlier output that the caller has checked: every name in it is one of ``entries``) → ``out`` is
    renamed aside, the new folder renamed in, and the earlier one deleted. While the block runs, and when it
    ends with an exception or ``GeneratorExit`` (a cancelled job), ``out`` is as it was, and the new folder
    is removed. The swap needs the room of both contents at once for a moment.

    ``out`` a link: the folder it points to is the one replaced (the link is kept). Where ``out`` cannot be
    renamed (a mount point, the current directory or one above it, a rename refused: busy, permission), the
    new contents are written into ``out/.TAG-partial-PID-X`` and, at the end, ``out``'s ``entries`` are
    deleted and the new ones moved in one by one (in ``entries``' order: put a record that says the output
    is whole last); only then can a kill at the end leave part of the new contents. Leftovers of a killed
    run (its process gone) are removed first, and an earlier output that one left aside when ``out`` is
    absent is put back (``recover_output``)."""
    from vessel_studio.io.atomic import _fsync_dir

    out = Path(os.path.realpath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep(out, tag)
    stamp = f"{os.getpid()}-{secrets.token_hex(4)}"
    inside = out.is_dir() and _inside(out)
    tmp = None
    if not inside:
        try:
            tmp = _live_folder(out.parent / f".{out.name}.{tag}-partial-{stamp}")
        except OSError:
            if not out.is_dir():
                raise
            inside = True  # a folder we may write into, in a parent we may not
    if inside:
        tmp = _live_folder(out / f".{tag}-partial-{stamp}")
    try:
        yield tmp
        old = None
        with _folder_lock(out.parent):  # one swap at a time (two exports into one folder at once, session 28 QA)
            if inside:
                _move_in(tmp, out, entries)
            elif not out.exists():
                os.rename(tmp, out)
                _fsync_dir(out.parent)
            else:
                os.chmod(tmp, os.stat(out).st_mode & 0o7777)
                old = out.parent / f".{out.name}.{tag}-old-{stamp}"
                _LIVE.add(str(old))
                try:
                    os.rename(out, old)
                except OSError:  # busy (held open, a mount point not seen as one), not allowed
                    _LIVE.discard(str(old))
                    old = None
                    _move_in(tmp, out, entries)
                else:
                    try:
                        os.rename(tmp, out)
                    except BaseException:
                        os.rename(old, out)
                        _LIVE.discard(str(old))
                        raise
                    _fsync_dir(out.parent)
        if old is not None:  # the earlier export, deleted outside the lock (large: seconds)
            try:
                shutil.rmtree(old, ignore_errors=True)
            finally:
                _LIVE.discard(str(old))
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _LIVE.discard(str(tmp))


def _sweep(out: Path, tag: str) -> None:
    """``staged_output``'s start: an earlier output a killed run left aside put back, and the leftovers of
    runs that are gone removed; under the parent's lock (not between another export's two renames)."""
    with _folder_lock(out.parent):
        recover_output(out, tag)
        for p, _, pid in _leftovers(out, tag):
            if _gone(p, pid):
                shutil.rmtree(p, ignore_errors=True)


def _live_folder(path: Path) -> Path:
    """Make ``path``, a working folder of this process, counted live (``_LIVE``) before it exists: made first,
    another thread's ``_sweep`` could see it between the two steps as a leftover of this process that is no
    longer live, and delete it under the writer (session 29: one in ~300 swaps of two threads exporting into
    one folder failed with FileNotFoundError)."""
    _LIVE.add(str(path))
    try:
        path.mkdir()
    except BaseException:
        _LIVE.discard(str(path))
        raise
    return path


def same_name_key(name: str) -> str:
    """``name`` as a case-insensitive disk (macOS, Windows, exFAT, most SMB shares) compares it, and a Mac's, where a
    composed "é" and a decomposed one (as a Mac's copy makes) are one name: two names of one key are one file there.
    The export (session 49) and ``segment`` (session 50) treat them as one name whatever the disk, so that a folder
    they write stays whole when it is copied onto such a disk."""
    import unicodedata

    return unicodedata.normalize("NFC", name).casefold()


def longest_name(folder) -> int:
    """The longest file name, in bytes, that ``folder``'s disk takes (255 on ext4, XFS, NTFS, APFS); where ``folder``
    does not exist yet, that of its nearest existing parent, where it will be made."""
    from vessel_studio.io.atomic import _name_max

    folder = Path(folder)
    return _name_max(next((p for p in (folder, *folder.parents) if p.is_dir()), Path(".")))


#: the name of ``check_writable``'s probe file begins with this
PROBE_PREFIX = ".vessel-studio-probe."


def check_writable(out, *, beside: bool = False, name: str = "--out") -> Path:
    """``out`` checked to be writable before any work is done, so that a read-only place fails at
    once and not after the training or segmentation it was to hold. The folder probed (a temporary file
    made and removed) is ``out`` itself, or with ``beside`` (a folder replaced atomically, built beside it)
    the folder that holds it; where that does not exist yet, its nearest existing parent, since the
    missing folders are created in it. A ``ValueError`` names ``out`` and the folder that refused, or the
    file found where that folder should be."""
    import tempfile

    out = Path(out)
    if not beside and out.is_symlink() and not out.exists():  # segment failed at mkdir: "[Errno 17] File exists"
        raise _dangling_link(out, name)
    candidates = [*([] if beside else [out]), *out.parents]
    folder = next((p for p in candidates if p.exists()), Path("."))
    if not folder.is_dir():  # a file where a folder is needed (session 32 QA: the writer failed with a bare
        # "[Errno 17] File exists" naming the file, after the work: evaluate --json FILE/x.json, segment --out FILE/sub)
        if folder == out:
            raise _a_file(out, name)
        raise ValueError(f"{folder}: is a file, so {out} cannot be created there (nothing was changed)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=folder)
    except OSError as exc:
        where = "" if folder == out else f" (it would be written in {folder})"
        raise ValueError(f"{out}: {name} cannot be written{where}: {exc.strerror or exc}; choose a folder "
                         "you can write to (nothing was changed)") from exc
    os.close(fd)
    os.unlink(tmp)
    _remove_killed_probes(folder)
    return out


def _remove_killed_probes(folder: Path) -> None:
    """Remove the write probes (``check_writable``'s, ``PROBE_PREFIX`` and random letters) that a process killed between
    making and removing one left in ``folder`` (found by session 43's kill fuzz: an empty hidden file stayed beside
    the lab's export for good); only those older than ``STALE_DIR_S``, as the other leftovers: a younger one may be
    another process's probe of this moment. Best effort."""
    from vessel_studio.io.atomic import STALE_DIR_S

    now = time.time()
    for p in folder.glob(PROBE_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink() and now - p.lstat().st_mtime >= STALE_DIR_S:
                p.unlink()
