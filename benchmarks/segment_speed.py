"""Time to segment one 565×584 fundus image with the default model, inside one process.

Loads the model once (start-up excluded), warms up, then times ``Segmenter.predict`` on one
DRIVE test image (a synthetic 565×584 fundus when the data folder is absent) ``--repeats``
times: the full path a user's ``segment`` call takes per image (gray, polarity, FOV estimate,
rescale to the model's 540 px FOV, standardise, network, map back, threshold). Reports the
median and quartiles, with the FOV estimated and with the FOV file given, and the peak RSS.

    python benchmarks/segment_speed.py [--model fundus-segmenter] [--threads 2] [--repeats 15]

Writes ``benchmarks/results/segmenter/segment_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data"))
OUT = REPO / "benchmarks" / "results" / "segmenter"


def _image():
    from vessel_studio.io.images import read_image, read_mask

    img_p = DATA / "DRIVE" / "test" / "images" / "01_test.png"
    if img_p.is_file():
        img, _ = read_image(img_p)
        fov = read_mask(DATA / "DRIVE" / "test" / "mask" / "01_test_mask.png", shape=img.shape)
        return img, fov, str(img_p)
    rng = np.random.default_rng(0)
    h, w = 584, 565
    yy, xx = np.mgrid[0:h, 0:w]
    fov = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < 268**2
    img = np.stack([np.full((h, w), 180.0), np.full((h, w), 110.0), np.full((h, w), 60.0)], -1)
    img += rng.normal(0, 5, img.shape)
    img[~fov] = 0
    return np.clip(img, 0, 255).astype(np.uint8), fov, "synthetic 565x584"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fundus-segmenter")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--name", default="segment_speed", help="output file name (without .json/.md)")
    args = ap.parse_args(argv)

    # as `vessel-studio segment` does: OpenMP threads sleep instead of spinning while they wait
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from vessel_studio.device import describe, peak_memory_mb
    from vessel_studio.io.atomic import write_json, write_text
    from vessel_studio.models.segmenter import Segmenter, count_parameters

    torch.set_num_threads(args.threads)
    seg = Segmenter.load(args.model)
    image, fov, source = _image()
    seg.predict(image)  # warm-up (allocator, first-call overheads)
    seg.predict(image, fov=fov)
    times = {"fov_estimated": [], "fov_given": []}
    cpu = {"fov_estimated": [], "fov_given": []}
    for _ in range(args.repeats):
        for key, kw in (("fov_estimated", {}), ("fov_given", {"fov": fov})):
            t, c = time.perf_counter(), time.process_time()
            seg.predict(image, **kw)
            times[key].append(time.perf_counter() - t)
            cpu[key].append(time.process_time() - c)
    stats = {k: {"median_s": float(np.median(v)), "q25_s": float(np.percentile(v, 25)),
                 "q75_s": float(np.percentile(v, 75)), "min_s": float(np.min(v)),
                 "median_cpu_s": float(np.median(cpu[k]))} for k, v in times.items()}
    res = {
        "command": "python benchmarks/segment_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": str(seg.source), "parameters": count_parameters(seg.net), "image": source,
        "shape": list(image.shape), "threads": args.threads, "device": describe(torch.device("cpu")),
        "repeats": args.repeats, "stats": stats, "times_s": times, "cpu_times_s": cpu,
        "peak_rss_mb": round(peak_memory_mb(torch.device("cpu")), 1), "load_average": os.getloadavg(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "target_s": 1.0,
    }
    out = Path(args.out)
    write_json(out / f"{args.name}.json", res)
    s = stats["fov_estimated"]
    md = [
        "# Segment speed (default model, one 565×584 image)", "",
        f"Command: `{res['command']}`  ",
        f"Model: `{res['model']}` ({res['parameters']:,} parameters); image: {source}; "
        f"{res['device']}, OMP_WAIT_POLICY={res['omp_wait_policy']}; {args.repeats} timed repeats after warm-up, "
        "inside one process.", "",
        "| path | median s (wall) | q25 | q75 | min | median CPU s (all threads) |", "|---|---|---|---|---|---|",
    ]
    for k, v in stats.items():
        md.append(f"| predict, {k.replace('_', ' ')} | {v['median_s']:.3f} | {v['q25_s']:.3f} | {v['q75_s']:.3f} | {v['min_s']:.3f} | {v['median_cpu_s']:.3f} |")
    md += ["", f"Peak RSS: {res['peak_rss_mb']} MB. Target: median < 1.0 s → "
           f"{'met' if s['median_s'] < 1.0 else 'NOT met'} ({s['median_s']:.3f} s); median CPU time per image "
           f"{s['median_cpu_s']:.3f} s over {args.threads} thread(s).", "",
           f"The 2-core machine was shared with other jobs while this ran (load average "
           f"{', '.join(f'{x:.1f}' for x in res['load_average'])}); the minimum is the closest to an idle machine."]
    write_text(out / f"{args.name}.md", "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
