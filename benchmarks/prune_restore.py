"""A pruned round brought back (session 27): its maps made again by ``rounds --restore`` against the ones
the adaptation wrote, and the rollback to it that pruning had made impossible.

On a copy of ``--project`` (kept as it was), in separate processes under ``/usr/bin/time -v``:

    (copy round K's pseudo/ and pseudo-chain/ aside)
    python -c "vs.prune(COPY)"                   # every round but the latest: K is pruned even when it is the hint
    vessel-studio rounds COPY --rollback K        # refused: K has no maps (the message names --restore)
    vessel-studio rounds COPY --restore K         # timed: wall and peak RSS
    (every map compared with its copy: bit for bit, max abs difference; --threads N: OMP_NUM_THREADS=N)
    vessel-studio rounds COPY --rollback K        # now allowed

    .venv/bin/python benchmarks/prune_restore.py --project /tmp/s27/sample --work /tmp/s27/run \\
        --out benchmarks/results/prune/restore-sample.json
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from hires_adapt import du, mb  # noqa: E402
from hires_cli import timed, write_report  # noqa: E402
from prune_disk import fresh_copy, project_parser, tail  # noqa: E402

MAPS = ("pseudo", "pseudo-chain")


def compare(before: Path, after: Path) -> dict:
    """Every map under ``before/<folder>/`` against the same file under ``after/``."""
    from vessel_studio.io.images import read_prob

    rows, worst, same, missing = [], 0.0, 0, []
    for old in sorted(before.glob("*/*.tif")):
        rel = old.relative_to(before)
        new = after / rel
        if not new.is_file():
            missing.append(str(rel))
            continue
        a, b = read_prob(old), read_prob(new)
        equal = a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.shape == b.shape else None
        same += equal
        worst = max(worst, diff or 0.0)
        rows.append({"map": str(rel), "shape": list(a.shape), "bit_identical": equal, "max_abs_diff": diff})
    extra = sorted(str(p.relative_to(after)) for p in after.glob("*/*.tif")
                   if not (before / p.relative_to(after)).is_file())
    return {"maps": len(rows), "bit_identical": same, "max_abs_diff": worst, "missing": missing,
            "extra": extra, "per_map": rows}


def main(argv=None) -> int:
    ap = project_parser(__doc__)
    ap.add_argument("--round", type=int, default=0, help="the round to prune and restore (not the latest)")
    ap.add_argument("--threads", type=int, default=None,
                    help="OMP_NUM_THREADS for the restore (torch's CPU threads where the round recorded none): "
                         "how the maps depend on the thread count")
    args = ap.parse_args(argv)
    copy = fresh_copy(args.project, args.work)
    if copy is None:
        return 0
    kept = args.work / "maps-before"
    k = str(args.round)
    rdir = copy / "rounds" / f"round-{args.round:03d}"
    for name in MAPS:
        if (rdir / name).is_dir():
            shutil.copytree(rdir / name, kept / name)
    py = [sys.executable, "-m", "vessel_studio"]
    report: dict = {"project": str(args.project), "round": args.round, "maps_mb": mb(du(kept)),
                    "restore_threads": args.threads}
    runs = {}
    steps = (
        ("prune", [sys.executable, "-c", f"import vessel_studio as vs; print(vs.prune(vs.Project.open({str(copy)!r})))"]),
        ("rollback_refused", [*py, "rounds", str(copy), "--rollback", k]),
        ("restore", [*(["env", f"OMP_NUM_THREADS={args.threads}"] if args.threads else []),
                     *py, "rounds", str(copy), "--restore", k]),
    )
    for name, cmd in steps:
        log = args.work / f"{name}.log"
        runs[name] = {**timed(cmd, log), "output": tail(log, 2)}
    runs["restore"]["said"] = [x for x in (args.work / "restore.log").read_text(errors="replace").splitlines()
                               if x.startswith("restore:")]
    report["comparison"] = compare(kept, rdir)
    manifest = json.loads((copy / "project.json").read_text())
    report["pruned_after_restore"] = [r["index"] for r in manifest["rounds"] if r.get("pruned")]
    log = args.work / "rollback.log"
    runs["rollback"] = {**timed([*py, "rounds", str(copy), "--rollback", k], log), "output": tail(log, 2)}
    report["rounds_after_rollback"] = [r["index"] for r in json.loads((copy / "project.json").read_text())["rounds"]]
    report["runs"] = runs
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
