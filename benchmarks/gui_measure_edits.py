"""How smooth the brush stays while the Review panel's vessel measures follow the mask's edits (session 39).

Since session 39 every edit of the mask restarts a single-shot timer (``review_panel.MEASURE_EDITS_MS``); when the
editing has paused that long, the GUI thread copies the mask and a worker (``review_workers.Measurer``) computes
its vessel measures (``tasks.measure_image``: seconds at 15 megapixels). A person who pauses ~0.6-1 s between
strokes starts such a measure before each next stroke, which is then painted while the worker runs.

The script opens the real window (run it under Xvfb), makes a fundus project of the first ``--images`` images of
``--files`` (the simulated 15-megapixel camera of ``benchmarks/hires_data.py``), segments them with the bundled
model, shows the first one, and paints ``--blocks`` blocks of ``--strokes`` brush strokes on its mask, the
blocks alternating between the measures following the edits ("on": the panel's own timer interval) and not
("off": the timer's interval set to ~11 days), so that both see the same (shared, varying) machine.

A stroke is painted as napari's brush paints it (``Labels.block_history`` around ``Labels._draw`` calls, one per
mouse move, the edit committed and its ``paint`` event emitted at the release): ``--moves`` mouse moves
``--move-gap`` s apart, each ``--step`` px further along a line, with normal event processing in between; then a
pause of 0.6, 0.7, 0.8, 0.9, 1.0 s (in turn; ``--pauses``). For each move: ``draw_ms`` (the ``_draw`` call on the GUI
thread) and ``latency_ms`` (from the time the move was due to its ``_draw`` having returned: the call plus how
late the event loop came to it). For each stroke: its largest event-loop stall (10 ms QTimer, as
``gui_review.py``) from its first move to the next stroke's first move, and whether a measure ran meanwhile.
``interval_ms``: between two ``_draw`` calls returning (the brush's updates; a stall shows as a long one). The GUI
thread's part of starting a measure (``ReviewPanel._measure``: the mask's copy, ``any()``, the request) and the
copy alone in the idle window (``mask_copy_ms_idle``) are timed too, and each measure in the worker (start, end).
Results of session 39: ``benchmarks/results/gui/measure-edits/``.

Session 40: each stroke is pressed and released through napari's own calls of the viewer's mouse callbacks
(``mouse_press_callbacks`` before the first move, ``mouse_release_callbacks`` after the release), as a press on the
canvas runs them (the Review panel stops a running measure at the press since session 40; older code has no such
callback, and the calls do nothing there). Also recorded: each measure's outcome (``measures_outcome``: returned,
or the exception's name: ``MeasureCancelled`` for one stopped), the panel's count of measures stopped, for each
"on" block the time from its last stroke's release to the last measures shown (``final_measures_after_s``) and
whether those equal a fresh measure of the mask on screen (``final_equal_fresh``), and which ``vessel_studio``
ran (``vessel_studio``: compare trees with ``PYTHONPATH``).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_measure_edits.py \
        --files scratch/hires-data/jpeg --out benchmarks/results/gui/measure-edits/run1.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import _gui  # noqa: E402
from gui_review import Probe, stall_stats  # noqa: E402

OFF_MS = 10**9  # the timer never fires within a run


def _pct(v, q):
    return round(float(np.percentile(v, q)), 1) if len(v) else None


def summary(strokes: list[dict]) -> dict:
    draws = [d for s in strokes for d in s["draw_ms"]]
    lats = [d for s in strokes for d in s["latency_ms"]]
    gaps = [d for s in strokes for d in s["interval_ms"]]
    return {
        "strokes": len(strokes),
        "brush_interval_ms": {"median": _pct(gaps, 50), "p95": _pct(gaps, 95), "max": _pct(gaps, 100)},
        "largest_brush_interval_per_stroke_ms": {"median": _pct([max(s["interval_ms"]) for s in strokes], 50)},
        "strokes_with_measure_running": sum(s["measure_running"] for s in strokes),
        "largest_stall_per_stroke_ms": {"median": _pct([s["max_stall_ms"] for s in strokes], 50),
                                        "max": _pct([s["max_stall_ms"] for s in strokes], 100)},
        "draw_ms": {"median": _pct(draws, 50), "p95": _pct(draws, 95), "max": _pct(draws, 100)},
        "latency_ms": {"median": _pct(lats, 50), "p95": _pct(lats, 95), "max": _pct(lats, 100)},
        "largest_latency_per_stroke_ms": {"median": _pct([max(s["latency_ms"]) for s in strokes], 50)},
        "release_ms": {"median": _pct([s["release_ms"] for s in strokes], 50),
                       "max": _pct([s["release_ms"] for s in strokes], 100)},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=Path, default=REPO / "scratch" / "hires-data" / "jpeg")
    ap.add_argument("--images", type=int, default=1, help="images in the project (the first is painted on)")
    ap.add_argument("--blocks", type=int, default=6, help="blocks of strokes, alternating on / off (on first)")
    ap.add_argument("--strokes", type=int, default=6, help="strokes in a block")
    ap.add_argument("--moves", type=int, default=30, help="mouse moves in a stroke")
    ap.add_argument("--move-gap", type=float, default=0.016, help="seconds between mouse moves")
    ap.add_argument("--step", type=float, default=12.0, help="px the brush moves each mouse move")
    ap.add_argument("--pauses", default="0.6,0.7,0.8,0.9,1.0", help="seconds between strokes, in turn")
    ap.add_argument("--work", type=Path, default=REPO / "scratch" / "gui-measure-edits")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker-nice", choices=("background", "same"), default="background",
                    help="the measure worker's priority: below the GUI thread's (the panel's), or the same (a check)")
    args = ap.parse_args(argv)
    pauses = [float(p) for p in args.pauses.split(",")]

    from vessel_studio.io.datasets import list_images

    files = list_images(args.files)[: args.images] if args.files.is_dir() else []
    if not files:
        print(f"SKIPPED: no images in {args.files} (benchmarks/hires_data.py makes them)")
        return 0

    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import dialogs, review_panel, review_workers

    dialogs.error = lambda *_a: None
    dialogs.confirm = lambda *_a: True
    dialogs.save_discard_cancel = lambda *_a: "discard"

    # the worker's measures (start, seconds) and the GUI thread's part of starting one
    measures: list[tuple[float, float]] = []
    outcomes: list[str] = []
    task = review_workers.Measurer._task

    def timed_task(*a, **k):
        t0 = time.perf_counter()
        outcome = "returned"
        try:
            return task(*a, **k)
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            measures.append((t0, time.perf_counter() - t0))
            outcomes.append(outcome)

    review_workers.Measurer._task = staticmethod(timed_task)
    if args.worker_nice == "same":
        review_workers.Measurer.background = False
    gui_part: list[tuple[float, float]] = []
    measure = review_panel.ReviewPanel._measure

    @functools.wraps(measure)
    def timed_measure(self):
        t0 = time.perf_counter()
        try:
            return measure(self)
        finally:
            gui_part.append((t0, (time.perf_counter() - t0) * 1000))

    review_panel.ReviewPanel._measure = timed_measure
    shown_at: list[float] = []  # when measures were shown (``_show_measures``)
    show = review_panel.ReviewPanel._show_measures

    @functools.wraps(show)
    def timed_show(self, image_id, m):
        shown_at.append(time.perf_counter())
        return show(self, image_id, m)

    review_panel.ReviewPanel._show_measures = timed_show

    from vessel_studio.gui.app import make_viewer

    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    viewer, studio = make_viewer(None)
    viewer.window._qt_window.resize(1400, 900)
    app = QApplication.instance()
    review = studio.panels["Review"]
    pump = functools.partial(_gui.pump, app, sleep=0.002)
    probe = Probe(10)
    probe.start()
    pump(2.0)

    assert studio.new_project(args.work / "project", "fundus", name="measure-edits-benchmark")
    studio.add_images(files)
    _gui.wait_finished(studio.io_runner)
    review.segment_missing()
    _gui.wait_finished(studio.runner)

    def settle(limit=60.0):
        """Until the image is shown and no measure runs or waits (at least 1 s)."""
        t0 = time.perf_counter()
        pump(1.0)
        while time.perf_counter() - t0 < limit and (
                review.image_id is None or "mask" not in viewer.layers or review._measurer.worker is not None
                or review._measure_timer.isActive() or review._stats_reader.worker is not None):
            pump(0.1)

    settle()
    layer = viewer.layers["mask"]
    h, w = layer.data.shape
    on_ms = review._measure_timer.interval()
    report: dict = {
        "command": "xvfb-run -a -s '-screen 0 1600x1000x24' .venv/bin/python benchmarks/gui_measure_edits.py "
                   + " ".join(sys.argv[1:] if argv is None else argv),
        "image": studio.current_id, "shape": [h, w], "brush_size": int(layer.brush_size),
        "measure_edits_ms_on": on_ms, "python": platform.python_version(),
        "vessel_studio": str(Path(sys.modules["vessel_studio"].__file__).parent),
        "load_avg_start": os.getloadavg(),
    }
    # the GUI thread's copy of the mask alone (as ``_measure`` does), idle window
    copies = []
    for _ in range(10):
        t0 = time.perf_counter()
        m = layer.data > 0
        copies.append((time.perf_counter() - t0) * 1000)
        del m
    report["mask_copy_ms_idle"] = {"median": _pct(copies, 50), "max": _pct(copies, 100)}

    layer.mode = "paint"
    layer.selected_label = 1
    viewer.layers.selection.active = layer
    from types import SimpleNamespace

    from napari.utils._proxies import ReadOnlyWrapper
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    def mouse(kind, yx):
        return ReadOnlyWrapper(SimpleNamespace(type=kind, button=1, buttons=[1] if kind != "mouse_release" else [],
                                               pos=np.zeros(2), position=tuple(yx), modifiers=(),
                                               is_dragging=kind == "mouse_move", handled=False, dims_displayed=[0, 1],
                                               view_direction=None, viewbox=None), exceptions=("handled",))

    finals: list[dict] = []
    rng = np.random.default_rng(0)
    strokes: list[dict] = []
    t_ref = time.perf_counter()
    n = 0
    for b in range(args.blocks):
        mode = "on" if b % 2 == 0 else "off"
        review._measure_timer.setInterval(on_ms if mode == "on" else OFF_MS)
        for k in range(args.strokes):
            # a line in the middle of the image, in any direction
            y0, x0 = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
            ang = rng.uniform(0, 2 * np.pi)
            dy, dx = np.sin(ang) * args.step, np.cos(ang) * args.step
            busy_at_start = review._measurer.worker is not None
            t_start = time.perf_counter()
            draw_ms, latency_ms = [], []
            mouse_press_callbacks(viewer, mouse("mouse_press", (y0, x0)))  # the viewer's, then napari's brush
            cm = layer.block_history()
            cm.__enter__()
            last, j, prev_end = None, 0, None
            interval_ms = []
            while j < args.moves:
                due = t_start + j * args.move_gap
                while time.perf_counter() < due:
                    app.processEvents()
                    time.sleep(0.001)
                # Qt compresses mouse moves: after a late return of the event loop, the latest position is drawn
                j = min(max(j, int((time.perf_counter() - t_start) / args.move_gap)), args.moves - 1)
                due = t_start + j * args.move_gap
                c = (y0 + j * dy, x0 + j * dx)
                t0 = time.perf_counter()
                layer._draw(1, last if last is not None else c, c)
                t1 = time.perf_counter()
                draw_ms.append(round((t1 - t0) * 1000, 2))
                latency_ms.append(round((t1 - due) * 1000, 2))
                if prev_end is not None:
                    interval_ms.append(round((t1 - prev_end) * 1000, 2))
                prev_end, last, j = t1, c, j + 1
                app.processEvents()
            t0 = time.perf_counter()
            cm.__exit__(None, None, None)  # the release: the edit committed, its paint event (``_edited``)
            mouse_release_callbacks(viewer, mouse("mouse_release", c))
            release_ms = (time.perf_counter() - t0) * 1000
            t_release = time.perf_counter()
            pump(pauses[n % len(pauses)])
            n += 1
            t_end = time.perf_counter()
            running = busy_at_start or any(t_start <= t0 < t_end or t0 < t_start < t0 + d for t0, d in measures)
            ticks = [(t, st) for t, st in probe.ticks if t_start <= t < t_end]
            worst = max(ticks, key=lambda x: x[1], default=(t_start, 0.0))
            strokes.append({"block": b, "mode": mode, "pause_s": pauses[(n - 1) % len(pauses)],
                            "t_start_s": round(t_start - t_ref, 3), "t_end_s": round(t_end - t_ref, 3),
                            "max_stall_ms": round(worst[1], 1), "max_stall_at_s": round(worst[0] - t_ref, 3),
                            "release_ms": round(release_ms, 1), "measure_running": bool(running),
                            "draw_ms": draw_ms, "latency_ms": latency_ms, "interval_ms": interval_ms})
            s = strokes[-1]
            print(f"block {b} {mode} stroke {k}: stall {s['max_stall_ms']} ms, draw median "
                  f"{np.median(draw_ms):.1f} max {max(draw_ms):.1f}, latency max {max(latency_ms):.1f}, "
                  f"brush interval max {max(interval_ms):.1f}, draws {len(draw_ms)}, "
                  f"measure {running}", flush=True)
        settle()  # the block's last measure ends before the next block
        if mode == "on":  # the measures shown after the block's last stroke: when, and of the mask on screen?
            from vessel_studio.gui import tasks

            after = [t for t in shown_at if t > t_release]
            fresh = tasks.measure_image(studio.project, review.image_id, layer.data > 0, fov=review._fov)
            shown = review.last_measures or {}
            same = all(shown.get(k) == v or (v != v and shown.get(k) != shown.get(k)) for k, v in fresh.items())
            finals.append({"block": b, "final_measures_after_s": round(after[-1] - t_release, 3) if after else None,
                           "shown_after_last_release": len(after), "final_equal_fresh": bool(same)})
            print("final measures:", finals[-1], flush=True)
            pump(1.0)  # the fresh measure's stall (GUI thread) is over before the next block's first stroke
    report["load_avg_end"] = os.getloadavg()
    report["measures_s"] = [round(d, 2) for _, d in measures]
    report["measures_outcome"] = outcomes
    report["measures_stopped"] = getattr(review._measurer, "stopped", None)
    report["final_measures"] = finals
    report["final_measures_after_s"] = [f["final_measures_after_s"] for f in finals]
    report["final_equal_fresh"] = all(f["final_equal_fresh"] for f in finals)
    report["measures_start_end_s"] = [(round(t0 - t_ref, 3), round(t0 + d - t_ref, 3)) for t0, d in measures]
    report["measure_gui_part_ms"] = [round(d, 1) for _, d in gui_part]
    report["measure_gui_part_at_s"] = [round(t0 - t_ref, 3) for t0, _ in gui_part]
    report["on"] = summary([s for s in strokes if s["mode"] == "on"])
    report["off"] = summary([s for s in strokes if s["mode"] == "off"])
    report["strokes"] = strokes
    text = json.dumps({k: v for k, v in report.items() if k != "strokes"}, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1))
        tmp.replace(args.out)
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
