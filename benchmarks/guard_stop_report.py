"""Retrospective check of the label-free guard as a stopping rule (exploratory, not pre-registered):
"stop at the first round r > 0 the guard flags (collapse / flood) and deliver round r - 1", against
delivering the last round, on every committed benchmark report and on given benchmark seed folders.

    python benchmarks/guard_stop_report.py --out benchmarks/results/guard-stop [RUN_DIR ...]

RUN_DIR: a benchmark seed folder (``.../PAIR/seed-N`` with ``project/`` and ``scores/``). The guard
reads only label-free round metrics; the test Dice columns judge the rule, they do not make it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vessel_studio.adaptation.selection import history_warnings, report_round_rows, round_rows


def guard_row(name: str, rows: list[dict], dice: dict[int, float]) -> dict | None:
    """The flagged rounds of one run and what stopping at the first flag would deliver; None when
    the guard flags no round."""
    flags = {r: w for r, w in history_warnings(rows).items() if w}
    if not flags:
        return None
    ref = next((h["source_vessel_fraction"] for h in rows if h.get("source_vessel_fraction") is not None), None)
    first = min((r for r in flags if r > 0), default=None)
    last = max(dice)
    stop = last if first is None else first - 1
    return {"run": name, "flagged": sorted(flags), "kind": sorted({w.split(":")[0] for ws in flags.values() for w in ws}),
            "source_vessel_fraction": ref, "vessel_fraction": [round(h["vessel_fraction"], 3) for h in rows],
            "dice": [round(dice[h["round"]], 3) for h in rows], "last": dice[last], "stopped": stop,
            "stopped_dice": dice[stop]}


def from_report(path: Path) -> list[tuple[str, list[dict], dict]]:
    """The seed runs of one committed report; none for a JSON file that is not a benchmark report."""
    rep = json.loads(path.read_text())
    out = []
    for seed, parts in (rep.get("per_seed", {}) if isinstance(rep, dict) else {}).items():
        rounds = (parts.get("adapted") or {}).get("rounds") or []
        if rounds:
            out.append((f"{path.as_posix()} seed {seed}", report_round_rows(rounds),
                        {r["round"]: r["scores"]["dice"] for r in rounds}))
    return out


def from_run(run: Path) -> tuple[str, list[dict], dict]:
    from vessel_studio.store import Project

    rows = round_rows(Project.open(run / "project").rounds)
    dice = {h["round"]: json.loads((run / "scores" / f"adapted-round-{h['round']}.json").read_text())["mean"]["dice"]
            for h in rows}
    return run.as_posix(), rows, dice


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", type=Path)
    ap.add_argument("--reports", default="benchmarks/results", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    runs = [x for p in sorted(args.reports.glob("**/*.json")) for x in from_report(p)] + [from_run(r) for r in args.runs]
    rows = [g for g in (guard_row(*x) for x in runs) if g]
    lines = ["# The label-free guard as a stopping rule (retrospective, exploratory)", "",
             "Command: `python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv if argv is not None else sys.argv[1:])) + "`", "",
             f"Runs read: {len(runs)} (seed runs of committed reports, then the given seed folders); "
             f"runs with a flagged round: {len(rows)}.", "",
             "| run | flagged rounds | kind | source vessel fraction | vessel fraction per round | Dice per round | "
             "last | stop at first flag | difference |", "|---|---|---|---|---|---|---|---|---|"]
    for g in rows:
        ref = "" if g["source_vessel_fraction"] is None else f"{g['source_vessel_fraction']:.3f}"
        lines.append(f"| {g['run']} | {', '.join(map(str, g['flagged']))} | {', '.join(g['kind'])} | {ref} | "
                     f"{' / '.join(f'{x:.3f}' for x in g['vessel_fraction'])} | {' / '.join(f'{x:.3f}' for x in g['dice'])} | "
                     f"{g['last']:.3f} | {g['stopped_dice']:.3f} (round {g['stopped']}) | {g['stopped_dice'] - g['last']:+.3f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "guard_stop.json").write_text(json.dumps({"runs_read": len(runs), "flagged": rows}, indent=1))
    (args.out / "guard_stop.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
