"""How long the Vessel Studio window's event loop stalls right after a background job starts.

Each trial is a fresh process (the first job in a process is the one that pays one-time costs):
it opens the real window (``make_viewer``) on a copy of a small project of real images, lets it
settle, runs a 10 ms ``QTimer`` probe on the GUI thread (a *stall* is the gap between two ticks
minus 10 ms), starts one job exactly as its panel does, and records the largest stall in the
first ``--window`` seconds after the start call, the start call's own duration, and the largest
stall of an idle window before the start (same process, same probe) for reference. The job is
then cancelled. A sampler thread records the Python stacks of all threads whenever the GUI thread
has not ticked for 80 ms (``--stacks``), to see what the worker was doing meanwhile.

Jobs (``--jobs``): ``add`` (Project panel: add 4 images, ``Studio.add_images``), ``segment``
(Review panel: "Segment with bundled model", ``ReviewPanel.segment_missing``), ``adapt``
(Adaptation panel: Run, ``AdaptPanel.run``), ``adapt-held`` (the same Run while a terminal's real
``vessel-studio adapt --preset tiny`` process holds the project: started after the window settled, the
click once it holds the job lock; the job is refused; ``--terminal-nice N`` starts it under ``nice -n N``), ``export`` (``ExportPanel.export_to``), ``order``
(Review panel: "most uncertain first"), ``open`` (not a job: ``Studio.open_project`` of the 4-image
project from a window started without a project, which shows its first image at once).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_job_start.py \
        --jobs add,segment,adapt --variants before,after --trials 5 \
        --out benchmarks/results/gui/job-start.json

``--variants before`` runs the window without ``gui.app.import_engine`` (as before it existed),
``no-diffusers`` without diffusers in ``gui.app.ENGINE_IMPORTS``, ``layers-on-demand`` with the
Review panel's layers made when the first image is shown (``review_layers.ensure`` skipped,
``warm_up`` below run before the panels, as before the layers were made with the panel); the
variants' trials are interleaved. Results and what they showed: ``benchmarks/results/gui/README.md``, "Job start".

Images (``--count``, default 4): the first 4 of ``/work/shared/data/DRIVE/training/images`` (read only; ``--data``), in a
fundus project; ``--images octa``: the first 4 of OCTA-500's ``OCTA500_3M_test_images`` (gray), in
an OCT-A project.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _gui  # noqa: E402  (benchmarks/_gui.py: the GUI scripts' event-loop helpers)

JOBS = ("add", "segment", "adapt", "adapt-held", "export", "order", "open")


#: the images used (``--images``): folder under ``--data`` and the project's modality
IMAGE_SETS = {"drive": ("DRIVE/training/images", "fundus"),
              "octa": ("OCTA-500/Testing/OCTA500_3M_test_images", "octa")}
IMAGES = "drive"



def warm_up(viewer) -> None:
    """The ``layers-on-demand`` variant's window build (``gui.app.make_viewer`` before session 23):
    napari's first layer of each kind added and removed at once, paying its one-time costs before
    the first image, whose five layers were then made on the GUI thread."""
    import numpy as np

    if len(viewer.layers):
        return
    layers = [
        viewer.add_image(np.zeros((8, 8, 3), np.uint8), rgb=True, name="warm-up rgb"),
        viewer.add_image(np.zeros((8, 8), np.float32), colormap="magma", blending="additive",
                         contrast_limits=(0, 1), name="warm-up map"),
        viewer.add_labels(np.zeros((8, 8), np.uint8), name="warm-up mask"),
    ]
    for layer in layers:
        viewer.layers.remove(layer)

def modality() -> str:
    return IMAGE_SETS[IMAGES][1]


def images(data: Path, n: int) -> list[Path]:
    files = sorted((data / IMAGE_SETS[IMAGES][0]).glob("*.*"))[:n]
    if len(files) < n:
        raise SystemExit(f"{data}: fewer than {n} images in {IMAGE_SETS[IMAGES][0]}")
    return files


def make_template(root: Path, data: Path, n: int) -> Path:
    """A project with ``n`` of the ``--images`` added (made once, copied per trial; ``--count``)."""
    from vessel_studio.events import run
    from vessel_studio.store import Project

    folder = root / "template"
    proj = Project.create(folder, modality=modality(), name="job-start")
    run(proj.add_images_job(images(data, n)), lambda e: None)
    return folder


# --- one trial (child process) -------------------------------------------------------------

def trial(job: str, template: Path, data: Path, *, window: float, settle: float, stacks: bool,
          worker_nice: int | None, import_engine: bool, skip_imports: tuple = (),
          layers_on_demand: bool = False, real_dialogs: bool = False, terminal_nice: int = 0) -> dict:
    import sys as _sys
    import threading
    import traceback

    import numpy as np
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import dialogs, jobs

    if not real_dialogs:
        dialogs.error = lambda *a, **k: print("DIALOG", a[1:], file=_sys.stderr)
    dialogs.confirm = lambda *a, **k: True
    if worker_nice is not None:
        jobs.WORKER_NICE = worker_nice
    from vessel_studio.gui import app as app_module
    from vessel_studio.gui.app import make_viewer

    if not import_engine:  # the build before the change: the first job imports the engine
        app_module.import_engine = lambda: []
    if skip_imports:  # e.g. diffusers left to the first adaptation
        app_module.ENGINE_IMPORTS = tuple(e for e in app_module.ENGINE_IMPORTS if e[0] not in skip_imports)
    if layers_on_demand:  # the build before the Review panel made its layers: warm_up, then layers on the first image
        from vessel_studio.gui import review_layers

        review_layers.ensure = lambda viewer, **kw: None
        attach = app_module.attach

        def warm_then_attach(viewer, **kw):
            warm_up(viewer)
            return attach(viewer, **kw)

        app_module.attach = warm_then_attach
    from vessel_studio.store import Project

    work = Path(tempfile.mkdtemp(prefix="vs-jobstart-"))
    try:
        if job == "add":
            proj_dir = work / "proj"
            Project.create(proj_dir, modality=modality(), name="job-start")
        elif job == "open":
            shutil.copytree(template, work / "proj")
            proj_dir = None  # the window starts without a project
        else:
            proj_dir = work / "proj"
            shutil.copytree(template, proj_dir)
        t = time.perf_counter()
        viewer, studio = make_viewer(proj_dir)
        build_s = time.perf_counter() - t
        viewer.window._qt_window.resize(1400, 900)
        app = QApplication.instance()

        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        samples: list[dict] = []
        main_id = threading.main_thread().ident
        t_start = {"t": None}
        stop = threading.Event()

        def sampler():
            seen = None
            while not stop.is_set():
                time.sleep(0.01)
                last = ticks[-1] if ticks else None
                now = time.perf_counter()
                if last is None or last == seen or now - last < 0.08:
                    continue
                seen = last
                frames = _sys._current_frames()
                names = {th.ident: th.name for th in threading.enumerate()}
                rec = {"lag_ms": round((now - last) * 1000), "at_s": None if t_start["t"] is None else
                       round(last - t_start["t"], 3), "threads": {}}
                for ident, frame in frames.items():
                    if ident == threading.get_ident():
                        continue
                    who = "main" if ident == main_id else names.get(ident, str(ident))
                    rec["threads"][who] = [ln.strip() for ln in traceback.format_stack(frame)[-40:]]
                samples.append(rec)

        pump = functools.partial(_gui.pump, app, sleep=0.002)

        def worst(t_from: float, t_to: float) -> tuple[float, float]:
            """The largest stall between two times, and when it began (s after ``t_from``)."""
            arr = np.asarray([t for t in ticks if t_from <= t <= t_to])
            if arr.size < 2:
                return float("nan"), float("nan")
            gaps = np.diff(arr)
            k = int(gaps.argmax())
            return float((gaps[k] - 0.010) * 1000), float(arr[k] - t_from)

        def long_stalls(t_from: float, t_to: float) -> list:
            """(s after the start call, stall ms) of every stall over 50 ms."""
            arr = np.asarray([t for t in ticks if t_from <= t <= t_to])
            gaps = np.diff(arr) - 0.010
            return [(round(float(arr[k] - t0), 3), round(float(g) * 1000, 1)) for k, g in enumerate(gaps) if g > 0.05]

        terminal = None
        if job == "adapt-held":  # a terminal's adaptation of the same folder, a real process
            nice = ["nice", "-n", str(terminal_nice)] if terminal_nice else []
            terminal = subprocess.Popen(nice + [_sys.executable, "-m", "vessel_studio", "adapt", str(proj_dir), "--preset",
                                                "tiny", "--rounds", "3", "--quiet"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        timer.start()
        if real_dialogs:  # an error dialog is shown as in the app (modal, its own event loop) and closed after 1 s
            closer = QTimer()
            closer.setInterval(1000)
            closer.timeout.connect(lambda: (w := QApplication.activeModalWidget()) is not None and w.close())
            closer.start()
        if stacks:
            threading.Thread(target=sampler, daemon=True, name="sampler").start()
        pump(settle)
        if terminal is not None:
            held_by = time.perf_counter() + 120
            while not studio.project.job_running():
                if terminal.poll() is not None or time.perf_counter() > held_by:
                    raise RuntimeError(f"the terminal's adapt never held the project: {terminal.stderr.read()[-2000:]}")
                pump(0.1)
        t_idle = time.perf_counter()
        pump(window)
        idle_ms, _ = worst(t_idle, time.perf_counter())

        proj = studio.project
        if job == "add":
            start = lambda: studio.add_images(images(data, 4))  # noqa: E731
            runner = studio.io_runner
        elif job == "segment":
            start = studio.panels["Review"].segment_missing
            runner = studio.runner
        elif job in ("adapt", "adapt-held"):
            panel = studio.panels["Adaptation"]
            panel.preset.setCurrentText("cpu")
            panel.rounds.setValue(0)
            start = panel.run
            runner = studio.runner
        elif job == "export":
            start = lambda: studio.panels["Export"].export_to(work / "export")  # noqa: E731
            runner = studio.runner
        elif job == "order":
            start = lambda: studio.panels["Review"].queue.setCurrentIndex(1)  # noqa: E731
            runner = studio.runner
        elif job == "open":
            start = lambda: studio.open_project(work / "proj")  # noqa: E731
            runner = studio.io_runner  # none runs: the call itself is the stall
        else:
            raise ValueError(job)
        assert proj is not None or job == "open"
        before = set(_sys.modules)
        t_start["t"] = t0 = time.perf_counter()
        started = start()
        call_ms = (time.perf_counter() - t0) * 1000
        ended = {}
        if runner.worker is not None:  # the job's generator returned (before the GUI's finished handlers)
            runner.worker.returned.connect(lambda _v: ended.setdefault("t", time.perf_counter()))
        pump(window)
        t_end = time.perf_counter()
        start_ms, at = worst(t0 - 0.02, t_end)  # the tick before the call .. the window's end
        ended_in_window = not runner.running
        new = sorted(set(_sys.modules) - before)
        new_top = sorted({m.split(".")[0] for m in new})
        runner.cancel()
        deadline = time.perf_counter() + 120
        while runner.running and time.perf_counter() < deadline:
            pump(0.1)
        stop.set()
        timer.stop()
        starts = [s for s in samples if s["at_s"] is not None and -0.05 <= s["at_s"] <= window]
        result = {
            "job": job, "started": bool(started), "window_build_s": round(build_s, 3),
            "idle_max_stall_ms": round(idle_ms, 1), "start_max_stall_ms": round(start_ms, 1),
            "start_call_ms": round(call_ms, 1), "job_ended_in_window": ended_in_window,
            "stall_at_s": round(at - 0.02, 3), "stalls_over_50ms": long_stalls(t0 - 0.02, t_end), "job_end_s": round(ended["t"] - t0, 3) if "t" in ended else None,
            "loadavg": os.getloadavg(), "stacks": starts[:6],
            # modules first imported after the start call, in the window (the job's own imports)
            "new_modules": len(new), "new_packages": new_top,
        }
        if terminal is not None:
            result["terminal_still_running"] = terminal.poll() is None
            terminal.kill()
            terminal.wait()
        studio._closing_ok = True
        viewer.close()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- driver ------------------------------------------------------------------------------

def summarize(rows: list[dict], key: str) -> dict:
    vals = [r[key] for r in rows if r.get(key) == r.get(key)]
    if not vals:
        return {}
    return {"n": len(vals), "median": round(statistics.median(vals), 1), "max": round(max(vals), 1),
            "min": round(min(vals), 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="add,segment,adapt,export")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--window", type=float, default=2.0, help="seconds after the start call")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds of events after the window is built")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--images", choices=sorted(IMAGE_SETS), default="drive",
                    help="DRIVE training images in a fundus project, or OCTA-500 (gray) in an OCT-A project")
    ap.add_argument("--count", type=int, default=4, help="images in the project")
    ap.add_argument("--stacks", action="store_true", help="sample all threads' stacks on GUI-thread lags > 80 ms")
    ap.add_argument("--worker-nice", type=int, default=None, help="override gui.jobs.WORKER_NICE (experiment)")
    ap.add_argument("--variants", default="after",
                    help="comma list of 'after' (make_viewer as it is: gui.app.import_engine before the window), "
                         "'before' (import_engine skipped: the first job imports the engine) and "
                         "'no-diffusers' (import_engine without diffusers, left to the first adaptation), "
                         "'no-tifffile' (import_engine without tifffile, as before session 31), "
                         "'layers-on-demand' (the Review panel's layers made on the first image, after warm_up); "
                         "trials of the variants are interleaved")
    ap.add_argument("--real-dialogs", action="store_true",
                    help="error dialogs shown (modal, closed after 1 s) instead of printed")
    ap.add_argument("--terminal-nice", type=int, default=0,
                    help="adapt-held: start the terminal's adapt under `nice -n N` (0: as a user types it)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--_trial", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_template", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_no_import_engine", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_skip_imports", default="", help=argparse.SUPPRESS)
    ap.add_argument("--_layers_on_demand", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    global IMAGES
    IMAGES = args.images

    if args._trial:
        res = trial(args._trial, args._template, args.data, window=args.window, settle=args.settle,
                    stacks=args.stacks, worker_nice=args.worker_nice, import_engine=not args._no_import_engine,
                    skip_imports=tuple(m for m in args._skip_imports.split(",") if m),
                    layers_on_demand=args._layers_on_demand, real_dialogs=args.real_dialogs,
                    terminal_nice=args.terminal_nice)
        print("RESULT " + json.dumps(res))
        return 0

    jobs = [j for j in args.jobs.split(",") if j]
    bad = [j for j in jobs if j not in JOBS]
    if bad:
        ap.error(f"unknown job(s) {bad}; choose from {JOBS}")
    variants = [v for v in args.variants.split(",") if v]
    if not variants or set(variants) - {"before", "after", "no-diffusers", "no-tifffile", "layers-on-demand"}:
        ap.error("--variants: from 'before', 'after', 'no-diffusers', 'no-tifffile', 'layers-on-demand'")
    root = Path(tempfile.mkdtemp(prefix="vs-jobstart-tpl-"))
    template = make_template(root, args.data, args.count)
    rows: list[dict] = []
    try:
        for k in range(args.trials):
            for job in jobs:  # interleaved, so that load from other processes hits every job and variant alike
                for variant in variants:
                    cmd = [sys.executable, __file__, "--_trial", job, "--_template", str(template),
                           "--data", str(args.data), "--window", str(args.window), "--settle", str(args.settle),
                           "--images", args.images]
                    if args.stacks:
                        cmd.append("--stacks")
                    if args.real_dialogs:
                        cmd.append("--real-dialogs")
                    if args.terminal_nice:
                        cmd += ["--terminal-nice", str(args.terminal_nice)]
                    if variant == "before":
                        cmd.append("--_no_import_engine")
                    elif variant == "no-diffusers":
                        cmd.append("--_skip_imports=diffusers")
                    elif variant == "no-tifffile":
                        cmd.append("--_skip_imports=tifffile")
                    elif variant == "layers-on-demand":
                        cmd.append("--_layers_on_demand")
                    if args.worker_nice is not None:
                        cmd += ["--worker-nice", str(args.worker_nice)]
                    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
                    if proc.returncode != 0 or not line:
                        print(proc.stderr[-3000:], file=sys.stderr)
                        rows.append({"job": job, "variant": variant, "trial": k, "error": proc.returncode})
                        continue
                    row = json.loads(line[-1][7:])
                    row["trial"], row["variant"] = k, variant
                    rows.append(row)
                    print(f"trial {k} {job:8s} {variant:6s} stall {row['start_max_stall_ms']:7.1f} ms at "
                          f"{row['stall_at_s']:5.2f} s (job returned {row['job_end_s']} s)  call "
                          f"{row['start_call_ms']:5.1f} ms  idle {row['idle_max_stall_ms']:5.1f} ms  "
                          f"build {row['window_build_s']:.2f} s  load {row['loadavg'][0]:.2f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary: dict = {}
    for variant in variants:
        for job in jobs:
            ok = [r for r in rows if r["job"] == job and r["variant"] == variant and "error" not in r]
            summary.setdefault(variant, {})[job] = {key: summarize(ok, key) for key in (
                "start_max_stall_ms", "start_call_ms", "idle_max_stall_ms", "window_build_s")}
    result = {
        "command": "xvfb-run -a -s '-screen 0 1600x1000x24' .venv/bin/python benchmarks/gui_job_start.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "what": f"largest GUI-thread stall (10 ms QTimer) from the tick before a job's start call to "
                f"{args.window} s after it; one fresh process per trial",
        "variants": {"after": "make_viewer as it is: the engine imported (gui.app.import_engine) before the "
                              "window, the Review panel's layers made (hidden) with the panel",
                     "layers-on-demand": "the Review panel's layers made when the first image is shown "
                                         "(review_layers.ensure skipped; warm_up before the panels)",
                     "before": "import_engine skipped: the first job imports torch / diffusers / skimage",
                     "no-diffusers": "import_engine without diffusers (imported by the first adaptation)",
                     "no-tifffile": "import_engine without tifffile (as before session 31: the first map read imports it)"},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "shared 2-core machine, other sessions' work running; loadavg per trial"},
        "summary": summary,
        "trials": rows,
    }
    for variant, per_job in summary.items():
        for job, s in per_job.items():
            st = s["start_max_stall_ms"]
            if st:
                print(f"{variant:6s} {job:8s} stall median {st['median']} max {st['max']} ms (n={st['n']}); "
                      f"idle median {s['idle_max_stall_ms'].get('median')} ms; "
                      f"window build median {s['window_build_s'].get('median')} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
