"""What writing an export whole costs (session 28: ``tasks.export`` writes into a hidden folder beside the
export folder and swaps it in at the end, ``io.folders.staged_output``): the export's time into a new folder
and over an earlier export, and the disk it holds at its peak (the earlier export and the new one, until the
earlier one is deleted) against the export's own size.

The project: ``--images`` fundus images (DRIVE test, as the bundled model's users would export them), each with
its source-only probability map made by the bundled segmenter (``tasks.segment_source_only``), exported as
PNG masks, float32 TIFF maps and ``measures.csv``. Per repeat: one export into a new folder, then one over
it (the earlier export). Peak disk: the bytes under the export folder's parent sampled every 5 ms in a thread
while the export over the earlier one runs (a lower bound: a sample can miss the peak by one file).

    .venv/bin/python benchmarks/export_replace.py --work scratch/s28/export-bench --repeats 5 \\
        --out benchmarks/results/export/export-replace.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from hires_cli import write_report  # noqa: E402  (print the report, and write it to --out)


def tree_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # moved or deleted meanwhile (the swap)
                pass
    return total


def peak_while(fn, folder: Path) -> tuple[float, int]:
    """Run ``fn``; its seconds and the largest ``tree_bytes(folder)`` sampled meanwhile."""
    peak = [tree_bytes(folder)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_bytes(folder))
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    try:
        fn()
    finally:
        seconds = time.perf_counter() - t0
        done.set()
        t.join()
    return seconds, max(peak[0], tree_bytes(folder))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.data / "DRIVE").is_dir():
        print(f"SKIPPED: no data at {args.data}")
        return 0
    import vessel_studio as vs
    from vessel_studio.gui import tasks
    from vessel_studio.io.datasets import dataset

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    proj = vs.Project.create(args.work / "project", modality="fundus")
    proj.add_images([s.image for s in dataset(args.data, "DRIVE", "test")][: args.images])
    vs.run(tasks.segment_source_only(proj, [r.id for r in proj.images]))
    area = args.work / "exports"
    area.mkdir()
    new_s, over_s, peaks, sizes = [], [], [], []
    for k in range(args.repeats):
        folder = area / f"export-{k}"
        t0 = time.perf_counter()
        vs.run(tasks.export(proj, folder))
        new_s.append(time.perf_counter() - t0)
        size = tree_bytes(folder)
        seconds, peak = peak_while(lambda: vs.run(tasks.export(proj, folder)), area)
        over_s.append(seconds)
        peaks.append(peak)  # the area holds this repeat's export only
        sizes.append(size)
        assert sorted(p.name for p in area.iterdir() if p.name.startswith(".")) == [], "a working folder left"
        shutil.rmtree(folder)
    report = {
        "images": len(proj.images), "repeats": args.repeats,
        "export_mb": round(statistics.median(sizes) / 1e6, 2),
        "into_new_folder_s": {"median": round(statistics.median(new_s), 3), "all": [round(x, 3) for x in new_s]},
        "over_earlier_export_s": {"median": round(statistics.median(over_s), 3), "all": [round(x, 3) for x in over_s]},
        "peak_disk_over_earlier_mb": {"median": round(statistics.median(peaks) / 1e6, 2),
                                      "all": [round(x / 1e6, 2) for x in peaks]},
        "peak_over_export_size": round(statistics.median(peaks) / statistics.median(sizes), 2),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
