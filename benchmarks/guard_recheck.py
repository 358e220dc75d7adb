"""The label-free guard on a finished project, before and after the source masks' vessel share
became a flood reference (session 23).

Projects adapted before then did not record round 0's ``source_mask_fraction``; this computes it
from the project's recorded labelled source folders exactly as the job does (``load_sources`` with
the source generator's preprocessing, then ``rounds.source_mask_fraction``) and prints the guard's
warnings and the reviewer's hint (``selection.review_pick``) without and with it. Label-free: no
target label is read.

    python benchmarks/guard_recheck.py PROJECT [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from vessel_studio.adaptation.job import SourceBundle, load_sources
    from vessel_studio.adaptation.rounds import source_mask_fraction
    from vessel_studio.adaptation.selection import history_warnings, review_pick, round_rows, select_round
    from vessel_studio.models.generator import Generator
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.store import Project

    proj = Project.open(args.project)
    rows = round_rows(proj.rounds)
    if not rows:
        print(f"{args.project}: no committed round", file=sys.stderr)
        return 2
    recorded = rows[0].get("source_mask_fraction")
    if recorded is None:
        bundle = SourceBundle.from_record(proj.source)
        if not bundle.images:
            print(f"{args.project}: procedural source: its masks are rendered per run; nothing to recompute",
                  file=sys.stderr)
            return 2
        gen = Generator.load(bundle.generator)
        prep = gen.preprocessing if getattr(gen.preprocessing, "modality", None) else \
            Preprocessing.for_modality(bundle.modality)
        share = source_mask_fraction(load_sources(bundle.images, prep), [])
    else:
        share = float(recorded)
    old_rows = [{k: v for k, v in r.items() if k != "source_mask_fraction"} for r in rows]
    new_rows = [dict(r) for r in rows]
    new_rows[0]["source_mask_fraction"] = share
    out = {"project": str(args.project), "source_mask_fraction": share,
           "source_mask_fraction_recorded": recorded is not None,
           "source_vessel_fraction": rows[0].get("source_vessel_fraction"),
           "vessel_fraction": {r["round"]: r.get("vessel_fraction") for r in rows},
           "select_round": select_round(rows)}
    for name, hist in (("before", old_rows), ("after", new_rows)):
        flags = history_warnings(hist)
        pick, flagged = review_pick(hist)
        out[name] = {"flagged_rounds": flagged, "review_pick": pick,
                     "warnings": {k: v for k, v in flags.items() if v}}
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
