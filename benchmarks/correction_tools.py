"""The Review panel's correction tools "Erase piece" and "Remove specks" (session 27): their time in
the real window on the bundled model's masks, native and 15-megapixel, and what the default speck size
removes from the bundled model's masks of the DRIVE and CHASE_DB1 test sets (against their labels).

The window is opened on a project of four images: DRIVE test 01 and CHASE_DB1 test Image_08L at their
native size (565x584, 999x960) and the same two enlarged to ~15 megapixels by ``benchmarks/hires_data.py``
(``--hires``, its ``png/`` folder: 3898x4030, 3744x3896). Each image's mask is the bundled fundus
segmenter's prediction at p >= 0.5 (``Segmenter.predict`` on the image as it is, written as the
project's source-only map), shown as the panel shows a predicted image. Per image, ``--repeats`` times
each, then undone (the panel's Undo, also timed):

- ``erase_tree``: ``ReviewPanel.erase_piece`` at a pixel of the largest piece (the vessel tree: the worst
  case, what a click on a vessel that joins the tree erases);
- ``erase_blob``: the same at the largest piece under 1 % of the tree's size (a typical false-positive
  blob or a broken-off stretch);
- ``remove_specks``: ``ReviewPanel.remove_specks`` at the image's default size (``measures.speck_size``).

``call_ms`` is the call (what a click costs the GUI thread before the next frame: the piece found, the
layer's undoable ``data_setitem``, its partial texture refresh, the "unsaved edits" line);
``events_ms`` the event processing right after it (the redraw, under Xvfb's software OpenGL).
``core_ms`` is the array work alone (``measures.piece_at`` / ``measures.small_pieces``). Medians over
the repeats; the machine is shared (load average at the end is in the JSON).

    python benchmarks/hires_data.py --out scratch/hires-data
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/correction_tools.py \\
        --hires scratch/hires-data --work scratch/s27/tools --out benchmarks/results/gui/correction-tools.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import _gui  # noqa: E402  (benchmarks/_gui.py: the GUI scripts' event-loop helpers)
from hires_cli import write_report  # noqa: E402  (print the report, and write it to --out)

SIZES_CHECKED = (3, 5, 10, 20, 32, 50, 100)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _median(xs) -> float:
    return round(statistics.median(xs), 1)


def speck_check(seg, data: Path) -> dict:
    """Pieces of the bundled model's masks (p >= 0.5) under each size in :data:`SIZES_CHECKED`, against the
    1st-observer labels: pieces and pixels, those touching no labelled vessel, and the labels' own pieces under it."""
    from scipy.ndimage import label

    from vessel_studio.io.datasets import dataset
    from vessel_studio.io.images import read_image, read_mask
    from vessel_studio.measures import EIGHT, speck_size

    out = {}
    for name in ("DRIVE", "CHASE_DB1"):
        rows = {n: dict(pieces=0, pieces_off_label=0, px=0, px_off_label=0, px_on_label=0, label_pieces_below=0)
                for n in SIZES_CHECKED}
        total = dict(images=0, pieces=0, label_pieces=0, mask_px=0, mask_px_off_label=0, speck_size=None)
        for s in dataset(data, name, "test"):
            image, _ = read_image(s.image)
            gt = read_mask(s.label, shape=image.shape)
            m = seg.predict(image, fov=read_mask(s.fov, shape=image.shape)).prob >= 0.5
            lab, n = label(m, structure=EIGHT)
            sizes = np.bincount(lab.ravel())
            on = np.bincount(lab.ravel(), weights=gt.ravel().astype(np.float64), minlength=n + 1)
            _, gsizes = np.unique(label(gt, structure=EIGHT)[0], return_counts=True)
            gsizes = gsizes[1:]
            total["images"] += 1
            total["pieces"] += int(n)
            total["label_pieces"] += int(gsizes.size)
            total["mask_px"] += int(m.sum())
            total["mask_px_off_label"] += int((m & ~gt).sum())
            total["speck_size"] = speck_size(m.shape)
            for size in SIZES_CHECKED:
                sel = np.zeros(n + 1, bool)
                sel[1:] = sizes[1:] < size
                r = rows[size]
                r["pieces"] += int(sel.sum())
                r["pieces_off_label"] += int((sel & (on == 0)).sum())
                r["px"] += int(sizes[sel].sum())
                r["px_on_label"] += int(on[sel].sum())
                r["px_off_label"] += int((sizes[sel] - on[sel]).sum())
                r["label_pieces_below"] += int((gsizes < size).sum())
        out[name] = {"total": total, "under_size": {str(k): v for k, v in rows.items()}}
    return out


