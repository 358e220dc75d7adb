"""Disk space before a round: fail at the round's start, with what to do, rather than hours into it.

A round writes each target image's full-resolution probability maps (one, or two when it delivers
a merged segmenter: ``pseudo/`` and ``pseudo-chain/``), its models and samples. On a 15-megapixel
camera that is ~71 MB per image per round even compressed (``benchmarks/results/hires-adapt/``).
Since session 26 a round's maps are on disk once (hard links from the job's ``work/``), so a round
needs about the size of the round before it; round 0 is estimated from the images' sizes (float32
maps at the measured ~1.6x lossless compression, taken as 1.5x). Before each round the job compares
the estimate (plus a margin) with the free space of the project's file system and raises
:class:`InsufficientDiskError` (an ``OSError``, ``ENOSPC``) naming the numbers and the maps that
``vessel-studio rounds PROJECT --prune`` would free.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from vessel_studio.wording import shell_word

#: room for the work folder's model-scale arrays, checkpoints and the models, above the maps
MARGIN_BYTES = 64 * 2**20
#: lossless zlib on float32 probability maps: 1.6x measured on 15-MP fundus maps; assumed a bit lower
COMPRESSION = 1.5


class InsufficientDiskError(OSError):
    """Not enough free disk for the next round (``errno`` ENOSPC); its text is the message alone."""

    def __str__(self) -> str:
        return str(self.strerror)


def disk_used(folder: Path) -> int:
    """Allocated bytes of the files under ``folder``, each inode once (hard links counted once)."""
    seen, total = set(), 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def maps_per_round(cfg) -> int:
    """Full-resolution maps a round writes per image (``rounds.run_round``'s ``deliver``)."""
    return 2 if float(cfg.source_weight) > 0 and not cfg.merge_chain else 1


def round_need(project, targets, cfg, previous: int | None) -> int:
    """Bytes the next round will add to the project: the previous round's size when there is one,
    else its images' maps estimated from their sizes; plus :data:`MARGIN_BYTES`."""
    if previous is not None:
        return disk_used(project.round_dir(previous)) + MARGIN_BYTES
    pixels = sum(int(t.shape[0]) * int(t.shape[1]) for t in targets)
    return int(pixels * 4 * maps_per_round(cfg) / COMPRESSION) + MARGIN_BYTES


def amounts(need: int, free: int, *others: int) -> list[str]:
    """``need``, ``free`` and ``others`` (bytes) as the message says them, in one unit (GB from 1 GB, else MB),
    with as many decimals as it takes for ``need`` and ``free`` to differ. Before session 35 both were
    "{:.1f} GB": a 140 MB disk said "round 2 needs about 0.1 GB of disk ... and 0.1 GB is free", a 20 MB one
    "0.0 GB is free"."""
    scale, unit, places = (1e9, "GB", (1, 2, 3)) if max(need, free) >= 1e9 else (1e6, "MB", (0, 1, 2, 3))
    for d in places:
        if f"{need / scale:,.{d}f}" != f"{free / scale:,.{d}f}":
            break
    return [f"{x / scale:,.{d}f} {unit}" for x in (need, free, *others)]


def check_disk(project, targets, cfg, index: int, previous: int | None, *, free: int | None = None) -> None:
    """Raise :class:`InsufficientDiskError` when the project's file system has less free space than
    round ``index`` needs (:func:`round_need`)."""
    from vessel_studio.store.prune import plan_prune

    need = round_need(project, targets, cfg, previous)
    free = shutil.disk_usage(project.folder).free if free is None else free
    if free >= need:
        return
    from vessel_studio.adaptation.selection import prune_keep

    freeable = plan_prune(project, keep=prune_keep(project.rounds)).bytes  # what `rounds --prune` frees
    need_text, free_text, freeable_text = amounts(need, free, freeable)
    hint = (f"`vessel-studio rounds {shell_word(project.folder)} --prune` would free {freeable_text} (the maps of "
            "the rounds before the latest but the label-free hint's)" if freeable
            else "free some space on that disk")
    raise InsufficientDiskError(
        errno.ENOSPC,
        f"{project.folder}: round {index} needs about {need_text} of disk ({len(targets)} images' "
        f"probability maps, models) and {free_text} is free; {hint}, then run the adaptation again "
        "(it goes on from round " + str(index) + ")")
