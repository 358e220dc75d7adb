"""``vessel-studio evaluate``: score predicted masks against manual labels, inside the FOV.

Predictions ``<stem>.png`` in ``--pred`` (as written by ``segment``) are paired by stem with the
labels in ``--gt`` (and FOV masks in ``--fov``; without them the whole image counts) using the
dataset naming rules of ``vessel_studio.io.datasets`` (``21_test`` <-> ``21_manual1``,
``Image_08L`` <-> ``Image_08L_1stHO``, ``im0162`` <-> ``im0162.ah`` ...). When a
``<stem>_prob.tif`` sits beside a mask, AUC is computed from it. Prints per-image rows, the mean
± sd over images and the pooled values; ``--json OUT`` writes them. Labels are vessel where > 0
(``read_mask``; a JPEG above half its range); a label with more than two distinct values (a
JPEG-compressed mask, a probability image) is scored so too, with a one-line warning on stderr, and
so is a predicted mask (read as a mask, not a float TIFF of probabilities) with more than two: a
probability map saved as an 8-bit image would otherwise score nearly every pixel as vessel unnoticed;
and so is a FOV mask with more than two (an images folder given as ``--fov``).
A FOV mask with no pixel > 0 is an error naming it (nothing would be scored; it counted Dice 1).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from vessel_studio.commands.segment import threshold_arg

PROB_SUFFIX = "_prob"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pred", required=True, help="folder of predicted masks <stem>.png (+ optional <stem>_prob.tif)")
    p.add_argument("--gt", required=True, help="folder of manual labels")
    p.add_argument("--fov", default=None, help="folder of FOV masks (default: whole image)")
    p.add_argument("--json", default=None, help="write per-image, mean, sd and pooled metrics here")
    p.add_argument("--threshold", type=threshold_arg, default=0.5, help="threshold applied to probability TIFFs (default 0.5)")


def _stem(p: Path) -> str:
    return p.name[: -len(p.suffix)] if p.suffix else p.name


def _match(stem: str, files: dict[str, Path], suffixes: tuple[str, ...]) -> Path | None:
    from vessel_studio.io import datasets

    match = getattr(datasets, "_match", None)
    if match is not None:
        return match(stem, files, suffixes)
    low = {k.lower(): v for k, v in files.items()}
    for cand in (stem, *(stem + s for s in suffixes)):
        if cand.lower() in low:
            return low[cand.lower()]
    return None


def _by_stem(files: list[Path], what: str, *, cut: int = 0) -> dict[str, Path]:
    """``files`` by stem (less ``cut`` trailing characters); two files of one stem (``a.gif`` and ``a.png``) are
    a ValueError naming them: which one is the label or the prediction is not for the command to guess
    (session 28 QA: it silently scored whichever came last)."""
    out: dict[str, Path] = {}
    for f in files:
        stem = _stem(f)[: len(_stem(f)) - cut]
        if stem in out:
            raise ValueError(f"{f.parent}: {what} holds two files named {stem!r}: {out[stem].name} and {f.name}; "
                             "keep one (nothing was scored)")
        out[stem] = f
    return out


def pair(pred_dir: Path, gt_dir: Path, fov_dir: Path | None):
    """``[(stem, mask_path, prob_path|None, gt_path, fov_path|None)]``; unpaired predictions raise."""
    from vessel_studio.io.datasets import FOV_SUFFIXES, LABEL_SUFFIXES, list_images

    for d, what in ((pred_dir, "--pred"), (gt_dir, "--gt"), (fov_dir, "--fov")):
        if d is not None and not d.is_dir():
            raise ValueError(f"{d}: {what} is not a folder")
    files = list_images(pred_dir)
    probs = _by_stem([f for f in files if _stem(f).endswith(PROB_SUFFIX)], "--pred", cut=len(PROB_SUFFIX))
    masks = _by_stem([f for f in files if not _stem(f).endswith(PROB_SUFFIX)], "--pred")
    for stem in probs:  # a prob map without its mask is still scored (thresholded)
        masks.setdefault(stem, None)
    if not masks:
        raise ValueError(f"{pred_dir}: no predictions found")
    gts = _by_stem(list_images(gt_dir), "--gt")
    fovs = _by_stem(list_images(fov_dir), "--fov") if fov_dir is not None else {}
    label_sfx = tuple(s for s in LABEL_SUFFIXES if s not in FOV_SUFFIXES) if fov_dir is not None else LABEL_SUFFIXES
    rows, missing = [], []
    for stem in sorted(masks):
        g = _match(stem, gts, label_sfx)
        f = _match(stem, fovs, FOV_SUFFIXES) if fov_dir is not None else None
        if g is None or (fov_dir is not None and f is None):
            missing.append(stem + (" (no label)" if g is None else " (no FOV mask)"))
            continue
        rows.append((stem, masks[stem], probs.get(stem), g, f))
    if missing:
        raise ValueError(f"{pred_dir}: could not pair {len(missing)} prediction(s) with {gt_dir}"
                         f"{' / ' + str(fov_dir) if fov_dir else ''}: {', '.join(missing[:10])}")
    return rows


def _float_map(path: Path):
    """A single-channel floating-point TIFF's array (a probability map whatever its name), else None."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None
    from vessel_studio.io.images import read_image

    arr, _ = read_image(path)
    return arr if arr.dtype.kind == "f" and arr.ndim == 2 else None


