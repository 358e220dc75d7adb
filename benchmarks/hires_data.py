"""Simulated high-resolution fundus camera images (~3900 px a side) from the public CHASE_DB1 and
DRIVE test images, for the high-resolution QA benchmarks (``benchmarks/hires_cli.py``,
``benchmarks/gui_review.py --files``).

Each image is enlarged bicubically (``skimage.transform.resize``, order 3, anti-aliasing off) by
``--scale-chase`` / ``--scale-drive`` and written as JPEG (quality 92), PNG (8-bit RGB) and, for the
first ``--tiff`` images, 16-bit RGB TIFF; its 1st-observer label and FOV mask are enlarged the same
way (linear, then > 0.5) into ``labels/`` and ``fov/`` (for scoring only). The same images at
their native size go to ``native/{images,labels,fov}`` as PNG, so that a run can be compared with
the native one. Nothing is written in the repository: the default ``--out`` is
``scratch/hires-data`` (git-ignored).

    .venv/bin/python benchmarks/hires_data.py --out scratch/hires-data
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def data_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("VESSEL_STUDIO_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def sources(root: Path, chase: int, drive: int) -> list[tuple[str, Path, Path, Path | None]]:
    """(stem, image, label, fov or None) of the first ``chase`` CHASE_DB1 and ``drive`` DRIVE test images."""
    out = []
    c = root / "CHASE_DB1" / "test"
    for img in sorted((c / "images").glob("*.jpg"))[:chase]:
        stem = img.stem
        fov = c / "mask" / f"{stem}.png"
        out.append((f"chase_{stem}", img, c / "1st_manual" / f"{stem}_1stHO.png", fov if fov.is_file() else None))
    d = root / "DRIVE" / "test"
    for img in sorted((d / "images").glob("*.png"))[:drive]:
        num = img.stem.split("_")[0]
        fovs = list((d / "mask").glob(f"{num}_test_mask.*"))
        out.append((f"drive_{num}", img, d / "1st_manual" / f"{num}_manual1.png", fovs[0] if fovs else None))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "scratch" / "hires-data")
    ap.add_argument("--data", default=None)
    ap.add_argument("--chase", type=int, default=6, help="CHASE_DB1 test images (999 x 960)")
    ap.add_argument("--drive", type=int, default=4, help="DRIVE test images (565 x 584)")
    ap.add_argument("--scale-chase", type=float, default=3.9, help="999 x 960 -> 3896 x 3744")
    ap.add_argument("--scale-drive", type=float, default=6.8, help="565 x 584 -> 3842 x 3971")
    ap.add_argument("--tiff", type=int, default=3, help="how many images also as 16-bit TIFF")
    args = ap.parse_args(argv)

    from PIL import Image
    from skimage.transform import resize

    from vessel_studio.io.images import read_image, write_image

    root = data_root(args.data)
    items = sources(root, args.chase, args.drive) if root.is_dir() else []
    if not items:
        print(f"SKIPPED: no CHASE_DB1 / DRIVE test images under {root}")
        return 0
    dirs = {k: args.out / k for k in ("jpeg", "png", "tiff16", "labels", "fov", "native/images",
                                        "native/labels", "native/fov")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    made = []
    for n, (stem, img_p, lab_p, fov_p) in enumerate(items):
        img, _ = read_image(img_p)
        lab = read_image(lab_p)[0]
        lab = (lab[..., 0] if lab.ndim == 3 else lab) > 0
        s = args.scale_chase if stem.startswith("chase") else args.scale_drive
        h, w = img.shape[:2]
        H, W = int(round(h * s)), int(round(w * s))
        big = resize(img.astype(np.float32) / 255.0, (H, W, 3), order=3, anti_aliasing=False,
                     preserve_range=True).clip(0, 1)
        big8 = np.round(big * 255).astype(np.uint8)
        Image.fromarray(big8).save(dirs["jpeg"] / f"{stem}.jpg", quality=92)
        Image.fromarray(big8).save(dirs["png"] / f"{stem}.png", compress_level=1)
        if n < args.tiff:
            write_image(dirs["tiff16"] / f"{stem}.tif", np.round(big * 65535).astype(np.uint16))
        biglab = resize(lab.astype(np.float32), (H, W), order=1, anti_aliasing=False) > 0.5
        Image.fromarray(biglab.astype(np.uint8) * 255).save(dirs["labels"] / f"{stem}.png")
        Image.fromarray(img).save(dirs["native/images"] / f"{stem}.png")
        Image.fromarray(lab.astype(np.uint8) * 255).save(dirs["native/labels"] / f"{stem}.png")
        if fov_p is not None:
            fov = read_image(fov_p)[0]
            fov = (fov[..., 0] if fov.ndim == 3 else fov) > 0
            Image.fromarray(fov.astype(np.uint8) * 255).save(dirs["native/fov"] / f"{stem}.png")
            bigfov = resize(fov.astype(np.float32), (H, W), order=1, anti_aliasing=False) > 0.5
            Image.fromarray(bigfov.astype(np.uint8) * 255).save(dirs["fov"] / f"{stem}.png")
        made.append({"stem": stem, "source": str(img_p), "native": [h, w], "size": [H, W], "scale": s})
        print(stem, (h, w), "->", (H, W), flush=True)
        del big, big8, biglab
    (args.out / "made.json").write_text(json.dumps(made, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
