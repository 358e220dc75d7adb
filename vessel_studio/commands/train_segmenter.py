"""``vessel-studio train-segmenter``: train a vessel segmenter on a folder of labelled images.

Images in ``--images`` are paired with labels in ``--labels`` (and FOV masks in ``--fov``) by
stem; every image needs a label. Preprocessing follows ``--modality`` (fundus: green channel,
inverted, rescaled to a 540 px FOV diameter; octa: native scale) and is saved with the model.
Resumable: with ``--checkpoint-dir`` an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", required=True, help="folder of training images")
    p.add_argument("--labels", required=True, help="folder of vessel labels (paired by stem)")
    p.add_argument("--fov", default=None, help="folder of FOV masks (default: estimated for fundus, whole image for OCTA)")
    p.add_argument("--modality", choices=("fundus", "octa"), default="fundus",
                   help="the images' modality: sets their preprocessing (default %(default)s)")
    p.add_argument("--preset", choices=("tiny", "cpu", "gpu"), default="cpu",
                   help="training size: tiny (4 steps, for tests), cpu (2000 steps, batch 8, crop 64), "
                        "gpu (3000 steps, batch 32, crop 128) (default %(default)s)")
    p.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    p.add_argument("--batch-size", type=int, default=None, help="crops per step (default: the preset's)")
    p.add_argument("--crop", type=int, default=None,
                   help="side of the training crops in model pixels, at least 8 (default: the preset's)")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the crops, augmentation and initial weights (default %(default)s)")
    p.add_argument("--init", default=None, help="fine-tune this model (folder or bundled name) instead of starting fresh")
    p.add_argument("--fov-diameter", type=float, default=None,
                   help="fundus: FOV diameter (px) to rescale to (default 540); 0 = native resolution")
    p.add_argument("--checkpoint-dir", default=None, help="save resumable checkpoints here (and resume from them)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    p.add_argument("--out", required=True, help="output model folder")


def run(args: argparse.Namespace) -> int:
    import sys

    import torch

    from vessel_studio.adaptation.crops import check_crop_fits
    from vessel_studio.commands.checks import check_at_least, check_out_folder
    from vessel_studio.events import progress_bar, run as run_job
    from vessel_studio.io.datasets import discover
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import SegmenterTrainConfig, pairs_from_samples, train_segmenter

    torch.set_num_threads(max(1, args.threads))
    check_out_folder(args.out, kind="segmenter")
    check_at_least(args, steps=1, batch_size=1, crop=8)
    sizes = {k: getattr(args, k) for k in ("steps", "batch_size", "crop") if getattr(args, k) is not None}
    cfg = SegmenterTrainConfig.preset(args.preset, seed=args.seed, **sizes)
    init = Segmenter.load(args.init) if args.init else None
    if init is not None:
        prep = init.preprocessing
        if prep.modality != args.modality:
            raise ValueError(f"{args.init}: a {prep.modality} model cannot be fine-tuned as --modality {args.modality}")
    else:
        over = {}
        if args.fov_diameter is not None and args.fov_diameter < 0:
            raise ValueError(f"--fov-diameter must be > 0 pixels, or 0 for native resolution; got {args.fov_diameter}")
        if args.fov_diameter is not None:
            over["fov_diameter"] = None if args.fov_diameter <= 0 else args.fov_diameter
        prep = Preprocessing.for_modality(args.modality, **over)
    samples = discover(args.images, labels=args.labels, fovs=args.fov, require_labels=True)
    pairs = pairs_from_samples(samples, prep)
    check_crop_fits(cfg.crop, [p.x for p in pairs], [p.name for p in pairs], option="--crop", prep=prep,
                    preset=None if args.crop is not None else args.preset)
    empty = [str(s.label) for s, p in zip(samples, pairs) if not (p.label > 0).any()]
    if len(empty) == len(pairs):
        raise ValueError(f"{args.labels}: every label is empty (no vessel pixels): {', '.join(empty)}")
    for name in empty:
        print(f"warning: {name}: label is empty (no vessel pixels)", file=sys.stderr)
    desc = {"images": str(args.images), "labels": str(args.labels), "fov": args.fov, "count": len(pairs),
            "modality": args.modality}
    bar = progress_bar("train-segmenter")
    try:
        seg = run_job(train_segmenter(pairs, cfg, init=init, preprocessing=prep, checkpoint_dir=args.checkpoint_dir,
                                      device=args.device, description=desc), bar)
    finally:
        bar.close()
    seg.save(args.out)
    print(f"trained on {len(pairs)} image(s) for {cfg.steps} steps; saved {args.out}")
    return 0
