"""``vessel-studio rounds PROJECT [--restore N] [--rollback N] [--prune [--keep N ...] [--dry-run]]``: a project's
rounds with their label-free signals and the label-free guard's warnings
(``adaptation.selection.round_warnings``); with ``--rollback N`` the rounds after N are removed
(``-1``: all) by ``Project.rollback``, and a line says when that gives up an interrupted adaptation (a killed
``adapt`` that went on from a round removed: it can no longer be resumed, and its work is deleted); with ``--prune`` the probability maps of every round but the
latest, the label-free hint's round and ``--keep`` are deleted to free disk (``store.prune``); with
``--restore N`` a pruned round's maps are made again from its kept segmenters (``adaptation.restore``),
before any ``--rollback``, so that ``--restore N --rollback N`` rolls back to it in one call (a
``--rollback`` that would delete round N is refused), and kept by a ``--prune`` with it. Every argument is
checked before any of them runs.
"""

from __future__ import annotations

import argparse

from vessel_studio.wording import byte_size, given_up_work


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="an adaptation project folder")
    p.add_argument("--rollback", type=int, default=None, metavar="N",
                   help="keep rounds 0..N and remove the later ones (-1 removes every round); an interrupted "
                        "adaptation that went on from a round removed can no longer be resumed: its work is deleted")
    p.add_argument("--prune", action="store_true",
                   help="free disk: delete the probability maps of every round but the latest, the label-free "
                        "hint's round and those named by --keep (their records and models stay; a pruned round "
                        "can no longer be reviewed, exported or rolled back to until --restore makes its maps again)")
    p.add_argument("--restore", type=int, default=None, metavar="N",
                   help="make the probability maps of pruned round N again from its kept segmenters (the same "
                        "maps; minutes on a large project), so that it can be reviewed, exported and rolled back to")
    p.add_argument("--keep", type=int, nargs="+", default=[], metavar="N",
                   help="with --prune: rounds whose maps to keep as well")
    p.add_argument("--dry-run", action="store_true", help="with --prune: say what would be deleted, delete nothing")


def run(args: argparse.Namespace) -> int:
    from vessel_studio.adaptation.selection import (guard_reruns, review_hint, review_pick, round_rows, select_round,
                                                  shown_warnings, summarize)
    from vessel_studio.store import Project

    project = Project.open(args.project)
    # every argument is checked before any work (session 27: a restore, minutes on a large project, ran
    # before an error in --rollback or --keep was said, or was undone by the --rollback / --prune with it)
    if (args.keep or args.dry_run) and not args.prune:
        raise ValueError("--keep and --dry-run go with --prune")
    known = [r.index for r in project.rounds]
    if args.rollback is not None and args.rollback != -1 and args.rollback not in known:
        raise ValueError(f"{project.manifest_path}: no round {args.rollback} (rounds: {known or 'none'})")
    if args.restore is not None:
        if args.rollback is not None and args.restore > args.rollback:
            raise ValueError(f"--restore {args.restore} --rollback {args.rollback}: the roll back would delete the "
                             f"round restored (nothing was changed)")
        _restore(project, args.restore)
    if args.rollback is not None:
        from vessel_studio.adaptation.job import interrupted_job

        job = interrupted_job(project)  # before: the roll back may make it unresumable
        removed = project.rollback(args.rollback)
        print(f"removed round(s) {removed}" if removed else "nothing to remove")
        if removed.gave_up is not None:
            print(_gave_up_line(project, job, removed))
    if args.prune:
        _prune(project, args)
    records = project.rounds
    rows = round_rows(records)
    if not rows:
        print("no rounds yet")
        return 0
    print(summarize(rows))
    pruned = [r.index for r in project.rounds if r.pruned is not None]
    if pruned:
        print(f"pruned (maps deleted; records and models kept): round(s) {', '.join(map(str, pruned))}")
    used = [(r["round"], int(r["corrected_images"])) for r in rows if r.get("corrected_images")]
    if used:  # the names are in the project's log.jsonl ("round trained on corrected masks")
        print("corrected masks trained on: " + ", ".join(f"round {i}: {n}" for i, n in used))
    pick = select_round(rows)
    if pick is not None:
        print(f"label-free selection: round {pick} (lowest fragmentation of its pseudo-labels)")
    if review_pick(rows)[0] != pick and review_hint(rows) is not None:  # the pick is flagged by the guard
        print(f"for review: {review_hint(rows)}")
    flagged = 0
    for index, flags in sorted(shown_warnings(rows).items()):
        for flag in flags:
            flagged += 1
            print(f"warning: round {index}: {flag}")
    if not flagged:
        print("label-free guard: no round flagged")
    # the rounds the guard ran again (guard_retries): recorded, and not printed before session 41
    for line in guard_reruns(records):
        print(line)
    return 0


def _gave_up_line(project, job, removed) -> str:
    """What the roll back did to an interrupted adaptation (``Project.given_up_job``): the round it went on from is
    gone, so it can no longer be resumed, and its work was deleted (``Project.discard_given_up_work``), as the
    Adaptation panel's Roll back says in its question."""
    base = removed.gave_up.get("base_round")
    which = f"interrupted in round {job.round} " if job is not None and job.base_round == base else "interrupted "
    done = given_up_work(project.work_dir, deleted=removed.work_deleted, freed=removed.work_freed)
    return (f"rollback: the adaptation {which}went on from round {base}: it can no longer be resumed (the next run "
            f"starts afresh); {done}")


def _prune(project, args: argparse.Namespace) -> None:
    from vessel_studio.adaptation.selection import prune_keep
    from vessel_studio.events import progress_bar, run as run_job
    from vessel_studio.store.prune import plan_prune, prune_job

    hints = prune_keep(project.rounds)
    hint = hints[0] if hints else None
    keep = set(args.keep) | set(hints) | ({args.restore} if args.restore is not None else set())  # not again
    plan = plan_prune(project, keep=keep)
    if not plan.rounds:
        print("prune: nothing to delete" + (f" (kept whole: round(s) {', '.join(map(str, plan.kept))})"
                                            if plan.kept else ""))
        return
    what = (f"the probability maps of round(s) {', '.join(map(str, plan.rounds))} ({byte_size(plan.bytes)}); "
            f"kept whole: round(s) {', '.join(map(str, plan.kept))}"
            + (f" (round {hint}: the label-free hint)" if hint is not None else ""))
    if args.dry_run:
        print(f"prune (dry run): would delete {what}")
        return
    on_event = progress_bar()
    try:
        run_job(prune_job(project, keep=keep), on_event)
    finally:
        on_event.close()
    print(f"prune: deleted {what}")


def _restore(project, index: int) -> None:
    from vessel_studio.adaptation.restore import restore_round_job
    from vessel_studio.events import progress_bar, run as run_job

    if project.get_round(index).pruned is None:  # an unknown round: ValueError naming the manifest
        print(f"restore: round {index} was not pruned; its maps are there")
        return
    on_event = progress_bar()
    try:
        result = run_job(restore_round_job(project, index), on_event)
    finally:
        on_event.close()
    print(f"restore: made the probability maps of round {index} again ({', '.join(result.folders)}; "
          f"{len(result.images)} image(s), {result.seconds:.1f} s)")


