"""DRIVE -> OCTA-500: how t0 trades structure (vessels kept) against appearance (target look).

For t0 in {0.1, 0.2, 0.3, 0.5}: DRIVE training crops (inverted gray, vessels bright) are
DDIM-inverted to t0 by the source generator conditioned on their manual masks and decoded by the
target generator (trained unconditionally on OCTA-500 Training images).

- structure: an *evaluation instrument* - a segmenter trained on OCTA-500 TRAINING labels (used
  only to measure, never by the adaptation) - segments the synthetic images; Dice against the
  source mask. The same instrument on real OCTA-500 TEST crops gives its own accuracy, and on the
  untranslated DRIVE crops the floor.
- appearance: distances between synthetic and real OCTA-500 (Training images) crops: the
  1-Wasserstein distance of the pooled intensity histograms (unit range) and the absolute
  difference of mean gradient magnitude (a sharpness/texture statistic); the same for untranslated
  DRIVE crops as the reference.

    nice -n 5 python benchmarks/t0_tradeoff.py --target-gen scratch/octa500-generator \
        --instrument scratch/octa500-instrument --count 32 --size 64
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "generator"


def standardise(u: np.ndarray) -> np.ndarray:
    """Unit-range crop -> zero mean, unit sd (what a segmenter's ``prepare`` would give)."""
    x = np.asarray(u, np.float32)
    return ((x - x.mean()) / max(float(x.std()), 1e-6)).astype(np.float32)


def train_instrument(data: Path, out: Path, steps: int, seed: int):
    from vessel_studio.events import Progress, run
    from vessel_studio.io import dataset
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import SegmenterTrainConfig, pairs_from_samples, train_segmenter

    prep = Preprocessing.for_modality("octa")
    pairs = pairs_from_samples(dataset(data, "OCTA-500", "train"), prep)
    cfg = SegmenterTrainConfig.preset("cpu", steps=steps, seed=seed)
    t = time.time()

    def log(ev):
        if isinstance(ev, Progress) and (ev.step % 100 == 0 or ev.step == ev.total):
            print(f"instrument step {ev.step}/{ev.total} {time.time() - t:.0f}s", flush=True)

    seg = run(train_segmenter(pairs, cfg, preprocessing=prep,
                              description={"data": "OCTA-500 Training labels (evaluation instrument only)"}), log)
    seg.save(out)
    print(f"instrument saved to {out} in {time.time() - t:.0f}s", flush=True)


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    p, g = pred.astype(bool), gt.astype(bool)
    s = p.sum() + g.sum()
    return 1.0 if s == 0 else float(2 * (p & g).sum() / s)


def grad_mag(u: np.ndarray) -> float:
    gy, gx = np.gradient(np.asarray(u, np.float64), axis=(-2, -1))
    return float(np.mean(np.hypot(gy, gx)))


def appearance(crops: np.ndarray, real: np.ndarray) -> dict:
    from scipy.stats import wasserstein_distance

    return {
        "intensity_w1": float(wasserstein_distance(crops.ravel(), real.ravel())),
        "gradient_gap": float(abs(grad_mag(crops) - grad_mag(real))),
        "mean": float(crops.mean()), "sd": float(crops.std()), "gradient": grad_mag(crops),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--source-gen", default="fundus-generator")
    ap.add_argument("--target-gen", type=Path, default=REPO / "scratch" / "octa500-generator")
    ap.add_argument("--instrument", type=Path, default=REPO / "scratch" / "octa500-instrument")
    ap.add_argument("--instrument-steps", type=int, default=800)
    ap.add_argument("--only-instrument", action="store_true", help="train the instrument and stop")
    ap.add_argument("--t0", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--mode", default="ddpm", choices=["ddpm", "ddim"])
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--figure", type=Path, default=REPO / "docs" / "figures" / "t0-tradeoff-drive-to-octa.png")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from vessel_studio.adaptation.crops import load_folder, sample_crops
    from vessel_studio.adaptation.synthesis import translate
    from vessel_studio.commands.translate import montage, write_png
    from vessel_studio.events import run
    from vessel_studio.io import dataset
    from vessel_studio.io.atomic import write_json, write_text
    from vessel_studio.models.folder import hash_folder
    from vessel_studio.models.generator import Generator
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing, to_unit

    if not (args.instrument / "config.json").is_file():
        train_instrument(args.data, args.instrument, args.instrument_steps, args.seed)
    if args.only_instrument:
        return 0
    inst = Segmenter.load(args.instrument)
    src = Generator.load(args.source_gen)
    tgt = Generator.load(args.target_gen)

    def segment(crops: np.ndarray) -> np.ndarray:
        return np.stack([inst.predict_prepared(standardise(c)) >= inst.threshold for c in crops])

    # source: DRIVE training crops with their manual masks (the labelled source set)
    drive = dataset(args.data, "DRIVE", "train")
    folder = drive[0].image.parent
    data = load_folder(folder, drive[0].label.parent, drive[0].fov.parent, prep=src.preprocessing)
    crops, masks, where = sample_crops(data.images, data.masks, data.fovs, size=args.size, count=args.count,
                                       seed=args.seed, vessel_min=0.05)
    masks = (masks > 0.5).astype(np.float32)
    # real target crops: OCTA-500 Training images (no labels), and TEST crops with labels for the instrument check
    octa = load_folder(args.data / "OCTA-500" / "Training" / "OCTA500_3M_train_images", prep=Preprocessing.for_modality("octa"))
    real, _, _ = sample_crops(octa.images, None, octa.fovs, size=args.size, count=max(args.count, 64), seed=args.seed + 1)
    test = [s for s in dataset(args.data, "OCTA-500", "test")]
    tdata = load_folder(test[0].image.parent, test[0].label.parent, prep=Preprocessing.for_modality("octa"))
    tcrops, tmasks, _ = sample_crops(tdata.images, tdata.masks, tdata.fovs, size=args.size, count=args.count,
                                     seed=args.seed + 2, vessel_min=0.05)

    results = {
        "command": "python benchmarks/t0_tradeoff.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "source_generator": str(src.folder), "source_generator_hash": hash_folder(src.folder),
        "source_generator_steps": (src.training.get("config") or {}).get("steps"),
        "target_generator": str(tgt.folder), "target_generator_hash": hash_folder(tgt.folder),
        "target_generator_steps": (tgt.training.get("config") or {}).get("steps"),
        "instrument": str(args.instrument),
        "instrument_note": "segmenter trained on OCTA-500 Training labels; an evaluation instrument only",
        "count": args.count, "size": args.size, "steps": args.steps, "mode": args.mode, "seed": args.seed,
        "instrument_dice_real_octa_test_crops": float(np.mean([dice(p, m) for p, m in zip(segment(tcrops), tmasks)])),
        "untranslated": {
            "structure_dice": float(np.mean([dice(p, m) for p, m in zip(segment(crops), masks)])),
            **appearance(crops, real),
        },
        "real_octa": appearance(real, real),
        "t0": {},
    }
    print(json.dumps({k: results[k] for k in ("instrument_dice_real_octa_test_crops", "untranslated")}), flush=True)
    synth_cols, latent03 = [], None
    for t0 in args.t0:
        t = time.perf_counter()
        res = run(translate(src, tgt, crops, masks, t0=t0, steps=args.steps, mode=args.mode, seed=args.seed))
        sec = time.perf_counter() - t
        d = [dice(p, m) for p, m in zip(segment(res.images), masks)]
        results["t0"][str(t0)] = {
            "timestep": res.timestep, "structure_dice": float(np.mean(d)), "structure_dice_sd": float(np.std(d)),
            **appearance(res.images, real), "seconds_per_image": sec / args.count,
        }
        print(f"t0={t0}: {json.dumps(results['t0'][str(t0)])}", flush=True)
        synth_cols.append(res.images)
        if latent03 is None or abs(t0 - 0.3) < 1e-9:
            latent03 = np.clip(res.latents[:, 0], -1, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"t0_tradeoff{args.tag}"
    write_json(args.out / f"{stem}.json", results)
    lines = [
        "# t0 trade-off, DRIVE -> OCTA-500", "",
        f"Command: `{results['command']}`", "",
        f"Source generator {results['source_generator']} ({results['source_generator_steps']} training steps); "
        f"target generator {results['target_generator']} ({results['target_generator_steps']} steps, unconditional, "
        "OCTA-500 Training images).",
        f"{args.count} DRIVE training crops of {args.size}x{args.size} (>= 5 % vessel), {args.steps}-step DDIM grid, "
        f"{args.mode} decoding, seed {args.seed}.", "",
        "Structure = Dice of the source mask vs the evaluation instrument's segmentation of the image "
        "(instrument: a segmenter trained on OCTA-500 Training labels, used only to measure; its Dice on "
        f"real OCTA-500 test crops: {results['instrument_dice_real_octa_test_crops']:.3f}). "
        "Appearance = distance to real OCTA-500 crops (lower is closer): W1 of intensity histograms, "
        "gap in mean gradient magnitude.", "",
        "| input | t0 step | structure Dice | intensity W1 | gradient gap | s / image |",
        "|---|---|---|---|---|---|",
        f"| untranslated DRIVE crops | - | {results['untranslated']['structure_dice']:.3f} | "
        f"{results['untranslated']['intensity_w1']:.3f} | {results['untranslated']['gradient_gap']:.4f} | - |",
    ]
    for t0, r in results["t0"].items():
        lines.append(f"| synthetic, t0 = {t0} | {r['timestep']} | {r['structure_dice']:.3f} | {r['intensity_w1']:.3f} | "
                     f"{r['gradient_gap']:.4f} | {r['seconds_per_image']:.2f} |")
    write_text(args.out / f"{stem}.md", "\n".join(lines) + "\n")
    cols = [crops, masks * 2 - 1, latent03] + synth_cols + [real]
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    write_png(args.figure, montage(cols, rows=6))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
