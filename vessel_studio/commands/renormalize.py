"""``vessel-studio renormalize``: a segmenter's BatchNorm statistics re-estimated on a new scanner's
unlabelled images (AdaBN), saved as a new model folder.

The quick, label-free first step on a new scanner: seconds on a CPU, no training, weights
unchanged. Only the running means and variances of the network's BatchNorm layers are replaced by
those of crops of the given images (``train.segmenter.reestimate_norm_statistics``). Measured in the
benchmark as the ``adabn`` row of each pair (``benchmarks/results/<pair>/results.md``): it helps a
lot where the scanner differs most (DRIVE → OCTA-500 source-only 0.31 → 0.67 Dice), less on
another fundus camera (CHASE_DB1 0.64 → 0.68, STARE unchanged), and the full adaptation
(``vessel-studio adapt``) does better on both targets that moved. ``--modality`` sets the
preprocessing of the new images when they are of another modality than the model's (a fundus
model applied to OCT-A: ``--modality octa``). The new folder's ``config.json`` records the images,
the settings and the model it came from; use it with ``vessel-studio segment --model OUT``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vessel_studio.wording import shell_word


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="the new scanner's images: files or folders")
    p.add_argument("--out", required=True, help="the new model folder (must not hold a model yet)")
    p.add_argument("--model", default=None, help="model folder or bundled model name (default: fundus-segmenter)")
    p.add_argument("--modality", choices=["fundus", "octa"], default=None,
                   help="the images' modality, when it is not the model's (sets their preprocessing)")
    p.add_argument("--fov-dir", default=None, help="folder of FOV masks paired by stem (else estimated)")
    from vessel_studio.train.segmenter import NORM_BATCHES  # light: numpy only, no torch

    p.add_argument("--batches", type=int, default=NORM_BATCHES,
                   help=f"batches of crops to average over (default {NORM_BATCHES})")
    p.add_argument("--crop", type=int, default=64, help="crop size in pixels (default 64, the cpu preset's)")
    p.add_argument("--batch-size", type=int, default=8, help="crops per batch (default 8, the cpu preset's)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the crops (default %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: a CUDA GPU when there is one)")


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from vessel_studio.commands.segment import collect_inputs, fov_files_in, read_fov_for
    from vessel_studio.adaptation.crops import check_crop_fits
    from vessel_studio.commands.checks import check_at_least, check_out_folder
    from vessel_studio.device import pick_device
    from vessel_studio.events import progress_bar, run as run_job
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.io.images import read_image
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import prepare
    from vessel_studio.resources import DEFAULT_SEGMENTER
    from vessel_studio.train.segmenter import reestimate_norm_statistics_job, refuse_blank

    torch.set_num_threads(max(1, args.threads))
    out = Path(args.out)
    if (out / "model.safetensors").exists() or (out / "config.json").exists():
        raise ValueError(f"{out}: already holds a model; choose another --out (nothing was changed)")
    check_out_folder(out)  # a file, or a folder of other things (images), is not replaced either
    check_at_least(args, batches=1, batch_size=1, crop=8)
    device = pick_device(args.device)
    seg = Segmenter.load(args.model or DEFAULT_SEGMENTER, device=device)
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in seg.net.modules()):
        raise ValueError(f"{seg.source}: the model has no BatchNorm layers; there is nothing to re-estimate")
    seg.use_modality(args.modality)
    files, failed = collect_inputs(args.inputs)
    for item, problem in failed:
        print(f"error: {item}: {problem}", file=sys.stderr)
    if failed:
        raise ValueError("some inputs are not images (listed above); nothing was written")
    fov_files = fov_files_in(args.fov_dir) if args.fov_dir is not None else {}
    xs, fovs, names, problems = [], [], [], []
    for f in tqdm(files, desc="read", unit="image", disable=len(files) < 2):
        try:
            image, _ = read_image(f)
            refuse_blank(image, f)
            fov = (read_fov_for(f, image, fov_files, args.fov_dir) if args.fov_dir is not None
                   else estimate_fov(image, modality=seg.preprocessing.modality))
            p = prepare(image, fov=fov, prep=seg.preprocessing)
        except (ValueError, OSError) as exc:  # every unreadable file named at once (as adding images does)
            problems.append(str(exc) if str(f) in str(exc) else f"{f}: {exc}")
            continue
        xs.append(p.x)
        fovs.append(p.fov)
        names.append(f.name)
    if problems:
        from vessel_studio.store.project import named_problems

        raise ValueError((f"{len(problems)} of the {len(files)} images cannot be used: {named_problems(problems)}"
                          if len(problems) > 1 else problems[0]) + " (nothing was written)")
    check_crop_fits(args.crop, xs, [str(f) for f in files], option="--crop", prep=seg.preprocessing, role="",
                    unchanged="nothing was written")
    bar = progress_bar()
    try:
        run_job(reestimate_norm_statistics_job(seg, xs, fovs, crop=args.crop, batch_size=args.batch_size,
                                               batches=args.batches, seed=args.seed), bar)
    finally:
        bar.close()
    base = seg.source
    seg.training = {**(seg.training or {}), "batchnorm_statistics": {
        "base_model": str(base), "images": names, "modality": seg.preprocessing.modality,
        "batches": args.batches, "crop": args.crop, "batch_size": args.batch_size, "seed": args.seed,
        "method": "AdaBN: running means and variances re-estimated on crops of the images; weights unchanged"}}
    card = (f"# Re-normalised segmenter\n\n`{base}` with its BatchNorm statistics re-estimated on {len(names)} "
            f"unlabelled image(s) by `vessel-studio renormalize` (no labels, weights unchanged). "
            "The images are listed in config.json.\n")
    seg.save(out, card=card)
    print(f"wrote {out}: {base} re-normalised on {len(names)} image(s); segment with "
          f"`vessel-studio segment --model {shell_word(out)} ...`")
    return 0
