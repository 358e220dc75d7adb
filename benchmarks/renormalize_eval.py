"""``vessel-studio renormalize`` measured: a model before and after its BatchNorm statistics are
re-estimated on a target's unlabelled training images, both scored on the target's test split as
the benchmark scores (threshold 0.5, inside the FOV).

    python benchmarks/renormalize_eval.py [--model fundus-segmenter] [--pair drive-octa500]
        [--work scratch/renormalize] [--threads 2]

Runs the CLI itself (``vessel-studio renormalize TRAIN_IMAGES --modality M --out WORK/model``),
timing it, then scores. Writes ``benchmarks/results/renormalize/<pair>.{json,md}``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="fundus-segmenter")
    ap.add_argument("--pair", default="drive-octa500")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--work", default="scratch/renormalize")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "renormalize"))
    args = ap.parse_args(argv)

    import torch

    from vessel_studio.adaptation.benchmark import PAIRS, BenchmarkSpec, _score_segmenter, _test_set
    from vessel_studio.cli import main as cli
    from vessel_studio.io.atomic import write_report
    from vessel_studio.io.datasets import dataset
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing

    torch.set_num_threads(args.threads)
    info = PAIRS[args.pair]
    spec = BenchmarkSpec(pair=args.pair, data=Path(args.data), work=Path("unused"), preset="cpu")
    train = [str(s.image) for s in dataset(spec.data, info["target"], "train")]  # images only
    out_model = Path(args.work) / args.pair / "model"
    if out_model.exists():
        shutil.rmtree(out_model)
    t = time.perf_counter()
    rc = cli(["renormalize", *train, "--model", args.model, "--modality", info["modality"], "--out", str(out_model),
              "--threads", str(args.threads)])
    secs = time.perf_counter() - t
    if rc != 0:
        raise SystemExit(f"renormalize failed ({rc})")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tests = _test_set(spec)
    before = Segmenter.load(args.model)
    before.preprocessing = Preprocessing.for_modality(info["modality"])  # as the CLI applies it
    rows = {"before": _score_segmenter(before, tests)["mean"],
            "after": _score_segmenter(Segmenter.load(out_model), tests)["mean"]}
    cmd = "python benchmarks/renormalize_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = [f"# `vessel-studio renormalize`: {args.model} on {args.pair}", "", f"Command: `{cmd}`", "",
          f"Re-normalised on the {len(train)} unlabelled {info['target']} training images (256 batches of 8 crops "
          f"of 64 px); scored on the {len(tests)} test images, threshold 0.5. The renormalize command took "
          f"{secs:.0f} s with {args.threads} threads on this shared machine (reading and preparing the images "
          f"included); peak RSS of this process {rss_mb:.0f} MB.", "",
          "| model | Dice | clDice | AUC | sensitivity | specificity |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        md.append(f"| {name} | " + " | ".join(f"{r[k]:.3f}" for k in ("dice", "cldice", "auc", "sensitivity",
                                                                        "specificity")) + " |")
    write_report(Path(args.out), args.pair, {"command": cmd, "model": args.model, "pair": args.pair,
                                              "seconds": round(secs, 1), "peak_rss_mb": round(rss_mb),
                                              "train_images": len(train), "scores": rows}, md)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
