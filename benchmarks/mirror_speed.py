"""Mirrored inference, four flips as one batch against four passes one after another.

``Segmenter.predict_prepared(mirror=True)`` runs the image and its three flips through the network
either together (``Segmenter.mirror_batch = True``: one batch of 4 when the image fits in one tile)
or one after another (``False``, the default, chosen from this measurement on the CPU). This
script times, on one prepared fundus image (DRIVE test image 01, or a synthetic 565×584 fundus
without the data folder) and the default model:

- ``plain``: one pass (``mirror=False``);
- ``sequential``: ``mirror=True`` with ``mirror_batch = False`` (the only way before session 17);
- ``batched``: ``mirror=True`` with ``mirror_batch = True``.

Each path runs in its own process (so that each peak RSS is its own), loads the model, warms up
once, then times ``--repeats`` calls; medians and quartiles are reported, with the largest
difference between the batched and sequential maps.

    python benchmarks/mirror_speed.py [--threads 1] [--repeats 9] [--device cuda]

Writes ``benchmarks/results/mirror-tta/mirror_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "mirror-tta"
PATHS = ("plain", "sequential", "batched")


def mirrored(seg, x: np.ndarray, batch: bool) -> np.ndarray:
    seg.mirror_batch = batch
    return seg.predict_prepared(x, mirror=True)


def run_path(path: str, model: str, threads: int, repeats: int, device: str) -> dict:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    sys.path.insert(0, str(REPO / "benchmarks"))
    from segment_speed import _image

    from vessel_studio.device import peak_memory_mb
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import prepare

    torch.set_num_threads(threads)
    seg = Segmenter.load(model, device=torch.device(device))
    image, fov, source = _image()
    prepared = prepare(image, fov=fov, prep=seg.preprocessing)
    x = prepared.x
    call = {"plain": lambda: seg.predict_prepared(x, mirror=False),
            "sequential": lambda: mirrored(seg, x, False),
            "batched": lambda: mirrored(seg, x, True)}[path]
    out = call()  # warm-up
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - t)
    res = {"path": path, "image": source, "prepared_shape": list(x.shape), "times_s": times,
           "median_s": float(np.median(times)), "q25_s": float(np.percentile(times, 25)),
           "q75_s": float(np.percentile(times, 75)), "peak_mb": peak_memory_mb(torch.device(device))}
    if path == "batched":
        res["max_abs_diff_vs_sequential"] = float(np.abs(out - mirrored(seg, x, False)).max())
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fundus-segmenter")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--name", default="mirror_speed")
    ap.add_argument("--one", choices=PATHS, help=argparse.SUPPRESS)  # internal: run one path, print JSON
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_path(args.one, args.model, args.threads, args.repeats, args.device)))
        return 0

    from vessel_studio.io.atomic import write_report

    rows = {}
    for path in PATHS:
        cmd = [sys.executable, __file__, "--one", path, "--model", args.model, "--threads", str(args.threads),
               "--repeats", str(args.repeats), "--device", args.device]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows[path] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{path}: median {rows[path]['median_s']:.3f} s, peak {rows[path]['peak_mb']:.0f} MB", flush=True)
    seq, bat = rows["sequential"]["median_s"], rows["batched"]["median_s"]
    load = os.getloadavg()
    command = (f"python benchmarks/mirror_speed.py --threads {args.threads} --repeats {args.repeats}"
               + (f" --model {args.model}" if args.model != "fundus-segmenter" else "")
               + (f" --device {args.device}" if args.device != "cpu" else ""))
    res = {"command": command, "threads": args.threads, "repeats": args.repeats, "model": args.model, "device": args.device,
           "load_average_at_end": list(load), "rows": rows, "batched_over_sequential": bat / seq,
           "batched_over_plain": bat / rows["plain"]["median_s"]}
    lines = [
        "# Mirrored inference: four flips as one batch against four sequential passes", "",
        f"Command: `{command}`  ",
        f"Image: {rows['plain']['image']} (prepared {rows['plain']['prepared_shape'][0]}×"
        f"{rows['plain']['prepared_shape'][1]}); model `{args.model}`; {args.device.upper()}, {args.threads} CPU thread(s); "
        f"{args.repeats} timed calls of `predict_prepared` after one warm-up, each path in its own process.", "",
        f"| path | median s | q25 | q75 | peak {'CUDA allocated' if args.device == 'cuda' else 'RSS'} MB |",
        "|---|---|---|---|---|",
    ]
    for path in PATHS:
        r = rows[path]
        lines.append(f"| {path} | {r['median_s']:.3f} | {r['q25_s']:.3f} | {r['q75_s']:.3f} | {r['peak_mb']:.0f} |")
    lines += ["",
              f"Batched / sequential: {bat / seq:.2f} (median ratio); batched / plain: {bat / rows['plain']['median_s']:.2f}. "
              f"Largest difference between the batched and the sequential map: "
              f"{rows['batched']['max_abs_diff_vs_sequential']:.2e}.", "",
              f"Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}. "
              "This is the shared 2-core machine; compare the ratio, not the seconds."]
    write_report(args.out, args.name, res, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
