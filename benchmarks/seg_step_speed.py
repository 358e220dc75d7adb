"""Segmenter training steps, with and without batches prefetched in a background thread.

On an H200 a segmenter step of the `gpu` preset (batch 32 × 128², the adaptation's `strong`
augmentation) took 35 ms, and the host's cropping and augmentation of that batch take about 17 ms on
this project's CPU; ``train_segmenter`` waited for them before every step
(benchmarks/results/drive-octa500/gpu/). ``train_segmenter(prefetch=True)`` draws the next batches in
a thread while the device trains. This script times both ways in turns (off, on, off, on, ...),
each turn a fresh ``train_segmenter`` of ``--steps`` steps on synthetic 565 × 584 images (the
content does not change the speed), and reports the median seconds per step after ``--warmup``
steps of each turn, the host's time to draw one batch, and whether both ways gave the same weights.
Session 19 on an H200: on / off 0.58 (results/segmenter/seg_step_speed-cuda.md), so ``prefetch``
defaults to on for CUDA devices; on this project's CPU 1.00 (seg_step_speed-cpu.md), off there.

    python benchmarks/seg_step_speed.py [--device cuda] [--preset gpu] [--steps 60] [--turns 2]

Writes ``benchmarks/results/segmenter/<name>.{json,md}`` (name: ``seg_step_speed-<device>``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "segmenter"


def _pairs(n: int = 8):
    from vessel_studio.train.segmenter import TrainPair

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:565, :584]
    fov = (yy - 282) ** 2 + (xx - 292) ** 2 < 270 ** 2
    return [TrainPair(rng.standard_normal((565, 584)).astype(np.float32),
                      (rng.random((565, 584)) < 0.12).astype(np.float32), fov, name=f"synthetic-{i}")
            for i in range(n)]


def run(device: str, preset: str, steps: int, warmup: int, turns: int, threads: int, augment: str) -> dict:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from vessel_studio.adaptation.config import SEG_AUGMENT
    from vessel_studio.device import peak_memory_mb
    from vessel_studio.events import Progress
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import SegmenterTrainConfig, _CropSampler, train_segmenter

    torch.set_num_threads(threads)
    dev = torch.device(device)
    pairs = _pairs()
    cfg = SegmenterTrainConfig.preset(preset, steps=steps, checkpoint_every=10 ** 9, **SEG_AUGMENT[augment])
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    sampler = _CropSampler(pairs, cfg)
    draw = []
    for s in range(max(5, warmup)):
        t = time.perf_counter()
        sampler.batch(np.random.default_rng((0, s)))
        draw.append(time.perf_counter() - t)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    per_step = {"off": [], "on": []}
    weights = {}
    for turn in range(turns):
        for mode in ("off", "on"):
            job = train_segmenter(pairs, cfg, preprocessing=prep, device=dev, prefetch=mode == "on")
            stamps = []
            try:
                while True:
                    ev = next(job)
                    if isinstance(ev, Progress):
                        sync()
                        stamps.append(time.perf_counter())
            except StopIteration as stop:
                seg = stop.value
            gaps = np.diff(stamps[warmup:]) if len(stamps) > warmup + 1 else np.diff(stamps)
            per_step[mode].append(float(np.median(gaps)))
            if turn == 0:
                weights[mode] = {k: v.detach().float().cpu() for k, v in seg.net.state_dict().items()}
    same = all(torch.equal(weights["off"][k], weights["on"][k]) for k in weights["off"])
    off, on = float(np.median(per_step["off"])), float(np.median(per_step["on"]))
    return {"device": device, "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
            "torch": torch.__version__, "preset": preset, "batch": cfg.batch_size, "crop": cfg.crop,
            "augment": augment, "steps": steps, "warmup": warmup, "turns": turns, "threads": threads,
            "seconds_per_step": per_step, "median_off_s": off, "median_on_s": on, "on_over_off": on / off,
            "draw_batch_median_s": float(np.median(draw)), "same_weights": bool(same),
            "peak_mb": peak_memory_mb(dev)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--preset", default="gpu", choices=("tiny", "cpu", "gpu"))
    ap.add_argument("--augment", default="strong", choices=("mild", "strong"))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--turns", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)

    from vessel_studio.io.atomic import write_report

    res = run(args.device, args.preset, args.steps, args.warmup, args.turns, args.threads, args.augment)
    command = (f"python benchmarks/seg_step_speed.py --device {args.device} --preset {args.preset} --augment {args.augment} "
               f"--steps {args.steps} --warmup {args.warmup} --turns {args.turns} --threads {args.threads}")
    load = os.getloadavg()
    res.update(command=command, load_average_at_end=list(load))
    lines = [
        "# Segmenter training steps with and without prefetched batches", "",
        f"Command: `{command}`  ",
        f"{args.device.upper()}{' (' + res['gpu'] + ')' if res['gpu'] else ''}, torch {res['torch']}, {args.threads} CPU "
        f"thread(s); preset `{args.preset}` (batch {res['batch']} × {res['crop']}²), `{args.augment}` augmentation; "
        f"{args.turns} turn(s) of each way, alternating, each a fresh training of {args.steps} steps timed after "
        f"{args.warmup} warm-up steps; synthetic 565 × 584 images.", "",
        "| prefetch | median s per step | per turn |",
        "|---|---|---|",
        f"| off | {res['median_off_s']:.4f} | {', '.join(f'{v:.4f}' for v in res['seconds_per_step']['off'])} |",
        f"| on | {res['median_on_s']:.4f} | {', '.join(f'{v:.4f}' for v in res['seconds_per_step']['on'])} |",
        "",
        f"On / off: {res['on_over_off']:.2f}. Drawing one batch on the host: {1000 * res['draw_batch_median_s']:.1f} ms "
        f"(median). Same weights both ways: {'yes' if res['same_weights'] else 'NO'}. Peak "
        f"{'CUDA allocated' if args.device == 'cuda' else 'RSS'}: {res['peak_mb']:.0f} MB.", "",
        f"Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}.",
    ]
    name = args.name or f"seg_step_speed-{args.device}"
    write_report(args.out, name, res, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
