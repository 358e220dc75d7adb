"""A project of many images in the real window: what opening it costs the GUI thread (the Project list made, every
thumbnail arriving from its worker), and the stalls of the event loop meanwhile, measured by a 10 ms heartbeat
timer (its largest gap, and the gaps over 100 ms). Then a step (Review's Next) and a state set by another program
(the watcher's acting look). The images are OCTA-500 scans and their rotations / mirrors (``--images`` of them,
distinct contents), each with a map in one round. The project is made once in ``--work`` and reused when it is
there (``--reuse``), so that two codes can be compared on the same folder.

    xvfb-run -a .venv/bin/python benchmarks/gui_many_images.py --images 1000 --work scratch/s32/many --out benchmarks/results/gui/many-images.json
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
from _gui import pump, rss_mb  # noqa: E402
from hires_cli import write_report  # noqa: E402  (print the report, and write it to --out)


def _make_project(data: Path, work: Path, n: int):
    import numpy as np
    from PIL import Image

    from vessel_studio.io.datasets import dataset
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import Project, RoundRecord

    shutil.rmtree(work, ignore_errors=True)
    (work / "imgs").mkdir(parents=True)
    base = [s.image for split in ("train", "test") for s in dataset(data, "OCTA-500", split)]
    files, k = [], 0
    while len(files) < n and k < 8:  # the 8 rotations and mirrors of each scan: 8 distinct contents
        for f in base[: n - len(files)]:
            a = np.rot90(np.asarray(Image.open(f)), k % 4)
            a = a[:, ::-1] if k >= 4 else a
            p = work / "imgs" / f"{Path(f).stem}_v{k}.png"
            Image.fromarray(np.ascontiguousarray(a)).save(p)
            files.append(p)
        k += 1
    proj = Project.create(work / "proj", modality="octa")
    proj.add_images(files)
    rng = np.random.default_rng(0)
    src = work / "r0"
    (src / "pseudo").mkdir(parents=True)
    for rec in proj.images:
        write_prob(src / "pseudo" / f"{rec.id}.tif", rng.random(rec.shape[:2], dtype=np.float32))
    proj.commit_round(src, RoundRecord(index=0, folder="", metrics={"vessel_fraction": 0.1}))
    return proj


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VESSEL_STUDIO_DATA", "../shared/data")))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--reuse", action="store_true", help="open the project already in --work (made by a run before)")
    ap.add_argument("--open-seconds", type=float, default=20.0, help="the event loop's time watched after opening")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_API", "pyside6")
    from vessel_studio.store import Project

    if args.reuse and (args.work / "proj").is_dir():
        proj = Project.open(args.work / "proj")
    else:
        if not (args.data / "OCTA-500").is_dir():
            print(f"SKIPPED: no OCTA-500 at {args.data}")
            return 0
        proj = _make_project(args.data, args.work, args.images)
    n = len(proj.images)

    import napari
    from qtpy.QtCore import QThreadPool, QTimer
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui.app import attach

    viewer = napari.Viewer(title="Vessel Studio", show=True)
    app = QApplication.instance()
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    def watch():
        gaps.clear()
        last[0] = time.perf_counter()

    heart = QTimer()
    heart.timeout.connect(beat)
    heart.start(10)
    pump(app, 1.0)
    watch()
    t0 = time.perf_counter()
    studio = attach(viewer, project=proj.folder)
    attach_s = time.perf_counter() - t0
    studio._watch.stop()  # its looks are called below, one at a time, and timed
    panel = studio.panels["Project"]
    thumbs_s = None
    while time.perf_counter() - t0 < args.open_seconds:
        pump(app, 0.05)
        if thumbs_s is None and len(panel._thumbs) >= n:
            thumbs_s = time.perf_counter() - t0
    out = {"images": n, "attach_s": round(attach_s, 3),
           "all_thumbnails_s": None if thumbs_s is None else round(thumbs_s, 2),
           "thumbnails_when_watched": len(panel._thumbs),
           "open_watched_s": args.open_seconds,
           "open_max_stall_ms": round(1000 * max(gaps), 1), "open_stalls_over_100ms": sum(g > 0.1 for g in gaps),
           "open_stalled_s_over_100ms": round(sum(g for g in gaps if g > 0.1), 2)}
    review = studio.panels["Review"]
    steps = []
    for _ in range(args.repeats):
        watch()
        review.next()
        pump(app, 0.8)
        steps.append(max(gaps) * 1000)
    out["step_max_stall_ms"] = {"median": round(statistics.median(steps), 1), "max": round(max(steps), 1)}
    refresh = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        panel.refresh()  # the list made again, as every change of the project's images or states does
        refresh.append((time.perf_counter() - t) * 1000)
        pump(app, 0.3)
    out["project_list_refresh_ms"] = {"median": round(statistics.median(refresh), 1), "max": round(max(refresh), 1)}
    other = Project.open(proj.folder)
    acting = []
    for i in range(args.repeats):
        rec = other.images[5 + i]
        other.set_state(rec.id, "predicted" if rec.state == "reviewed" else "reviewed")  # a change, run after run
        studio._look_outside()  # sees the change
        t = time.perf_counter()
        studio._look_outside()  # acts on it
        acting.append((time.perf_counter() - t) * 1000)
        pump(app, 0.5)
    out["state_set_acting_look_ms"] = {"median": round(statistics.median(acting), 1), "max": round(max(acting), 1)}
    out["rss_mb"] = round(rss_mb(), 1)
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    QThreadPool.globalInstance().waitForDone(60000)
    write_report(out, args.out)
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
