"""Add a baseline part, run later against the same source-only segmenters, to a committed pair report.

A baseline such as ``adabn`` is built on each seed's source-only segmenter. When the headline's
work folders are gone, the part is run (``vessel-studio benchmark PAIR --parts adabn --work W``)
in folders whose source-only segmenter was re-trained with the headline's seed; this script checks
that each of those source-only segmenters reproduces the committed source-only scores (every
metric within 1e-6), then writes the part's per-seed means and its table row (mean ± sd over the
seeds, as ``benchmark.summarize`` computes them) into ``benchmarks/results/PAIR/results.{json,md}``
with a note saying where they came from. Nothing else in the report changes.

    python benchmarks/add_baseline_part.py PAIR PART WORK:SEED [WORK:SEED ...] [--note TEXT]
        [--results benchmarks/results/PAIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def add_part(results: dict, part: str, scores: dict[str, dict], source_only: dict[str, dict], note: str) -> dict:
    """``results`` (a committed results.json) with ``part``'s per-seed ``scores`` (seed -> mean metrics)
    and table row added. ``source_only``: seed -> the source-only means of the runs the part came from,
    which must equal the committed ones."""
    from vessel_studio.adaptation.benchmark import KEYS

    seeds = [str(s) for s in results["seeds"]]
    if sorted(scores) != sorted(seeds):
        raise ValueError(f"{part}: scores for seeds {sorted(scores)}, the report has seeds {sorted(seeds)}")
    for s in seeds:
        committed = results["per_seed"][s]["source-only"]["mean"]
        bad = [k for k in KEYS if abs(float(committed[k]) - float(source_only[s][k])) > 1e-6]
        if bad:
            raise ValueError(f"seed {s}: the source-only segmenter behind {part} does not reproduce the committed "
                             f"source-only scores ({', '.join(f'{k} {source_only[s][k]:.6f} vs {committed[k]:.6f}' for k in bad)})")
    out = json.loads(json.dumps(results))
    for s in seeds:
        out["per_seed"][s][part] = {"mean": {k: float(scores[s][k]) for k in KEYS}}
    vals = {k: [float(scores[s][k]) for s in seeds] for k in KEYS}
    out["table"][part] = {k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
                              "n_seeds": len(v)} for k, v in vals.items()}
    out["notes"] = list(out.get("notes", [])) + [note]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pair")
    ap.add_argument("part")
    ap.add_argument("runs", nargs="+", help="WORK:SEED (WORK as given to vessel-studio benchmark --work)")
    ap.add_argument("--note", default="")
    ap.add_argument("--results", default=None)
    args = ap.parse_args(argv)

    from vessel_studio.adaptation.benchmark import write_report

    folder = Path(args.results or REPO / "benchmarks" / "results" / args.pair)
    results = json.loads((folder / "results.json").read_text())
    scores, source_only = {}, {}
    for run in args.runs:
        work, _, seed = run.rpartition(":")
        base = Path(work) / args.pair / f"seed-{int(seed)}" / "scores"
        for name, into in ((args.part, scores), ("source-only", source_only)):
            path = base / f"{name}.json"
            if not path.is_file():
                raise SystemExit(f"{path}: missing (run vessel-studio benchmark {args.pair} --parts {name} "
                                 f"--seeds {seed} --work {work})")
            into[str(int(seed))] = json.loads(path.read_text())["mean"]
    cmd = f"python benchmarks/add_baseline_part.py {args.pair} {args.part} " + " ".join(args.runs)
    note = (f"`{args.part}` row added later by `{cmd}` from seeds' runs whose source-only segmenters reproduce the "
            "committed source-only scores (checked by that script). " + args.note).strip()
    write_report(add_part(results, args.part, scores, source_only, note), folder)
    print(f"{folder}: {args.part} added for seeds {sorted(scores)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
