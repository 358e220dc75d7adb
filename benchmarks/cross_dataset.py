"""Cross-dataset table (source-only / oracle floors) with the project's own segmenter.

Trains one segmenter on the training split of each of DRIVE, CHASE_DB1, STARE and OCTA-500
and scores every model on every test split (Dice at 0.5, AUC, clDice, sensitivity,
specificity; per image inside the FOV, whole image for OCT-A, then averaged; OCTA-500 test
image 10388 excluded). The diagonal is the oracle; off-diagonal cells are source-only numbers.
Target images are prepared with the target modality's preprocessing (polarity: fundus
intensities inverted, OCT-A as is; fundus rescaled to a 540 px FOV, OCT-A at native scale),
so a fundus model meets OCT-A with vessels bright as it learnt them.

    python benchmarks/cross_dataset.py --preset cpu [--steps N] [--seed 0]

Writes ``benchmarks/results/segmenter/cross_dataset_<preset>.{json,md}``. Trained models are
kept in ``--models-dir`` and reused when present (so an interrupted run continues).
``train_on(dataset, split, preset, seed)`` is importable (the adaptation benchmark uses it for
its source-only and oracle floors).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data"))
DATASETS = ("DRIVE", "CHASE_DB1", "STARE", "OCTA-500")
OUT = REPO / "benchmarks" / "results" / "segmenter"


def preprocessing_for(dataset: str):
    from vessel_studio.io.datasets import modality_of
    from vessel_studio.preprocess import Preprocessing

    return Preprocessing.for_modality(modality_of(dataset))


def train_on(dataset: str, split: str = "train", preset: str = "cpu", seed: int = 0, *, root=None,
             steps: int | None = None, checkpoint_dir=None, device=None, on_event=None, **overrides):
    """Train the project's segmenter on ``dataset``'s ``split`` (labels of that split only);
    return the ``Segmenter``. ``overrides`` go to ``SegmenterTrainConfig.preset``."""
    from vessel_studio.events import run
    from vessel_studio.io.datasets import dataset as find
    from vessel_studio.train.segmenter import SegmenterTrainConfig, pairs_from_samples, train_segmenter

    root = Path(root) if root is not None else DATA
    prep = preprocessing_for(dataset)
    samples = find(root, dataset, split)
    pairs = pairs_from_samples(samples, prep)
    if steps is not None:
        overrides["steps"] = steps
    cfg = SegmenterTrainConfig.preset(preset, seed=seed, **overrides)
    desc = {"dataset": dataset, "split": split, "images": len(pairs), "labels": "1st observer"}
    return run(train_segmenter(pairs, cfg, preprocessing=prep, checkpoint_dir=checkpoint_dir, device=device,
                               description=desc), on_event)


def score_on(segmenter, dataset: str, split: str = "test", *, root=None):
    """Score ``segmenter`` on ``dataset``'s ``split`` with the target's preprocessing.
    Returns a ``MetricAccumulator``."""
    from vessel_studio.io.datasets import dataset as find
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.train.segmenter import evaluate

    root = Path(root) if root is not None else DATA
    prep = preprocessing_for(dataset)
    target = Segmenter(segmenter.net, segmenter.config, prep, training=segmenter.training,
                       threshold=segmenter.threshold)
    return evaluate(target, find(root, dataset, split))


def _f(v, nd=3):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu", choices=("tiny", "cpu", "gpu"))
    ap.add_argument("--steps", type=int, default=None, help="override the preset's step count")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", nargs="+", default=list(DATASETS), choices=DATASETS)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models-dir", default=str(REPO / "scratch" / "cross-dataset-models"))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--render", default=None, metavar="JSON",
                    help="only rewrite the Markdown table of an existing results JSON (no training or scoring)")
    args = ap.parse_args(argv)
    if args.render:
        import json

        from vessel_studio.io.atomic import write_text

        res = json.loads(Path(args.render).read_text())
        res.setdefault("requested", list(DATASETS))
        write_text(Path(args.render).with_suffix(".md"), markdown(res))
        return 0

    import torch

    from vessel_studio.device import describe, pick_device
    from vessel_studio.io.atomic import write_json, write_text
    from vessel_studio.models.segmenter import Segmenter

    torch.set_num_threads(args.threads)
    tag = args.preset + (f"-{args.steps}steps" if args.steps else "")
    models = Path(args.models_dir) / tag
    command = "python benchmarks/cross_dataset.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = {"command": command, "preset": args.preset, "steps": args.steps, "seed": args.seed,
               "device": describe(pick_device()), "load_average_start": os.getloadavg(), "requested": list(args.train),
               "trained": {}, "scores": {}}
    json_path = Path(args.out) / f"cross_dataset_{tag}.json"
    md_path = Path(args.out) / f"cross_dataset_{tag}.md"
    for src in args.train:
        folder = models / f"{src}-seed{args.seed}"
        t0 = time.time()
        if (folder / "config.json").is_file():
            seg = Segmenter.load(folder)
            train_s = seg.training.get("wall_seconds")
        else:
            last = [time.time()]

            def on_event(ev, src=src):
                from vessel_studio.events import Progress

                if isinstance(ev, Progress) and (ev.step % 100 == 0 or ev.step == ev.total):
                    print(f"[{src}] step {ev.step}/{ev.total} {ev.message} {time.time() - t0:.0f}s", flush=True)

            seg = train_on(src, "train", args.preset, args.seed, root=args.data, steps=args.steps,
                           checkpoint_dir=models / f".{src}-seed{args.seed}-ckpt", on_event=on_event)
            train_s = round(time.time() - t0, 1)
            seg.training["wall_seconds"] = train_s
            seg.save(folder)
        results["trained"][src] = {"wall_seconds": train_s, "config": seg.training.get("config"),
                                   "model": str(folder)}
        results["scores"][src] = {}
        for dst in DATASETS:
            t1 = time.time()
            acc = score_on(seg, dst, "test", root=args.data)
            s = acc.summary()
            results["scores"][src][dst] = {"mean": s["mean"], "std": s["std"], "pooled": s["pooled"],
                                           "count": s["count"]}
            print(f"{src} -> {dst}: Dice {_f(s['mean']['dice'])} AUC {_f(s['mean']['auc'])} "
                  f"clDice {_f(s['mean']['cldice'])} ({time.time() - t1:.0f}s)", flush=True)
        results["load_average_end"] = os.getloadavg()
        write_json(json_path, results)
        write_text(md_path, markdown(results))
    print(f"wrote {json_path} and {md_path}")
    return 0


def markdown(res: dict) -> str:
    rows = list(res["scores"])
    lines = [f"# Cross-dataset segmenter table ({res['preset']} preset"
             + (f", {res['steps']} steps" if res["steps"] else "") + f", seed {res['seed']})", "",
             f"Command: `{res['command']}`  ", f"Device: {res['device']}; one seed; trained models "
             "score each test split (per image inside the FOV, whole image for OCTA-500, 10388 excluded), "
             "mean over images. Diagonal = oracle, off-diagonal = source-only.", ""]
    requested = res.get("requested")
    if requested and len(rows) < len(requested):
        lines += [f"**Partial:** rows finished so far: {', '.join(rows)} of {', '.join(requested)} requested.", ""]
    for metric in ("dice", "auc", "cldice", "sensitivity"):
        lines += [f"## {metric}", "", "| trained on ↓ / scored on → | " + " | ".join(DATASETS) + " |",
                  "|---" * (len(DATASETS) + 1) + "|"]
        for src in rows:
            cells = [_f(res["scores"][src][d]["mean"][metric]) for d in DATASETS if d in res["scores"][src]]
            lines.append(f"| {src} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Training", "", "| trained on | steps | batch | crop | wall seconds |", "|---|---|---|---|---|"]
    for src, t in res["trained"].items():
        c = t.get("config") or {}
        lines.append(f"| {src} | {c.get('steps')} | {c.get('batch_size')} | {c.get('crop')} | {t.get('wall_seconds')} |")
    lines += ["", "The machine is shared (load average at start "
              f"{', '.join(f'{x:.1f}' for x in res['load_average_start'])}), so wall times are not speeds."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
