"""GUI-thread stalls around real user actions in the real window, on large projects (session 44).

A QTimer fires every 10 ms on the GUI thread; the gap between two ticks minus 10 ms is a stall of the event loop
(the window neither paints nor answers). Each action is called as its button or drop calls it (dialogs answered
yes), then the event loop is run until the jobs and workers it started have finished and one more second has
passed; the largest stall and the stalls over 100 ms are recorded, per action and repeat. ``--profile``: each
action once more with the GUI thread's Python stack sampled every 4 ms from another thread; the stacks sampled
during each of its three longest stalls over 100 ms are printed (where the GUI thread was; a stall inside C++ code
that holds the GIL, napari's and Qt's drawing, gets few samples, shown as the Python frame that called it, or none).

The projects (made once in ``--work``, reused after): ``big``, ``--images`` OCTA-500 scans and their rotations /
mirrors (``gui_many_images.py``'s project) with three rounds of maps (one map hard-linked for every image);
``octa``, the 140 OCTA-500 training scans with one round. ``add/``: 200 more rotations to add; ``src1000/``: 1,000
labelled source pairs (the OCTA-500 scans and labels under 1,000 names, symbolic links); ``adapted``, 10 OCTA-500
scans with one round whose manifest records ``src1000/`` as the source its rounds were adapted from (opening it
pairs those folders again: ``SourceChooser.restore_recorded``; opened again from ``octa`` with that source in use,
nothing is restored: the same opening without it). ``--hires DIR``: ``hires``, the 15-MP images of DIR
(``hires_data.py``'s ``png/``) with three rounds. The window opens on ``octa``; the actions then open ``big``, use
it and go back; open ``adapted``, go back, open it again, and go back with the source cleared; then the same as for
``big`` for ``hires``. Each repeat starts with three whole rounds in both (``reset_rounds``; ``--rounds N``: N, e.g. 9,
a cross-modality run's round 0 and 8 rounds). The actions' names are those of ``--only`` / ``--skip``. "Roll back
below an interrupted run's start" (session 46) leaves in ``big``'s ``work/`` what an adaptation killed in its round
after the latest left, having gone on from the latest round (a ``job.json`` and small files named as the model-scale
maps of every image in a few rounds' folders: ``leave_interrupted_work``), then rolls back as "Roll back one round"
does: the question says how much of ``work/`` the roll back deletes, and the roll back deletes it.

    python benchmarks/hires_data.py --out scratch/hires-data --chase 3 --drive 2 --tiff 0
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_stalls.py --work scratch/stalls \
        --hires scratch/hires-data/png --repeats 3 --skip "Export (masks, table)" --out scratch/stalls.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROUNDS = 3
#: the rounds' folders the interrupted run's ``work/`` holds ("Roll back below an interrupted run's start"): each the
#: model-scale maps of every image, the last one its full-resolution maps too (small files: a walk costs per file)
INTERRUPTED_ROUNDS = 4


def _octa(data: Path) -> list[tuple[Path, Path]]:
    from vessel_studio.io.datasets import dataset

    return [(s.image, s.label) for split in ("train", "test") for s in dataset(data, "OCTA-500", split)]


def _rotations(pairs, out: Path, n: int, ks) -> list[Path]:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k in ks:
        for f, _label in pairs:
            if len(files) >= n:
                return files
            a = np.rot90(np.asarray(Image.open(f)), k % 4)
            a = a[:, ::-1] if k >= 4 else a
            p = out / f"{Path(f).stem}_v{k}.png"
            Image.fromarray(np.ascontiguousarray(a)).save(p)
            files.append(p)
    return files


def commit_linked(folder: Path, index: int, scratch: Path) -> None:
    """Commit round ``index`` into the project at ``folder``: one random map per image shape, hard-linked for every
    image (``commit_round(link=True)``); run in a child process when the window is open (the watcher sees it)."""
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import Project, RoundRecord

    proj = Project.open(folder)
    src = scratch / f"r{index}-{time.time_ns()}"
    (src / "pseudo").mkdir(parents=True)
    rng, made = np.random.default_rng(index), {}
    for rec in proj.images:
        shape = tuple(rec.shape[:2])
        if shape not in made:
            made[shape] = write_prob(scratch / f"map-{shape[0]}x{shape[1]}-{index}.tif",
                                     rng.random(shape, dtype=np.float32), compress=True)
        os.link(made[shape], src / "pseudo" / f"{rec.id}.tif")
    proj.commit_round(src, RoundRecord(index=index, folder="", metrics={"vessel_fraction": 0.1}), link=True)
    shutil.rmtree(src)


def reset_rounds(folder: Path, work: Path, rounds: int = ROUNDS) -> None:
    """The project at ``folder`` back to ``rounds`` whole rounds (a roll back to no round, then the rounds committed
    again): each repeat starts alike (an earlier one pruned and rolled back rounds)."""
    from vessel_studio.store import Project

    proj = Project.open(folder)
    if len(proj.rounds) == rounds and all(r.pruned is None for r in proj.rounds):
        return
    if proj.rounds:
        proj.rollback(-1)
    for i in range(rounds):
        commit_linked(folder, i, work)


def leave_interrupted_work(folder: Path) -> int:
    """What an adaptation killed in its ``INTERRUPTED_ROUNDS``-th round left in ``work/``, having gone on from the
    project's latest round (``interrupted_job`` offers it for resuming; a roll back below that round gives it up and
    deletes it): its ``job.json``, and small files named as its maps: each round's ``pseudo-model/`` of every image,
    the last round's ``pseudo/`` too, and 16 synthesis chunks. Returns the number of files."""
    from vessel_studio.adaptation.config import AdaptConfig
    from vessel_studio.store import Project

    proj = Project.open(folder)
    base = proj.rounds[-1].index
    work = proj.work_dir
    shutil.rmtree(work, ignore_errors=True)
    ids, n = [r.id for r in proj.images], 0
    for k in range(INTERRUPTED_ROUNDS):
        last = k == INTERRUPTED_ROUNDS - 1
        for sub, ext in (("pseudo-model", ".npy"),) + ((("pseudo", ".tif"),) if last else ()):
            d = work / f"round-{base + 1 + k:03d}" / sub
            d.mkdir(parents=True)
            for i in ids:
                (d / f"{i}{ext}").write_bytes(bytes(4096))
                n += 1
    synth = work / f"round-{base + INTERRUPTED_ROUNDS:03d}" / "synth"
    synth.mkdir()
    for k in range(16):
        (synth / f"images-{k:04d}.npy").write_bytes(bytes(4096))
    config = AdaptConfig.preset("tiny", rounds=INTERRUPTED_ROUNDS + 1).to_dict()
    (work / "job.json").write_text(json.dumps({"key": "k", "base_round": base, "config": config}))
    return n + 17


