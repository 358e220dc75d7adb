"""How long the window's GUI thread stalls when another program (a terminal's ``vessel-studio adapt``) adds a round
to the project open in it, with the image on screen in the Review panel (session 37).

A project of ``--count`` OCT-A images (OCTA-500's 3M test scans; ``--scale`` enlarges them, e.g. 13: 3952 x 3952) with
one round of maps is opened in the real window (``gui.app.make_viewer``), its first image shown. Then, ``--repeats``
times, another ``Project`` on the folder commits a round with a map of every image, as ``adapt`` does at the end of
each round (``Project.commit_round``), and the window is left to follow it through its own watcher timer
(``studio.WATCH_MS``). A 10 ms ``QTimer`` ticks on the GUI thread throughout; a *stall* is the gap between two ticks
minus 10 ms. Per round: the largest stall from the commit until ``--window`` s after the watcher told the panels,
the watcher's acting call (``_outside_changed``) alone, how long after that call began the probability layer got the
new map, and whether it then shows the new round's map (it must). ``--burn N`` keeps N busy processes running
meanwhile, as a terminal's job keeps the CPUs busy.
``--profile`` prints the GUI thread's costliest functions (cProfile, from each commit to the end of its window).
``--correction`` (session 38): instead of rounds, another window (another ``Project`` on the folder) saves a correction
of the image on screen, ``--repeats`` times (two masks in turn); the acting call is then the Review panel's
``changed_elsewhere`` (the watcher's path for a correction changed elsewhere), and "shown" is the mask layer holding the
mask saved there.

    PYTHONPATH=<tree> xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_round_arrives.py \\
        --work scratch/s37/arrive --repeats 7 --burn 2 --out ...
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gui import pump  # noqa: E402
from hires_cli import write_report  # noqa: E402

DATA = Path(os.environ.get("VESSEL_STUDIO_DATA", "/work/shared/data"))


def _fake_map(image, seed: int):
    """A map shaped like a segmentation's (smooth, mostly low), differing by round."""
    import numpy as np

    g = image.astype(np.float32)
    if g.ndim == 3:
        g = g.mean(axis=2)
    g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    rng = np.random.default_rng(seed)
    return np.clip(g ** (1.5 + 0.1 * (seed % 5)) + 0.02 * rng.random(g.shape, dtype=np.float32), 0, 1).astype(
        np.float32)


