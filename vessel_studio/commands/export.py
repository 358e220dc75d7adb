"""``vessel-studio export PROJECT --out DIR``: a project's masks, probability maps and vessel measures,
as the GUI's Export panel writes them (``gui.tasks.export``, the same Qt-free job), for scripts and
headless machines.

Each image's mask is its saved correction (corrected or accepted as reviewed) where there is one,
else its latest round's prediction at p ≥ 0.5 (``--round N``: that round's; ``--calibrate``: the
boundary fitted to the corrected masks, written to ``calibration.json``); an image with neither
(never segmented) gets no file and an empty ``mask`` column in ``measures.csv``. Autosaved edits
that were never saved (``PROJECT/gui/drafts``) are not exported: their images are named on stderr and
in ``export.json`` (``unsaved_drafts``).

``--out`` may be absent, empty or an earlier export (one holding only what an export writes, with its
``export.json`` or its ``measures.csv``); a folder holding anything else, a lab's own ``masks/`` folder
included, is refused before anything is written. The export is written into a hidden folder beside
``--out`` and replaces it whole at the end: nothing of an earlier export stays, an interrupted
(Ctrl-C, killed) or failed export leaves ``--out`` as it was, and the disk needs room for both exports
(the new one is written in full before the earlier one is deleted). Where ``--out`` cannot be renamed
(a mount point, the current directory), the new files are moved into it after the earlier export's
are deleted (``gui.tasks.export``).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="a Vessel Studio project folder")
    p.add_argument("--out", required=True,
                   help="the export folder (absent, empty, or an earlier export, which is replaced whole)")
    p.add_argument("--round", type=int, default=None, metavar="N",
                   help="the predictions of round N (default: the latest round's, else the source-only ones)")
    p.add_argument("--masks", choices=["png", "tif", "none"], default="png",
                   help="mask files: PNG (0/255, the default), TIFF, or none")
    p.add_argument("--no-probs", action="store_true", help="leave out the probability maps (float32 TIFF)")
    p.add_argument("--no-table", action="store_true", help="leave out measures.csv (per-image vessel measures)")
    p.add_argument("--calibrate", action="store_true",
                   help="draw predicted masks with the threshold and thinning fitted to the corrected masks")


def run(args: argparse.Namespace) -> int:
    from vessel_studio.events import progress_bar, run as run_job
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    project = Project.open(args.project)
    out = tasks.check_export(project, args.out, args.round, name="--out")
    masks = None if args.masks == "none" else args.masks
    if masks is None and args.no_probs and args.no_table:
        raise ValueError("--masks none --no-probs --no-table: nothing to export")
    # each image named as its files are (``tasks.export_stems``: ``name-id`` where two images share a name), as the
    # library's export and export.json name them; the bare name left a shared one ambiguous (session 34 QA)
    stems = tasks.export_stems(project.images)
    drafts = tasks.draft_ids(project)
    if drafts:
        names = ", ".join(stems[i] for i in drafts)
        print(f"warning: unsaved edits of {len(drafts)} image(s) are not exported (their saved correction or "
              f"prediction is): {names}; open them in the Review panel and save their corrections",
              file=sys.stderr)
    on_event = progress_bar()
    try:
        run_job(tasks.export(project, out, masks=masks, probs=not args.no_probs, table=not args.no_table,
                             round=args.round, calibrate=args.calibrate, warn_drafts=False), on_event)
    finally:
        on_event.close()
    corrected, rounds = set(project.corrections()), project.rounds
    images = project.images
    stems = tasks.export_stems(images)
    missing = [stems[rec.id] for rec in images  # no map that tasks.probability would read
               if rec.id not in corrected and not tasks.map_name(project, rec.id, args.round, rounds)]
    print(f"exported {len(project.images)} image(s) to {out}: {len(corrected)} saved (corrected or accepted) "
          f"mask(s), the others predicted" + (f"; {_no_mask(missing, args.round, rounds)}" if missing else ""))
    return 0


def _no_mask(names: list[str], which: int | None, rounds: list) -> str:
    """Why the images ``names`` got no mask: no map to draw it from. "Never segmented" only where no round exists
    (before session 33 it said so of an image whose map in the latest round was deleted by hand)."""
    if which is not None:
        why = f"with no map in round {which}"
    elif rounds:
        why = (f"with no map in round {rounds[-1].index} (the latest) nor a source-only map: added after that round, "
               "or a map deleted")
    else:
        why = "never segmented (or whose source-only map was deleted)"
    return f"no mask for {len(names)} image(s) {why}: {', '.join(names)}"
