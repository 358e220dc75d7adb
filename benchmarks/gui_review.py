"""How responsive the Vessel Studio window stays through a review of real fundus images.

The script opens the real window (run it under Xvfb: napari's canvas needs a display) and drives
the review workflow a person follows, through the panels' own methods: a new fundus project,
add the images (DRIVE 40 + CHASE_DB1 28 + STARE 20 = 88 from the public data sets, training and
test splits), "Segment with bundled model" on all of them, the "most uncertain first" review
order, then ``--steps`` steps to the next image (``ReviewPanel.next``, what Page Down does) with
``--pause`` seconds of normal event processing after each, and finally an export of masks,
probabilities and the CSV of measures.

A QTimer fires every 10 ms on the GUI thread; the gap between two ticks minus 10 ms is an
event-loop *stall*. Reported per job (wall time, stalls, RSS), for the first image shown (its
stall includes napari's one-time costs), and per review step: the step's largest stall, the time
``next()`` itself took on the GUI thread, and how the GUI thread's time in that step splits
between reading files (``Project.read_image`` / ``prediction`` / ``correction``, probability
TIFFs, drafts), reading the project's manifest (``Project.manifest``: every look-up of the images'
or rounds' records; calls and time, counted apart and also inside the reads), updating layers (``ReviewPanel._set_layer`` / ``_set_mask``,
``viewer.reset_view``) and the rest (rendering, other slots). Reads done in worker threads are
counted apart. The instrumentation only wraps those calls with ``time.perf_counter``.

The images are read from ``$VESSEL_STUDIO_DATA`` or ``../shared/data`` beside the repository (never
copied into it: the project goes under ``--work``, default ``scratch/gui-review``); the script
skips with a message when they are absent.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_review.py \
        --out benchmarks/results/gui/review-88.json

``--files DIR`` reviews the images of a folder instead (the simulated 15-megapixel camera of
``benchmarks/hires_data.py``; results in ``benchmarks/results/gui/hires/``), and ``--actions`` times the
overlay and correction actions after the steps (uncertainty map, compare, side by side, a brush stroke
and its autosave, Save correction).

``--wait-shown`` waits after each step until the image stepped to is on screen (a large image not read
ahead is read in a worker since session 26: the step shows "loading…" first), so that each step's
``shown_ms`` (from the call to the image on screen) is measured. ``--bursts M --burst K`` then steps
K times ``--burst-gap`` s apart (Page Down held), M times, and reports each burst's largest stall, the
GUI thread's reads, how many images were put on screen (``displays``: ``ReviewPanel._show`` calls,
``load`` in older code) and the time from the burst's last step to its image on screen. ``--saves N``
times N Save corrections (a brush stroke, then Save: the call, the largest stall, ``landed_ms`` until
the file is written, the GUI thread's time in ``Project.save_correction``) and N "Save, then the next
image at once" (Alt+S, Page Down). ``--skip-export`` leaves the export out.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import _gui  # noqa: E402  (benchmarks/_gui.py: the GUI scripts' event-loop helpers)

DATASETS = ("DRIVE", "CHASE_DB1", "STARE")


def data_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("VESSEL_STUDIO_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def fundus_files(root: Path, limit: int | None) -> list[Path]:
    files: list[Path] = []
    for ds in DATASETS:
        for split in ("training", "test"):
            folder = root / ds / split / "images"
            if folder.is_dir():
                files += sorted(p for p in folder.iterdir() if p.is_file())
    if limit is not None and 0 < limit < len(files):  # spread over the three data sets
        idx = np.linspace(0, len(files) - 1, limit).round().astype(int)
        files = [files[i] for i in idx]
    return files


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stall_stats(stalls_ms) -> dict:
    s = np.asarray(stalls_ms, dtype=float)
    if s.size == 0:
        return {"ticks": 0}
    return {
        "ticks": int(s.size),
        "max_stall_ms": round(float(s.max()), 1),
        "p99_stall_ms": round(float(np.percentile(s, 99)), 1),
        "median_stall_ms": round(float(np.median(s)), 2),
        "stalls_over_100ms": int((s > 100).sum()),
        "stalls_over_200ms": int((s > 200).sum()),
    }


class Probe:
    """A 10 ms QTimer on the GUI thread; keeps (time of the tick, stall ms) for every tick."""

    def __init__(self, interval_ms: int = 10):
        from qtpy.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.ticks: list[tuple[float, float]] = []
        self.last: float | None = None
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.ticks.append((now, max(now - self.last - self.interval, 0.0) * 1000))
        self.last = now

    def start(self) -> None:
        self.last = None
        self.timer.start()

    def between(self, t0: float, t1: float) -> list[float]:
        """Stalls of the ticks that ended in [t0, t1)."""
        return [s for t, s in self.ticks if t0 <= t < t1]


class Timers:
    """Time spent inside wrapped calls, by category and by thread (GUI thread or a worker).

    Only the outermost wrapped call of a category on a thread counts (probability() reads a TIFF
    through another wrapped reader)."""

    def __init__(self):
        self.main = threading.main_thread().ident
        self.totals: dict[tuple[str, bool], float] = {}
        self.calls: dict[tuple[str, bool], int] = {}
        self.depth = threading.local()
        self.lock = threading.Lock()
        self.first: dict[str, tuple[float, float]] = {}  # category -> (start, seconds) of its first call

    def wrap(self, owner, name: str, category: str) -> None:
        fn = getattr(owner, name)
        timers = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            d = getattr(timers.depth, category, 0)
            if d:
                return fn(*args, **kwargs)
            setattr(timers.depth, category, 1)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                setattr(timers.depth, category, 0)
                key = (category, threading.get_ident() == timers.main)
                with timers.lock:
                    timers.first.setdefault(category, (t0, dt))
                    timers.totals[key] = timers.totals.get(key, 0.0) + dt
                    timers.calls[key] = timers.calls.get(key, 0) + 1

        setattr(owner, name, wrapper)

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.totals), dict(self.calls)


def install_timers() -> Timers:
    """Wrap the review panel's file reads and layer updates (class / module level, before the
    window is built, so that signal connections made by the panels see the wrappers)."""
    import vessel_studio.io.images as images_mod
    from vessel_studio.gui import review_panel, tasks
    from vessel_studio.store.project import Project

    t = Timers()
    for owner, name in ((Project, "read_image"), (Project, "prediction"), (Project, "correction"),
                        (tasks, "_read_tif"), (images_mod, "read_mask")):
        t.wrap(owner, name, "read")
    for name in ("_set_layer", "_set_mask"):
        t.wrap(review_panel.ReviewPanel, name, "layers")
    t.wrap(review_panel.ReviewPanel, "load", "load")
    if hasattr(review_panel.ReviewPanel, "_show"):  # since session 26: an image put on screen (load or later)
        t.wrap(review_panel.ReviewPanel, "_show", "show")
    t.wrap(Project, "save_correction", "save")
    t.wrap(Project, "manifest", "manifest")  # every record look-up (images, rounds, modality) reads it
    # per-image work besides reads and layers (high-resolution images: a few times a 1000 px image's)
    t.wrap(tasks, "image_fov", "fov")
    t.wrap(review_panel.ReviewPanel, "_show_stats", "stats")
    t.wrap(review_panel.ReviewPanel, "autosave", "autosave")
    return t


def run_actions(review, viewer, probe, pump, timers) -> list[dict]:
    """The overlay and correction actions of a review, each followed by ``settle`` s of event
    processing; per action: the call's own time on the GUI thread and the largest stall after it.
    The brush stroke paints a short line of discs through the mask layer's own ``paint`` (as napari's
    brush does), then waits past the 3 s autosave, which writes the draft on the GUI thread."""
    from vessel_studio.gui import tasks

    def stroke():
        layer = viewer.layers["mask"]
        layer.mode = "paint"
        h, w = layer.data.shape
        for k in range(10):
            layer.paint((h // 2, w // 3 + k * layer.brush_size), 1)

    out = []
    for name, act, settle in (
        ("uncertainty map on", lambda: review.show_unc.setChecked(True), 1.0),
        ("compare with source-only", lambda: review.compare.setCurrentText(tasks.SOURCE_ONLY), 1.0),
        ("side by side on", lambda: review.side_by_side.setChecked(True), 1.0),
        ("side by side off", lambda: review.side_by_side.setChecked(False), 1.0),
        ("compare none", lambda: review.compare.setCurrentText("none"), 1.0),
        ("brush stroke (+ autosave)", stroke, 4.0),
        ("save correction", review.save, 1.0),
        ("next image", review.next, 1.0),
    ):
        before, _ = timers.snapshot()
        t0 = time.perf_counter()
        act()
        call_ms = (time.perf_counter() - t0) * 1000
        pump(settle)
        t1 = time.perf_counter()
        stalls = probe.between(t0, t1)
        after, _ = timers.snapshot()
        gui = {cat: round((after.get((cat, True), 0.0) - before.get((cat, True), 0.0)) * 1000, 1)
               for cat in ("read", "layers", "fov", "stats", "autosave")}
        out.append({"action": name, "call_ms": round(call_ms, 1), "gui_ms": gui, "max_stall_ms": round(max(stalls, default=0.0), 1),
                    "stalls_over_100ms": sum(s > 100 for s in stalls), "image": review.image_id,
                    "dirty": bool(review.dirty)})
        print("action", json.dumps(out[-1]), flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="JSON report (printed as well)")
    ap.add_argument("--data", default=None, help="public data sets folder (default $VESSEL_STUDIO_DATA or "
                                                 "../shared/data beside the repository)")
    ap.add_argument("--images", type=int, default=None, help="use this many of the 88 fundus images (spread "
                                                            "over DRIVE, CHASE_DB1, STARE); default all")
    ap.add_argument("--files", type=Path, default=None,
                    help="review the images of this folder instead of the public data sets (e.g. the simulated "
                         "high-resolution camera of benchmarks/hires_data.py)")
    ap.add_argument("--actions", action="store_true",
                    help="after the steps, time the overlay and correction actions: uncertainty map, compare with "
                         "the source-only map, side by side on and off, a brush stroke on the mask (and the "
                         "autosave that follows), Save correction")
    ap.add_argument("--steps", type=int, default=20, help="steps to the next image in the review order")
    ap.add_argument("--pause", type=float, default=0.5, help="seconds of normal event processing after each step")
    ap.add_argument("--work", type=Path, default=REPO / "scratch" / "gui-review",
                    help="folder for the project and the export (emptied first)")
    ap.add_argument("--wait-shown", action="store_true",
                    help="after each step, process events until the image stepped to is on screen (at least --pause s)")
    ap.add_argument("--bursts", type=int, default=0, help="bursts of fast steps after the steps")
    ap.add_argument("--burst", type=int, default=4, help="steps in a burst")
    ap.add_argument("--burst-gap", type=float, default=0.1, help="seconds between the steps of a burst")
    ap.add_argument("--saves", type=int, default=0, help="Save corrections timed after the steps, and as many "
                                                           "'save, then next image at once'")
    ap.add_argument("--skip-export", action="store_true", help="no export at the end")
    ap.add_argument("--stacks", type=Path, default=None,
                    help="write the GUI thread's stack at every stall over 150 ms to this file")
    args = ap.parse_args(argv)

    root = data_root(args.data)
    if args.files is not None:
        from vessel_studio.io.datasets import list_images

        files = list_images(args.files)[: args.images] if args.files.is_dir() else []
        root = args.files
    else:
        files = fundus_files(root, args.images) if root.is_dir() else []
    if not files:
        print(f"SKIPPED: no DRIVE / CHASE_DB1 / STARE images under {root} (set VESSEL_STUDIO_DATA or --data)")
        return 0

    t_import = time.perf_counter()
    timers = install_timers()
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import dialogs

    dialog_log: list = []
    dialogs.error = lambda _p, title, text: dialog_log.append(("error", title, text))
    dialogs.confirm = lambda _p, title, text: dialog_log.append(("confirm", title, text)) or True
    dialogs.save_discard_cancel = lambda _p, title, text: dialog_log.append(("sdc", title, text)) or "discard"
    from vessel_studio.gui.app import make_viewer

    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    proj_dir, export_dir = args.work / "project", args.work / "export"

    t = time.perf_counter()
    viewer, studio = make_viewer(None)
    viewer.window._qt_window.resize(1400, 900)
    app = QApplication.instance()
    window_s = time.perf_counter() - t
    import_s = t - t_import
    review, export = studio.panels["Review"], studio.panels["Export"]

    probe = Probe(10)
    probe.start()

    stacks: list[str] = []
    if args.stacks:
        main_id = threading.main_thread().ident

        def watch():
            reported = None
            while True:
                time.sleep(0.03)
                last = probe.last
                if last is None or reported == last or time.perf_counter() - last < 0.15:
                    continue
                reported = last
                frame = sys._current_frames().get(main_id)
                if frame is not None:
                    stacks.append(f"===== lag >= {(time.perf_counter() - last) * 1000:.0f} ms, "
                                  f"t={last - probe_t0:.2f}s\n" + "".join(traceback.format_stack(frame)[-16:]))

        probe_t0 = time.perf_counter()
        threading.Thread(target=watch, daemon=True).start()

    pump = functools.partial(_gui.pump, app, sleep=0.002)

    def pump_watch(seconds: float, cond, *, until_s: float = 0.0):
        """Process events for ``seconds`` s (and on, up to ``until_s`` s, while ``cond`` is false); the
        ms from the call until ``cond()`` first held, or None."""
        t0 = time.perf_counter()
        hit = 0.0 if cond() else None
        while True:
            now = time.perf_counter()
            if now - t0 >= seconds and (hit is not None or now - t0 >= until_s):
                return hit
            app.processEvents()
            if hit is None and cond():
                hit = (time.perf_counter() - t0) * 1000
            time.sleep(0.002)

    def shown() -> bool:
        return review.image_id is not None and review.image_id == studio.current_id

    def displays(calls) -> int:
        return calls.get(("show", True), 0) if hasattr(type(review), "_show") else calls.get(("load", True), 0)

    report: dict = {
        "command": "xvfb-run -a -s '-screen 0 1600x1000x24' .venv/bin/python benchmarks/gui_review.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "images": len(files),
        "data": {ds: sum(1 for f in files if ds in f.parts) for ds in DATASETS},
        "window_build_s": round(window_s, 2),
        "imports_s": round(import_s, 2),
        "jobs": {},
    }

    pump(3.0)  # first paints
    t0 = time.perf_counter()
    pump(3.0)
    report["idle"] = stall_stats(probe.between(t0, time.perf_counter()))

    def job(name: str, start, runner, settle: float = 1.0) -> None:
        r0, t0 = _gui.rss_mb(), time.perf_counter()
        started = start()
        outcome = _gui.wait_finished(runner) if started is not False else None
        wall = time.perf_counter() - t0
        pump(settle)  # follow-ups: thumbnails, the first image, measures
        report["jobs"][name] = {
            "wall_s": round(wall, 1), "status": getattr(outcome, "status", "not started"),
            "error": None if outcome is None or outcome.error is None else repr(outcome.error),
            "gui": stall_stats(probe.between(t0, time.perf_counter())),
            "rss_before_mb": round(r0), "rss_after_mb": round(_gui.rss_mb()), "peak_rss_mb": round(peak_rss_mb()),
        }
        print(name, json.dumps(report["jobs"][name]), flush=True)

    assert studio.new_project(proj_dir, "fundus", name="gui-review-benchmark")
    # the first image is selected (and shown) when the images have been added
    job("add images", lambda: studio.add_images(files), studio.io_runner, settle=3.0)
    if "load" in timers.first:  # napari's one-time costs (first layers) fall in the 2 s after it
        t_load, load_s = timers.first["load"]
        report["first_image"] = {"id": studio.current_id, "load_call_ms": round(load_s * 1000, 1),
                                 **stall_stats(probe.between(t_load, t_load + 2.0))}
    else:
        report["first_image"] = None
    job("segmentation", review.segment_missing, studio.runner)
    job("review order", lambda: review.queue.setCurrentIndex(1), studio.runner)

    # --- stepping through the review order ----------------------------------------------------
    pump(2.0)
    steps = []
    for i in range(args.steps):
        before, calls_before = timers.snapshot()
        t0 = time.perf_counter()
        review.next()
        call_ms = (time.perf_counter() - t0) * 1000
        if args.wait_shown:
            wait = pump_watch(args.pause, shown, until_s=30.0)
            shown_ms = None if wait is None else round(call_ms + wait, 1)
        else:
            pump(args.pause)
            shown_ms = round(call_ms, 1) if shown() else None
        after, calls_after = timers.snapshot()
        t1 = time.perf_counter()

        def spent(cat, main=True):
            return round((after.get((cat, main), 0.0) - before.get((cat, main), 0.0)) * 1000, 1)

        stalls = probe.between(t0, t1)
        steps.append({
            "image": studio.current_id,
            "max_stall_ms": round(max(stalls, default=0.0), 1),
            "next_call_ms": round(call_ms, 1),
            "shown_ms": shown_ms,
            "gui_read_ms": spent("read"),
            "gui_layers_ms": spent("layers"),
            "gui_load_ms": spent("load"),
            "gui_fov_ms": spent("fov"),
            "gui_stats_ms": spent("stats"),
            "gui_autosave_ms": spent("autosave"),
            "worker_read_ms": spent("read", main=False),
            "gui_manifest_ms": spent("manifest"),
            "gui_manifest_calls": calls_after.get(("manifest", True), 0) - calls_before.get(("manifest", True), 0),
        })
        print("step", i, json.dumps(steps[-1]), flush=True)

    def summary(key, rows=None):
        v = [s[key] for s in (steps if rows is None else rows) if s[key] is not None]
        return {"median": round(float(np.median(v)), 1), "max": round(float(np.max(v)), 1)} if v else {}

    report["review_steps"] = {
        "steps": len(steps), "pause_s": args.pause,
        "max_stall_ms": summary("max_stall_ms"), "next_call_ms": summary("next_call_ms"),
        "shown_ms": summary("shown_ms"),
        "gui_read_ms": summary("gui_read_ms"), "gui_layers_ms": summary("gui_layers_ms"),
        "worker_read_ms": summary("worker_read_ms"),
        "gui_manifest_ms": summary("gui_manifest_ms"), "gui_manifest_calls": summary("gui_manifest_calls"),
        "gui_load_ms": summary("gui_load_ms"), "gui_fov_ms": summary("gui_fov_ms"),
        "gui_stats_ms": summary("gui_stats_ms"), "gui_autosave_ms": summary("gui_autosave_ms"),
        "steps_with_stall_over_100ms": sum(s["max_stall_ms"] > 100 for s in steps),
        "steps_with_stall_over_200ms": sum(s["max_stall_ms"] > 200 for s in steps),
        "per_step": steps,
    }
    if args.actions:
        report["actions"] = run_actions(review, viewer, probe, pump, timers)

    # --- fast steps (Page Down held) -------------------------------------------------------------
    if args.bursts:
        pump(2.0)
        bursts = []
        for b in range(args.bursts):
            before, calls_before = timers.snapshot()
            t0 = time.perf_counter()
            calls_ms = []
            for k in range(args.burst):
                tk = time.perf_counter()
                review.next()
                calls_ms.append(round((time.perf_counter() - tk) * 1000, 1))
                if k < args.burst - 1:
                    pump(args.burst_gap)
            t_last = time.perf_counter()
            wait = pump_watch(0.0, shown, until_s=30.0)
            t_shown = time.perf_counter()
            pump(2.0)  # the image stopped on settles (statistics, measures, read-ahead)
            after, calls_after = timers.snapshot()
            bursts.append({
                "image": studio.current_id,
                "max_stall_ms": round(max(probe.between(t0, t_shown), default=0.0), 1),
                "max_stall_after_ms": round(max(probe.between(t_shown, time.perf_counter()), default=0.0), 1),
                "next_call_ms": calls_ms,
                "shown_after_last_step_ms": None if wait is None else round((t_last - tk) * 1000 + wait, 1),
                "gui_read_ms": round((after.get(("read", True), 0.0) - before.get(("read", True), 0.0)) * 1000, 1),
                "worker_read_ms": round((after.get(("read", False), 0.0) - before.get(("read", False), 0.0)) * 1000, 1),
                "displays": displays(calls_after) - displays(calls_before),
            })
            print("burst", b, json.dumps(bursts[-1]), flush=True)
        report["bursts"] = {
            "bursts": len(bursts), "steps_per_burst": args.burst, "gap_s": args.burst_gap,
            "max_stall_ms": summary("max_stall_ms", bursts),
            "next_call_ms": {"median": round(float(np.median([c for r in bursts for c in r["next_call_ms"]])), 1),
                             "max": round(float(np.max([c for r in bursts for c in r["next_call_ms"]])), 1)},
            "shown_after_last_step_ms": summary("shown_after_last_step_ms", bursts),
            "gui_read_ms": summary("gui_read_ms", bursts), "displays": summary("displays", bursts),
            "per_burst": bursts,
        }

    # --- Save correction, and "save, then the next image at once" --------------------------------
    if args.saves:
        def stroke(k):
            layer = viewer.layers["mask"]
            layer.mode = "paint"
            h, w = layer.data.shape
            for j in range(5):
                layer.paint((h // 3 + 40 * k, w // 3 + j * layer.brush_size), 1)

        def landed() -> bool:
            saver = getattr(review, "_saver", None)  # since session 26: large masks saved in a worker
            return saver is None or not saver.busy

        pump(2.0)
        saves = []
        for mode in ("save", "save + next at once"):
            for k in range(args.saves):
                stroke(k)
                pump(0.5)
                before, _ = timers.snapshot()
                t0 = time.perf_counter()
                review.save()
                if mode != "save":
                    review.next()
                call_ms = (time.perf_counter() - t0) * 1000
                wait = pump_watch(0.0, landed, until_s=30.0)
                landed_ms = None if wait is None else round(call_ms + wait, 1)
                if mode != "save":
                    pump_watch(0.0, shown, until_s=30.0)
                pump(1.5)
                after, _ = timers.snapshot()
                saves.append({
                    "mode": mode, "image": studio.current_id, "call_ms": round(call_ms, 1), "landed_ms": landed_ms,
                    "max_stall_ms": round(max(probe.between(t0, time.perf_counter()), default=0.0), 1),
                    "gui_save_ms": round((after.get(("save", True), 0.0) - before.get(("save", True), 0.0)) * 1000, 1),
                    "worker_save_ms": round((after.get(("save", False), 0.0) - before.get(("save", False), 0.0)) * 1000, 1),
                    "dirty_after": bool(review.dirty),
                })
                print("save", json.dumps(saves[-1]), flush=True)
        report["saves"] = {
            mode: {key: summary(key, [r for r in saves if r["mode"] == mode])
                   for key in ("call_ms", "landed_ms", "max_stall_ms", "gui_save_ms", "worker_save_ms")}
            for mode in ("save", "save + next at once")}
        report["saves"]["per_save"] = saves
    pump(2.0)
    if not args.skip_export:
        job("export", lambda: export.export_to(export_dir), studio.runner)
    report["export_files"] = {
        "masks": len(list((export_dir / "masks").glob("*"))) if (export_dir / "masks").is_dir() else 0,
        "probabilities": len(list((export_dir / "probabilities").glob("*")))
        if (export_dir / "probabilities").is_dir() else 0,
    }
    report["layers"] = [layer.name for layer in viewer.layers]
    report["peak_rss_mb"] = round(peak_rss_mb())
    report["dialogs"] = dialog_log
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                         "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.stacks:
        args.stacks.write_text("\n".join(stacks))
    studio._closing_ok = True
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
