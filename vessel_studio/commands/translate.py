"""``vessel-studio translate``: latent similarity mining from the command line.

Source images + masks -> random FOV crops -> DDIM inversion to t0 with the source generator
(conditioned on the masks) -> denoising with the target generator -> a folder of synthetic target
images whose labels are the source masks::

    OUT/images/000000.png   synthetic target image (8-bit gray, unit range mapped to 0..255)
    OUT/labels/000000.png   its vessel label (0/255)
    OUT/manifest.json       settings, model hashes, where each crop came from, timings

The whole folder is built beside OUT and renamed into place at the end (nothing half-written).
``--montage PNG`` writes rows of: source crop | mask | inverted latent | synthetic target
(| a real target crop with ``--target-images``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source-images", required=True, help="folder of labelled source images")
    p.add_argument("--source-masks", required=True, help="folder of their vessel masks (paired by name)")
    p.add_argument("--source-fov", default=None, help="folder of FOV masks (estimated when absent)")
    p.add_argument("--source-gen", default="fundus-generator", help="source generator (folder or bundled name)")
    p.add_argument("--target-gen", required=True, help="target generator folder")
    p.add_argument("--out", required=True, help="output folder (replaced atomically)")
    p.add_argument("--count", type=int, default=64, help="synthetic pairs to write (default %(default)s)")
    p.add_argument("--size", type=int, default=128, help="crop side in model pixels (default %(default)s)")
    p.add_argument("--t0", type=float, default=0.3,
                   help="inversion depth as a fraction of the diffusion schedule (default %(default)s)")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps over the full schedule (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the crops and the decoding noise (default %(default)s)")
    p.add_argument("--mode", default="ddpm", choices=["ddpm", "ddim"], help="decoding steps of the target model (default %(default)s)")
    p.add_argument("--target-masks", action="store_true", help="condition the target model on the masks too")
    p.add_argument("--vessel-min", type=float, default=0.02, help="minimum vessel fraction of a crop, in [0, 1) (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=16, help="crops per model call (default %(default)s)")
    p.add_argument("--montage", default=None,
                   help="write a PNG montage here (columns: source crop, mask, inverted latent, synthetic image)")
    p.add_argument("--montage-rows", type=int, default=6, help="pairs shown in the montage (default %(default)s)")
    p.add_argument("--target-images", default=None, help="real target images, for the montage's last column")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: a CUDA GPU when there is one, else the CPU)")


def to_uint8(u: np.ndarray) -> np.ndarray:
    """[-1, 1] -> 0..255."""
    return np.clip(np.round((np.asarray(u, np.float32) + 1) * 127.5), 0, 255).astype(np.uint8)


def montage(columns: list[np.ndarray], *, rows: int | None = None, gap: int = 2) -> np.ndarray:
    """A uint8 grid: one column per array of N×H×W unit-range tiles (NaN columns left blank)."""
    n = min(len(c) for c in columns)
    rows = n if rows is None else min(rows, n)
    h, w = columns[0].shape[1:]
    out = np.full((rows * (h + gap) - gap, len(columns) * (w + gap) - gap), 255, np.uint8)
    for j, col in enumerate(columns):
        for i in range(rows):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = to_uint8(col[i])
    return out


def write_png(path, array: np.ndarray) -> None:
    from PIL import Image

    from vessel_studio.io.atomic import write_with

    write_with(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def load_target_images(folder, *, gen, size: int):
    """The real target images of ``--target-images`` (the montage's last column), prepared as the
    target generator sees them, checked before any work: a ``ValueError`` names the smallest one when
    it is smaller than ``--size`` (its crops would be mostly zero padding)."""
    from vessel_studio.adaptation.crops import check_crop_fits, load_folder
    from vessel_studio.preprocess import Preprocessing

    prep = gen.preprocessing if isinstance(gen.preprocessing, Preprocessing) else Preprocessing.for_modality("octa")
    data = load_folder(folder, prep=prep)
    check_crop_fits(size, data.images, data.files, option="--size", prep=prep, role="target",
                    unchanged="nothing was written")
    return data


def real_target_crops(data, *, size: int, count: int, seed: int) -> np.ndarray:
    """``count`` crops of the real target images (``load_target_images``) for the montage."""
    from vessel_studio.adaptation.crops import sample_crops

    crops, _, _ = sample_crops(data.images, None, data.fovs, size=size, count=count, seed=seed + 1)
    return crops


def _is_translation(folder: Path) -> bool:
    """An earlier ``translate`` output (its manifest says so): ``--out`` may replace it."""
    import json

    try:
        return json.loads((folder / "manifest.json").read_text()).get("kind") == "synthetic-pairs"
    except (OSError, ValueError, AttributeError):
        return False


def run(args) -> int:
    import json
    import time

    import torch

    from vessel_studio.adaptation.crops import check_crop_fits, load_folder, sample_crops
    from vessel_studio.adaptation.synthesis import translate
    from vessel_studio.commands.checks import check_out_folder
    from vessel_studio.events import progress_bar, run as run_job
    from vessel_studio.io import write_mask
    from vessel_studio.io.atomic import atomic_dir
    from vessel_studio.models.folder import hash_folder
    from vessel_studio.device import pick_device
    from vessel_studio.models.generator import Generator
    from vessel_studio.preprocess import Preprocessing

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.count < 1 or args.size < 8:
        raise ValueError("--count must be >= 1 and --size >= 8")
    if args.batch_size < 1 or args.montage_rows < 1:
        raise ValueError("--batch-size and --montage-rows must be >= 1")
    if not 0 <= args.vessel_min < 1:
        raise ValueError(f"--vessel-min is a fraction of a crop's pixels in [0, 1), got {args.vessel_min}")
    check_out_folder(args.out, replaceable=_is_translation)
    # the GPU when there is one, as segment, train-* and adapt do (before session 47 None left the models on the
    # CPU even with a GPU); a wrong --device is said before any model is read
    device = pick_device(args.device)
    src = Generator.load(args.source_gen, device=device)
    tgt = Generator.load(args.target_gen, device=device)
    prep = src.preprocessing if isinstance(src.preprocessing, Preprocessing) else Preprocessing.for_modality("fundus")
    data = load_folder(args.source_images, args.source_masks, args.source_fov, prep=prep)
    if not any(m.any() for m in data.masks):
        raise ValueError(f"{args.source_masks}: every mask is empty (no vessel pixels); the synthetic images "
                         "would have no vessels to label")
    check_crop_fits(args.size, data.images, data.files, option="--size", prep=prep, role="source",
                    unchanged="nothing was written")
    target = (load_target_images(args.target_images, gen=tgt, size=args.size)
              if args.montage and args.target_images else None)
    crops, masks, where = sample_crops(data.images, data.masks, data.fovs, size=args.size, count=args.count,
                                       seed=args.seed, vessel_min=args.vessel_min)
    masks = (masks > 0.5).astype(np.float32)
    t_start = time.perf_counter()
    bar = progress_bar()
    try:
        res = run_job(translate(src, tgt, crops, masks, t0=args.t0, steps=args.steps, mode=args.mode,
                                seed=args.seed, target_masks=args.target_masks, batch_size=args.batch_size,
                                device=device), bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - t_start
    out = Path(args.out)
    with atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        (tmp / "labels").mkdir()
        records = []
        for i in range(args.count):
            name = f"{i:06d}.png"
            write_png(tmp / "images" / name, to_uint8(res.images[i]))
            write_mask(tmp / "labels" / name, res.masks[i] > 0.5)
            k, y, x = (int(v) for v in where[i])
            records.append({"image": f"images/{name}", "label": f"labels/{name}",
                            "source": data.names[k], "y": y, "x": x})
        manifest = {
            "kind": "synthetic-pairs",
            "source_generator": str(getattr(src, "folder", args.source_gen)),
            "source_generator_hash": hash_folder(src.folder),
            "target_generator": str(getattr(tgt, "folder", args.target_gen)),
            "target_generator_hash": hash_folder(tgt.folder),
            "source_images": str(args.source_images), "source_masks": str(args.source_masks),
            "t0": args.t0, "steps": args.steps, "timestep": res.timestep, "mode": args.mode, "seed": args.seed,
            "target_masks": bool(args.target_masks), "count": args.count, "size": args.size,
            "intensity": "unit range [-1, 1] of the target model mapped to 0..255",
            "seconds": round(seconds, 2), "seconds_per_image": round(seconds / args.count, 4),
            "pairs": records,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if args.montage:
        cols = [crops, masks * 2 - 1, np.clip(res.latents[:, 0], -1, 1), res.images]
        if target is not None:
            cols.append(real_target_crops(target, size=args.size, count=min(args.count, args.montage_rows),
                                          seed=args.seed))
        write_png(args.montage, montage(cols, rows=args.montage_rows))
    print(f"wrote {args.count} synthetic pairs to {out} ({seconds / args.count:.3f} s per image)")
    return 0
