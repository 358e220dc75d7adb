"""Weight interpolation of the source-only and adapted segmenters (see PREREGISTRATION.md).

usage: python benchmarks/weight_merge_eval.py PAIR OUT.json [RUNS_DIR]  (RUNS_DIR: a benchmark --work folder, default scratch/s6/aug)
Primary (alpha 0.5, last round) first for every seed, then the exploratory variants.
"""
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vessel_studio.adaptation.benchmark import BenchmarkSpec, _score_probs, _score_segmenter, _test_set
from vessel_studio.models.segmenter import Segmenter, interpolate_weights

torch.set_num_threads(1)
pair, out = sys.argv[1], Path(sys.argv[2])
runs = Path(sys.argv[3]) if len(sys.argv) > 3 else Path("scratch/s6/aug")
tests = _test_set(BenchmarkSpec(pair=pair, data=Path("../shared/data"), work=Path("scratch")))


def merge(src: Segmenter, ada: Segmenter, alpha: float) -> Segmenter:
    """alpha = the adapted model's weight (WiSE-FT's notation); source_weight = 1 - alpha."""
    return interpolate_weights(src, ada, 1.0 - alpha)


results = json.loads(out.read_text()) if out.exists() else {}


def record(key, fn):
    if key in results:
        return results[key]
    t = time.time()
    results[key] = fn()["mean"]
    out.write_text(json.dumps(results, indent=1))
    print(pair, key, {k: round(v, 4) for k, v in results[key].items()}, f"{time.time() - t:.0f}s", flush=True)
    return results[key]


seeds = [0, 1, 2]
rounds = {s: sorted((runs / pair / f"seed-{s}" / "project" / "rounds").glob("round-*")) for s in seeds}
src = {}
for s in seeds:
    src[s] = Segmenter.load(runs / pair / f"seed-{s}" / "source-only")
for phase in ("primary", "explore"):
    for s in seeds:
        last = rounds[s][-1]
        for rd in rounds[s]:
            ada = Segmenter.load(rd / "segmenter")
            src_t = copy.deepcopy(src[s])
            src_t.preprocessing = ada.preprocessing  # source-only is applied with the target's preprocessing
            for alpha in (0.5, 0.25, 0.75):
                if phase == "primary" and (rd != last or alpha != 0.5):
                    continue
                record(f"seed-{s}/{rd.name}/merge-{alpha}", lambda: _score_segmenter(merge(src_t, ada, alpha), tests))
            if phase == "explore":
                record(f"seed-{s}/{rd.name}/unmerged", lambda: _score_segmenter(ada, tests))
                record(f"seed-{s}/{rd.name}/prob-average", lambda: _score_probs(
                    tests, lambda img, fov: ((src_t.predict(img, fov=fov).prob + ada.predict(img, fov=fov).prob) / 2, 0.5)))
        if phase == "explore":
            record(f"seed-{s}/source-only", lambda: _score_segmenter(src_t, tests))
    if phase == "primary":
        d = [results[f"seed-{s}/{rounds[s][-1].name}/merge-0.5"]["dice"] for s in seeds]
        print(pair, "PRIMARY last-round merge-0.5 Dice per seed", [round(x, 4) for x in d],
              f"mean {np.mean(d):.3f} sd {np.std(d, ddof=1):.3f}", flush=True)
