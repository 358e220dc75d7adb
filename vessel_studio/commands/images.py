"""``vessel-studio images PROJECT [--add PATH ...] [--remove IMAGE ...]``: a project's images (name, id, state,
size, saved correction, unsaved autosaved edits); ``--add`` copies image files or folders' images into it (as the
Project panel's "Add folder…" / "Add images…": every unreadable file named, nothing added then; an image already in
the project is skipped; here a folder given with no image files is named too, and nothing is added), and ``--remove``
takes images out of it
(``gui.tasks.remove_images``: their copies in the project, saved corrections, autosaved edits,
source-only maps and FOV estimates; the files they were added from are not touched, the rounds keep
their maps). IMAGE is an image's name or id; a name two images share must be given as an id. Every
name is checked before anything is removed, and removing is refused while a job holds the project.
An image that holds a person's work (a saved correction or accepted mask, or unsaved edits a window
autosaved) is not removed without ``--force``: the command names them and changes nothing (the
Project panel's "Remove from project…" asks; before session 32 this command deleted that work at
once and said so afterwards).

``--set-spacing MM [IMAGE ...]`` sets the pixel spacing of the named images (all of them when none is named) in the
project's manifest, for scans whose files record none (OCTA-500's PNGs: ``--set-spacing 3/304``, a 3 mm scan of 304
px); it wins over a file's own, in the vessel measures (the Review panel, ``export``'s ``measures.csv``) and the
exported masks' and maps' resolution, never in segmentation (``Project.set_spacing``). ``--clear-spacing [IMAGE ...]``
takes it away again (the file's, if any, is used). The listing says each image's spacing and where it comes from.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="a Vessel Studio project folder")
    p.add_argument("--add", nargs="+", default=[], metavar="PATH",
                   help="copy these image files, or the images of these folders, into the project")
    p.add_argument("--remove", nargs="+", default=[], metavar="IMAGE",
                   help="take these images out of the project (names or ids); their saved corrections go too")
    p.add_argument("--set-spacing", nargs="+", default=None, metavar=("MM", "IMAGE"),
                   help="set the pixel spacing of these images (names or ids; all images when none is named): mm per "
                        "pixel (0.00987), a field of view in mm over its pixels (3/304: a 3 mm scan of 304 px), or a "
                        "pixel's height,width; it wins over the one an image's file records, in the vessel measures and "
                        "the exported files' resolution (not in segmentation)")
    p.add_argument("--clear-spacing", nargs="*", default=None, metavar="IMAGE",
                   help="take away the pixel spacing set for these images (all when none is named): the file's, if "
                        "it records one, is used again")
    p.add_argument("--force", action="store_true",
                   help="with --remove: take out images that hold a person's work too (a saved correction or "
                        "accepted mask, unsaved edits a window autosaved), deleting that work; without it such "
                        "images are named and nothing is removed")


def run(args: argparse.Namespace) -> int:
    from vessel_studio.gui import tasks
    from vessel_studio.store import Project

    project = Project.open(args.project)
    given = [flag for flag, on in (("--add", args.add), ("--remove", args.remove),
                                   ("--set-spacing", args.set_spacing is not None),
                                   ("--clear-spacing", args.clear_spacing is not None)) if on]
    if len(given) > 1:
        raise ValueError(f"{' and '.join(given)}: one at a time (nothing was changed)")
    if args.force and not args.remove:
        raise ValueError("--force goes with --remove (nothing was changed)")
    if args.add:
        from vessel_studio.events import progress_bar, run as run_job

        # a folder without images is refused by the add itself, naming it (``store.project.no_images_message``; session
        # 32 QA: it said "added 0 image(s) ... (an image already in it is skipped)"), before anything is added
        on_event = progress_bar()
        try:
            added = run_job(project.add_images_job(args.add), on_event)
        finally:
            on_event.close()
        print(f"added {len(added)} image(s) to {project.folder} (an image already in it is skipped); "
              f"{len(project.images)} in the project")
        if getattr(added, "orientation_note", None):
            print(f"warning: {added.orientation_note}", file=sys.stderr)
        if getattr(added, "modality_note", None):
            print(f"warning: {added.modality_note}", file=sys.stderr)
        return 0
    if args.set_spacing is not None or args.clear_spacing is not None:
        return _set_spacing(project, args.set_spacing, args.clear_spacing)
    if args.remove:
        ids = tasks.find_images(project, args.remove)
        corrected, drafts = set(project.correction_ids()), set(tasks.draft_ids(project))
        if not args.force:
            _refuse_a_persons_work(project, ids, corrected, drafts)
        records = tasks.remove_images(project, ids)
        lost = [r.name for r in records if r.id in corrected]
        unsaved = [r.name for r in records if r.id in drafts]
        print(f"removed {len(records)} image(s) from {project.folder}: {', '.join(r.name for r in records)}"
              + (f"; their saved corrections deleted: {', '.join(lost)}" if lost else "")
              + (f"; their unsaved edits deleted: {', '.join(unsaved)}" if unsaved else ""))
        return 0
    images = project.images
    corrected = set(project.correction_ids())
    drafts = set(tasks.draft_ids(project))
    print(f"{len(images)} image(s) in {project.folder}")
    for rec in images:
        size = "x".join(map(str, rec.shape[1::-1])) if rec.shape else "?"
        notes = [n for n, on in (("saved correction", rec.id in corrected), ("unsaved edits", rec.id in drafts)) if on]
        print(f"  {rec.name}  {rec.id}  {rec.state}  {size}  {spacing_text(rec)}"
              + (f"  ({', '.join(notes)})" if notes else ""))
    return 0


def spacing_text(rec) -> str:
    """An image's pixel spacing as the listing says it: ``9.868 µm/px (set)``, ``10.000 µm/px (from the file)``,
    ``20.000 x 10.000 µm/px (height x width, set)``, or ``spacing unknown``."""
    from vessel_studio.wording import spacing_um

    if rec.pixel_spacing is None:
        return "spacing unknown"
    return spacing_um(rec.pixel_spacing, ".3f", origin=rec.spacing_origin, width_first=False, times="x")


def _set_spacing(project, set_spacing: list[str] | None, clear_spacing: list[str] | None) -> int:
    """``--set-spacing MM [IMAGE ...]`` / ``--clear-spacing [IMAGE ...]``: every name and the spacing checked before
    the one manifest edit (``Project.set_spacing``)."""
    from vessel_studio.gui import tasks
    from vessel_studio.store.manifest import spacing_from_text

    names = set_spacing[1:] if set_spacing is not None else clear_spacing
    spacing = None if set_spacing is None else spacing_from_text(set_spacing[0])
    ids = tasks.find_images(project, names) if names else [rec.id for rec in project.images]
    if not ids:
        print(f"no images in {project.folder}: nothing to set")
        return 0
    records = project.set_spacing(ids, spacing)
    what = "pixel spacing cleared" if spacing is None else f"pixel spacing set to {spacing_text(records[0])}"
    shown = ", ".join(r.name for r in records[:5]) + (f" and {len(records) - 5} more" if len(records) > 5 else "")
    print(f"{what} for {len(records)} image(s) of {project.folder}: {shown}"
          + ("; the measures and exported files use each file's own spacing where it records one" if spacing is None
             else "; it is used in the vessel measures and the exported files' resolution (export again to update "
                  "an earlier export), not in segmentation"))
    return 0


def _refuse_a_persons_work(project, ids: list[str], corrected: set[str], drafts: set[str]) -> None:
    """``--remove`` without ``--force``: a ValueError naming the images among ``ids`` that hold a person's
    work (a saved correction or accepted mask; unsaved edits a window autosaved), before anything is removed.
    A window autosaves an image's first edit at once (since session 36; before, up to 3 s later, and this check
    missed an image whose edits were all younger), later ones every 3 s, so an image being edited has a draft; what
    is still not seen: an edit made between this check and the removal, and edits a window could keep in no draft
    (a full disk: the window names them lost when it sees the image go)."""
    names = {rec.id: rec.name for rec in project.images}
    held = []
    for image_id in ids:
        notes = [n for n, on in (("saved correction", image_id in corrected), ("unsaved edits", image_id in drafts))
                 if on]
        if notes:
            held.append(f"{names[image_id]} ({image_id}: {' and '.join(notes)})")
    if held:
        raise ValueError(
            f"{project.folder}: {len(held)} of the images to remove hold a person's work, deleted with them: "
            + "; ".join(held) + ". Nothing was removed. To delete that work with the images, add --force (or "
            "discard it in the window's Review panel first)")
