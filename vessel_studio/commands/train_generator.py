"""``vessel-studio train-generator``: train a diffusion generator on a folder of images.

With ``--masks`` the model is conditioned on vessel masks (a source generator); without, it is
unconditional (a target generator for a new scanner). Resumable with ``--checkpoint-dir``.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", required=True, help="folder of training images")
    p.add_argument("--masks", default=None, help="folder of vessel masks paired by name (conditioned model)")
    p.add_argument("--fov", default=None, help="folder of FOV masks paired by name (fundus; estimated if absent)")
    p.add_argument("--modality", required=True, choices=["fundus", "octa"],
                   help="the images' modality: sets their preprocessing")
    p.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "gpu"],
                   help="model and training size: tiny (20 steps, for tests), cpu (2400 steps, batch 16, crop 64), "
                        "gpu (6000 steps, batch 32, crop 128) (default %(default)s)")
    p.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    p.add_argument("--batch-size", type=int, default=None, help="crops per step (default: the preset's)")
    p.add_argument("--crop-size", type=int, default=None,
                   help="side of the training crops in model pixels (default: the preset's)")
    p.add_argument("--cond-dropout", type=float, default=None,
                   help="with --masks: probability in [0, 1] of training a sample without its mask, so that the "
                        "model also works unconditioned (default: the preset's, 0.2; with --init, that generator's)")
    p.add_argument("--init", default=None, help="generator folder or bundled name to fine-tune from (default: start fresh)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the crops, noise and initial weights (default %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    p.add_argument("--checkpoint-dir", default=None, help="save resumable checkpoints here (and resume from them)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="steps between checkpoints (default: the preset's)")
    p.add_argument("--device", default=None,
                   help="cpu, cuda or cuda:N (default: a CUDA GPU when there is one; $VESSEL_STUDIO_DEVICE "
                        "overrides the default)")
    p.add_argument("--half", action="store_true", help="save weights as float16")
    p.add_argument("--out", required=True, help="model folder to write")


def run(args) -> int:
    import dataclasses
    import sys

    import torch

    from vessel_studio.adaptation.crops import check_crop_fits, load_folder
    from vessel_studio.commands.checks import check_at_least, check_out_folder
    from vessel_studio.device import pick_device
    from vessel_studio.events import progress_bar, run as run_job
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.generator import GeneratorTrainConfig, train_generator

    check_at_least(args, steps=1, batch_size=1, crop_size=1, checkpoint_every=1, threads=1)
    over = {"seed": args.seed}
    for name in ("steps", "batch_size", "crop_size", "checkpoint_every"):
        if getattr(args, name) is not None:
            over[name] = getattr(args, name)
    if args.threads:
        torch.set_num_threads(args.threads)
    check_out_folder(args.out, kind="generator")
    cfg = GeneratorTrainConfig.preset(args.preset, **over)
    if args.cond_dropout is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, cond_dropout=args.cond_dropout))
    init = args.init
    if init is not None and args.cond_dropout is not None:
        # fine-tuning takes the model's settings from --init (train_generator), its condition dropout included, so
        # --cond-dropout given with --init was ignored without a word before session 47; it wins now, as the
        # adaptation's cond_dropout does over the generator it fine-tunes (adaptation.rounds)
        from vessel_studio.models.generator import Generator

        init = Generator.load(init).with_cond_dropout(args.cond_dropout)
    prep = Preprocessing.for_modality(args.modality)
    data = load_folder(args.images, args.masks, args.fov, prep=prep)
    check_crop_fits(cfg.crop_size, data.images, data.files, option="--crop-size", prep=prep,
                    preset=None if args.crop_size is not None else args.preset)
    device = pick_device(args.device)
    print(f"{len(data.images)} images from {args.images}" + (f" with masks from {args.masks}" if args.masks else
          " (unconditional)"), file=sys.stderr)
    bar = progress_bar()
    try:
        gen = run_job(train_generator(data.images, data.masks, cfg, fovs=data.fovs, init=init,
                                      preprocessing=prep, checkpoint_dir=args.checkpoint_dir, device=device,
                                      description={"images_dir": str(args.images), "masks_dir": args.masks,
                                                   "names": data.names}), bar)
    finally:
        bar.close()
    gen.save(args.out, half=args.half)
    print(f"wrote {args.out} ({gen.num_parameters() / 1e6:.2f} M parameters, "
          f"{gen.training.get('seconds_per_step')} s/step)")
    return 0
