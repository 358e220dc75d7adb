"""Compare committed benchmark reports (``results.json`` of ``vessel-studio benchmark``): per seed the
adapted Dice after every round, and the baselines, one row per report. Reads only the JSON files.

    python benchmarks/compare_results.py --out benchmarks/results/drive-chase/ddpm-vs-ddim.md \\
        "DDPM (session 2)=benchmarks/results/drive-chase/ddpm-session2/results.json" \\
        "DDIM=benchmarks/results/drive-chase/results.json"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def rows_of(path: Path) -> dict:
    d = json.loads(Path(path).read_text())
    out = {"pair": d["pair"], "seeds": {}}
    for seed, per in d["per_seed"].items():
        row = {p: per[p]["mean"]["dice"] for p in ("source-only", "histmatch", "oracle") if p in per}
        if "adapted" in per:
            row["rounds"] = [r["scores"]["dice"] for r in per["adapted"]["rounds"]]
        out["seeds"][seed] = row
    return out


def fmt(v) -> str:
    v = [x for x in v if x is not None]
    if not v:
        return ""
    return f"{np.mean(v):.3f}" + (f" ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", metavar="NAME=RESULTS_JSON")
    ap.add_argument("--out", default=None, help="write the Markdown table here (else print only)")
    args = ap.parse_args(argv)
    lines = [f"Command: `python benchmarks/compare_results.py {' '.join(repr(a) if ' ' in a else a for a in sys.argv[1:])}`",
             "", "Dice on the target test split; adapted per seed as round 0 / 1 / 2 (last round = the reported model).",
             "", "| report | seeds | source-only | histogram matching | oracle | adapted per seed (r0 / r1 / r2) | "
             "adapted, last round | adapted, round 0 |", "|---|---|---|---|---|---|---|---|"]
    for item in args.reports:
        name, _, path = item.partition("=")
        r = rows_of(Path(path))
        seeds = sorted(r["seeds"])
        col = lambda k: fmt([r["seeds"][s].get(k) for s in seeds])  # noqa: E731
        per = "; ".join(f"s{s}: " + " / ".join(f"{x:.3f}" for x in r["seeds"][s].get("rounds", [])) for s in seeds)
        last = fmt([r["seeds"][s]["rounds"][-1] for s in seeds if r["seeds"][s].get("rounds")])
        first = fmt([r["seeds"][s]["rounds"][0] for s in seeds if r["seeds"][s].get("rounds")])
        lines.append(f"| {name} ({r['pair']}) | {', '.join(seeds)} | {col('source-only')} | {col('histmatch')} | "
                     f"{col('oracle')} | {per} | {last} | {first} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        from vessel_studio.io.atomic import write_text

        write_text(Path(args.out), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
