"""Where an adapted segmenter's errors are, on a pair's test split (exploratory; scoring only).

Splits each test image's errors by what they are, so that the gap between an adapted model and
the oracle can be read as "too wide / too thin vessels" or as "missed vessels" and "spurious
vessels". The test labels are used for this analysis only, as for any score; nothing here is used
to train, pseudo-label or choose a model.

- missed vessel pixels (false negatives), by the width of the labelled vessel they belong to:
  every labelled pixel takes the diameter (2 x the distance to the background - 1) at its nearest
  point of the label's skeleton; thin <= ``--thin`` px, thick otherwise;
- false positives next to a labelled vessel (within ``--near`` px of it: the vessel drawn wider than
  its label) against far from any (a vessel, or texture, that the label does not have);
- the vessel fraction of the prediction against the label's, inside the FOV, and Dice;
- Dice of the prediction dilated or eroded by one pixel (a diagnostic of width: it uses the labels,
  so it says how much of the error is width, and chooses nothing);
- which of those three masks has its boundary on the strongest edges of the image (mean gradient
  magnitude of the smoothed image, green channel for colour images, on the mask's boundary pixels):
  a label-free reading of where the image puts the vessel's edge.

    python benchmarks/error_anatomy.py MODEL [MODEL ...] --pair drive-octa500 [--data ../shared/data]
        [--name error_anatomy-octa500]

Writes ``benchmarks/results/exploration-session19/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def anatomy(pred: np.ndarray, gt: np.ndarray, fov: np.ndarray, *, thin: float = 3.0, near: float = 2.0) -> dict:
    """Error shares of one binary prediction against its label (inside ``fov``)."""
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    pred, gt, fov = pred.astype(bool) & fov, gt.astype(bool) & fov, fov.astype(bool)
    skel = skeletonize(gt)
    # a vessel n pixels across has its centre n // 2 + 1 pixels (Euclidean) from the background: 2 d - 1 px
    diameter_at_skel = (2.0 * ndi.distance_transform_edt(gt) - 1.0) * skel
    if skel.any():  # every labelled pixel: the diameter at its nearest skeleton point
        _, (iy, ix) = ndi.distance_transform_edt(~skel, return_indices=True)
        width = diameter_at_skel[iy, ix]
    else:
        width = np.zeros(gt.shape, np.float32)
    fn, fp = gt & ~pred, pred & ~gt
    dist_to_gt = ndi.distance_transform_edt(~gt)
    n_gt, n_pred = int(gt.sum()), int(pred.sum())
    tp = int((pred & gt).sum())
    thin_gt = gt & (width <= thin)
    return {
        "dice": 2.0 * tp / max(n_gt + n_pred, 1),
        "vessel_fraction_pred": n_pred / max(int(fov.sum()), 1),
        "vessel_fraction_label": n_gt / max(int(fov.sum()), 1),
        "label_thin_share": float(thin_gt.sum()) / max(n_gt, 1),
        "missed_thin_of_thin": float((fn & thin_gt).sum()) / max(int(thin_gt.sum()), 1),
        "missed_thick_of_thick": float((fn & gt & ~thin_gt).sum()) / max(int((gt & ~thin_gt).sum()), 1),
        "fp_near_share": float((fp & (dist_to_gt <= near)).sum()) / max(int(fp.sum()), 1),
        "fp_of_pred": float(fp.sum()) / max(n_pred, 1),
        "fn_of_label": float(fn.sum()) / max(n_gt, 1),
    }


WIDTH_OPS = ("dilate1", "none", "erode1")


def _width_variant(mask: np.ndarray, op: str) -> np.ndarray:
    from scipy import ndimage as ndi

    return {"dilate1": ndi.binary_dilation, "erode1": ndi.binary_erosion}.get(op, lambda m: m)(mask)


def edge_choice(image: np.ndarray, mask: np.ndarray, fov: np.ndarray) -> str:
    """Label-free: the width variant of ``mask`` whose boundary lies on the strongest image edges."""
    from scipy import ndimage as ndi

    g = np.asarray(image, np.float32)
    if g.ndim == 3:
        g = g[..., 1] if g.shape[-1] >= 3 else g[..., 0]
    g = ndi.gaussian_filter(g, 1.0)
    grad = np.hypot(ndi.sobel(g, 0), ndi.sobel(g, 1))
    scores = {}
    for op in WIDTH_OPS:
        m = _width_variant(mask, op) & fov.astype(bool)
        edge = m & ~ndi.binary_erosion(m)
        scores[op] = float(grad[edge].mean()) if edge.any() else 0.0
    return max(scores, key=scores.get)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="segmenter model folders")
    ap.add_argument("--pair", default="drive-octa500", choices=["drive-octa500", "drive-chase", "drive-stare"])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--thin", type=float, default=3.0, help="largest diameter (px) of a thin vessel")
    ap.add_argument("--near", type=float, default=2.0, help="a false positive within this many px of a vessel is 'near'")
    ap.add_argument("--name", default=None)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "exploration-session19"))
    args = ap.parse_args(argv)

    from vessel_studio.adaptation.benchmark import BenchmarkSpec, _test_set
    from vessel_studio.io.atomic import write_report
    from vessel_studio.models.segmenter import Segmenter

    tests = _test_set(BenchmarkSpec(pair=args.pair, data=Path(args.data), work=Path("unused"), preset="cpu"))
    rows = {}
    for m in args.models:
        seg = Segmenter.load(m)
        from vessel_studio.metrics import dice

        per, choices = [], []
        for _, img, gt, fov in tests:
            mask = seg.predict(img, fov=fov).prob >= 0.5
            row = anatomy(mask, gt, fov, thin=args.thin, near=args.near)
            for op in ("dilate1", "erode1"):
                row[f"dice_{op}"] = dice(_width_variant(mask, op), gt, fov=fov)
            choices.append(edge_choice(img, mask, fov))
            per.append(row)
        rows[m] = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
        rows[m].update({f"edges_pick_{op}": float(choices.count(op)) for op in WIDTH_OPS})
        print(m, {k: round(v, 3) for k, v in rows[m].items()}, flush=True)

    name = args.name or f"error_anatomy-{args.pair}"
    cmd = "python benchmarks/error_anatomy.py " + " ".join(argv if argv is not None else sys.argv[1:])
    keys = list(next(iter(rows.values())))
    md = [f"# Where the errors are: {args.pair} test split ({len(tests)} images)", "",
          f"Command: `{cmd}`", "",
          f"Means over the test images. Thin vessel: diameter <= {args.thin:g} px at its skeleton; a false "
          f"positive is 'near' within {args.near:g} px of a labelled vessel. Exploratory; the labels are used "
          "for scoring only.", "",
          "| model | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    md += [f"| `{m}` | " + " | ".join(f"{v[k]:.3f}" for k in keys) + " |" for m, v in rows.items()]
    write_report(Path(args.out), name, {"command": cmd, "pair": args.pair, "thin": args.thin, "near": args.near,
                                        "images": len(tests), "models": rows}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
