"""How long the Vessel Studio window takes to build (``gui.app.make_viewer``), per phase, in fresh processes.

Each trial is a fresh Python process (the first window of a process is the one a user waits for): it writes the
sample project the GUI tests use (3 procedural 96×96 fundus images; not timed), then calls ``make_viewer(project,
show=True)`` and records its wall time and that of its phases (``import_engine``, ``napari.Viewer``, ``attach``),
the full (generation 2) garbage collections that ran in each phase (count and seconds, from ``gc.callbacks``), and
the time until the first ``processEvents`` after it returns. The window is then closed.

``--code A,B``: code trees to compare (each put first on ``PYTHONPATH``: a git worktree of another commit),
interleaved trial by trial; ``--labels`` names them in the output.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_window_build.py \\
        --code /path/to/worktree-before,. --labels before,after --trials 5 --out ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD = r'''
import gc, json, os, sys, tempfile, time
from pathlib import Path
os.environ.setdefault("QT_API", "pyside6")
phase = {"name": "before"}
gcs = {}
_t = {}
def cb(ph, info):
    if ph == "start":
        _t["t"] = time.perf_counter()
    elif info["generation"] == 2:
        n, s = gcs.get(phase["name"], (0, 0.0))
        gcs[phase["name"]] = (n + 1, s + time.perf_counter() - _t["t"])
gc.callbacks.append(cb)
from vessel_studio.samples import write_sample_project
tmp = Path(tempfile.mkdtemp())
write_sample_project(tmp / "proj", n=3, modality="fundus", shape=(96, 96), seed=5)
import napari
from vessel_studio.gui import app
times = {}
def timed(name, f):
    def g(*a, **k):
        phase["name"] = name
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - t
            phase["name"] = "make_viewer (rest)"
    return g
app.import_engine = timed("import_engine", app.import_engine)
napari.Viewer = timed("napari.Viewer", napari.Viewer)
app.attach = timed("attach", app.attach)
phase["name"] = "make_viewer (rest)"
t = time.perf_counter()
viewer, studio = app.make_viewer(tmp / "proj", show=True)
times["make_viewer"] = time.perf_counter() - t
phase["name"] = "first processEvents"
from qtpy.QtWidgets import QApplication
t = time.perf_counter()
QApplication.instance().processEvents()
times["first processEvents"] = time.perf_counter() - t
phase["name"] = "after"
ok = studio.panels["Review"].image_id == studio.project.images[0].id
studio._closing_ok = True
viewer.close()
print("RESULT " + json.dumps({"times": times, "gen2": gcs, "first_image_shown": ok,
                              "load": os.getloadavg()}))
'''


def trial(code: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(code).resolve()), os.environ.get("PYTHONPATH", "")]),
               QT_API="pyside6")
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"trial failed ({code}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", default=".", help="comma-separated code trees (PYTHONPATH), interleaved")
    ap.add_argument("--labels", default=None)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    codes = a.code.split(",")
    labels = a.labels.split(",") if a.labels else codes
    runs = {label: [] for label in labels}
    for i in range(a.trials):
        for code, label in zip(codes, labels):
            r = trial(code)
            runs[label].append(r)
            t = r["times"]
            print(f"{label:8s} trial {i}: make_viewer {t['make_viewer']:.2f} s (engine {t['import_engine']:.2f}, "
                  f"Viewer {t['napari.Viewer']:.2f}, attach {t['attach']:.2f}); first processEvents "
                  f"{t['first processEvents']:.2f}; gen2 {r['gen2']}; load {r['load'][0]:.2f}", flush=True)
    summary = {}
    for label, rs in runs.items():
        keys = rs[0]["times"].keys()
        summary[label] = {k: statistics.median(r["times"][k] for r in rs) for k in keys}
        summary[label]["gen2 seconds in make_viewer"] = statistics.median(
            sum(s for ph, (n, s) in r["gen2"].items() if ph not in ("before", "first processEvents", "after"))
            for r in rs)
        print(label, "medians:", {k: round(v, 3) for k, v in summary[label].items()})
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps({"codes": dict(zip(labels, codes)), "trials": a.trials, "runs": runs,
                                           "medians": summary, "machine": platform.node(),
                                           "cpus": os.cpu_count()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
