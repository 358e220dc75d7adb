"""``vessel-studio rounds PROJECT [--rollback N]``: a project's rounds with their label-free
signals and the label-free guard's warnings (``adaptation.selection.round_warnings``); with
``--rollback N`` the rounds after N are removed (``-1``: all) by ``Project.rollback``.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="an adaptation project folder")
    p.add_argument("--rollback", type=int, default=None, metavar="N",
                   help="keep rounds 0..N and remove the later ones (-1 removes every round)")


def run(args: argparse.Namespace) -> int:
    from vessel_studio.adaptation.selection import history_warnings, review_hint, review_pick, round_rows, select_round, summarize
    from vessel_studio.store import Project

    project = Project.open(args.project)
    if args.rollback is not None:
        known = [r.index for r in project.rounds]
        if args.rollback != -1 and args.rollback not in known:
            raise ValueError(f"{project.manifest_path}: no round {args.rollback} (rounds: {known or 'none'})")
        removed = project.rollback(args.rollback)
        print(f"removed round(s) {removed}" if removed else "nothing to remove")
    rows = round_rows(project.rounds)
    if not rows:
        print("no rounds yet")
        return 0
    print(summarize(rows))
    used = [(r["round"], int(r["corrected_images"])) for r in rows if r.get("corrected_images")]
    if used:  # the names are in the project's log.jsonl ("round trained on corrected masks")
        print("corrected masks trained on: " + ", ".join(f"round {i}: {n}" for i, n in used))
    pick = select_round(rows)
    if pick is not None:
        print(f"label-free selection: round {pick} (lowest fragmentation of its pseudo-labels)")
    if review_pick(rows)[0] != pick and review_hint(rows) is not None:  # the pick is flagged by the guard
        print(f"for review: {review_hint(rows)}")
    flagged = 0
    for index, flags in sorted(history_warnings(rows).items()):
        for flag in flags:
            flagged += 1
            print(f"warning: round {index}: {flag}")
    if not flagged:
        print("label-free guard: no round flagged")
    return 0
