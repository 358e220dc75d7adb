"""Round soup screen (see benchmarks/results/round-soup/PLAN.md): the uniform weight average of a
project's delivered round segmenters, scored on the pair's test set beside the last round.

usage: python benchmarks/round_soup_eval.py OUT.json RUN_DIR...
RUN_DIR: a benchmark seed folder (``.../PAIR/seed-N``, holding ``project/`` and ``scores/``).
Target labels are read only to score; nothing here chooses anything from them.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vessel_studio.adaptation.benchmark import BenchmarkSpec, _score_segmenter, _test_set
from vessel_studio.models.segmenter import Segmenter, interpolate_weights


def soup(folders: list[Path]) -> Segmenter:
    """Uniform weight average of the segmenters in ``folders`` (a running mean of
    ``interpolate_weights``: member k enters with weight 1/(k+1)); integer buffers from the last."""
    out = Segmenter.load(folders[0])
    for k, f in enumerate(folders[1:], start=1):
        out = interpolate_weights(out, Segmenter.load(f), k / (k + 1))
    return out


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    out = Path(argv[0])
    results = json.loads(out.read_text()) if out.exists() else {}
    tests = {}
    for run in map(Path, argv[1:]):
        pair = run.parent.name
        if pair not in tests:
            tests[pair] = _test_set(BenchmarkSpec(pair=pair, data=Path("../shared/data"), work=Path("scratch")))
        rounds = sorted((run / "project" / "rounds").glob("round-*"))
        last = rounds[-1]
        key = str(run)
        row = results.setdefault(key, {"pair": pair, "rounds": len(rounds) - 1})
        row["committed_last"] = json.loads((run / "scores" / f"adapted-round-{len(rounds) - 1}.json").read_text())["mean"]
        todo = {"last": [last / "segmenter"],
                "soup-all": [r / "segmenter" for r in rounds],
                "soup-1..R": [r / "segmenter" for r in rounds[1:]]}
        for name, members in todo.items():
            if name in row:
                continue
            t = time.time()
            row[name] = _score_segmenter(soup(members), tests[pair])["mean"]
            out.write_text(json.dumps(results, indent=1))
            print(key, name, {k: round(v, 4) for k, v in row[name].items()}, f"{time.time() - t:.0f}s", flush=True)
        if abs(row["last"]["dice"] - row["committed_last"]["dice"]) > 5e-5:
            print(f"CHECK FAILED {key}: re-scored last round {row['last']['dice']:.5f} != committed "
                  f"{row['committed_last']['dice']:.5f}", flush=True)
    d = [(k, r["soup-all"]["dice"] - r["last"]["dice"]) for k, r in results.items() if "soup-all" in r]
    for k, x in d:
        print(f"{k}: soup-all - last = {x:+.4f}")
    if d:
        print(f"mean {np.mean([x for _, x in d]):+.4f}, min {min(x for _, x in d):+.4f} over {len(d)} projects")


if __name__ == "__main__":
    main(sys.argv[1:])
