"""Advisory locks between processes (``flock``): held by an open file, released by the OS when the holder's
process ends, a crash or ``kill -9`` included. The project's job lock (``store.Project.acquire_job_lock``) and the
Review panel's draft holds (``gui.tasks.hold_draft``) are such locks. Locks are per open file: another open of the
same file in this process finds it held too. POSIX only, like the rest of the store."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


def try_lock(path: str | os.PathLike) -> int | None:
    """Take the exclusive lock of ``path`` (made when missing) without waiting: its file descriptor, kept open while
    the lock is held (:func:`unlock` ends it), or None when another holds it. Raises OSError when the file cannot
    be opened or made."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
    return fd


def unlock(fd: int) -> None:
    """Release a lock taken on ``fd`` and close it."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


def is_locked(path: str | os.PathLike) -> bool:
    """Whether someone (another process, or another open file of this one) holds the lock of ``path``; False when
    there is no such file. The probe opens it read-only (no write access needed: a read-only project) and takes a
    shared lock, so two probes at once do not see each other as holders."""
    try:
        fd = os.open(Path(path), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases the probe's own lock
    return False
