"""BatchNorm statistics re-estimated on a pair's unlabelled target images (AdaBN), scored beside
the unchanged segmenter. Pre-registered in ``benchmarks/results/adabn/PLAN.md``.

For each ``LABEL=FOLDER`` segmenter: score it on the pair's test split as the benchmark does
(threshold 0.5, inside the FOV), re-estimate its BatchNorm running statistics with
``vessel_studio.train.segmenter.reestimate_norm_statistics`` on crops of the pair's **target
training images (no labels read)**, prepared with the segmenter's preprocessing, and score again.
A label starting with ``source-only`` gets the target modality's preprocessing, as the benchmark
applies it to the source-only segmenter.

    python benchmarks/adabn_probe.py PAIR LABEL=FOLDER [LABEL=FOLDER ...] [--name NAME]
        [--batches 256] [--crop 64] [--batch-size 8] [--data ../shared/data]

Writes ``benchmarks/results/adabn/<NAME>.{json,md}`` (NAME defaults to the pair).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pair")
    ap.add_argument("models", nargs="+", help="LABEL=FOLDER")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--batches", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default=None)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "adabn"))
    args = ap.parse_args(argv)

    from vessel_studio.adaptation.benchmark import PAIRS, BenchmarkSpec, _score_segmenter, _test_set
    from vessel_studio.io.atomic import write_report
    from vessel_studio.io.datasets import dataset, load_sample
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import reestimate_norm_statistics

    info = PAIRS[args.pair]
    spec = BenchmarkSpec(pair=args.pair, data=Path(args.data), work=Path("unused"), preset="cpu")
    tests = _test_set(spec)
    target_train = list(dataset(spec.data, info["target"], "train"))  # images (and FOVs) only
    rows = {}
    for item in args.models:
        label, _, folder = item.partition("=")
        if not folder:
            raise SystemExit(f"{item}: expected LABEL=FOLDER")
        seg = Segmenter.load(folder)
        if label.startswith("source-only"):
            seg.preprocessing = Preprocessing.for_modality(info["modality"])
        before = _score_segmenter(seg, tests)
        loaded = [load_sample(dataclasses.replace(s, label=None), seg.preprocessing) for s in target_train]
        t = time.perf_counter()
        reestimate_norm_statistics(seg, [ls.prepared.x for ls in loaded], [ls.prepared.fov for ls in loaded],
                                   crop=args.crop, batch_size=args.batch_size, batches=args.batches,
                                   seed=args.seed)
        secs = time.perf_counter() - t
        after = _score_segmenter(seg, tests)
        rows[label] = {"folder": folder, "before": before["mean"], "after": after["mean"],
                       "per_image_before": before["per_image"], "per_image_after": after["per_image"],
                       "seconds": round(secs, 1)}
        print(f"{label}: Dice {before['mean']['dice']:.4f} -> {after['mean']['dice']:.4f} "
              f"(AUC {before['mean']['auc']:.4f} -> {after['mean']['auc']:.4f}; {secs:.0f} s)", flush=True)

    cmd = "python benchmarks/adabn_probe.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = [f"# BatchNorm statistics re-estimated on the target images (AdaBN): {args.pair}", "",
          f"Command: `{cmd}`", "",
          f"Statistics from {args.batches} batches of {args.batch_size} crops of {args.crop} px of the "
          f"{len(target_train)} unlabelled target training images; scored on the {len(tests)} test images "
          "(threshold 0.5, inside the FOV). Plan: PLAN.md.", "",
          "| segmenter | Dice before → after | clDice | AUC | sensitivity | specificity |",
          "|---|---|---|---|---|---|"]
    for label, r in rows.items():
        b, a = r["before"], r["after"]
        md.append(f"| {label} | {b['dice']:.4f} → {a['dice']:.4f} ({a['dice'] - b['dice']:+.4f}) | "
                  + " | ".join(f"{b[k]:.3f} → {a[k]:.3f}" for k in ("cldice", "auc", "sensitivity", "specificity"))
                  + " |")
    write_report(Path(args.out), args.name or args.pair,
                 {"command": cmd, "pair": args.pair, "batches": args.batches, "batch_size": args.batch_size,
                  "crop": args.crop, "seed": args.seed, "target_training_images": [s.name for s in target_train],
                  "models": rows}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
