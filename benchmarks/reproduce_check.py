"""Does a fresh benchmark run reproduce a committed report? Compares every score a run cached with the
committed per-seed values.

usage: python benchmarks/reproduce_check.py REPORT.json SEED_DIR... [--tol 1e-6]
SEED_DIR: a benchmark seed folder (``WORK/PAIR/seed-N``) of a run with the report's configuration.
For each seed: source-only, oracle, frangi, histmatch (``scores/<part>.json``) and every adapted round
(``scores/adapted-round-R.json``), on each metric the report holds. Prints one line per score that
differs by more than --tol and a summary; exits 1 when any differs or is missing.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


def compare(report: dict, run: Path, tol: float) -> tuple[int, list[str]]:
    """``(number of scores compared, problems)`` for one seed folder."""
    seed = re.fullmatch(r"seed-(\d+)", run.name)
    if seed is None:
        return 0, [f"{run}: not a seed folder (seed-N)"]
    per = report["per_seed"].get(seed.group(1))
    if per is None:
        return 0, [f"{run}: the report has no seed {seed.group(1)}"]
    expected: dict[str, dict] = {p: per[p]["mean"] for p in ("source-only", "oracle", "frangi", "histmatch") if p in per}
    for r in (per.get("adapted") or {}).get("rounds") or []:
        expected[f"adapted-round-{r['round']}"] = r["scores"]
    n, problems = 0, []
    for name, want in expected.items():
        f = run / "scores" / f"{name}.json"
        if not f.is_file():
            problems.append(f"{run.name} {name}: no {f}")
            continue
        got = json.loads(f.read_text())["mean"]
        for k, v in want.items():
            if not isinstance(v, (int, float)) or k not in got:
                continue
            n += 1
            if abs(float(got[k]) - float(v)) > tol:
                problems.append(f"{run.name} {name} {k}: {got[k]:.6f} != committed {v:.6f}")
    return n, problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--tol", type=float, default=1e-6)
    args = ap.parse_args(argv)
    report = json.loads(args.report.read_text())
    total, bad = 0, []
    for run in args.runs:
        n, problems = compare(report, run, args.tol)
        total += n
        bad += problems
        print(f"{run}: {n} scores compared, {len(problems)} differ or missing")
    for p in bad:
        print("  " + p)
    print(f"{total} scores compared; {'all equal' if not bad else f'{len(bad)} problems'} (tolerance {args.tol:g})")
    return 1 if bad or not total else 0


if __name__ == "__main__":
    sys.exit(main())
