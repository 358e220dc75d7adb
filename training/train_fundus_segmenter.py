"""Train the fundus segmenter that is bundled as resources/models/fundus-segmenter, and score it.

Trains one residual U-Net on the TRAINING splits of DRIVE, CHASE_DB1 and STARE together (all
rescaled to a common FOV diameter of 540 px: fundus preprocessing = green channel, inverted,
standardised inside the FOV), for a fixed number of steps (no checkpoint is chosen on any
label), saves it in half precision, then scores it on the TEST splits inside the FOV.

    python training/train_fundus_segmenter.py --data ../shared/data --out scratch/fundus-segmenter

``--out`` defaults to ``scratch/fundus-segmenter``; the bundled folder (``resources/models/fundus-segmenter``, the
model the app uses) is written (a training, or ``--card``) only with ``--out`` naming it and ``--replace-bundled``.
The model folder is written atomically (a temporary folder beside it, then renamed).
``--eval-only`` re-scores an existing model folder (``--out``; scoring the bundled one needs no flag); scores go
to ``--scores`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("DRIVE", "CHASE_DB1", "STARE")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "scratch" / "fundus-segmenter"),
                    help="model folder to write, or with --eval-only to score (default: scratch/fundus-segmenter)")
    ap.add_argument("--replace-bundled", action="store_true",
                    help="allow writing into the bundled resources/models/fundus-segmenter (a training, or --card)")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint-dir", default=str(REPO / "scratch" / "fundus-segmenter-ckpt"))
    ap.add_argument("--scores", default=str(REPO / "scratch" / "fundus-segmenter-scores.json"))
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                    help="inference arithmetic for scoring (auto: bf16 on CPUs with native bf16, as segment does)")
    ap.add_argument("--card", action="store_true", help="write the model card README.md from the scores")
    ap.add_argument("--train-command", default=None, help="(for the card, with --eval-only) how the model was trained")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from vessel_studio.commands.checks import check_at_least, check_not_bundled, check_out_folder
    from vessel_studio.io.folders import check_writable

    # before the data are read and the model trained (--threads 0 was a RuntimeError; a file or a read-only
    # place as --out or --scores failed after the training, or after the scoring)
    check_at_least(args, steps=1, batch_size=1, crop=8, threads=1)
    if not args.eval_only or args.card:  # training writes the model folder; --card its README.md
        check_not_bundled(args.out, repo=REPO, replace_bundled=args.replace_bundled)
    if not args.eval_only:
        check_out_folder(args.out, kind="segmenter")
    # --scores is a file: inside a bundled model folder it would add to it, or replace one of its files
    check_not_bundled(Path(args.scores).parent, repo=REPO, replace_bundled=args.replace_bundled,
                      option="--scores's folder")
    if Path(args.scores).is_dir():
        raise ValueError(f"{args.scores}: --scores is a folder; name the JSON file to write")
    check_writable(Path(args.scores), beside=True, name="--scores")

    import torch

    from vessel_studio.events import Metric, Progress, run
    from vessel_studio.io.datasets import dataset
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import SegmenterTrainConfig, evaluate, pairs_from_samples, train_segmenter

    torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not args.eval_only:
        prep = Preprocessing.for_modality("fundus")
        t0 = time.time()
        pairs = []
        for name in DATASETS:
            pairs += pairs_from_samples(dataset(data, name, "train"), prep)
        print(f"loaded {len(pairs)} training images in {time.time() - t0:.1f}s", flush=True)
        cfg = SegmenterTrainConfig.preset("cpu", steps=args.steps, batch_size=args.batch_size, crop=args.crop,
                                          lr=args.lr, seed=args.seed, checkpoint_every=250)
        desc = {"datasets": {n: "train split (1st observer labels)" for n in DATASETS}, "images": len(pairs),
                "script": "training/train_fundus_segmenter.py", "command": "python " + " ".join(sys.argv)}
        t0 = time.time()
        losses = []

        def on_event(ev):
            if isinstance(ev, Metric):
                losses.append(ev.value)
            elif isinstance(ev, Progress) and (ev.step % 50 == 0 or ev.step == ev.total):
                print(f"step {ev.step}/{ev.total} loss(50) {np.mean(losses[-50:]):.4f} "
                      f"{time.time() - t0:.0f}s", flush=True)

        seg = run(train_segmenter(pairs, cfg, preprocessing=prep, checkpoint_dir=args.checkpoint_dir,
                                  description=desc), on_event)
        seg.training["wall_seconds"] = round(time.time() - t0, 1)
        seg.save(args.out, half=True, card=(Path(args.out) / "README.md").read_text(encoding="utf-8")
                 if (Path(args.out) / "README.md").is_file() else None)
        print(f"saved {args.out} after {time.time() - t0:.0f}s", flush=True)

    seg = Segmenter.load(args.out)
    seg.precision = args.precision
    from vessel_studio.models.segmenter import cpu_bf16_supported

    print(f"inference precision {args.precision} (CPU native bf16: {cpu_bf16_supported()})", flush=True)
    scores = {}
    for name in DATASETS:
        t0 = time.time()
        acc = evaluate(seg, dataset(data, name, "test"))
        scores[name] = acc.summary()
        m = scores[name]["mean"]
        print(f"{name} test ({len(acc)} images, {time.time() - t0:.0f}s): Dice {m['dice']:.4f} "
              f"AUC {m['auc']:.4f} clDice {m['cldice']:.4f} Se {m['sensitivity']:.4f} Sp {m['specificity']:.4f}",
              flush=True)
    robust = robustness(seg, data)
    from vessel_studio.io.atomic import write_json

    result = {"model": str(args.out), "command": "python " + " ".join(sys.argv), "scores": scores,
              "robustness": robust,
              "train_command": args.train_command or seg.training.get("data", {}).get("command"),
              "precision": args.precision, "cpu_bf16": cpu_bf16_supported()}
    write_json(args.scores, result)
    if args.card:
        from vessel_studio.io.atomic import write_text

        write_text(Path(args.out) / "README.md", model_card(seg, result))
        print(f"wrote {Path(args.out) / 'README.md'}")
    return 0


def model_card(seg, result: dict) -> str:
    """The model card, filled from the model's config and the scores just measured."""
    t = seg.training
    c = t.get("config", {})
    p = seg.preprocessing
    rows = []
    for name, sc in result["scores"].items():
        m, sd, pooled = sc["mean"], sc["std"], sc["pooled"]
        rows.append(f"| {name} | {sc['count']} | {m['dice']:.4f} ± {sd['dice']:.4f} | {pooled['dice']:.4f} | "
                    f"{m['auc']:.4f} | {m['cldice']:.4f} | {m['sensitivity']:.4f} | {m['specificity']:.4f} | "
                    f"{m['accuracy']:.4f} |")
    up, est = result["robustness"]["upscaled_3x"], result["robustness"]["fov_estimated"]
    from vessel_studio.models.segmenter import count_parameters

    return f"""# fundus-segmenter

The default model of `vessel-studio segment`: a residual U-Net (pre-activation blocks, channels
{"/".join(str(x) for x in seg.config.channels)}, {seg.config.norm} norm, {count_parameters(seg.net):,} parameters) that maps a
fundus photograph to a vessel probability map. Weights stored in float16 (`model.safetensors`),
architecture and preprocessing in `config.json`.

## Data it saw (and their terms)

Trained on the **training splits only** of three public datasets together, first-observer labels:

| dataset | images | device | licence / terms |
|---|---|---|---|
| DRIVE | 20 (`21`–`40_training`) | Canon CR5, 45° | research and education only, no redistribution of the data (Staal et al., IEEE TMI 2004) |
| CHASE_DB1 | 14 (subjects 01–07) | Nidek NM-200-D, 30°, children | CC BY 4.0 (Fraz et al., IEEE TBME 2012; Owen et al. 2009) |
| STARE | 10 (`im0001`–`im0005`, `im0044`, `im0077`, `im0081`, `im0082`, `im0139`) | TopCon TRV-50, 35°, scanned slides | publicly available; cite Hoover, Kouznetsova & Goldbaum, IEEE TMI 2000 |

The weights are derived from these data and inherit their terms: because of DRIVE, use them for
research and education; cite the three datasets. No test image or test label was used for
training or for choosing the model: it is simply the network after a fixed {c.get("steps")} steps.

## Preprocessing (applied identically by `Segmenter.predict`)

`{json.dumps(p.to_dict())}`: the green channel, intensities negated (vessels bright),
the image rescaled so that its field-of-view diameter (larger extent of the FOV mask, estimated
from the image when no mask is given) is {p.fov_diameter:g} px, standardised to mean 0 / sd 1 inside the
FOV; the probability map is resized back to the original grid and thresholded at {seg.threshold}.

## Training

`{result.get("train_command", "python training/train_fundus_segmenter.py")}` — {c.get("steps")} steps of {c.get("batch_size")} random
{c.get("crop")}×{c.get("crop")} crops (centres inside the FOV with p={c.get("fov_bias")}), flips, 90° rotations, intensity jitter
±{c.get("intensity_jitter")}, Dice + BCE, AdamW (lr {c.get("lr")}, weight decay {c.get("weight_decay")}), warm-up {c.get("warmup")} steps then
cosine decay; seed {c.get("seed")}; on the project's 2-core CPU shared with other jobs, {t.get("wall_seconds")} s wall time.
Labels of images rescaled by a factor other than 1 are area-averaged into soft labels.

## Scores on the test splits

Per image inside the dataset's FOV mask, at the original resolution, threshold 0.5, then mean ± sd
over images (pooled = one confusion matrix over all test pixels); inference arithmetic
`{result.get("precision")}` (this CPU has native bf16: {result.get("cpu_bf16")}; "auto" runs bf16 there, as
`vessel-studio segment` does, and fp32 on CPUs without it). Command:

    {result["command"]}

| test split | images | Dice | pooled Dice | AUC | clDice | sensitivity | specificity | accuracy |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Targets of the project: Dice ≥ 0.80 DRIVE, ≥ 0.77 CHASE_DB1, ≥ 0.78 STARE.

## Unseen resolution, no FOV file

Same command, DRIVE test split:
- each image upscaled 3× (1695×1752 px, bicubic, as from a high-resolution camera), segmented,
  probability area-averaged back to the original grid: Dice {up["dice"]:.4f}, AUC {up["auc"]:.4f}, clDice {up["cldice"]:.4f}
  (the FOV rescaling brings the image back to the scale the model learnt);
- FOV estimated from the image instead of the mask file (scored inside the official FOV):
  Dice {est["dice"]:.4f}, AUC {est["auc"]:.4f}.

## Limits

Trained on 44 images from three cameras, all colour fundus photographs of 30°–45° fields; images
with other fields of view (ultra-widefield), other modalities (OCT-A: use an adapted model),
strong pathology or heavy compression may need adaptation (`vessel-studio adapt`) or corrections.
"""


