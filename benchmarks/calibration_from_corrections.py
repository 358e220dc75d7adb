"""What a few corrected masks give an adapted OCT-A model: its mask boundary fitted to them.

``vessel_studio.calibration.fit_boundary`` picks a probability threshold and a thinning that keeps
centre lines, from the images a person corrected. The benchmark has no person, so this script uses
the stand-in that ../shared/BENCHMARK.md allows when a report says so: **the 10 labelled images of
OCTA-500's Validation split play the corrected masks.** They are not test images and not the
adaptation's training images. The fitted rule is then scored on the 50 test images, beside the
plain rule (threshold 0.5). This is not the headline number and is not used for it.

It fits on all 10 images, and on every single image and on 10 random triples of them, to show how
many corrections the fit needs.

    python benchmarks/calibration_from_corrections.py MODEL [MODEL ...] [--data ../shared/data]
        [--name calibration_from_corrections]

Writes ``benchmarks/results/exploration-session19/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _scores(cal, probs, tests) -> dict:
    from vessel_studio.metrics import cldice, dice

    masks = [cal.apply(p, fov) for p, (_, _, _, fov) in zip(probs, tests)]
    return {"dice": float(np.mean([dice(m, gt, fov=fov) for m, (_, _, gt, fov) in zip(masks, tests)])),
            "cldice": float(np.mean([cldice(m, gt, fov=fov) for m, (_, _, gt, fov) in zip(masks, tests)]))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--triples", type=int, default=10, help="random triples of corrected images to fit on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="calibration_from_corrections")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "exploration-session19"))
    args = ap.parse_args(argv)

    from vessel_studio.adaptation.benchmark import BenchmarkSpec, _test_set
    from vessel_studio.calibration import BoundaryCalibration, fit_boundary
    from vessel_studio.io.atomic import write_report
    from vessel_studio.models.segmenter import Segmenter

    spec = BenchmarkSpec(pair="drive-octa500", data=Path(args.data), work=Path("unused"), preset="cpu")
    corrected, tests = _test_set(spec, "val"), _test_set(spec)
    rng = np.random.default_rng(args.seed)
    triples = [sorted(rng.choice(len(corrected), 3, replace=False).tolist()) for _ in range(args.triples)]
    result = {}
    for m in args.models:
        seg = Segmenter.load(m)
        pv = [seg.predict(img, fov=fov).prob for _, img, _, fov in corrected]
        pt = [seg.predict(img, fov=fov).prob for _, img, _, fov in tests]

        def fit(idx):
            return fit_boundary([pv[i] for i in idx], [corrected[i][2] for i in idx], [corrected[i][3] for i in idx])

        full = fit(range(len(corrected)))
        singles = [fit([i]) for i in range(len(corrected))]
        threes = [fit(t) for t in triples]
        row = {"plain": _scores(BoundaryCalibration(), pt, tests),
               "fitted_on_all": {**full.to_dict(), **_scores(full, pt, tests)},
               "fitted_on_one": [{**c.to_dict(), **_scores(c, pt, tests)} for c in singles],
               "fitted_on_three": [{**c.to_dict(), **_scores(c, pt, tests), "images_used": t}
                                   for c, t in zip(threes, triples)]}
        result[m] = row
        print(m, "plain", round(row["plain"]["dice"], 3), "all", full.threshold, full.thin,
              round(row["fitted_on_all"]["dice"], 3), flush=True)

    cmd = "python benchmarks/calibration_from_corrections.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = ["# A mask boundary fitted to corrected masks: DRIVE → OCTA-500", "",
          f"Command: `{cmd}`", "",
          f"Stand-in corrections: the {len(corrected)} labelled OCTA-500 Validation images (allowed by "
          "../shared/BENCHMARK.md when a report says so; never for a headline). Scored on the "
          f"{len(tests)} test images. Exploratory.", "",
          "| model | plain Dice (0.5) | fitted on all 10: threshold, thinning | Dice | clDice (plain → fitted) "
          "| fitted on one image: Dice min / median / max | on three: min / median / max |",
          "|---|---|---|---|---|---|---|"]
    for m, r in result.items():
        one = [x["dice"] for x in r["fitted_on_one"]]
        three = [x["dice"] for x in r["fitted_on_three"]]
        f = r["fitted_on_all"]
        md.append(f"| `{m}` | {r['plain']['dice']:.3f} | {f['threshold']:.2f}, {f['thin']} px | {f['dice']:.3f} | "
                  f"{r['plain']['cldice']:.3f} → {f['cldice']:.3f} | "
                  f"{min(one):.3f} / {np.median(one):.3f} / {max(one):.3f} | "
                  f"{min(three):.3f} / {np.median(three):.3f} / {max(three):.3f} |")
    write_report(Path(args.out), args.name, {"command": cmd, "corrected_images": [c[0] for c in corrected],
                                             "test_images": len(tests), "triples": triples, "models": result}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
