"""Disk freed by ``vessel-studio rounds PROJECT --prune`` on an adapted project, and what still works.

On a copy of ``--project`` (kept as it was), in separate processes under ``/usr/bin/time -v``:

    vessel-studio rounds COPY --prune --dry-run
    vessel-studio rounds COPY --prune
    vessel-studio segment --model COPY --round K --out WORK/seg IMAGE   # K: a pruned round (its models stay)
    vessel-studio rounds COPY --rollback K                                # refused: K has no maps

It records the project's size (whole, per round: maps and the rest) before and after, the wall
time and exit status of each command, and their last lines of output. The project used in
``benchmarks/results/prune/`` is one of ``hires_adapt.py``'s (15-MP targets, ``tiny`` preset).

    .venv/bin/python benchmarks/prune_disk.py --project scratch/s26/prune/proj-8 --work scratch/s26/prune/run \\
        --out benchmarks/results/prune/prune-8x15mp.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from hires_adapt import du, mb  # noqa: E402
from hires_cli import timed, write_report  # noqa: E402


def sizes(proj: Path) -> dict:
    rounds = {}
    for rd in sorted((proj / "rounds").glob("round-*")):
        maps = sum(du(rd / sub) for sub in ("pseudo", "pseudo-chain"))
        rounds[rd.name] = {"maps_mb": mb(maps), "rest_mb": mb(du(rd) - maps)}
    return {"project_mb": mb(du(proj)), "rounds": rounds}


def tail(log: Path, n: int = 3) -> list[str]:
    lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip() and not x.startswith("\t")]
    return [x for x in lines if "Command being timed" not in x][-n:]


def project_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments of a script that works on a copy of an adapted project: --project, --work, --out."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--project", type=Path, required=True, help="an adapted project (copied, not changed)")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=None)
    return ap


def fresh_copy(project: Path, work: Path) -> Path | None:
    """``project`` copied to ``work/copy`` (``work`` emptied first); None (said) when it is not a project."""
    if not (project / "project.json").is_file():
        print(f"SKIPPED: {project} is not a project")
        return None
    copy = work / "copy"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(project, copy, symlinks=True)
    return copy


def main(argv=None) -> int:
    args = project_parser(__doc__).parse_args(argv)
    copy = fresh_copy(args.project, args.work)
    if copy is None:
        return 0
    py = [sys.executable, "-m", "vessel_studio"]
    report: dict = {"project": str(args.project), "before": sizes(copy)}
    runs = {}
    for name, cmd in (("dry_run", [*py, "rounds", str(copy), "--prune", "--dry-run"]),
                      ("prune", [*py, "rounds", str(copy), "--prune"])):
        log = args.work / f"{name}.log"
        runs[name] = {**timed(cmd, log), "output": tail(log)}
    report["after"] = sizes(copy)
    manifest = json.loads((copy / "project.json").read_text())
    pruned = [r["index"] for r in manifest["rounds"] if r.get("pruned")]
    report["pruned_rounds"] = pruned
    if pruned:
        image = copy / manifest["images"][0]["file"]
        k = str(pruned[0])
        for name, cmd in (("segment_pruned_round", [*py, "segment", "--model", str(copy), "--round", k,
                                                   "--out", str(args.work / "seg"), str(image)]),
                          ("rollback_to_pruned_round", [*py, "rounds", str(copy), "--rollback", k])):
            log = args.work / f"{name}.log"
            runs[name] = {**timed(cmd, log), "output": tail(log, 2)}
    report["runs"] = runs
    report["freed_mb"] = round(report["before"]["project_mb"] - report["after"]["project_mb"], 1)
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
