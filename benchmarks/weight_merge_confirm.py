"""Paired scores of a default (merge-delivering) benchmark run: per seed and round, the delivered
merge (the benchmark's cached score) and the unmerged chain (``segmenter-chain/``, scored here with the
benchmark's own scorer), beside the run's source-only and oracle.

usage: python benchmarks/weight_merge_confirm.py WORK OUT.json PAIR SEED [SEED ...]
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

from vessel_studio.adaptation.benchmark import BenchmarkSpec, _score_segmenter, _test_set
from vessel_studio.models.segmenter import Segmenter
from vessel_studio.store import Project

torch.set_num_threads(1)
work, out, pair, seeds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], [int(s) for s in sys.argv[4:]]
tests = _test_set(BenchmarkSpec(pair=pair, data=Path("../shared/data"), work=Path("scratch")))
results = json.loads(out.read_text()) if out.exists() else {}
for s in seeds:
    base = work / pair / f"seed-{s}"
    proj = Project.open(base / "project")
    row = {}
    for part in ("source-only", "oracle", "histmatch", "frangi"):
        f = base / "scores" / f"{part}.json"
        if f.is_file():
            row[part] = json.loads(f.read_text())["mean"]["dice"]
    for r in proj.rounds:
        row[f"round-{r.index}/delivered"] = json.loads((base / "scores" / f"adapted-round-{r.index}.json").read_text())["mean"]["dice"]
        row[f"round-{r.index}/source_weight"] = r.config.get("source_weight")
        chain = proj.chain_segmenter_path(r.index)
        row[f"round-{r.index}/chain"] = _score_segmenter(Segmenter.load(chain), tests)["mean"]["dice"]
    results[f"{pair}/seed-{s}"] = row
    out.write_text(json.dumps(results, indent=1))
    print(pair, s, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
for p in sorted({k.split("/")[0] for k in results}):
    rows = [v for k, v in results.items() if k.startswith(p + "/")]
    last = max(int(k.split("/")[0].split("-")[1]) for k in rows[0] if k.startswith("round-"))
    d = [r[f"round-{last}/delivered"] for r in rows]
    c = [r[f"round-{last}/chain"] for r in rows]
    print(p, f"last round: delivered {np.mean(d):.3f} (per seed {[round(x, 3) for x in d]}), "
             f"chain {np.mean(c):.3f} (per seed {[round(x, 3) for x in c]})")