def make_hires(images: Path, work: Path) -> None:
    """The ``hires`` project: the 15-MP images of ``images`` (``hires_data.py --out X`` writes them in ``X/png``)."""
    from vessel_studio.store import Project

    if not (work / "hires" / "project.json").is_file():
        shutil.rmtree(work / "hires", ignore_errors=True)
        proj = Project.create(work / "hires", modality="fundus")
        proj.add_images(sorted(p for p in images.iterdir() if p.suffix.lower() in (".png", ".jpg", ".tif")))


def make_work(data: Path, work: Path, n: int, rounds: int = ROUNDS) -> None:
    from vessel_studio.store import Project

    pairs = _octa(data)
    if not (work / "big" / "project.json").is_file():
        shutil.rmtree(work / "big", ignore_errors=True)
        files = _rotations(pairs, work / "imgs", n, range(5))
        proj = Project.create(work / "big", modality="octa")
        proj.add_images(files)
        for i in range(rounds):
            commit_linked(proj.folder, i, work)
    if not (work / "octa" / "project.json").is_file():
        from vessel_studio.io.datasets import dataset

        shutil.rmtree(work / "octa", ignore_errors=True)
        proj = Project.create(work / "octa", modality="octa")
        proj.add_images([s.image for s in dataset(data, "OCTA-500", "train")])
        commit_linked(proj.folder, 0, work)
    if not (work / "add").is_dir():
        _rotations(pairs, work / "add", 200, (5, 6, 7))
    if not (work / "src1000").is_dir():
        for sub in ("images", "masks"):
            (work / "src1000" / sub).mkdir(parents=True)
        for i in range(1000):
            img, lab = pairs[i % len(pairs)]
            os.symlink(Path(img).resolve(), work / "src1000" / "images" / f"s{i:04d}.png")
            os.symlink(Path(lab).resolve(), work / "src1000" / "masks" / f"s{i:04d}.png")
    if not (work / "adapted" / "project.json").is_file():
        from vessel_studio.adaptation.job import SourceBundle
        from vessel_studio.io.datasets import dataset

        shutil.rmtree(work / "adapted", ignore_errors=True)
        proj = Project.create(work / "adapted", modality="octa")
        proj.add_images([s.image for s in dataset(data, "OCTA-500", "train")][:10])
        commit_linked(proj.folder, 0, work)
        # its rounds "adapted" from src1000/ with the bundled models: the manifest records those folders
        proj.set_source(SourceBundle.from_folders(work / "src1000" / "images", work / "src1000" / "masks").identity())


