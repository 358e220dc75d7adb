"""Memory over long use in one process: does the resident memory (RSS) level off or grow with the images seen?

Three parts (``--parts``, default all three), each in its own process so that their RSS is their own:

``gui``: the real window (run under Xvfb), a new fundus project of the public DRIVE, CHASE_DB1 and STARE
images (88; ``--images`` fewer), "Segment with bundled model" on all of them, then ``--laps`` passes of
Review's Next (Page Down) over every image with ``--pause`` s of event processing after each: lap 1 plain,
lap 2 with the uncertainty map, lap 3 and later also comparing with the source-only maps; every
``--edit-every``-th image a brush stroke and Save correction; side by side turned on and, 5 images later,
off every 25 images; the mask threshold set to 0.45 and back to 0.5 every 20 images. Every
``--sample-every`` images it records the RSS and the sizes of what could grow: the Project panel's
thumbnails, the read-ahead cache, the maps kept for the image on screen, the mask layer's undo history,
napari's layers, the QWidgets alive, Python's objects tracked by the garbage collector, threads.

``library``: ``vs.Segmenter.load("fundus-segmenter")`` and ``predict`` on ``--predicts`` images in a loop
(the 88 fundus images over and over), RSS every 10.

``cli``: ``vessel-studio segment`` (a process of its own, its RSS read by this one every 0.2 s) on a
folder of ``--large`` enlarged CHASE_DB1 test and training images (×``--scale``, ~3000 px a side, made in ``--work``):
its RSS against the masks written so far.

Per part: RSS at its start, after each sample, its peak (``ru_maxrss``; ``cli``: the largest RSS
sampled), and the slope of RSS against images seen by least squares over the samples after the first lap
and over the last two laps, when every overlay is on (``gui``), or after a first pass over the 88
images, all sizes seen (``library``): MB per 100 images. Timings are medians. The images
are read from ``$VESSEL_STUDIO_DATA`` or ``../shared/data`` beside the repository (never copied into it);
the part skips with a message when they are absent.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/memory_long_use.py \\
        --work /tmp/memory-long-use --out benchmarks/results/gui/memory-long-use.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import _gui  # noqa: E402  (benchmarks/_gui.py: event-loop helpers, rss_mb)
from gui_review import data_root, fundus_files  # noqa: E402
from hires_cli import write_report  # noqa: E402

PARTS = ("gui", "library", "cli")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def slope_mb_per_100(xs, ys) -> float | None:
    """Least-squares slope of ``ys`` (MB) against ``xs`` (images), per 100 images."""
    if len(xs) < 3:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return None if sxx == 0 else round(100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx, 2)


# --- the window ------------------------------------------------------------------------------------------

def part_gui(args) -> dict:
    import gc

    import numpy as np
    from qtpy.QtWidgets import QApplication

    files = fundus_files(args.data, args.images) if args.data.is_dir() else []
    if not files:
        return {"skipped": f"no DRIVE / CHASE_DB1 / STARE images under {args.data}"}
    from vessel_studio.gui import dialogs, tasks

    said: list = []
    dialogs.error = lambda _p, title, text: said.append(("error", title, text))
    dialogs.confirm = lambda _p, title, text: said.append(("confirm", title)) or True
    dialogs.save_discard_cancel = lambda _p, title, text: said.append(("sdc", title)) or "save"
    from vessel_studio.gui.app import make_viewer

    work = args.work / "gui"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rss_start = _gui.rss_mb()
    viewer, studio = make_viewer(None)
    viewer.window._qt_window.resize(1400, 900)
    app = QApplication.instance()

    def pump(s):
        _gui.pump(app, s)

    review, project_panel = studio.panels["Review"], studio.panels["Project"]
    pump(2.0)
    rss_window = _gui.rss_mb()
    assert studio.new_project(work / "project", "fundus", name="memory-long-use")
    studio.add_images(files)
    _gui.wait_finished(studio.io_runner)
    pump(2.0)
    t = time.perf_counter()
    review.segment_missing()
    _gui.wait_finished(studio.runner)
    seg_s = time.perf_counter() - t
    pump(3.0)  # thumbnails, the first image, measures
    n = len(studio.project.images)

    def stroke(k):
        layer = viewer.layers["mask"]
        layer.mode = "paint"
        h, w = layer.data.shape
        for j in range(6):
            layer.paint((h // 3 + 7 * (k % 20), w // 3 + j * layer.brush_size), 1)

    def sizes() -> dict:
        mask = viewer.layers["mask"] if "mask" in viewer.layers else None
        return {
            "thumbnails": len(project_panel._thumbs),
            "read_ahead_cache": len(review._ahead.cache),
            "maps_kept": len(review._maps),
            "kept_edits": len(review._kept_edits),
            "undo_history": None if mask is None else len(mask._undo_history),
            "layers": len(viewer.layers),
            "qwidgets": len(QApplication.allWidgets()),
            "gc_objects": len(gc.get_objects()),
            "threads": threading.active_count(),
        }

    samples = [{"images_seen": 0, "lap": 0, "rss_mb": round(_gui.rss_mb(), 1), **sizes()}]
    print("sample", json.dumps(samples[-1]), flush=True)
    steps_ms, saves_ms, seen, saves = [], [], 0, 0
    for lap in range(args.laps):
        if lap == 1:
            review.show_unc.setChecked(True)
        if lap == 2:
            review.compare.setCurrentText(tasks.SOURCE_ONLY)
        pump(1.0)
        for i in range(n):
            t = time.perf_counter()
            review.next()
            steps_ms.append((time.perf_counter() - t) * 1000)
            pump(args.pause)
            seen += 1
            if seen % args.edit_every == 0:
                stroke(seen)
                pump(0.3)
                t = time.perf_counter()
                review.save()
                saves_ms.append((time.perf_counter() - t) * 1000)
                saves += 1
                pump(0.3)
            if seen % 25 == 10:
                review.side_by_side.setChecked(True)
                pump(0.3)
            elif seen % 25 == 15:
                review.side_by_side.setChecked(False)
                pump(0.3)
            if seen % 20 == 5:
                review.threshold.setValue(0.45)
                pump(0.3)
            elif seen % 20 == 15:
                review.threshold.setValue(0.5)
                pump(0.3)
            if seen % args.sample_every == 0:
                gc.collect()
                samples.append({"images_seen": seen, "lap": lap + 1, "rss_mb": round(_gui.rss_mb(), 1), **sizes()})
                print("sample", json.dumps(samples[-1]), flush=True)
    pump(2.0)
    gc.collect()
    samples.append({"images_seen": seen, "lap": args.laps, "rss_mb": round(_gui.rss_mb(), 1), **sizes()})
    later = [s for s in samples if s["images_seen"] >= n]
    out = {
        "images": n, "laps": args.laps, "images_seen": seen, "corrections_saved": saves, "pause_s": args.pause,
        "segmentation_s": round(seg_s, 1),
        "rss_start_mb": round(rss_start, 1), "rss_window_mb": round(rss_window, 1),
        "rss_after_segmentation_mb": samples[0]["rss_mb"],
        "rss_after_lap_1_mb": next((s["rss_mb"] for s in samples if s["images_seen"] >= n), None),
        "rss_end_mb": samples[-1]["rss_mb"],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_slope_after_lap_1_mb_per_100_images": slope_mb_per_100([s["images_seen"] for s in later],
                                                                     [s["rss_mb"] for s in later]),
        "rss_slope_last_2_laps_mb_per_100_images": slope_mb_per_100(
            [s["images_seen"] for s in samples if s["images_seen"] >= n * (args.laps - 2)],
            [s["rss_mb"] for s in samples if s["images_seen"] >= n * (args.laps - 2)]) if args.laps >= 3 else None,
        "gc_objects_slope_after_lap_1_per_100_images": slope_mb_per_100([s["images_seen"] for s in later],
                                                                         [s["gc_objects"] for s in later]),
        "next_call_ms_median": round(statistics.median(steps_ms), 1),
        "save_call_ms_median": round(statistics.median(saves_ms), 1) if saves_ms else None,
        "dialogs": said[:10],
        "samples": samples,
    }
    studio._closing_ok = True
    viewer.close()
    return out


# --- the library -----------------------------------------------------------------------------------------

def part_library(args) -> dict:
    files = fundus_files(args.data, None) if args.data.is_dir() else []
    if not files:
        return {"skipped": f"no DRIVE / CHASE_DB1 / STARE images under {args.data}"}
    import vessel_studio as vs

    rss_start = _gui.rss_mb()
    seg = vs.Segmenter.load("fundus-segmenter")
    rss_loaded = _gui.rss_mb()
    samples, times = [], []
    for k in range(args.predicts):
        image, _ = vs.read_image(files[k % len(files)])
        t = time.perf_counter()
        pred = seg.predict(image)
        times.append(time.perf_counter() - t)
        del pred, image
        if (k + 1) % 10 == 0:
            samples.append({"predicts": k + 1, "rss_mb": round(_gui.rss_mb(), 1)})
            print("sample", json.dumps(samples[-1]), flush=True)
    later = [s for s in samples if s["predicts"] >= len(files)]  # after a first pass over every image (size)
    return {
        "predicts": args.predicts, "distinct_images": len(files),
        "rss_start_mb": round(rss_start, 1), "rss_model_loaded_mb": round(rss_loaded, 1),
        "rss_after_10_mb": samples[0]["rss_mb"] if samples else None,
        "rss_end_mb": samples[-1]["rss_mb"] if samples else None, "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_after_first_pass_mb": later[0]["rss_mb"] if later else None,
        "rss_max_after_first_pass_mb": max((s["rss_mb"] for s in later), default=None),
        "rss_slope_after_first_pass_mb_per_100_images": slope_mb_per_100([s["predicts"] for s in later],
                                                                          [s["rss_mb"] for s in later]),
        "predict_s_median": round(statistics.median(times), 3),
        "samples": samples,
    }


# --- the command line ------------------------------------------------------------------------------------

def _large_images(args) -> list[Path]:
    import numpy as np
    from PIL import Image

    src = [f for split in ("test", "training") for f in sorted((args.data / "CHASE_DB1" / split / "images").glob("*"))]
    folder = args.work / "large"
    if len(list(folder.glob("*.png"))) == min(args.large, len(src)):
        return sorted(folder.glob("*.png"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for f in src[: args.large]:
        im = Image.open(f).convert("RGB")
        big = im.resize((round(im.width * args.scale), round(im.height * args.scale)), Image.BICUBIC)
        Image.fromarray(np.asarray(big)).save(folder / f"{f.stem}.png")
    return sorted(folder.glob("*.png"))


def part_cli(args) -> dict:
    import psutil
    from PIL import Image

    if not (args.data / "CHASE_DB1").is_dir():
        return {"skipped": f"no CHASE_DB1 under {args.data}"}
    files = _large_images(args)
    w, h = Image.open(files[0]).size
    out = args.work / "segment-out"
    shutil.rmtree(out, ignore_errors=True)
    exe = Path(sys.executable).with_name("vessel-studio")
    cmd = [str(exe), "segment", str(files[0].parent), "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    samples, last_done, peak = [], -1, 0.0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss / 2**20
        except psutil.Error:
            break
        peak = max(peak, rss)
        done = len(list(out.glob("*.png"))) if out.is_dir() else 0
        if done != last_done:
            samples.append({"masks_written": done, "rss_mb": round(rss, 1), "t_s": round(time.perf_counter() - t0, 1)})
            print("sample", json.dumps(samples[-1]), flush=True)
            last_done = done
        samples[-1]["rss_max_mb"] = round(max(samples[-1].get("rss_max_mb", 0.0), rss), 1)
        time.sleep(0.2)
    err = proc.stderr.read()
    wall = time.perf_counter() - t0
    per_image = [b["t_s"] - a["t_s"] for a, b in zip(samples[1:], samples[2:])]
    return {
        "command": " ".join(["vessel-studio", "segment", str(files[0].parent), "--out", str(out)]),
        "rc": proc.returncode, "stderr_tail": err[-300:], "images": len(files), "size": f"{w}x{h}",
        "masks_written": len(list(out.glob("*.png"))), "wall_s": round(wall, 1),
        "seconds_per_image_median": round(statistics.median(per_image), 2) if per_image else None,
        "peak_rss_sampled_mb": round(peak, 1),
        "rss_max_while_writing": [s.get("rss_max_mb") for s in samples],
        "samples": samples,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--parts", default=",".join(PARTS), help="which parts, comma-separated: gui, library, cli")
    ap.add_argument("--data", type=Path, default=None, help="public data sets folder (default $VESSEL_STUDIO_DATA "
                                                            "or ../shared/data beside the repository)")
    ap.add_argument("--work", type=Path, default=REPO / "scratch" / "memory-long-use",
                    help="folder for the project, the large images and the masks (git-ignored scratch)")
    ap.add_argument("--images", type=int, default=None, help="gui: this many of the 88 fundus images (default all)")
    ap.add_argument("--laps", type=int, default=3, help="gui: passes of Next over every image")
    ap.add_argument("--pause", type=float, default=0.15, help="gui: seconds of event processing after each step")
    ap.add_argument("--edit-every", type=int, default=7, help="gui: a brush stroke and Save on every k-th image")
    ap.add_argument("--sample-every", type=int, default=11, help="gui: record RSS and sizes every k images")
    ap.add_argument("--predicts", type=int, default=200, help="library: predictions in the loop")
    ap.add_argument("--large", type=int, default=24, help="cli: enlarged CHASE_DB1 images to segment (at most 28)")
    ap.add_argument("--scale", type=float, default=3.0, help="cli: their enlargement")
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)  # one part, in this process
    ap.add_argument("--out", type=Path, default=None, help="JSON report (printed as well)")
    args = ap.parse_args(argv)
    args.data = data_root(None if args.data is None else str(args.data))
    args.work.mkdir(parents=True, exist_ok=True)
    if args.part:  # a child: one part, its result as the last line
        result = {"gui": part_gui, "library": part_library, "cli": part_cli}[args.part](args)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    xvfb = "xvfb-run -a -s '-screen 0 1600x1000x24' " if "gui" in args.parts.split(",") else ""
    report = {"command": xvfb + ".venv/bin/python benchmarks/memory_long_use.py "
                         + " ".join(sys.argv[1:] if argv is None else argv)}
    for part in args.parts.split(","):
        own = [a for a in (sys.argv[1:] if argv is None else argv)]
        t = time.perf_counter()
        res = subprocess.run([sys.executable, __file__, *own, "--part", part], capture_output=True, text=True)
        lines = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")]
        report[part] = json.loads(lines[-1][7:]) if lines else {"rc": res.returncode, "stderr_tail": res.stderr[-2000:]}
        report[part]["part_wall_s"] = round(time.perf_counter() - t, 1)
        print(part, "done in", report[part]["part_wall_s"], "s", flush=True)
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
