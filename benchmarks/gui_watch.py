"""What the window's watcher of changes made outside it (``Studio._look_outside``, session 30) costs the GUI
thread, in the real window: a look while nothing changed (one ``stat`` of the manifest), the look that first
sees a change (the manifest read and compared), and the look that acts on it (the panels told: the Project
list rebuilt, Review's choices and map, the Adaptation panel's plot and form). Changes made by another
``Project`` on the same folder, as a terminal's ``vessel-studio`` does: a state set, an image taken out (not the
one on screen), a round rolled back. Medians and maxima of ``--repeats``; the project holds ``--images`` images
(OCTA-500 scans from ``--data`` when there, else procedural 304 x 304 ones) and ``--rounds`` rounds.

    xvfb-run -a .venv/bin/python benchmarks/gui_watch.py --work scratch/s30/watch --out benchmarks/results/gui/watch.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gui import pump, rss_mb  # noqa: E402
from hires_cli import write_report  # noqa: E402  (print the report, and write it to --out)


def _images(data: Path, work: Path, n: int) -> tuple[list[Path], str]:
    """``n`` image files: OCTA-500's when the data folder has them, else procedural ones."""
    from vessel_studio.io.datasets import dataset

    try:
        files = [s.image for split in ("train", "test") for s in dataset(data, "OCTA-500", split)][:n]
        if len(files) == n:
            return files, "OCTA-500"
    except (OSError, ValueError):
        pass
    from vessel_studio.samples import write_sample_images

    made = write_sample_images(work / "images", n=n, modality="octa", seed=3, shape=(304, 304))
    return list(made.images), "procedural"


def _stats(ms: list[float]) -> dict:
    return {"median_ms": round(statistics.median(ms), 3), "max_ms": round(max(ms), 3), "n": len(ms)}


def _enlarged(files: list[Path], folder: Path, scale: int) -> list[Path]:
    """The images enlarged ``scale`` times (bilinear), as PNGs in ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        img = Image.open(f)
        big = img.resize((img.width * scale, img.height * scale), Image.BILINEAR)
        path = folder / (Path(f).stem + ".png")
        big.save(path)
        out.append(path)
    return out


def _smooth_enlarged(small, shape):
    from skimage.transform import resize

    return resize(small, shape, order=1).astype("float32")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VESSEL_STUDIO_DATA", "../shared/data")))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--images", type=int, default=140)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--idle-looks", type=int, default=300)
    ap.add_argument("--scale", type=int, default=1,
                    help="enlarge the images (and the maps) this many times, e.g. 13: 304 -> 3952 px, a 15.6-MP camera")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_API", "pyside6")
    import numpy as np

    from vessel_studio.io.images import write_prob
    from vessel_studio.store import Project, RoundRecord

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    files, source = _images(args.data, args.work, args.images)
    if args.scale > 1:
        files = _enlarged(files, args.work / "large", args.scale)
        source += f", enlarged {args.scale}x"
    proj = Project.create(args.work / "proj", modality="octa")
    proj.add_images(files)
    first = proj.images[0]
    rng = np.random.default_rng(0)
    needed = args.rounds + args.repeats
    for k in range(needed):  # rounds with a map of the first image (the one on screen), to roll back later
        src = args.work / f"r{k}"
        (src / "pseudo").mkdir(parents=True)
        small = rng.random((first.shape[0] // args.scale, first.shape[1] // args.scale), dtype=np.float32)
        prob = small if args.scale == 1 else _smooth_enlarged(small, first.shape[:2])  # compresses as a map does
        write_prob(src / "pseudo" / f"{first.id}.tif", prob)
        proj.commit_round(src, RoundRecord(index=k, folder="", metrics={"vessel_fraction": 0.1}))

    import napari
    from qtpy.QtWidgets import QApplication

    from vessel_studio.gui.app import attach

    viewer = napari.Viewer(title="Vessel Studio", show=True)
    app = QApplication.instance()
    studio = attach(viewer, project=proj.folder)
    studio._watch.stop()  # the looks are called here, one at a time, and timed
    pump(app, 3.0)
    said: list[str] = []
    studio.status.connect(said.append)
    other = Project.open(proj.folder)

    def look() -> float:
        t = time.perf_counter()
        studio._look_outside()
        return (time.perf_counter() - t) * 1000

    look()
    idle = [look() for _ in range(args.idle_looks)]
    out: dict = {"images": len(proj.images), "image_source": source, "rounds_at_start": needed,
                 "idle_look": _stats(idle)}
    kinds = {
        "state set": lambda i: other.set_state(other.images[1 + i].id, "reviewed"),
        "image taken out (not on screen)": lambda i: other.remove_images([other.images[-1].id]),
        "round rolled back": lambda i: other.rollback(needed - 2 - i),
    }
    for name, change in kinds.items():
        seen, acted = [], []
        for i in range(args.repeats):
            pump(app, 0.3)
            change(i)
            seen.append(look())
            acted.append(look())
            pump(app, 0.5)  # what the panels started (thumbnails, maps) lands before the next change
        out[name] = {"first_look": _stats(seen), "acting_look": _stats(acted)}
    out["status_lines"] = sum("outside this window" in s for s in said)
    out["expected_status_lines"] = 3 * args.repeats
    out["rss_mb"] = round(rss_mb(), 1)
    write_report(out, args.out)
    viewer.close()
    return 0 if out["status_lines"] == out["expected_status_lines"] else 1


if __name__ == "__main__":
    sys.exit(main())