def _read_mask_warn(path: Path, shape, what: str, hint: str, counted: str = "vessel"):
    """``read_mask`` of ``path``, with one stderr line when the file holds more than two distinct
    values (``io.images.read_mask_values``, one read): it is still scored by ``read_mask``'s rule,
    which the line names."""
    from vessel_studio.io.images import read_mask_values

    mask, count, rule = read_mask_values(path, shape=shape)
    if count > 2:
        print(f"warning: {path}: {what} has {count} distinct values, not 2 ({hint}); scored as {counted} where {rule}",
              file=sys.stderr)
    return mask


def _fmt(v) -> str:
    return "  n/a " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from vessel_studio.io.atomic import write_json
    from vessel_studio.io.images import read_image, read_mask
    from vessel_studio.metrics import NAMES, MetricAccumulator

    if args.json:
        from vessel_studio.io.folders import check_writable

        if Path(args.json).is_dir():
            raise ValueError(f"{args.json}: --json is a folder; name the file to write")
        check_writable(Path(args.json), beside=True, name="--json")  # its folder, before scoring, not after
    rows = pair(Path(args.pred), Path(args.gt), Path(args.fov) if args.fov else None)
    acc = MetricAccumulator(threshold=args.threshold)
    for stem, mask_p, prob_p, gt_p, fov_p in rows:
        gt = _read_mask_warn(gt_p, None, "label", "a JPEG-compressed mask or a probability image?")
        fov = None if fov_p is None else _read_mask_warn(  # a photo given as --fov would count as a mask silently
            fov_p, gt.shape, "FOV mask", "the images folder given as --fov?", counted="FOV")
        if fov is not None and not fov.any():  # a blank file: every metric would count no pixel (Dice 1)
            raise ValueError(f"{fov_p}: FOV mask is empty (no pixel > 0): no pixel of {gt_p} would be scored; "
                             "give the image's FOV mask, or leave out --fov (nothing was scored)")
        no_vessels = not (gt if fov is None else gt & fov).any()  # a label drawn elsewhere, or a blank file
        prob = None
        if prob_p is None and mask_p is not None:
            # a float TIFF without the _prob suffix (the GUI's export: probabilities/<name>.tif) is a
            # probability map, not a mask (read as a mask, every p > 0 would count as vessel)
            prob = _float_map(mask_p)
            if prob is not None:
                prob_p, mask_p = mask_p, None
        if prob_p is not None:
            if prob is None:
                prob, _ = read_image(prob_p)
            prob = np.asarray(prob, np.float32)
            if prob.shape != gt.shape:
                raise ValueError(f"{prob_p}: shape {prob.shape} does not match the label {gt_p} {gt.shape}")
            if prob.min() < 0 or prob.max() > 1:
                raise ValueError(f"{prob_p}: probabilities outside [0, 1]")
        # a predicted mask is read as a mask (binarised), not as probabilities
        mask = None if mask_p is None else _read_mask_warn(
            mask_p, gt.shape, "predicted mask",
            "a probability map saved as an 8-bit image? evaluate reads probabilities from float TIFFs in [0, 1]")
        if prob_p is None:
            prob, mask = mask, None
        row = acc.add(stem, prob, gt, fov, mask=mask)
        if no_vessels:  # said with the Dice it got: 1 where the prediction is empty too (metrics' convention)
            inside = "" if fov is None else f" inside its FOV mask {fov_p}"
            dice = "Dice 0" if row["dice"] == 0 else "Dice 1 as the prediction is empty too"
            print(f"warning: {gt_p}: label has no vessel pixels{inside}; scored as it is ({dice}, "
                  "sensitivity and AUC n/a)", file=sys.stderr)
    cols = ["name", *NAMES]
    print(" ".join(f"{c:>12}" for c in cols))
    for r in acc.per_image:
        print(f"{r['name']:>12} " + " ".join(f"{_fmt(r[k]):>12}" for k in NAMES))
    mean, std, pooled = acc.mean(), acc.std(), acc.pooled()
    print(f"{'mean':>12} " + " ".join(f"{_fmt(mean[k]):>12}" for k in NAMES))
    print(f"{'sd':>12} " + " ".join(f"{_fmt(std[k]):>12}" for k in NAMES))
    print(f"{'pooled':>12} " + " ".join(f"{_fmt(pooled[k]):>12}" for k in NAMES))
    if args.json:
        summary = acc.summary()
        summary.update({"pred": str(args.pred), "gt": str(args.gt), "fov": args.fov})
        write_json(args.json, summary)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