def robustness(seg, data: Path) -> dict:
    """Unseen resolution / no FOV file, on the DRIVE test split (mean Dice inside the FOV):

    - ``upscaled_3x``: each image upscaled 3x (bicubic, 1695x1752 px: a high-resolution camera);
      the model rescales it by its FOV diameter, the probability is mapped back to 3x, then
      area-averaged to the original grid and thresholded at 0.5, scored against the original label;
    - ``fov_estimated``: the FOV estimated from the image instead of read from the mask file
      (scored inside the official FOV).
    """
    from skimage.transform import resize

    from vessel_studio.io.datasets import dataset
    from vessel_studio.io.images import read_image, read_mask
    from vessel_studio.metrics import MetricAccumulator

    up, est = MetricAccumulator(), MetricAccumulator()
    t0 = time.time()
    for s in dataset(data, "DRIVE", "test"):
        image, _ = read_image(s.image)
        fov = read_mask(s.fov, shape=image.shape)
        gt = read_mask(s.label, shape=image.shape)
        h, w = image.shape[:2]
        big = np.clip(resize(image.astype(np.float32), (3 * h, 3 * w), order=3, preserve_range=True), 0, 255)
        big_fov = np.repeat(np.repeat(fov, 3, 0), 3, 1)
        prob_big = seg.predict(big.astype(np.uint8), fov=big_fov).prob
        prob = prob_big.reshape(h, 3, w, 3).mean(axis=(1, 3))
        up.add(s.name, prob, gt, fov)
        est.add(s.name, seg.predict(image).prob, gt, fov)
    out = {"upscaled_3x": up.summary()["mean"], "fov_estimated": est.summary()["mean"]}
    print(f"DRIVE test upscaled 3x: Dice {out['upscaled_3x']['dice']:.4f} AUC {out['upscaled_3x']['auc']:.4f}; "
          f"FOV estimated: Dice {out['fov_estimated']['dice']:.4f} ({time.time() - t0:.0f}s)", flush=True)
    return out


if __name__ == "__main__":
    from vessel_studio.commands.checks import run_script

    sys.exit(run_script(main, __file__))
