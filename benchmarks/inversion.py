"""Is DDIM inversion with the bundled fundus generator faithful? PSNR vs number of steps.

DRIVE TEST crops (never seen in training), prepared as the generator's preprocessing says, are
inverted to t0 = 0.3 with the generator conditioned on their manual masks and reconstructed with
the same model and masks (DDIM, deterministic). PSNR in the unit range (peak-to-peak 2), per
step count; time per image (inversion + reconstruction) on this machine; peak memory.

    nice -n 5 python benchmarks/inversion.py --count 24 --size 64 --steps 10 20 50 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--model", default="fundus-generator")
    ap.add_argument("--t0", type=float, default=0.3)
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50, 100])
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "generator")
    ap.add_argument("--tag", default="")
    ap.add_argument("--channels-last", action="store_true",
                    help="run the generator channels-last (Generator.use_channels_last; AdaptConfig.gen_channels_last)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from vessel_studio.adaptation.crops import load_folder, sample_crops
    from vessel_studio.adaptation.inversion import invert, psnr
    from vessel_studio.adaptation.synthesis import denoise
    from vessel_studio.device import describe, peak_memory_mb, pick_device
    from vessel_studio.events import run
    from vessel_studio.io import dataset
    from vessel_studio.io.atomic import write_json, write_text
    from vessel_studio.models.folder import hash_folder
    from vessel_studio.models.generator import Generator

    device = pick_device(args.device)
    gen = Generator.load(args.model, device=device).use_channels_last(args.channels_last)
    test = dataset(args.data, "DRIVE", "test")
    data = load_folder(test[0].image.parent, test[0].label.parent, test[0].fov.parent, prep=gen.preprocessing)
    crops, masks, where = sample_crops(data.images, data.masks, data.fovs, size=args.size, count=args.count,
                                       seed=args.seed)
    rows = []
    for steps in args.steps:
        t = time.perf_counter()
        inv = run(invert(gen, crops, masks, t0=args.t0, steps=steps, batch_size=args.batch_size, device=device))
        t_inv = time.perf_counter() - t
        rec = run(denoise(gen, inv.latents, t0=args.t0, steps=steps, masks=masks, mode="ddim",
                          batch_size=args.batch_size, device=device))
        t_all = time.perf_counter() - t
        vals = np.array([psnr(r, c) for r, c in zip(rec, crops)])
        rows.append({"steps": steps, "inversion_steps": len(inv.timesteps), "timestep": inv.timestep,
                     "psnr_mean": float(vals.mean()), "psnr_sd": float(vals.std()), "psnr_min": float(vals.min()),
                     "psnr_latent_mean": float(np.mean([psnr(l[0], c) for l, c in zip(inv.latents, crops)])),
                     "seconds_per_image_inversion": t_inv / args.count,
                     "seconds_per_image_total": t_all / args.count})
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "command": "python benchmarks/inversion.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": str(gen.folder), "model_hash": hash_folder(gen.folder),
        "model_training_steps": (gen.training.get("config") or {}).get("steps"),
        "parameters": gen.num_parameters(), "device": describe(device), "machine": platform.processor() or platform.machine(),
        "channels_last": bool(args.channels_last), "t0": args.t0, "count": args.count, "size": args.size, "seed": args.seed, "batch_size": args.batch_size,
        "data": "DRIVE test images (crops centred in the FOV), manual masks as the condition",
        "peak_memory_mb": peak_memory_mb(device), "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"inversion{args.tag}.json", result)
    lines = [
        "# DDIM inversion fidelity of the bundled fundus generator", "",
        f"Command: `{result['command']}`", "",
        f"Model `{result['model']}` (hash {result['model_hash']}, {result['parameters'] / 1e6:.2f} M parameters, "
        f"{result['model_training_steps']} training steps); {args.count} DRIVE test crops of {args.size}x{args.size}, "
        f"t0 = {args.t0}; device {result['device']}{', channels-last' if args.channels_last else ''} "
        "(shared machine: timings are upper bounds); "
        f"peak memory {result['peak_memory_mb']:.0f} MB (max RSS of the process).", "",
        "| DDIM steps (full schedule) | inversion steps | latent timestep | PSNR mean (dB) | sd | min | "
        "PSNR of the latent itself | s / image (invert + reconstruct) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['steps']} | {r['inversion_steps']} | {r['timestep']} | {r['psnr_mean']:.2f} | {r['psnr_sd']:.2f} | "
                     f"{r['psnr_min']:.2f} | {r['psnr_latent_mean']:.2f} | {r['seconds_per_image_total']:.3f} |")
    write_text(args.out / f"inversion{args.tag}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
