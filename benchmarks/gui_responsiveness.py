"""How responsive the Vessel Studio window stays while an adaptation round runs in its worker.

A QTimer fires every 10 ms on the GUI thread; the gap between consecutive ticks minus 10 ms is an
event-loop stall. The script opens the real window (run it under ``xvfb-run -a``), starts an
adaptation through the Adaptation panel exactly as the Run button does, and records stalls
until the job finishes; then, for reference, the same probe with no job running.

The adaptation is "cpu-ish": the ``cpu`` preset's model sizes (untrained source generator and
segmenter of the ``cpu`` sizes, so that every step costs what it costs in real use) with step
counts cut down so that one round takes a minute or two.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/gui_responsiveness.py \
        --out benchmarks/results/gui/responsiveness.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_sources(root: Path, *, preset: str):
    import torch

    from vessel_studio.adaptation import SourceBundle
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.samples import write_sample_images

    torch.manual_seed(0)
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    gen = Generator(config=GeneratorConfig.preset(preset), preprocessing=prep, conditioned=True)
    seg = Segmenter.create(SegmenterConfig() if preset != "tiny" else SegmenterConfig(channels=(8, 16)), prep)
    gen.save(root / "generator")
    seg.save(root / "segmenter")
    src = write_sample_images(root / "src", n=2, modality="fundus", seed=10, shape=(256, 256))
    return SourceBundle(segmenter=root / "segmenter", generator=root / "generator", modality="fundus",
                        images=list(zip(src.images, src.labels, src.fovs)))


class Probe:
    def __init__(self, interval_ms: int = 10):
        from qtpy.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self.last = None
        self.where = lambda: ""  # what the job is doing (for the list of worst stalls)
        self.worst: list[tuple[float, float, str]] = []
        self.t0 = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def tick(self):
        now = time.perf_counter()
        if self.last is not None:
            gap = now - self.last
            self.gaps.append(gap)
            if gap - self.interval > 0.05:
                self.worst.append((round((gap - self.interval) * 1000, 1), round(self.last - self.t0, 2), self.where()))
        self.last = now

    def start(self):
        self.gaps, self.last, self.worst, self.t0 = [], None, [], time.perf_counter()
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        stalls = np.maximum(np.asarray(self.gaps) - self.interval, 0.0) * 1000
        if stalls.size == 0:
            return {"ticks": 0}
        return {
            "ticks": int(stalls.size),
            "max_stall_ms": float(stalls.max()),
            "p99_stall_ms": float(np.percentile(stalls, 99)),
            "p95_stall_ms": float(np.percentile(stalls, 95)),
            "median_stall_ms": float(np.median(stalls)),
            "stalls_over_50ms": int((stalls > 50).sum()),
            "stalls_over_100ms": int((stalls > 100).sum()),
            "worst": sorted(self.worst, reverse=True)[:15],  # (stall ms, s after start, job stage then)
        }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--preset", default="cpu", choices=("tiny", "cpu"))
    ap.add_argument("--steps", type=int, default=40, help="generator and segmenter optimiser steps")
    ap.add_argument("--pairs", type=int, default=32, help="synthetic pairs")
    ap.add_argument("--images", type=int, default=4, help="target images (304x304 OCTA-like)")
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads of the job")
    args = ap.parse_args(argv)

    from qtpy.QtWidgets import QApplication

    from vessel_studio.adaptation import AdaptConfig
    from vessel_studio.gui.app import make_viewer
    from vessel_studio.samples import write_sample_project

    root = Path(tempfile.mkdtemp(prefix="vs-bench-"))
    t = time.perf_counter()
    bundle = make_sources(root, preset=args.preset)
    write_sample_project(root / "proj", n=args.images, modality="octa", seed=3)
    setup_s = time.perf_counter() - t

    viewer, studio = make_viewer(root / "proj")
    viewer.window._qt_window.resize(1400, 900)
    app = QApplication.instance()
    studio.source_bundle = bundle
    panel = studio.panels["Adaptation"]
    panel.preset.setCurrentText(args.preset)
    panel.rounds.setValue(0)
    panel.count.setValue(args.pairs)
    panel.overrides = {"gen_steps": args.steps, "seg_steps": args.steps, "threads": args.threads,
                       "synth_batch": 16}
    cfg = panel.config()

    probe = Probe(10)
    done = {}
    stages = set()
    current = {"stage": "starting"}

    def on_batch(batch):
        for e in batch:
            if hasattr(e, "step"):
                stages.add(e.stage)
                current["stage"] = f"{e.stage} r{e.round} {e.step}/{e.total}"

    studio.runner.events.connect(on_batch)
    probe.where = lambda: current["stage"]
    import gc

    gc_log = []
    gc_t = {}

    def gc_cb(phase, info):
        if phase == "start":
            gc_t["t"] = time.perf_counter()
        elif "t" in gc_t:
            dt = (time.perf_counter() - gc_t.pop("t")) * 1000
            if dt > 20:
                gc_log.append((round(dt, 1), info.get("generation")))

    gc.callbacks.append(gc_cb)
    studio.runner.finished.connect(lambda o: done.setdefault("outcome", o))

    # let the window finish its first paints and the background engine import, then the
    # idle reference
    t_end = time.perf_counter() + 5.0
    while time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.005)
    probe.start()
    t_end = time.perf_counter() + args.idle_seconds
    while time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.001)
    idle = probe.stop()

    # during the job: the Qt event loop runs normally (app.exec) until the job finishes
    from qtpy.QtCore import QEventLoop

    loop = QEventLoop()
    studio.runner.finished.connect(lambda _o: loop.quit())
    probe.start()
    t0 = time.perf_counter()
    panel.run()
    loop.exec()
    job_s = time.perf_counter() - t0
    busy = probe.stop()
    outcome = done["outcome"]
    load = os.getloadavg()

    from vessel_studio.device import peak_memory_mb

    result = {
        "command": "xvfb-run -a -s '-screen 0 1600x1000x24' python benchmarks/gui_responsiveness.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "target": "longest event-loop stall < 100 ms while a round runs",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_after": load},
        "job": {"status": outcome.status, "seconds": job_s, "events": outcome.events,
                "stages": sorted(stages), "config": {k: cfg.to_dict()[k] for k in (
                    "preset_name", "gen_steps", "seg_steps", "n_synthetic", "steps", "t0", "rounds", "threads",
                    "gen_crop", "seg_crop")},
                "error": None if outcome.error is None else repr(outcome.error)},
        "during_job": busy,
        "idle": idle,
        "setup_seconds": setup_s,
        # max RSS of the whole process: the napari window, the project and the job in its worker thread
        "peak_rss_mb": round(peak_memory_mb("cpu"), 1),
        "gc_pauses_over_20ms": gc_log,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    studio._closing_ok = True
    viewer.close()
    return 0 if outcome.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