class Sampler:
    """The GUI thread's Python stack, sampled every ``every`` s from another thread (``sys._current_frames``): what
    the thread was doing during each stall. A stall inside a C++ call that holds the GIL shows as the Python frame
    that called it."""

    def __init__(self, every: float = 0.004):
        import threading

        self.every, self.main = every, threading.main_thread().ident
        self.samples: list[tuple[float, tuple]] = []
        self.on = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            self.on.wait()
            frame = sys._current_frames().get(self.main)
            stack = []
            while frame is not None and len(stack) < 40:
                code = frame.f_code
                stack.append(f"{Path(code.co_filename).name}:{frame.f_lineno}({code.co_name})")
                frame = frame.f_back
            self.samples.append((time.perf_counter(), tuple(stack)))
            time.sleep(self.every)

    def start(self):
        self.samples = []
        self.on.set()

    def stop(self):
        self.on.clear()

    def during(self, begin: float, end: float, depth: int = 12) -> list[tuple[int, str]]:
        """The stacks sampled between ``begin`` and ``end`` (innermost first, ``depth`` frames, the probe's own frames
        left out), most common first, with their sample counts."""
        from collections import Counter

        count = Counter()
        for t, stack in self.samples:
            if begin <= t <= end:
                frames = [f for f in stack if not f.startswith(("gui_stalls.py", "threading.py"))]
                count[" < ".join(frames[:depth])] += 1
        return [(n, s) for s, n in count.most_common(3)]


