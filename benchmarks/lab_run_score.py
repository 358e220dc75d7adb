"""Score a finished lab run's project as ``gui_lab_run.py``'s step 4 does (same calls, same order), for a run whose
window process ended before its scoring (session 49: seed 2's process imported a module changed on disk under it
after its job had finished and died with an ImportError; its project's nine rounds were committed).

The target test labels are read here only. Writes ``lab-run-scores.json`` and prints a Markdown table.

    python benchmarks/lab_run_score.py --work scratch/s49/lab-run/run --out benchmarks/results/gui/lab-run-seed2
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="the lab run's --work (its project is WORK/project)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = ap.parse_args(argv)
    from vessel_studio.adaptation.benchmark import PAIRS, BenchmarkSpec, _score_segmenter, _test_set
    from vessel_studio.adaptation.selection import review_pick, round_rows, select_round
    from vessel_studio.cli import main as cli
    from vessel_studio.commands.segment import resolve_segmenter_path
    from vessel_studio.io.datasets import dataset
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.store.project import Project

    work, data = Path(args.work), Path(args.data)
    info = PAIRS["drive-octa500"]
    project = Project.open(work / "project")
    targets = [s.image for s in dataset(data, info["target"], "train")]  # images only, as the run added them
    rows = round_rows(project.rounds)
    pick, flagged = review_pick(rows)
    report = {"project": str(project.folder), "rounds": [{"round": r.index, "seconds": r.seconds,
                                                          "label_free": r.metrics} for r in project.rounds],
              "label_free": {"review_pick": pick, "flagged": flagged, "select_round": select_round(rows)}}
    spec = BenchmarkSpec(pair="drive-octa500", data=data, work=work)
    tests = _test_set(spec)
    report["test_images"] = len(tests)
    scores = {}
    t = time.perf_counter()
    seg = Segmenter.load(resolve_segmenter_path(None)).use_modality(info["modality"])
    scores["bundled fundus-segmenter (raw)"] = _score_segmenter(seg, tests)["mean"]
    renorm = work / "renormalized"
    if renorm.exists():
        shutil.rmtree(renorm)
    if cli(["renormalize", *map(str, targets), "--modality", info["modality"], "--out", str(renorm)]) != 0:
        raise SystemExit("renormalize failed")
    scores["bundled, re-normalised on the target images"] = _score_segmenter(
        Segmenter.load(resolve_segmenter_path(str(renorm))), tests)["mean"]
    for r in project.rounds:
        seg = Segmenter.load(resolve_segmenter_path(str(project.folder), r.index))
        scores[f"round {r.index}"] = _score_segmenter(seg, tests)["mean"]
    report["scoring_seconds"] = round(time.perf_counter() - t, 1)
    report["scores"] = scores
    report["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lab-run-scores.json").write_text(json.dumps(report, indent=1, default=str))
    keys = ("dice", "cldice", "auc", "sensitivity", "specificity")
    print("| model | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for name, s in scores.items():
        print(f"| {name} | " + " | ".join(f"{s[k]:.3f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
