"""Screenshots of every Vessel Studio panel, taken from the real window in a virtual X display.

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshots.py [--out docs/screenshots]

What is on screen: a sample project of procedural fundus images (``vessel_studio.samples``); the
"bundled" segmenter is ``resources/models/fundus-segmenter`` when present, else ``--segmenter``,
else a small segmenter trained here for a few minutes on other procedural images (the log says
which). The adaptation shown is the ``tiny`` preset with an untrained tiny source generator, so
its previews, metrics and round predictions illustrate the panels, not adaptation quality.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pump(seconds: float = 0.3) -> None:
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_job(studio, timeout: float = 600) -> object:
    from qtpy.QtCore import QEventLoop, QTimer

    if not studio.runner.running:
        return None
    out = {}
    loop = QEventLoop()
    studio.runner.finished.connect(lambda o: (out.setdefault("o", o), loop.quit()))
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    return out.get("o")


def segmenter_for_screens(root: Path, given: Path | None = None) -> Path:
    from vessel_studio.resources import models_dir

    if given is not None:
        print(f"segmenter: {given}")
        return given

    bundled = models_dir() / "fundus-segmenter"
    if (bundled / "model.safetensors").is_file():
        print(f"segmenter: bundled {bundled}")
        return bundled
    print("segmenter: no bundled model; training a small one on procedural images (about a minute)")
    import torch

    from vessel_studio.events import run
    from vessel_studio.preprocess import Preprocessing, prepare
    from vessel_studio.samples import synthetic_fundus
    from vessel_studio.train.segmenter import SegmenterTrainConfig, TrainPair, train_segmenter

    torch.set_num_threads(2)
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    pairs = []
    for seed in range(100, 106):
        rgb, mask, fov = synthetic_fundus((384, 384), seed=seed)
        p = prepare(rgb, fov=fov, prep=prep)
        pairs.append(TrainPair(p.x, mask, p.fov))
    cfg = SegmenterTrainConfig.preset("cpu", steps=250, channels=(8, 16, 32), crop=64, batch_size=8)
    seg = run(train_segmenter(pairs, cfg, preprocessing=prep))
    seg.save(root / "segmenter")
    return root / "segmenter"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="screenshots of the Vessel Studio panels")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    ap.add_argument("--segmenter", type=Path, default=None, help="segmenter folder to use (default: bundled, else train one)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from vessel_studio.adaptation import SourceBundle
    from vessel_studio.gui.app import make_viewer
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.samples import write_sample_images, write_sample_project

    root = Path(tempfile.mkdtemp(prefix="vs-shots-"))
    seg_path = segmenter_for_screens(root, args.segmenter)
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    Generator(config=GeneratorConfig.preset("tiny"), preprocessing=prep, conditioned=True).save(root / "generator")
    src = write_sample_images(root / "src", n=2, modality="fundus", seed=10, shape=(128, 128))
    bundle = SourceBundle(segmenter=seg_path, generator=root / "generator", modality="fundus",
                          images=list(zip(src.images, src.labels, src.fovs)))
    write_sample_project(root / "Sample fundus project", n=4, modality="fundus", seed=1, shape=(320, 320))

    viewer, studio = make_viewer(root / "Sample fundus project")
    win = viewer.window._qt_window
    win.resize(1500, 950)
    pump(1.0)

    def shot(name: str) -> None:
        pump(0.5)
        viewer.reset_view() if name == "project" else None
        pump(0.3)
        img = viewer.screenshot(canvas_only=False, flash=False)
        from PIL import Image

        # RGB (napari's screenshot is RGBA, its alpha all opaque), optimised: 398 -> 353 KB for project.png
        Image.fromarray(np.ascontiguousarray(img[..., :3])).save(args.out / f"{name}.png", optimize=True)
        print(f"wrote {args.out / name}.png {img.shape}")

    def scroll_to(widget) -> None:
        """The panels scroll in their docks (the window fits a laptop's screen): bring ``widget`` into view."""
        from qtpy.QtWidgets import QScrollArea

        area = widget.parent()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parent()
        if area is not None:
            area.ensureWidgetVisible(widget, 0, 0)

    studio.docks["Project"].raise_()
    # the panel scrolled to its foot: the image list with "Set pixel spacing…" and "Remove from project…" under it
    # (at the top, session 47's shot left them out of view under napari's layer controls)
    scroll_to(studio.panels["Project"].btn_remove)
    shot("project")

    # source-only segmentation with the "bundled" segmenter, in the worker
    review = studio.panels["Review"]
    review.segmenter_model = str(seg_path)
    review.segment_missing()
    print("segmentation:", getattr(wait_job(studio), "status", None))
    studio.select_image(studio.project.images[0].id)
    pump(0.5)

    # adaptation (tiny preset), screenshot while it runs and when done
    studio.source_bundle = bundle
    panel = studio.panels["Adaptation"]
    studio.docks["Adaptation"].raise_()
    panel.preset.setCurrentText("tiny")
    panel.rounds.setValue(1)
    panel.count.setValue(16)
    panel.overrides = {"stop_agreement": 1.01, "seg_steps": 30, "seg_finetune_steps": 20}
    taken = {}

    def during(batch):
        if "running" in taken:
            return
        if any(getattr(e, "stage", "") == "segmenter" and getattr(e, "round", None) == 1 for e in batch):
            from PIL import Image

            pump(0.05)
            Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(args.out / "adaptation-running.png")
            taken["running"] = True
            print("wrote adaptation-running.png")

    studio.runner.events.connect(during)
    panel.run()
    scroll_to(panel.plot)  # the progress, the previews and the label-free signals, as the shots show them
    print("adaptation:", getattr(wait_job(studio), "status", None))
    studio.runner.events.disconnect(during)
    scroll_to(panel.device)  # the plot, the roll back row and the device line
    shot("adaptation-done")

    # review: after the adaptation Review shows its latest round (the panel says which), with the
    # uncertainty, stats and measures; then side by side with the source-only prediction
    review.opacity.setValue(60)
    pump(1.5)
    shot("review")
    review.show_unc.setChecked(True)
    review.compare.setCurrentText("source-only")
    review.side_by_side.setChecked(True)
    pump(1.0)
    shot("review-grid")
    review.side_by_side.setChecked(False)
    review.show_unc.setChecked(False)
    review.compare.setCurrentText("none")

    # correction: paint a missing vessel segment and erase a false one (unsaved state shown)
    layer = review.mask_layer
    review._mode("paint")
    layer.brush_size = 6
    for x in range(100, 200, 3):
        layer.paint((250, x), 1)
    review._edited()
    viewer.camera.zoom = viewer.camera.zoom * 1.8
    viewer.camera.center = (250, 170)
    review.contour.setChecked(True)
    shot("correction")
    review.save()
    review.contour.setChecked(False)
    viewer.reset_view()

    # export
    studio.docks["Export"].raise_()
    studio.panels["Export"].export_to(root / "export")
    print("export:", getattr(wait_job(studio), "status", None))
    shot("export")

    studio._closing_ok = True
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