class Probe:
    """Gaps between the ticks of a 10 ms QTimer on the GUI thread."""

    def __init__(self, interval_ms: int = 10):
        from qtpy.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self.spans: list[tuple[float, float]] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self):
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.spans.append((self.last, now))
        self.last = now

    def reset(self):
        self.gaps, self.spans, self.last = [], [], time.perf_counter()

    def worst(self, n: int = 3, over: float = 0.1) -> list[tuple[float, float, float]]:
        """The ``n`` longest gaps over ``over`` s: (stall ms, began, ended)."""
        found = [(round((b - a - self.interval) * 1000, 1), a, b) for a, b in self.spans
                 if b - a - self.interval > over]
        return sorted(found, reverse=True)[:n]

    def result(self) -> dict:
        self.tick()  # an action still blocking at the end counts too
        stalls = np.maximum(np.asarray(self.gaps) - self.interval, 0.0) * 1000
        return {"max_ms": round(float(stalls.max()), 1), "over_100ms": int((stalls > 100).sum()),
                "stalled_s_over_100ms": round(float(stalls[stalls > 100].sum()) / 1000, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VESSEL_STUDIO_DATA", "../shared/data")))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="the whole rounds 'big' and 'hires' start each repeat "
                    "with (default 3; 9: a cross-modality run's round 0 and 8 rounds)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="action names separated by ';', run in the script's order (default: "
                    "all; name the projects' opening too)")
    ap.add_argument("--skip", default="", help="action names separated by ';' left out (e.g. the Export's 4 min)")
    ap.add_argument("--profile", action="store_true",
                    help="one more run of each action with the GUI thread's stack sampled: where each stall was")
    ap.add_argument("--hires", type=Path, default=None,
                    help="a folder of 15-MP images (benchmarks/hires_data.py's png/): a project of them is opened too")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.data / "OCTA-500").is_dir():
        print(f"SKIPPED: no OCTA-500 at {args.data}")
        return 0
    work = args.work.resolve()
    t = time.perf_counter()
    make_work(args.data, work, args.images, args.rounds)
    if args.hires:
        make_hires(args.hires, work)
    for name in ("big", "hires"):
        if (work / name / "project.json").is_file():
            reset_rounds(work / name, work, args.rounds)
    print(f"work folder ready in {time.perf_counter() - t:.1f} s", flush=True)

    from qtpy.QtCore import QThreadPool
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import dialogs
    from vessel_studio.gui.app import make_viewer
    said: list[str] = []
    dialogs.error = lambda parent, title, text: said.append(f"error: {title}: {text}")
    dialogs.info = lambda parent, title, text: said.append(f"info: {title}")
    dialogs.confirm = lambda parent, title, text: True
    dialogs.save_discard_cancel = lambda parent, title, text: "discard"

    viewer, studio = make_viewer(work / "octa")
    app = QApplication.instance()
    probe = Probe()
    pool = QThreadPool.globalInstance()
    sampler = Sampler() if args.profile else None
    panels = studio.panels
    adapt, project_panel, review, export = (panels["Adaptation"], panels["Project"], panels["Review"],
                                            panels["Export"])
    source = adapt.source  # the "Labelled source images" box

    def pump(seconds: float):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)

    def settle(limit: float = 120.0, after: float = 1.0, until=None):
        end = time.perf_counter() + limit
        while time.perf_counter() < end:
            pump(0.05)
            done = until is None or until()  # asked at each turn: ``all_thumbs`` notes when it first holds
            busy = studio.runner.running or studio.io_runner.running or pool.activeThreadCount()
            if not busy and done:
                break
        pump(after)

    marks: dict[str, float] = {}

    def all_thumbs() -> bool:
        """Every image's thumbnail is in the list; the first time, the moment is kept (the action's ``thumbs_s``)."""
        done = len(project_panel._thumbs) >= len(studio.project.images)
        if done:
            marks.setdefault("thumbs", time.perf_counter())
        return done

    def forget_thumbs():
        """The Project panel as a fresh window's: no thumbnail made yet, no row (the panel keeps thumbnails by image
        id for the window's life: without this only the first repeat made the 1,000 thumbnails, the others found
        them all at once, 0.3 s)."""
        for name in ("_thumbs", "_thumbs_asked", "_thumb_errors"):
            getattr(project_panel, name).clear()
        project_panel._items = {}

    def open_big():
        forget_thumbs()
        studio.open_project(work / "big")
        settle(until=all_thumbs)

    def open_octa():
        studio.open_project(work / "octa")
        settle(until=all_thumbs)

    def step():
        for _ in range(5):
            review.next()
            pump(0.5)
        settle()

    def list_rebuilt():
        project_panel._items = {}  # the list made again, as an image added or removed does
        project_panel.refresh()
        settle()

    def add200():
        studio.add_images(sorted((work / "add").iterdir()))
        settle()

    def remove200():
        names = {p.name for p in (work / "add").iterdir()}
        ids = [r.id for r in studio.project.images if r.name in names]
        studio.remove_images(ids)
        settle()

    def source_drive():
        source._pair(args.data / "DRIVE" / "training" / "images", args.data / "DRIVE" / "training" / "1st_manual")
        settle()

    def source_1000():
        source._pair(work / "src1000" / "images", work / "src1000" / "masks")
        settle()

    def open_adapted():
        studio.open_project(work / "adapted")
        settle(until=lambda: not getattr(source, "restoring", False)
               and len(project_panel._thumbs) >= len(studio.project.images))
        if studio.source_bundle is None or len(studio.source_bundle.images) != 1000:
            said.append(f"error: the source of {work / 'adapted'} was not restored: {source.label.text()}")

    def reopen_adapted():  # the same opening without the restore: the recorded source is the one in use
        studio.open_project(work / "adapted")
        settle(until=lambda: len(project_panel._thumbs) >= len(studio.project.images))
        if studio.source_bundle is None or source.label.text().count("Restoring"):
            said.append(f"error: {work / 'adapted'} opened again without its source in use")

    def leave_adapted():
        studio.source_bundle = None  # the next repeat restores it again
        open_octa()

    def commit_outside():
        n = len(studio.project.rounds)
        index = max(r.index for r in studio.project.rounds) + 1 if n else 0
        code = ("import sys; sys.path.insert(0, sys.argv[3]); from gui_stalls import commit_linked; "
                "from pathlib import Path; commit_linked(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[4]))")
        child = subprocess.Popen([sys.executable, "-c", code, str(studio.project.folder), str(index),
                                  str(Path(__file__).resolve().parent), str(work)])
        settle(limit=180, until=lambda: child.poll() is not None and len(studio.project.rounds) > n)

    def rollback():
        adapt.keep_round.setCurrentIndex(adapt.keep_round.count() - 1)  # the latest-but-one
        adapt.rollback()
        settle()

    def rollback_interrupted():  # the question's size of work/ (``AdaptPanel._gives_up_note``), then the roll back
        rollback()
        if (studio.project.work_dir / "job.json").exists():
            said.append(f"error: the interrupted run's work in {studio.project.work_dir} was not deleted")

    def adapt_refresh():
        studio.project_changed.emit()
        settle()

    def free_disk():
        adapt.free_disk()
        settle()

    def export_all():
        dest = work / "export"
        shutil.rmtree(dest, ignore_errors=True)
        export.export_to(dest)
        settle(limit=300)

    def open_hires():
        studio.open_project(work / "hires")
        settle(until=all_thumbs)

    # each repeat: the big project opened, used, and left; then the 15-MP one (``--hires``)
    actions = [("open 1000-image project", open_big), ("step 5 images", step),
               ("Project list made again", list_rebuilt), ("add 200 images", add200),
               ("remove 200 images", remove200), ("source: DRIVE training", source_drive),
               ("source: 1,000 pairs", source_1000), ("Adaptation refresh (project_changed)", adapt_refresh),
               ("round committed outside (watcher)", commit_outside), ("Roll back one round", rollback),
               ("round committed outside again", commit_outside),
               ("Roll back below an interrupted run's start", rollback_interrupted), ("Free disk…", free_disk),
               ("Export (masks, table)", export_all), ("switch to the 140-image project", open_octa),
               ("open a project adapted from 1,000 pairs", open_adapted),
               ("switch to the 140-image project (the source kept)", open_octa),
               ("open it again (its source in use: nothing restored)", reopen_adapted),
               ("leave it (source cleared)", leave_adapted)]
    if args.hires:
        actions += [("open the 15-MP project", open_hires), ("15-MP: step 5 images", step),
                    ("15-MP: Adaptation refresh", adapt_refresh), ("15-MP: round committed outside", commit_outside),
                    ("15-MP: Roll back one round", rollback), ("15-MP: Free disk…", free_disk),
                    ("15-MP: switch to the 140-image project", open_octa)]
    #: made before the action, outside its timing
    setups = {"Roll back below an interrupted run's start": lambda: leave_interrupted_work(studio.project.folder)}
    only = {s.strip() for s in args.only.split(";") if s.strip()}
    skip = {s.strip() for s in args.skip.split(";") if s.strip()}
    results: dict[str, list[dict]] = {}
    pump(2.0)
    for rep in range(args.repeats + (1 if args.profile else 0)):
        profiled = args.profile and rep == args.repeats
        for name, action in actions:
            if only and name not in only:
                continue
            if name in skip:
                continue
            if name in setups:
                setups[name]()
            pump(0.3)
            probe.reset()
            t0 = time.perf_counter()
            if profiled:
                sampler.start()
            action()
            res = probe.result()
            res["s"] = round(time.perf_counter() - t0, 2)
            if "thumbs" in marks:  # an opening: until its last thumbnail was in the list
                res["thumbs_s"] = round(marks.pop("thumbs") - t0, 2)
            if not profiled:
                results.setdefault(name, []).append(res)
                print(f"[{rep}] {name}: {res}", flush=True)
            else:
                sampler.stop()
                for ms, a, b in probe.worst():
                    print(f"\n=== {name}: stall {ms} ms at {a - t0:.2f} s ===", flush=True)
                    for n, stack in sampler.during(a, b):
                        print(f"  {n} samples: {stack}", flush=True)
        for name in ("big", "hires"):  # the next repeat starts as this one did (the window is on ``octa``)
            if (work / name / "project.json").is_file():
                reset_rounds(work / name, work, args.rounds)
    summary = {name: {"max_ms_median": statistics.median(r["max_ms"] for r in rs),
                      "max_ms_runs": [r["max_ms"] for r in rs],
                      "over_100ms_median": statistics.median(r["over_100ms"] for r in rs),
                      "over_100ms_runs": [r["over_100ms"] for r in rs],
                      "stalled_s_over_100ms_median": statistics.median(r["stalled_s_over_100ms"] for r in rs),
                      "stalled_s_over_100ms_runs": [r["stalled_s_over_100ms"] for r in rs],
                      "s_median": statistics.median(r["s"] for r in rs),
                      **({"thumbs_s_median": statistics.median(r["thumbs_s"] for r in rs),
                          "thumbs_s_runs": [r["thumbs_s"] for r in rs]}
                         if all("thumbs_s" in r for r in rs) else {})} for name, rs in results.items()}
    out = {"images": args.images, "repeats": args.repeats, "actions": summary, "dialogs": said[-20:],
           "loadavg_end": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    pool.waitForDone(60000)
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
