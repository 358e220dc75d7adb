"""How much of the source masks' structure survives latent similarity mining (label-free).

Source crops (DRIVE training images with their masks) are DDIM-inverted to t0 with the source
generator and decoded by a TARGET generator (round 0 of an adaptation project), for several t0,
decodings (DDPM as the adaptation runs, or DDIM) and with or without the source mask as the target
generator's condition (``AdaptConfig.lsm_masks``). An instrument segmenter (by default the
source-only segmenter) segments each synthetic image; its Dice against the source mask says how
much of the labelled structure the synthetic image still shows. A synthetic pair whose image
does not show its mask's vessels teaches the segmenter to ignore vessels.

Nothing here reads a target label: the instrument is trained on the source, the target generator
on unlabelled target images. For a fundus target the source-only segmenter is a fair instrument;
for OCT-A it is weak (it scores ~0.3 Dice on real OCT-A), so read those numbers as relative only.

    python benchmarks/lsm_structure.py --work scratch/b2/drive-chase/seed-0 --t0 0.1 0.2 0.3 0.5 \\
        --out benchmarks/results/drive-chase/lsm_structure
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="a benchmark seed folder: source-generator/, source-only/, project/")
    ap.add_argument("--target-generator", default=None, help="default: WORK/project/rounds/round-000/generator")
    ap.add_argument("--t0", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    ap.add_argument("--modes", nargs="+", default=["ddpm"], choices=["ddpm", "ddim"])
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    import torch

    from vessel_studio.adaptation.crops import sample_crops
    from vessel_studio.adaptation.job import load_sources
    from vessel_studio.adaptation.synthesis import translate
    from vessel_studio.events import run
    from vessel_studio.io.atomic import write_json, write_text
    from vessel_studio.io.datasets import dataset
    from vessel_studio.metrics import dice
    from vessel_studio.models.generator import Generator
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing, from_unit

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    sg = Generator.load(work / "source-generator")
    tg = Generator.load(Path(args.target_generator) if args.target_generator else
                        work / "project" / "rounds" / "round-000" / "generator")
    sg.unet.eval()
    tg.unet.eval()
    seg = Segmenter.load(work / "source-only")
    prep = sg.preprocessing if getattr(sg.preprocessing, "modality", None) else Preprocessing.for_modality("fundus")
    src = load_sources([(s.image, s.label, s.fov) for s in dataset(DATA, "DRIVE", "train")], prep)
    imgs, msks, _ = sample_crops(src.images, src.masks, src.fovs, size=64, count=args.count, seed=args.seed,
                                 vessel_min=0.02)
    imgs, msks = np.asarray(imgs, np.float32), np.asarray(msks, np.float32)

    def structure(x) -> float:
        return float(np.mean([dice(seg.predict_prepared(from_unit(im)) >= 0.5, m >= 0.5) for im, m in zip(x, msks)]))

    rows = [{"variant": "source crops (no translation)", "t0": None, "mode": None, "masks": None,
             "structure_dice": structure(imgs), "seconds": 0.0}]
    print(rows[0], flush=True)
    for t0 in args.t0:
        for mode in args.modes:
            for cond in (False, True):
                t = time.perf_counter()
                res = run(translate(sg, tg, imgs, msks, t0=t0, steps=args.steps, mode=mode, seed=args.seed,
                                    target_masks=cond, batch_size=args.count))
                out = np.asarray(res.images, np.float32)
                rows.append({"variant": f"t0 {t0} {mode} {'source masks' if cond else 'unconditional'}", "t0": t0,
                             "mode": mode, "masks": cond, "structure_dice": structure(out),
                             "seconds": round(time.perf_counter() - t, 1)})
                print(rows[-1], flush=True)
    out_dir = Path(args.out)
    cmd = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    write_json(out_dir / "lsm_structure.json", {"command": cmd, "count": args.count, "rows": rows})
    lines = ["# Source structure kept by latent similarity mining (label-free)", "", f"Command: `{cmd}`", "",
             f"{args.count} DRIVE training crops (64x64, >= 2 % vessel), {args.steps}-step DDIM grid. Structure = "
             "Dice of the source-only segmenter's prediction on the synthetic image against the source mask.", "",
             "| t0 | decoding | target generator condition | structure Dice | seconds |", "|---|---|---|---|---|"]
    for r in rows:
        if r["t0"] is None:
            lines.append(f"| - | - | (the source crops themselves) | {r['structure_dice']:.3f} | - |")
        else:
            lines.append(f"| {r['t0']} | {r['mode']} | {'source masks' if r['masks'] else 'none (paper)'} | "
                         f"{r['structure_dice']:.3f} | {r['seconds']:.0f} |")
    write_text(out_dir / "lsm_structure.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
