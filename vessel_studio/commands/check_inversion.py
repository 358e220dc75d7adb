"""``vessel-studio check-inversion``: is this generator's DDIM inversion faithful?

Inverts images (conditioned on their masks) to t0 with the model and reconstructs them with the
same model and masks (DDIM, deterministic); prints the PSNR of each image in the unit range
([-1, 1], peak-to-peak 2) and ends with ``mean PSNR: <value> dB``. Check this before trusting a
generator for translation (the bundled fundus generator gives about 30 dB or more at t0 = 0.3).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="fundus-generator", help="generator folder or bundled name")
    p.add_argument("--images", required=True, help="folder of images to invert and reconstruct")
    p.add_argument("--masks", default=None, help="vessel masks paired by name (for a conditioned model)")
    p.add_argument("--fov", default=None, help="FOV masks paired by name")
    p.add_argument("--t0", type=float, default=0.3,
                   help="inversion depth as a fraction of the diffusion schedule (default %(default)s)")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps over the full schedule (default %(default)s)")
    p.add_argument("--size", type=int, default=None, help="check random crops of this side (default: whole images)")
    p.add_argument("--count", type=int, default=None, help="number of crops (with --size; default 16) or images to check (default: all)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the crops (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=16, help="crops per model call (default %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: a CUDA GPU when there is one, else the CPU)")


def run(args) -> int:
    import torch

    from vessel_studio.adaptation.crops import check_crop_fits, load_folder, sample_crops
    from vessel_studio.adaptation.inversion import psnr, reconstruct
    from vessel_studio.events import run as run_job
    from vessel_studio.commands.checks import check_at_least
    from vessel_studio.device import pick_device
    from vessel_studio.models.generator import Generator
    from vessel_studio.preprocess import Preprocessing

    check_at_least(args, size=8, count=1, batch_size=1)
    if args.threads:
        torch.set_num_threads(args.threads)
    # the GPU when there is one, as segment, train-* and adapt do (before session 47 None left the models on the
    # CPU even with a GPU); a wrong --device is said before any model is read
    device = pick_device(args.device)
    gen = Generator.load(args.model, device=device)
    if gen.conditioned and args.masks is None:
        print(f"warning: {args.model} is a mask-conditioned generator and no --masks were given: inverting "
              "without its condition (expect a lower PSNR than with the vessel masks)", file=sys.stderr)
    prep = gen.preprocessing if isinstance(gen.preprocessing, Preprocessing) else Preprocessing.for_modality("fundus")
    data = load_folder(args.images, args.masks, args.fov, prep=prep)
    items: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    if args.size:
        count = args.count or 16
        check_crop_fits(args.size, data.images, data.files, option="--size", prep=prep, role="",
                        unchanged="nothing was inverted")
        crops, masks, where = sample_crops(data.images, data.masks, data.fovs, size=args.size, count=count,
                                           seed=args.seed)
        for i in range(count):
            k, y, x = where[i]
            items.append((f"{data.names[k]}[{y}:{y + args.size},{x}:{x + args.size}]", crops[i],
                          None if masks is None else masks[i]))
        groups = [list(range(count))]  # all crops share a size: one batched call
    else:
        n = min(args.count or len(data.images), len(data.images))
        for i in range(n):
            items.append((data.names[i], data.images[i], None if data.masks is None else data.masks[i]))
        groups = [[i] for i in range(n)]  # whole images may differ in size
    values = []
    for group in groups:
        imgs = np.stack([items[i][1] for i in group])
        msk = None if items[group[0]][2] is None else np.stack([items[i][2] for i in group])
        rec = run_job(reconstruct(gen, imgs, msk, t0=args.t0, steps=args.steps, batch_size=args.batch_size,
                                  device=device))
        for j, i in enumerate(group):
            v = psnr(rec[j], imgs[j])
            values.append(v)
            print(f"{items[i][0]}: PSNR {v:.2f} dB", flush=True)
    print(f"mean PSNR: {float(np.mean(values)):.2f} dB")
    return 0
