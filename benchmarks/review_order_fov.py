"""The "most uncertain first" queue (``gui.tasks.review_order``) with and without the kept FOVs
(``tasks.cached_fov``): wall time of the whole queue on real fundus images, cold (no kept FOVs: every
image read and its FOV estimated, as on every run before session 26) and warm (the FOVs kept by the
previous run), medians of ``--repeats``. The maps are seeded random probabilities written as the
project's source-only maps (the queue's own arithmetic on them is the same as on real maps of that size).

    .venv/bin/python benchmarks/review_order_fov.py --work scratch/s26/order --out benchmarks/results/gui/review-order-fov.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hires_cli import write_report  # noqa: E402  (print the report, and write it to --out)


def main(argv=None) -> int:
    from vessel_studio.events import collect
    from vessel_studio.gui import tasks
    from vessel_studio.io.datasets import dataset
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import Project

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VESSEL_STUDIO_DATA", "../shared/data")))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None,
                    help="only the first N images (DRIVE's, then CHASE_DB1's, then STARE's): the test's quick run")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"SKIPPED: no data at {args.data}")
        return 0
    import numpy as np

    shutil.rmtree(args.work, ignore_errors=True)
    proj = Project.create(args.work / "proj", modality="fundus")
    files = [s.image for name in ("DRIVE", "CHASE_DB1", "STARE") for split in ("train", "test")
             for s in _samples(dataset, args.data, name, split)][:args.limit]
    proj.add_images(files)
    rng = np.random.default_rng(0)
    for rec in proj.images:
        write_prob(tasks.source_only_path(proj, rec.id), rng.random(rec.shape[:2], dtype=np.float32), compress=True)
    cache = tasks.gui_dir(proj) / tasks.FOV_CACHE
    times = {"cold": [], "warm": []}
    orders = {}
    for _ in range(args.repeats):
        for side in ("cold", "warm"):
            if side == "cold":
                shutil.rmtree(cache, ignore_errors=True)
            t = time.perf_counter()
            order, _ = collect(tasks.review_order(proj))
            times[side].append(time.perf_counter() - t)
            orders.setdefault(side, order)
    report = {"images": len(proj.images), "repeats": args.repeats, "loadavg_end": [round(x, 2) for x in os.getloadavg()],
              "cold_s": [round(x, 3) for x in times["cold"]], "warm_s": [round(x, 3) for x in times["warm"]],
              "cold_median_s": round(statistics.median(times["cold"]), 3),
              "warm_median_s": round(statistics.median(times["warm"]), 3),
              "same_order": orders["cold"] == orders["warm"], "cache_mb": round(sum(p.stat().st_size for p in cache.glob("*")) / 2**20, 2)}
    write_report(report, args.out)
    return 0


def _samples(dataset, root, name, split):
    try:
        return dataset(root, name, split)
    except (ValueError, FileNotFoundError, KeyError):
        return []


if __name__ == "__main__":
    sys.exit(main())
