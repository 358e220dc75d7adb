"""EXPLORATORY diagnosis, reads TEST LABELS, chooses nothing: Dice of the last round at other thresholds.

usage: python benchmarks/threshold_diagnosis.py PAIR RUNS_DIR   (RUNS_DIR: a benchmark --work folder)
"""
import sys
from pathlib import Path
import numpy as np, torch
from vessel_studio.adaptation.benchmark import BenchmarkSpec, _test_set
from vessel_studio.models.segmenter import Segmenter
from vessel_studio.metrics import score
torch.set_num_threads(1)
pair = sys.argv[1]; runs = Path(sys.argv[2])
tests = _test_set(BenchmarkSpec(pair=pair, data=Path("../shared/data"), work=Path("scratch")))
thrs = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98]
for s in (0, 1, 2):
    rd = sorted((runs / pair / f"seed-{s}" / "project" / "rounds").glob("round-*"))[-1]
    seg = Segmenter.load(rd / "segmenter")
    probs = [seg.predict(img, fov=fov).prob for _, img, gt, fov in tests]
    row = {}
    for t in thrs:
        row[t] = np.mean([score(p, gt, fov=fov, threshold=t)["dice"] for p, (_, img, gt, fov) in zip(probs, tests)])
    gtf = np.mean([gt[fov > 0].mean() for _, img, gt, fov in tests])
    pf = np.mean([(p[fov > 0] >= 0.5).mean() for p, (_, img, gt, fov) in zip(probs, tests)])
    hist = np.histogram(np.concatenate([p[fov > 0] for p, (_, _, _, fov) in zip(probs, tests)]), bins=10, range=(0, 1))[0]
    print(pair, s, rd.name, {t: round(v, 3) for t, v in row.items()}, "gt frac", round(gtf, 3), "pred frac", round(pf, 3), "hist", (hist / hist.sum()).round(3).tolist(), flush=True)
