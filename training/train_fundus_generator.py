"""Train the mask-conditioned fundus generator that is bundled as ``resources/models/fundus-generator``.

Data: the TRAINING splits of DRIVE, CHASE_DB1 and STARE (manual masks of the first observer),
prepared with ``Preprocessing.for_modality("fundus")`` (green channel, inverted so vessels are
bright, FOV rescaled to 540 px, standardised inside the FOV) and mapped to [-1, 1] by
``to_unit``; crops are centred inside the FOV. No test image is read.

    nice -n 5 python training/train_fundus_generator.py --preset cpu --threads 1 \
        --checkpoint-dir scratch/fundus-generator-ckpt --out scratch/fundus-generator

``--out`` defaults to ``scratch/fundus-generator``; the bundled folder (``resources/models/fundus-generator``,
the model the app uses) is written only with ``--out`` naming it and ``--replace-bundled``. The model folder
is written atomically (a temporary folder beside it, then renamed). Resumable: rerun the same command after an
interruption. Prints progress every 25 steps.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def load_training_data(data: Path, names: list[str], prep):
    from vessel_studio.io import dataset, load_sample
    from vessel_studio.preprocess import to_unit

    images, masks, fovs, used = [], [], [], []
    for name in names:
        for s in dataset(data, name, "train"):
            ls = load_sample(s, prep)
            images.append(to_unit(ls.prepared.x))
            masks.append(ls.label.astype("float32"))
            fovs.append(ls.prepared.fov)
            used.append(f"{name}/{s.name}")
    return images, masks, fovs, used


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--datasets", nargs="+", default=["DRIVE", "CHASE_DB1", "STARE"])
    ap.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "gpu"])
    ap.add_argument("--steps", type=int, default=None, help="override the preset's step count")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--checkpoint-every", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint-dir", type=Path, default=REPO / "scratch" / "fundus-generator-ckpt")
    ap.add_argument("--out", type=Path, default=REPO / "scratch" / "fundus-generator",
                    help="model folder to write (default: scratch/fundus-generator)")
    ap.add_argument("--replace-bundled", action="store_true",
                    help="allow --out to be the bundled resources/models/fundus-generator (the app's default model)")
    ap.add_argument("--full-precision", action="store_true", help="save float32 (default: float16)")
    ap.add_argument("--device", default=None)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from vessel_studio.commands.checks import check_at_least, check_not_bundled, check_out_folder

    # before the data are read and the model trained (0 was read as "the preset's"; a file or a read-only
    # place as --out failed at the end, after the training)
    check_at_least(args, steps=1, batch_size=1, threads=1, checkpoint_every=1)
    check_not_bundled(args.out, repo=REPO, replace_bundled=args.replace_bundled)
    check_out_folder(args.out, kind="generator")

    import torch

    from vessel_studio.device import describe, pick_device
    from vessel_studio.events import Metric, Progress, run
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.generator import GeneratorTrainConfig, train_generator

    if args.threads:
        torch.set_num_threads(args.threads)
    over = {"seed": args.seed}
    if args.steps:
        over["steps"] = args.steps
    if args.batch_size:
        over["batch_size"] = args.batch_size
    if args.checkpoint_every:
        over["checkpoint_every"] = args.checkpoint_every
    cfg = GeneratorTrainConfig.preset(args.preset, **over)
    prep = Preprocessing.for_modality("fundus")
    device = pick_device(args.device)
    t0 = time.time()
    images, masks, fovs, used = load_training_data(args.data, args.datasets, prep)
    print(f"loaded {len(images)} training images from {', '.join(args.datasets)} in {time.time() - t0:.1f}s; "
          f"device {describe(device)}; config {json.dumps(cfg.to_dict())}", flush=True)

    last = {"loss": float("nan")}
    t_start = time.time()

    def on_event(ev):
        if isinstance(ev, Metric) and ev.name == "loss":
            last["loss"] = ev.value
        elif isinstance(ev, Progress) and (ev.step % 25 == 0 or ev.step == ev.total):
            el = time.time() - t_start
            print(f"step {ev.step}/{ev.total} loss {last['loss']:.4f} elapsed {el:.0f}s", flush=True)

    description = {
        "data": used,
        "datasets": args.datasets,
        "split": "train",
        "labels": "first observer manual masks",
        "command": "python training/train_fundus_generator.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device_description": describe(device),
    }
    gen = run(train_generator(images, masks, cfg, fovs=fovs, preprocessing=prep,
                              checkpoint_dir=args.checkpoint_dir, device=device, description=description), on_event)
    card = (REPO / "resources" / "models" / "fundus-generator" / "README.md")
    card_text = card.read_text(encoding="utf-8") if card.is_file() else None
    gen.save(args.out, half=not args.full_precision, card=card_text)
    print(f"saved {args.out} ({gen.num_parameters() / 1e6:.2f} M parameters); "
          f"training {gen.training.get('seconds_this_run')} s this run, "
          f"{gen.training.get('seconds_per_step')} s/step", flush=True)
    return 0


if __name__ == "__main__":
    from vessel_studio.commands.checks import run_script

    sys.exit(run_script(main, __file__))
