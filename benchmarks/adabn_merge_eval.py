"""Variant "merge base = AdaBN source", computed exactly after the fact (``results/adabn/PLAN.md``,
addendum, part 2).

Each round delivers ``interpolate_weights(source, chain, source_weight)``. The variant replaces
``source`` by the source segmenter with its BatchNorm statistics re-estimated on the project's
target images (``train.segmenter.reestimate_norm_statistics``: the round's ``seg_crop`` and
``seg_batch``, 256 batches, crop seed = the job's seed). With ``merge_chain`` off, ``synth_filter``
0 and ``guard_retries`` 0 the source's running statistics do not touch the chain, so the variant's
delivered segmenters are exactly these. For every round the script scores, on the pair's test
split as the benchmark does: the committed delivered segmenter's score (from the run's cache), the
plain merge recomputed from the chain (must equal it: the check that the after-the-fact merge is
the job's), and the variant.

    python benchmarks/adabn_merge_eval.py PAIR WORK:SEED [WORK:SEED ...] [--name NAME]

WORK is the ``--work`` of the run (``WORK/PAIR/seed-S/{project,source-only,scores}``). Writes
``benchmarks/results/adabn/<NAME>.{json,md}`` (default ``merge-PAIR``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pair")
    ap.add_argument("runs", nargs="+", help="WORK:SEED")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--weight", type=float, default=None,
                    help="merge at this source weight instead of each round's own (exploratory; the check against "
                         "the committed score still uses the round's own weight)")
    ap.add_argument("--last-only", action="store_true", help="only each run's last round")
    ap.add_argument("--name", default=None)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "adabn"))
    args = ap.parse_args(argv)

    from vessel_studio.adaptation.benchmark import BenchmarkSpec, _score_segmenter, _test_set
    from vessel_studio.adaptation.job import load_targets
    from vessel_studio.models.segmenter import Segmenter, interpolate_weights
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.io.atomic import write_report
    from vessel_studio.store import Project
    from vessel_studio.train.segmenter import NORM_BATCHES, reestimate_norm_statistics

    spec = BenchmarkSpec(pair=args.pair, data=Path(args.data), work=Path("unused"), preset="cpu")
    tests = _test_set(spec)
    seeds = {}
    for run in args.runs:
        work, _, seed = run.rpartition(":")
        base = Path(work) / args.pair / f"seed-{int(seed)}"
        proj = Project.open(base / "project")
        prep = Preprocessing.from_dict(proj.preprocessing) if "channel" in proj.preprocessing \
            else Preprocessing.for_modality(proj.modality)
        targets = load_targets(proj, prep)
        rounds = proj.rounds
        cfg0 = rounds[0].config or {}
        if cfg0.get("merge_chain") or float(cfg0.get("synth_filter", 0.0)) > 0 or int(cfg0.get("guard_retries", 0)) > 0:
            raise SystemExit(f"{base}: merge_chain / synth_filter / guard_retries set: the after-the-fact merge "
                             "would not be the job's")
        source = Segmenter.load(base / "source-only")
        normed = Segmenter.load(base / "source-only")
        reestimate_norm_statistics(normed, [t.prepared.x for t in targets], [t.prepared.fov for t in targets],
                                   crop=int(cfg0["seg_crop"]), batch_size=int(cfg0["seg_batch"]), batches=NORM_BATCHES,
                                   seed=int(cfg0["seed"]))
        rows = []
        for r in (rounds[-1:] if args.last_only else rounds):
            own = float((r.config or {}).get("source_weight", 0.0))
            w = own if args.weight is None else float(args.weight)
            chain_dir = base / "project" / r.folder / "segmenter-chain"
            if not chain_dir.is_dir() and own == 0:  # nothing merged: the delivered segmenter is the chain
                chain_dir = base / "project" / r.folder / "segmenter"
            chain = Segmenter.load(chain_dir)
            committed = json.loads((base / "scores" / f"adapted-round-{r.index}.json").read_text())["mean"]
            recomputed = _score_segmenter(interpolate_weights(source, chain, own), tests)["mean"]
            plain = recomputed if w == own else _score_segmenter(interpolate_weights(source, chain, w), tests)["mean"]
            variant = _score_segmenter(interpolate_weights(normed, chain, w), tests)["mean"]
            rows.append({"round": r.index, "source_weight": own, "merge_weight": w, "committed": committed,
                         "recomputed": recomputed, "plain": plain, "variant": variant})
            print(f"seed {seed} round {r.index}: committed {committed['dice']:.4f} recomputed {recomputed['dice']:.4f} "
                  f"plain at {w:g} {plain['dice']:.4f} variant at {w:g} {variant['dice']:.4f}", flush=True)
        seeds[str(int(seed))] = {"work": work, "rounds": rows}

    cmd = "python benchmarks/adabn_merge_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])
    ok = all(abs(r["recomputed"]["dice"] - r["committed"]["dice"]) <= 1e-6 for s in seeds.values()
             for r in s["rounds"])
    last = {s: d["rounds"][-1] for s, d in seeds.items()}
    delta = [last[s]["variant"]["dice"] - last[s]["committed"]["dice"] for s in last]
    md = [f"# Merge base = source with target BatchNorm statistics: {args.pair}", "", f"Command: `{cmd}`", "",
          "Delivered segmenter per round: w × source + (1 − w) × chain (committed: the round's own w; plain merge: "
          "at the merge weight), and the variant w × (source, BatchNorm statistics re-estimated on the project's "
          "target images) + (1 − w) × chain. Test split, threshold 0.5. Plan: PLAN.md (addendum, part 2).", "",
          f"Check: the plain merge recomputed from each round's chain equals the committed score on every round "
          f"(|Δ Dice| ≤ 1e-6): **{'yes' if ok else 'NO'}**.", "",
          "| seed | last round | merge weight | Dice committed | plain merge | variant | Δ variant − committed | "
          "clDice committed → variant | AUC |", "|---|---|---|---|---|---|---|---|---|"]
    for s, r in last.items():
        c, p, v = r["committed"], r["plain"], r["variant"]
        md.append(f"| {s} | {r['round']} | {r['merge_weight']:g} | {c['dice']:.4f} | {p['dice']:.4f} | {v['dice']:.4f} | "
                  f"{v['dice'] - c['dice']:+.4f} | {c['cldice']:.3f} → {v['cldice']:.3f} | {c['auc']:.3f} → {v['auc']:.3f} |")
    md += ["", f"Mean last-round Δ Dice: {np.mean(delta):+.4f}; smallest {min(delta):+.4f}.", "",
           "Per round (mean over the seeds listed):", "", "| round | committed Dice | plain merge | variant Dice |",
           "|---|---|---|---|"]
    n_rounds = min(len(d["rounds"]) for d in seeds.values())
    for k in range(n_rounds):
        c = np.mean([d["rounds"][k]["committed"]["dice"] for d in seeds.values()])
        p = np.mean([d["rounds"][k]["plain"]["dice"] for d in seeds.values()])
        v = np.mean([d["rounds"][k]["variant"]["dice"] for d in seeds.values()])
        md.append(f"| {next(iter(seeds.values()))['rounds'][k]['round']} | {c:.4f} | {p:.4f} | {v:.4f} |")
    write_report(Path(args.out), args.name or f"merge-{args.pair}",
                 {"command": cmd, "pair": args.pair, "batches": NORM_BATCHES, "weight": args.weight, "recomputed_equals_committed": ok,
                  "seeds": seeds}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