def make_project(work: Path, data: Path, hires: Path, seg):
    from vessel_studio.gui import tasks
    from vessel_studio.io.images import write_prob
    from vessel_studio.store import Project

    files = [data / "DRIVE" / "test" / "images" / "01_test.png", data / "CHASE_DB1" / "test" / "images" / "Image_08L.jpg",
             hires / "png" / "drive_01.png", hires / "png" / "chase_Image_08L.png"]
    for f in files:
        if not f.is_file():
            raise SystemExit(f"missing {f} (run benchmarks/hires_data.py --out {hires} first)")
    proj = Project.create(work / "proj", modality="fundus")
    proj.add_images(files)
    for rec in proj.images:
        image = proj.read_image(rec.id)
        write_prob(tasks.source_only_path(proj, rec.id), seg.predict(image).prob, compress=True)
        proj.set_state(rec.id, "predicted")
    return proj


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VESSEL_STUDIO_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--hires", type=Path, default=REPO / "scratch" / "hires-data")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-speck-check", action="store_true")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds of event processing after the window opens and after each image is shown (a fifth "
                         "of it after each timed call's undo); the test runs it with less (tests/gui/"
                         "test_correction_tools_benchmark.py)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"SKIPPED: no data at {args.data}")
        return 0
    from scipy.ndimage import label

    from vessel_studio import measures
    from vessel_studio.models.segmenter import Segmenter

    seg = Segmenter.load("fundus-segmenter")
    report: dict = {"repeats": args.repeats, "settle_s": args.settle}
    if not args.no_speck_check:
        t = time.perf_counter()
        report["speck_check"] = speck_check(seg, args.data)
        print(f"speck check {time.perf_counter() - t:.1f} s", flush=True)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    proj = make_project(args.work, args.data, args.hires, seg)

    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui import dialogs
    from vessel_studio.gui.app import make_viewer

    dialogs.save_discard_cancel = lambda _p, _t, _x: "discard"
    dialogs.confirm = lambda _p, _t, _x: True
    viewer, studio = make_viewer(proj.folder)
    viewer.window._qt_window.resize(1400, 900)
    app = QApplication.instance()
    review = studio.panels["Review"]
    _gui.pump(app, args.settle)
    images = []
    for rec in proj.images:
        studio.select_image(rec.id)
        end = time.perf_counter() + 120
        while review.image_id != rec.id and time.perf_counter() < end:
            _gui.pump(app, 0.05)
        _gui.pump(app, args.settle)
        layer = review.mask_layer
        mask = layer.data > 0
        lab, n = label(mask, structure=measures.EIGHT)
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        tree = int(sizes.argmax())
        blobs = np.flatnonzero((sizes > 0) & (sizes < sizes[tree] / 100))
        blob = int(blobs[sizes[blobs].argmax()])
        points = {}
        for key, k in (("erase_tree", tree), ("erase_blob", blob)):
            rr, cc = np.nonzero(lab == k)
            points[key] = (int(rr[len(rr) // 2]), int(cc[len(cc) // 2]))
        speck = review.speck_size.value()
        row = {"name": rec.name, "shape": list(mask.shape), "megapixels": round(mask.size / 1e6, 2),
               "mask_px": int(mask.sum()), "pieces": int(n), "tree_px": int(sizes[tree]), "blob_px": int(sizes[blob]),
               "speck_size": speck}
        for key in ("erase_tree", "erase_blob", "remove_specks"):
            calls, events, undos, core, removed = [], [], [], [], None
            for _ in range(args.repeats):
                before = layer.data.copy()
                t = time.perf_counter()
                if key == "remove_specks":
                    got = review.remove_specks()
                else:
                    got = review.erase_piece(points[key])
                calls.append(_ms(t))
                t = time.perf_counter()
                app.processEvents()
                events.append(_ms(t))
                removed = got
                assert review.dirty
                t = time.perf_counter()
                review.undo()
                undos.append(_ms(t))
                app.processEvents()
                assert np.array_equal(layer.data, before)
                t = time.perf_counter()
                if key == "remove_specks":
                    measures.small_pieces(layer.data, speck)
                else:
                    measures.piece_at(layer.data, points[key])
                core.append(_ms(t))
                _gui.pump(app, args.settle / 5)
            row[key] = {"call_ms": _median(calls), "events_ms": _median(events), "undo_ms": _median(undos),
                        "core_ms": _median(core), "calls_ms": [round(x, 1) for x in calls],
                        "removed": list(removed) if isinstance(removed, tuple) else removed}
        images.append(row)
        print(json.dumps(row), flush=True)
    report["images"] = images
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["cpus"] = os.cpu_count()
    studio.confirm_close = lambda: True
    viewer.close()
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
