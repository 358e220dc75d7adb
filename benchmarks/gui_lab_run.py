"""One lab's run of the GUI path, end to end: DRIVE's labelled training images -> OCTA-500.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/gui_lab_run.py --work WORK --out OUT
        [--preset cpu] [--targets N] [--tests N] [--stop-at HH:MM] [--data ../shared/data]

Drives the real Vessel Studio window (``gui.app.make_viewer``; dialogs replaced by scripted
answers) through what a lab does:

1. Project panel: a new OCT-A project in WORK/project; "Add images…" with the OCTA-500 training
   images the benchmark adapts to (``io.datasets.dataset(data, "OCTA-500", "train")``, images only).
2. Adaptation panel, "Labelled source images": "Choose images…" DRIVE/training/images, "Choose
   masks…" DRIVE/training/1st_manual (``SourceChooser.choose_images`` / ``choose_masks`` with
   ``dialogs.pick_folder`` answered). No FOV folder is chosen (the box took none before session
   23's 892afb7, and the runs keep that setting): the source images' FOVs are estimated.
3. The panel's defaults (preset cpu, Rounds auto), "Run adaptation", wait for the job (the Qt event
   loop runs; a 10 ms QTimer measures event-loop stalls per stage). With ``--stop-at`` (UTC) the
   panel's Cancel is pressed at that time; the project keeps the rounds it committed.
4. Only then the target labels: every committed round's segmenter (``commands.segment.
   resolve_segmenter_path(PROJECT, K)``, as ``vessel-studio segment --model PROJECT --round K``),
   the bundled fundus segmenter as it is (``--modality octa``) and re-normalised on the same target
   images by the CLI (``vessel-studio renormalize``), each scored on the OCTA-500 test split with
   the benchmark's scorer (``adaptation.benchmark._score_segmenter``: threshold 0.5, whole image).
   The label-free pick (``selection.review_pick``, the panel's hint; ``select_round``, the
   benchmarks' pre-registered row) is read from the project's round metrics.

Needs an X display (``xvfb-run``): with ``QT_QPA_PLATFORM=offscreen`` napari's canvas has no
OpenGL context and the window fails to build (``get_gl_extensions``: 'NoneType' has no 'decode').
Writes OUT/lab-run-drive-octa500.{json,md}. ``--preset tiny --targets 8 --tests 4`` is the smoke test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
import _gui  # noqa: E402  (benchmarks/_gui.py: the GUI scripts' event-loop helpers)
T0 = time.perf_counter()
LOG: list[str] = []


def say(*a) -> None:
    line = f"[{time.strftime('%H:%M:%S', time.gmtime())} +{time.perf_counter() - T0:7.1f}s] " + " ".join(map(str, a))
    print(line, flush=True)
    LOG.append(line)


class RssSampler:
    """Peak resident memory, sampled every 0.25 s, with the stage it happened in."""

    def __init__(self):
        self.peak, self.where, self.peak_where = 0.0, "start", ""
        self.by_where: dict[str, float] = {}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            r, w = _gui.rss_mb(), self.where
            self.by_where[w] = max(self.by_where.get(w, 0.0), r)
            if r > self.peak:
                self.peak, self.peak_where = r, w
            time.sleep(0.25)


class StallProbe:
    """A 10 ms QTimer: how late each tick comes is how long the event loop was blocked."""

    def __init__(self):
        from qtpy.QtCore import QTimer

        self.ticks: list[tuple[float, float, str]] = []  # (time, stall ms, where)
        self.last = None
        self.where = "idle"
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self):
        now = time.perf_counter()
        if self.last is not None:
            self.ticks.append((now, max(now - self.last - 0.010, 0.0) * 1000, self.where))
        self.last = now

    @staticmethod
    def _stats(rows) -> dict:
        if not rows:
            return {"ticks": 0}
        v = np.array([x[1] for x in rows])
        worst = sorted(rows, key=lambda x: -x[1])[:5]
        return {"ticks": len(rows), "max_ms": round(float(v.max()), 1), "p99_ms": round(float(np.percentile(v, 99)), 1),
                "over_100ms": int((v > 100).sum()), "over_200ms": int((v > 200).sum()),
                "worst": [(round(w[1], 1), round(w[0] - T0, 1), w[2]) for w in worst]}

    def stats(self, t0: float, t1: float) -> dict:
        return self._stats([x for x in self.ticks if t0 <= x[0] < t1])

    def per_where(self, t0: float, t1: float) -> dict:
        groups: dict[str, list] = {}
        for x in self.ticks:
            if t0 <= x[0] < t1:
                groups.setdefault(x[2], []).append(x)
        return {k: self._stats(v) for k, v in groups.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=None, help="work folder (the project is WORK/project; must not exist yet)")
    ap.add_argument("--out", required=True, help="folder for lab-run-drive-octa500.{json,md}")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--preset", default=None, help="choose this preset in the panel (default: leave the panel's)")
    ap.add_argument("--targets", type=int, default=None, help="add only the first N target training images (smoke)")
    ap.add_argument("--tests", type=int, default=None, help="score on the first N test images only (smoke)")
    ap.add_argument("--seed", type=int, default=None,
                    help="the adaptation's seed (the panel's overrides; default: leave the preset's, 0)")
    ap.add_argument("--stop-at", default=None, help="UTC HH:MM: press Cancel then and score the committed rounds")
    ap.add_argument("--render", default=None, metavar="JSON",
                    help="only write the Markdown of a finished run's JSON again (into --out)")
    args = ap.parse_args(argv)
    if args.render:
        r = json.loads(Path(args.render).read_text())
        r["rendered_by"] = "python benchmarks/gui_lab_run.py " + " ".join(argv if argv is not None else sys.argv[1:])
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "lab-run-drive-octa500.md").write_text(markdown(r))
        return 0
    command = 'xvfb-run -a -s "-screen 0 1600x1000x24" nice -n 5 .venv/bin/python benchmarks/gui_lab_run.py ' + " ".join(
        argv if argv is not None else sys.argv[1:])

    if args.work is None:
        ap.error("--work is required (except with --render)")
    work, out = Path(args.work).resolve(), Path(args.out)
    project_dir = work / "project"
    if project_dir.exists():
        raise SystemExit(f"{project_dir} exists: choose a new --work")
    work.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    drive_images = data / "DRIVE" / "training" / "images"
    drive_masks = data / "DRIVE" / "training" / "1st_manual"

    from vessel_studio.adaptation.benchmark import PAIRS
    from vessel_studio.io.datasets import dataset

    info = PAIRS["drive-octa500"]
    targets = [s.image for s in dataset(data, info["target"], "train")]  # images only: no label is read
    if args.targets:
        targets = targets[: args.targets]
    report: dict = {"command": command, "started_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "pair": "drive-octa500", "target_images": len(targets), "dialogs": [], "status": [],
                    "seed": None, "timings_note": "shared machine: 2 CPU cores shared with other jobs; process at nice 5"}
    say("targets:", len(targets), "source:", drive_images, drive_masks)

    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import dialogs

    folders = [str(drive_images), str(drive_masks)]  # answers of the two "Choose…" folder dialogs
    dialogs.error = lambda _p, t, x: (report["dialogs"].append(("error", t, x)), say("DIALOG error:", t, x))
    dialogs.info = lambda _p, t, x: (report["dialogs"].append(("info", t, x)), say("DIALOG info:", t, x))
    dialogs.confirm = lambda _p, t, x: (report["dialogs"].append(("confirm", t, x)), say("DIALOG confirm:", t, x),
                                        True)[-1]
    dialogs.save_discard_cancel = lambda _p, t, x: report["dialogs"].append(("sdc", t, x)) or "save"
    dialogs.ask_new_project = lambda _p: (str(project_dir), "octa")
    dialogs.pick_files = lambda _p, _t, _f: [str(f) for f in targets]
    dialogs.pick_folder = lambda _p, t: (report["dialogs"].append(("pick_folder", t, folders[0])), folders.pop(0))[-1]

    from vessel_studio.gui.app import make_viewer

    rss = RssSampler()
    t = time.perf_counter()
    viewer, studio = make_viewer(None)
    viewer.window._qt_window.resize(1500, 950)
    app = QApplication.instance()
    report["window_build_s"] = round(time.perf_counter() - t, 1)
    studio.status.connect(lambda s: report["status"].append((round(time.perf_counter() - T0, 1), s)))
    proj_panel, adapt = studio.panels["Project"], studio.panels["Adaptation"]
    probe = StallProbe()
    say("window built in", report["window_build_s"], "s; rss", round(_gui.rss_mb()), "MB")

    pump = functools.partial(_gui.pump, app, sleep=0.003)  # this script's loop: 3 ms sleeps

    stage_times: dict = {}
    metrics: list = []

    def on_batch(batch):
        from vessel_studio.events import Metric, Progress

        now = time.perf_counter() - T0
        for e in batch:
            if isinstance(e, Progress):
                key = f"{e.stage} r{e.round}"
                st = stage_times.setdefault(key, {"first_s": round(now, 1), "last_s": now, "total": e.total, "steps": 0})
                st["last_s"], st["steps"] = round(now, 1), e.step
                probe.where = rss.where = f"{studio.runner.name}: {key}"
            elif isinstance(e, Metric) and e.step is None:
                metrics.append({"stage": e.stage, "name": e.name, "value": e.value, "round": e.round})

    studio.runner.events.connect(on_batch)

    def job(name, start, runner, settle=1.0):
        t0 = time.perf_counter()
        probe.where = rss.where = name
        ok = start()
        o = _gui.wait_finished(runner) if ok is not False else None
        wall = time.perf_counter() - t0
        pump(settle)
        rec = {"started": ok, "wall_s": round(wall, 1), "status": getattr(o, "status", "not started"),
               "error": None if o is None or o.error is None else "".join(
                   traceback.format_exception(type(o.error), o.error, o.error.__traceback__)),
               "gui_stalls": probe.stats(t0, time.perf_counter()), "peak_rss_sampled_mb": round(rss.peak)}
        report.setdefault("jobs", {})[name] = rec
        say("JOB", name, rec["status"], f"{rec['wall_s']} s", "max stall", rec["gui_stalls"].get("max_ms"), "ms",
            rec["error"] or "")
        return o, (t0, time.perf_counter())

    pump(2)
    t_idle = time.perf_counter()
    pump(3)
    report["idle_gui_stalls"] = probe.stats(t_idle, time.perf_counter())

    # 1. project + target images --------------------------------------------------------------
    proj_panel._new()
    pump(1)
    if studio.project is None:
        raise SystemExit("the Project panel did not create the project (see dialogs)")
    job("add images", proj_panel._add_files, studio.io_runner, settle=2)
    report["project_counts"] = proj_panel.counts.text()
    report["project_images"] = len(studio.project.images)
    say("project:", proj_panel.counts.text(), "|", len(studio.project.images), "images")
    if len(studio.project.images) == 0:
        raise SystemExit("the project holds no images (see dialogs)")
    if len(studio.project.images) != len(targets):  # the project keeps one image per content hash
        report["project_images_note"] = (f"{len(targets)} files added, the project holds {len(studio.project.images)}: "
                                         "it keeps one image per content (OCTA-500 10388 is pixel-identical to 10333)")
        say(report["project_images_note"])

    # 2. labelled source images ---------------------------------------------------------------
    box = adapt.source
    report["source_box_before"] = box.label.text()
    ok_images = box.choose_images()
    pump(0.5)
    ok_masks = box.choose_masks()
    pump(0.5)
    bundle = studio.source_bundle
    report["source_box"] = {"choose_images": ok_images, "choose_masks": ok_masks, "label": box.label.text(),
                            "warning": box.warning.text(), "project_source_line": proj_panel.source.text(),
                            "bundle_images": 0 if bundle is None else len(bundle.images),
                            "bundle_fovs_given": 0 if bundle is None else sum(f is not None for (_i, _m, f) in bundle.images),
                            "bundle_segmenter": None if bundle is None else str(bundle.segmenter),
                            "bundle_generator": None if bundle is None else str(bundle.generator)}
    say("source box:", json.dumps(report["source_box"]))
    if bundle is None or not bundle.images:
        raise SystemExit("the Labelled source images box did not take the DRIVE folders")

    # 3. adaptation with the panel's defaults -------------------------------------------------
    report["panel_defaults"] = {"preset": adapt.preset.currentText(), "rounds": adapt.rounds.text(),
                                "t0": adapt.t0.value(), "steps": adapt.steps.value(), "count": adapt.count.value()}
    if args.preset:
        adapt.preset.setCurrentText(args.preset)
        pump(0.3)
    if args.seed is not None:
        adapt.overrides["seed"] = int(args.seed)
    cfg = adapt.config()
    report["adapt_config"] = cfg.to_dict()
    report["seed"] = cfg.to_dict().get("seed")
    import torch

    report["torch_threads"] = torch.get_num_threads()
    say("panel:", json.dumps(report["panel_defaults"]), "-> preset", adapt.preset.currentText(), "rounds",
        adapt.rounds.text(), "torch threads", report["torch_threads"])

    panel_texts: list = []

    def panel_watch():
        panel_texts.append((round(time.perf_counter() - T0, 1), adapt.stage.text(), adapt.eta.text(),
                            adapt.guard.text(), adapt.selection_hint.text()))

    watch = QTimer()
    watch.setInterval(60000)
    watch.timeout.connect(panel_watch)
    watch.start()
    stop_timer = None
    if args.stop_at:
        hh, mm = map(int, args.stop_at.split(":"))
        now = dt.datetime.now(dt.timezone.utc)
        at = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        if at < now:
            at += dt.timedelta(days=1)
        report["stop_at_utc"] = at.isoformat(timespec="seconds")

        def press_cancel():
            if studio.runner.running:
                say("stop-at reached: pressing the panel's Cancel")
                report["cancelled_by_stop_at"] = True
                adapt.cancel()

        stop_timer = QTimer()
        stop_timer.setSingleShot(True)
        stop_timer.timeout.connect(press_cancel)
        stop_timer.start(int((at - now).total_seconds() * 1000))
    rss.peak = 0.0  # the job's own peak from here
    outcome, (ja, jb) = job("adaptation", adapt.run, studio.runner, settle=3)
    watch.stop()
    if stop_timer is not None:
        stop_timer.stop()
    panel_watch()
    report["adaptation_peak_rss_mb"] = round(rss.peak)
    report["adaptation_peak_rss_where"] = rss.peak_where
    report["ru_maxrss_after_adaptation_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["gui_stalls_per_stage"] = probe.per_where(ja, jb)
    res = getattr(outcome, "result", None)
    report["outcome"] = {"status": getattr(outcome, "status", None), "seconds": getattr(outcome, "seconds", None),
                         "stopped_early": getattr(res, "stopped_early", None), "reason": getattr(res, "reason", None),
                         "rounds_committed": [r.index for r in getattr(res, "rounds", [])],
                         "warnings": {str(k): v for k, v in (getattr(res, "warnings", None) or {}).items()}}
    report["panel_after"] = {"stage": adapt.stage.text(), "guard": adapt.guard.text(),
                             "selection_hint": adapt.selection_hint.text(), "device": adapt.device.text(),
                             "source_box": box.label.text(), "source_warning": box.warning.text(),
                             "project_source_line": proj_panel.source.text(),
                             "plot_series": {k: v for k, v in adapt.plot.series.items()}}
    report["panel_texts"] = panel_texts
    report["stage_times"] = {k: {**v, "seconds": round(v["last_s"] - v["first_s"], 1)} for k, v in stage_times.items()}
    report["round_metrics_events"] = metrics
    say("adaptation:", json.dumps(report["outcome"]))
    say("panel guard:", repr(adapt.guard.text()), "hint:", repr(adapt.selection_hint.text()))

    project = studio.project
    from vessel_studio.adaptation.selection import history_warnings, review_pick, round_rows, select_round

    rows = round_rows(project.rounds)
    pick, flagged = review_pick(rows)
    selected = select_round(rows)
    report["rounds"] = [{"round": r.index, "stage": r.stage, "seconds": r.seconds, "label_free": r.metrics,
                         "guard": history_warnings(rows).get(r.index, [])} for r in project.rounds]
    report["label_free"] = {"review_pick": pick, "flagged": flagged, "select_round": selected}
    studio._closing_ok = True
    viewer.close()
    pump(0.5)
    probe.timer.stop()

    # 4. scoring: the target test labels are read from here on ----------------------------------
    rss.where = "scoring"
    from vessel_studio.adaptation.benchmark import BenchmarkSpec, _score_segmenter, _test_set
    from vessel_studio.cli import main as cli
    from vessel_studio.commands.segment import resolve_segmenter_path
    from vessel_studio.models.segmenter import Segmenter

    spec = BenchmarkSpec(pair="drive-octa500", data=data, work=work)
    tests = _test_set(spec)
    if args.tests:
        tests = tests[: args.tests]
    report["test_images"] = len(tests)
    scores: dict = {}
    t = time.perf_counter()
    seg = Segmenter.load(resolve_segmenter_path(None)).use_modality(info["modality"])  # segment --modality octa
    scores["bundled fundus-segmenter (raw)"] = _score_segmenter(seg, tests)["mean"]
    renorm = work / "renormalized"
    if renorm.exists():
        shutil.rmtree(renorm)
    t_r = time.perf_counter()
    rc = cli(["renormalize", *map(str, targets), "--modality", info["modality"], "--out", str(renorm)])
    report["renormalize_seconds"] = round(time.perf_counter() - t_r, 1)
    if rc != 0:
        raise SystemExit(f"renormalize failed ({rc})")
    scores["bundled, re-normalised on the target images"] = _score_segmenter(
        Segmenter.load(resolve_segmenter_path(str(renorm))), tests)["mean"]
    for r in project.rounds:
        seg = Segmenter.load(resolve_segmenter_path(str(project_dir), r.index))  # segment --model PROJECT --round K
        scores[f"round {r.index}"] = _score_segmenter(seg, tests)["mean"]
        say(f"round {r.index}:", json.dumps({k: round(v, 3) for k, v in scores[f'round {r.index}'].items()}))
    report["scoring_seconds"] = round(time.perf_counter() - t, 1)
    report["scores"] = scores
    report["ru_maxrss_end_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["finished_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report["loadavg_end"] = os.getloadavg()
    report["log"] = LOG
    out.mkdir(parents=True, exist_ok=True)
    (out / "lab-run-drive-octa500.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "lab-run-drive-octa500.md").write_text(markdown(report))
    say("wrote", out / "lab-run-drive-octa500.md")
    print(markdown(report))
    return 0


def markdown(r: dict) -> str:
    keys = ("dice", "cldice", "auc", "sensitivity", "specificity")
    lf = r["label_free"]
    o = r["outcome"]
    md = [f"# GUI lab run: DRIVE labelled images -> OCTA-500 ({r['target_images']} target images)", "",
          f"Command: `{r['command']}`", "",
          *([f"(This Markdown was written again from the run's JSON by `{r['rendered_by']}`: same numbers.)", ""]
            if r.get("rendered_by") else []),
          "One run of the GUI path (Project panel, the Adaptation panel's \"Labelled source images\" box, Run with "
          f"the panel's defaults), one seed (AdaptConfig seed {r['seed']}); **not a benchmark row**. Timings are from a "
          "shared machine (2 CPU cores shared with other jobs; this process at nice 5). The GUI adapts from the "
          "bundled fundus segmenter and generator; the benchmark's adapted rows start from a source segmenter and "
          "generator it trains per seed on DRIVE, so the two are not the same experiment.", "",
          f"Preset `{r['adapt_config'].get('preset_name')}` (panel default: `{r['panel_defaults']['preset']}`), Rounds "
          f"`{r['panel_defaults']['rounds']}` (config: {r['adapt_config'].get('rounds')}; the job ran rounds {o['rounds_committed']}), torch threads "
          f"{r['torch_threads']}. Job: {o['status']} in {o['seconds']:.0f} s"
          + (f"; stopped early: {o['reason']}" if o.get("stopped_early") else "")
          + ("; **cancelled at the --stop-at time, the committed rounds are scored**" if r.get("cancelled_by_stop_at") else "")
          + f". Peak RSS during the job {r['adaptation_peak_rss_mb']} MB (sampled; at {r['adaptation_peak_rss_where']}).", "",
          (f"{r['project_images_note']}.\n\n" if r.get("project_images_note") else "") +
          f"Scored after the job on {r['test_images']} OCTA-500 test images (10388 excluded) with the benchmark's "
          "scorer (threshold 0.5, whole image); the target labels were read only then.", "",
          "| model | Dice | clDice | AUC | sensitivity | specificity |", "|---|---|---|---|---|---|"]
    for name, s in r["scores"].items():
        tag = ""
        if name == f"round {lf['review_pick']}":
            tag += " (panel hint: review_pick)"
        if name == f"round {lf['select_round']}":
            tag += " (select_round)"
        md.append(f"| {name}{tag} | " + " | ".join(f"{s[k]:.3f}" for k in keys) + " |")
    hint = (f"round {lf['review_pick']}" if lf["review_pick"] is not None
            else "none (every round is flagged by the guard, so the panel shows no hint)")
    md += ["", f"Label-free pick: the panel's hint (`selection.review_pick`) = {hint}"
           + (f" (guard-flagged rounds left out: {lf['flagged']})" if lf["flagged"] else "")
           + f"; `select_round` (the benchmarks' pre-registered row) = round {lf['select_round']}.", "",
           "## Rounds (label-free signals as recorded in the project; wall time of each round)", "",
           "| round | seconds | generator s | synthesize s | segmenter s | pseudo-label s | agreement | confidence | "
           "vessel fraction | fragmentation | guard |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["rounds"]:
        m = row["label_free"] or {}

        def f(k, fmt="{:.3f}"):
            v = m.get(k)
            return fmt.format(v) if isinstance(v, (int, float)) else "–"

        md.append(f"| {row['round']} | {row['seconds'] or 0:.0f} | {f('seconds_generator', '{:.0f}')} | "
                  f"{f('seconds_synthesize', '{:.0f}')} | {f('seconds_segmenter', '{:.0f}')} | "
                  f"{f('seconds_pseudo_label', '{:.0f}')} | {f('agreement')} | {f('confidence')} | "
                  f"{f('vessel_fraction')} | {f('fragmentation', '{:.2f}')} | {'; '.join(row['guard']) or '–'} |")
    md += context(r)
    md += ["", "## GUI event loop during the job (10 ms QTimer probe)", "",
           "| stage | ticks | max ms | p99 ms | >100 ms | >200 ms |", "|---|---|---|---|---|---|"]
    whole = r["jobs"]["adaptation"]["gui_stalls"]
    for name, s in [("whole job", whole), *r["gui_stalls_per_stage"].items()]:
        if s.get("ticks"):
            md.append(f"| {name} | {s['ticks']} | {s['max_ms']} | {s['p99_ms']} | {s['over_100ms']} | {s['over_200ms']} |")
    sb = r["source_box"]
    md += ["", "## What the panel showed", "",
           f"- Labelled source box: {sb['bundle_images']} DRIVE images paired with their masks; FOV masks given: "
           f"{sb['bundle_fovs_given']} (no FOV folder chosen, so the source FOVs are estimated). Box text: "
           f"\"{sb['label']}\"",
           f"- Guard after the job: \"{r['panel_after']['guard'] or '(none)'}\"",
           f"- Selection hint: \"{r['panel_after']['selection_hint'] or '(none)'}\"",
           f"- Stage line: \"{r['panel_after']['stage']}\"",
           f"- Dialogs: {[(d[0], d[1]) for d in r['dialogs']]}",
           f"- Window built in {r['window_build_s']} s; adding the images took {r['jobs']['add images']['wall_s']} s "
           f"(longest GUI stall then {r['jobs']['add images']['gui_stalls'].get('max_ms')} ms); idle window before: "
           f"longest stall {r['idle_gui_stalls'].get('max_ms')} ms.",
           f"- Scoring (renormalize included: {r['renormalize_seconds']} s) took {r['scoring_seconds']} s; "
           f"ru_maxrss at the end {r['ru_maxrss_end_mb']} MB.", ""]
    return "\n".join(md)


def context(r: dict) -> list[str]:
    """Committed results this run is read against, quoted from their files (not measured here)."""
    out = ["", "## Context: committed results, quoted from their files (not from this run)", ""]
    try:
        bench = json.loads((REPO / "benchmarks/results/drive-octa500/results.json").read_text())["table"]
        for row in ("adapted (last round)", "adapted (selected round, label-free)", "adabn", "source-only"):
            d = bench[row]
            out.append(f"- benchmark `cpu` headline (benchmarks/results/drive-octa500/results.md, seeds 0-2, its own "
                       f"per-seed DRIVE source segmenter and generator), {row}: Dice {d['dice']['mean']:.3f} ± "
                       f"{d['dice']['sd']:.3f}, clDice {d['cldice']['mean']:.3f}, AUC {d['auc']['mean']:.3f}")
        ren = json.loads((REPO / "benchmarks/results/renormalize/drive-octa500.json").read_text())["scores"]
        out.append(f"- `vessel-studio renormalize` of the bundled model, committed "
                   f"(benchmarks/results/renormalize/drive-octa500.md): before {ren['before']['dice']:.3f}, after "
                   f"{ren['after']['dice']:.3f} Dice (this run re-ran it: the table above)")
    except (OSError, KeyError, ValueError) as exc:
        out.append(f"- (not available: {exc})")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