def _write_round(proj, index: int, work: Path) -> None:
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import RoundRecord

    src = work / f"round-src-{index}"
    shutil.rmtree(src, ignore_errors=True)
    (src / "pseudo").mkdir(parents=True)
    for rec in proj.images:
        write_prob(src / "pseudo" / f"{rec.id}.tif", _fake_map(proj.read_image(rec.id), index))
    proj.commit_round(src, RoundRecord(index=index, folder="", metrics={"vessel_fraction": 0.1 + 0.01 * index}))
    shutil.rmtree(src, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--window", type=float, default=2.0, help="seconds measured after the panels were told")
    ap.add_argument("--burn", type=int, default=0, help="busy processes kept running while rounds arrive")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--correction", action="store_true",
                    help="another window saves corrections of the image on screen (no rounds added)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import numpy as np

    from vessel_studio.store import Project

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    folder = DATA / "OCTA-500/Testing/OCTA500_3M_test_images"
    files = sorted(folder.glob("*.png"))[: args.count]
    if args.scale > 1:
        from PIL import Image

        big = args.work / "large"
        big.mkdir()
        out = []
        for f in files:
            img = Image.open(f)
            img.resize((img.width * args.scale, img.height * args.scale), Image.BILINEAR).save(big / f.name)
            out.append(big / f.name)
        files = out
    proj = Project.create(args.work / "proj", modality="octa")
    proj.add_images(files)
    _write_round(proj, 0, args.work)

    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import studio_watch
    from vessel_studio.gui.app import make_viewer

    viewer, studio = make_viewer(args.work / "proj")
    app = QApplication.instance()
    pump(app, 4.0)
    review = studio.panels["Review"]
    assert review.image_id is not None, "no image on screen"

    ticks: list[float] = []
    hb = QTimer()
    hb.setInterval(10)
    hb.timeout.connect(lambda: ticks.append(time.perf_counter()))
    hb.start()

    acted: list[tuple[float, float]] = []
    if args.correction:  # the watcher's path for a correction saved elsewhere (a state change, or a second save)
        owner, name, layer_name = type(review), "changed_elsewhere", "mask"
    else:
        owner, name, layer_name = studio_watch.WatchMixin, "_outside_changed", "probability"
    real = getattr(owner, name)

    def timed(self, *a, **k):
        t = time.perf_counter()
        try:
            return real(self, *a, **k)
        finally:
            acted.append((t, time.perf_counter()))

    setattr(owner, name, timed)
    set_at: list[float] = []  # when the probability (mask) layer's data was last set (the new map / mask shown)
    review.viewer.layers[layer_name].events.data.connect(lambda _e: set_at.append(time.perf_counter()))
    masks = []
    if args.correction:
        base = np.asarray(review.prob)
        masks = [base >= 0.5, base >= 0.6]
    other = Project.open(args.work / "proj")
    prof = cProfile.Profile() if args.profile else None
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burn)]
    rows = []
    try:
        pump(app, 1.0)
        idle_from = time.perf_counter()
        pump(app, 2.0)
        arr = np.array([t for t in ticks if t >= idle_from])
        idle_max = float((np.diff(arr).max() - 0.010) * 1000) if len(arr) > 1 else float("nan")
        for k in range(1, args.repeats + 1):
            pump(app, 0.5)
            n_acted = len(acted)
            t0 = time.perf_counter()
            if args.correction:
                other.save_correction(review.image_id, masks[k % 2])  # another window's Save
            else:
                _write_round(other, k, args.work)  # in this thread: the loop waits, as it would not for a terminal
            t_commit = time.perf_counter()
            if prof is not None:
                prof.enable()
            deadline = t_commit + 10
            while len(acted) == n_acted and time.perf_counter() < deadline:
                app.processEvents()
                time.sleep(0.002)
            if len(acted) == n_acted:
                raise SystemExit(f"round {k}: the watcher did not act within 10 s")
            pump(app, args.window)
            if prof is not None:
                prof.disable()
            arr = np.array([t for t in ticks if t >= t_commit])
            gaps = np.diff(arr) - 0.010
            if args.correction:
                shown, want = review.viewer.layers["mask"].data > 0, masks[k % 2]
            else:
                shown, want = review.viewer.layers["probability"].data, other.prediction(review.image_id)
            told = acted[-1][0]
            shown_at = [t for t in set_at if t >= told]
            rows.append({"round": k, "write_s": round(t_commit - t0, 3),
                         "map_shown_after_ms": round((shown_at[-1] - told) * 1000, 1) if shown_at else None,
                         "max_stall_ms": round(float(gaps.max()) * 1000, 1),
                         "stalls_over_50ms": [round(float(g) * 1000, 1) for g in gaps if g > 0.05],
                         "acting_call_ms": round((acted[-1][1] - acted[-1][0]) * 1000, 1),
                         "new_map_shown": bool(np.array_equal(np.asarray(shown), want))})
            print(rows[-1], flush=True)
    finally:
        for p in burners:
            p.kill()
            p.wait()
    import vessel_studio

    report = {"code": str(Path(vessel_studio.__file__).parents[1]), "count": args.count, "scale": args.scale,
              "case": "correction" if args.correction else "round",
              "shape": list(review.image.shape), "burn": args.burn,
              "idle_max_stall_ms": round(idle_max, 1), "rounds": rows,
              "median_max_stall_ms": round(statistics.median(r["max_stall_ms"] for r in rows), 1),
              "median_acting_call_ms": round(statistics.median(r["acting_call_ms"] for r in rows), 1),
              "median_map_shown_after_ms": round(statistics.median(r["map_shown_after_ms"] or float("nan")
                                                                   for r in rows), 1),
              "all_shown": all(r["new_map_shown"] for r in rows)}
    write_report(report, args.out)
    if prof is not None:
        s = io.StringIO()
        st = pstats.Stats(prof, stream=s)
        st.sort_stats("cumulative").print_stats(40)
        st.sort_stats("tottime").print_stats(30)
        st.print_callees("_reload_maps|_project_changed|_outside_changed|set_layer")
        print(s.getvalue())
    hb.stop()
    viewer.close()
    return 0 if report["all_shown"] else 1


if __name__ == "__main__":
    sys.exit(main())
