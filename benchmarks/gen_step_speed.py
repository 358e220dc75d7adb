"""Generator training steps and synthesis forwards, in the ways a GPU might run them faster.

On an H200 the `gpu` preset's generator (24 M parameters, batch 32 × 128²) trained at 74 ms a step
and synthesis ran 1024 pairs in 26 s; together with fine-tuning that is about half of one
adaptation (benchmarks/results/drive-octa500/gpu/). This script times, at a preset's sizes:

- training (``train_generator``, ``--train-steps`` steps after ``--warmup``), default memory format
  against ``channels_last=True``, in turns (off, on, off, on, ...);
- synthesis forwards (``Generator.eps`` on ``synth_batch`` crops, as ``invert``/``denoise`` call it):
  fp32 as today, channels-last fp32, and bf16 autocast, with the largest difference of each
  from fp32 (bf16 would change the inversion, so it needs the inversion check before any use).

Session 19 on an H200 (one turn, results/generator/gen_step_speed-cuda.md): channels-last 1.22x a
training step and 1.38x a synthesis forward (slower, so it stays a CPU option, where it was 0.78x);
bf16 synthesis 0.90x of fp32.

    python benchmarks/gen_step_speed.py [--device cuda] [--preset gpu] [--train-steps 40] [--turns 2]

Writes ``benchmarks/results/generator/<name>.{json,md}`` (name: ``gen_step_speed-<device>``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "generator"


def _data(n: int = 8, size: int = 256):
    rng = np.random.default_rng(0)
    images = [np.clip(rng.standard_normal((size, size)) * 0.5, -1, 1).astype(np.float32) for _ in range(n)]
    masks = [(rng.random((size, size)) < 0.12).astype(np.float32) for _ in range(n)]
    return images, masks


def time_training(device, preset: str, steps: int, warmup: int, turns: int) -> dict:
    import torch

    from vessel_studio.adaptation.config import AdaptConfig
    from vessel_studio.events import Progress
    from vessel_studio.models.generator import GeneratorConfig
    from vessel_studio.train.generator import GeneratorTrainConfig, train_generator

    a = AdaptConfig.preset(preset)
    cfg = GeneratorTrainConfig.preset(a.gen_model, model=GeneratorConfig.preset(a.gen_model), steps=warmup + steps,
                                      batch_size=a.gen_batch, crop_size=a.gen_crop, lr=a.gen_lr, warmup=1)
    images, masks = _data(size=max(2 * a.gen_crop, 64))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    per_step: dict[str, list[float]] = {"default": [], "channels_last": []}
    for _ in range(turns):
        for mode in per_step:
            stamps = []
            for ev in train_generator(images, masks, cfg, device=device, channels_last=mode == "channels_last"):
                if isinstance(ev, Progress):
                    sync()
                    stamps.append(time.perf_counter())
            per_step[mode].append(float(np.median(np.diff(stamps[warmup:]))))
    med = {k: float(np.median(v)) for k, v in per_step.items()}
    return {"batch": a.gen_batch, "crop": a.gen_crop, "model": a.gen_model, "seconds_per_step": per_step,
            "median_s": med, "channels_last_over_default": med["channels_last"] / med["default"]}


def time_synthesis(device, preset: str, repeats: int, turns: int) -> dict:
    import torch

    from vessel_studio.adaptation.config import AdaptConfig
    from vessel_studio.device import autocast
    from vessel_studio.models.generator import Generator, GeneratorConfig

    a = AdaptConfig.preset(preset)
    torch.manual_seed(0)
    gen = Generator(config=GeneratorConfig.preset(a.gen_model), conditioned=True).to(device)
    gen.unet.eval()
    n, s = a.synth_batch, a.gen_crop
    x = torch.randn(n, 1, s, s, device=device)
    m = (torch.rand(n, 1, s, s, device=device) < 0.12).float()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run(mode: str):
        if mode == "channels_last":
            gen.unet.to(memory_format=torch.channels_last)
        ctx = autocast(device) if mode == "bf16" else contextlib.nullcontext()
        xin = x.contiguous(memory_format=torch.channels_last) if mode == "channels_last" else x
        times, out = [], None
        with torch.no_grad(), ctx:
            for k in range(repeats + 1):
                sync()
                t = time.perf_counter()
                out = gen.eps(xin, 300, m).float()
                sync()
                if k:
                    times.append(time.perf_counter() - t)
        gen.unet.to(memory_format=torch.contiguous_format)
        return float(np.median(times)), out

    modes = ("fp32", "channels_last", "bf16")
    per_turn: dict[str, list[float]] = {k: [] for k in modes}
    outs = {}
    for _ in range(turns):  # in turns, so that the order of the ways does not decide
        for mode in modes:
            sec, outs[mode] = run(mode)
            per_turn[mode].append(sec)
    rows = {k: {"median_s": float(np.median(per_turn[k])), "per_turn_s": per_turn[k],
                "max_abs_diff_vs_fp32": float((outs[k] - outs["fp32"]).abs().max())} for k in modes}
    return {"batch": n, "crop": s, "rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--preset", default="gpu", choices=("tiny", "cpu", "gpu"))
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--turns", type=int, default=2)
    ap.add_argument("--synth-repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--name", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from vessel_studio.device import peak_memory_mb
    from vessel_studio.io.atomic import write_report

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    train = time_training(device, args.preset, args.train_steps, args.warmup, args.turns)
    synth = time_synthesis(device, args.preset, args.synth_repeats, args.turns)
    command = (f"python benchmarks/gen_step_speed.py --device {args.device} --preset {args.preset} "
               f"--train-steps {args.train_steps} --warmup {args.warmup} --turns {args.turns} "
               f"--synth-repeats {args.synth_repeats} --threads {args.threads}")
    load = os.getloadavg()
    res = {"command": command, "device": args.device, "torch": torch.__version__,
           "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None, "preset": args.preset,
           "training": train, "synthesis": synth, "peak_mb": peak_memory_mb(device), "load_average_at_end": list(load)}
    t, sy = train, synth
    lines = [
        "# Generator training steps and synthesis forwards", "",
        f"Command: `{command}`  ",
        f"{args.device.upper()}{' (' + res['gpu'] + ')' if res['gpu'] else ''}, torch {res['torch']}, "
        f"{args.threads} CPU thread(s); preset `{args.preset}` (generator `{t['model']}`); synthetic data.", "",
        f"Training, batch {t['batch']} × {t['crop']}², {args.turns} turn(s) of {args.train_steps} steps after "
        f"{args.warmup} warm-up steps:", "",
        "| memory format | median s per step | per turn |", "|---|---|---|",
    ]
    for k in ("default", "channels_last"):
        lines.append(f"| {k} | {t['median_s'][k]:.4f} | {', '.join(f'{v:.4f}' for v in t['seconds_per_step'][k])} |")
    lines += ["", f"channels_last / default: {t['channels_last_over_default']:.2f}.", "",
              f"Synthesis forward (`Generator.eps`), batch {sy['batch']} × {sy['crop']}², {args.turns} turn(s) of "
              f"the three ways in order, each the median of {args.synth_repeats} calls after one warm-up:", "",
              "| way | median s | per turn | largest difference from fp32 |", "|---|---|---|---|"]
    for k, r in sy["rows"].items():
        lines.append(f"| {k} | {r['median_s']:.4f} | {', '.join(f'{v:.4f}' for v in r['per_turn_s'])} | "
                     f"{r['max_abs_diff_vs_fp32']:.2e} |")
    if args.device != "cuda":
        lines += ["", "On the CPU the project's `autocast` does nothing, so the bf16 row is fp32 again (a check "
                  "on the timing: it should match the fp32 row)."]
    lines += ["", f"Peak {'CUDA allocated' if args.device == 'cuda' else 'RSS'}: {res['peak_mb']:.0f} MB. "
              f"Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}."]
    name = args.name or f"gen_step_speed-{args.device}"
    write_report(args.out, name, res, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
