"""One table of Dice per round for variants of an adaptation (an ablation), from benchmark caches.

Each variant is a ``vessel-studio benchmark PAIR --parts adapted --set KEY=VALUE ... --work DIR``
run; its scores per round are cached as ``DIR/PAIR/seed-S/scores/adapted-round-R.json`` and its
label-free round signals in ``DIR/PAIR/seed-S/project/project.json``. A variant given as a
``results.json`` (a committed benchmark report) is read from that report's per-seed rounds, so the
reference row can be the committed headline itself. This script only reads those caches (nothing is
trained) and writes a Markdown table and JSON.

    python benchmarks/ablation_report.py --pair drive-octa500 --seeds 0 \\
        --variant "baseline (t0 0.3, dropout 0.2)=scratch/benchmark" \\
        --variant "t0 0.2=scratch/ablation/t0-0.2" ... --out benchmarks/results/drive-octa500/ablations
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

KEYS = ("dice", "cldice", "auc", "sensitivity", "specificity")
LABEL_FREE_KEYS = ("agreement", "confidence", "vessel_fraction", "generator_loss")


def _summary(rounds, label_free, config) -> dict:
    return {"rounds": {r: {k: float(np.mean(v)) for k, v in d.items()} for r, d in sorted(rounds.items())},
            "n_seeds": {r: len(d["dice"]) for r, d in sorted(rounds.items())},
            "dice_sd": {r: float(np.std(d["dice"], ddof=1)) if len(d["dice"]) > 1 else None
                        for r, d in sorted(rounds.items())},
            "label_free": {r: {k: float(np.mean(v)) for k, v in d.items()} for r, d in sorted(label_free.items())},
            "config": config}


def read_report(path: Path, seeds) -> dict:
    """A variant from a committed benchmark report (``results.json``): its per-seed adapted rounds."""
    per_seed = json.loads(path.read_text())["per_seed"]
    rounds: dict[int, dict[str, list[float]]] = {}
    label_free: dict[int, dict[str, list[float]]] = {}
    config = None
    for s in seeds:
        if str(s) not in per_seed:
            raise SystemExit(f"{path}: no seed {s} in its per_seed results")
        adapted = per_seed[str(s)]["adapted"]
        config = adapted.get("config", config)
        for rec in adapted["rounds"]:
            for k in KEYS:
                rounds.setdefault(rec["round"], {}).setdefault(k, []).append(float(rec["scores"][k]))
            for k in LABEL_FREE_KEYS:
                if k in rec["label_free"]:
                    label_free.setdefault(rec["round"], {}).setdefault(k, []).append(float(rec["label_free"][k]))
    return _summary(rounds, label_free, config)


def read_variant(work: Path, pair: str, seeds) -> dict:
    if work.suffix == ".json":
        return read_report(work, seeds)
    rounds: dict[int, dict[str, list[float]]] = {}
    label_free: dict[int, dict[str, list[float]]] = {}
    config = None
    for s in seeds:
        base = work / pair / f"seed-{s}"
        for f in sorted((base / "scores").glob("adapted-round-*.json")):
            r = int(f.stem.rsplit("-", 1)[1])
            mean = json.loads(f.read_text())["mean"]
            for k in KEYS:
                rounds.setdefault(r, {}).setdefault(k, []).append(float(mean[k]))
        proj = base / "project" / "project.json"
        if proj.is_file():
            for rec in json.loads(proj.read_text())["rounds"]:
                config = rec.get("config", config)
                for k in LABEL_FREE_KEYS:
                    if k in rec["metrics"]:
                        label_free.setdefault(rec["index"], {}).setdefault(k, []).append(float(rec["metrics"][k]))
    if not rounds:
        raise SystemExit(f"{work / pair}: no cached adapted-round scores for seeds {list(seeds)}")
    return _summary(rounds, label_free, config)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--variant", action="append", required=True, metavar="NAME=WORKDIR")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="ablation", help="file name of the report (NAME.md, NAME.json)")
    args = ap.parse_args(argv)

    variants = {}
    for item in args.variant:
        name, _, work = item.rpartition("=")
        if not name:
            raise SystemExit(f"--variant {item!r}: expected NAME=WORKDIR")
        variants[name] = read_variant(Path(work), args.pair, args.seeds)
    n_rounds = max(max(v["rounds"]) for v in variants.values()) + 1
    many = len(args.seeds) > 1  # then a column with the last round's sd over the seeds and their number
    lines = [f"# Ablation: {args.pair}, seeds {args.seeds}", "",
             "Command: `python " + " ".join([Path(sys.argv[0]).as_posix()] + [a if " " not in a else repr(a) for a in sys.argv[1:]]) + "`",
             "", "Dice on the target test set after each round (round 0 = latent similarity mining alone); "
             "last round's clDice, AUC, sensitivity and specificity; label-free agreement and vessel fraction "
             "of the last round (what a lab sees).", "",
             "| variant | " + " | ".join(f"Dice r{r}" for r in range(n_rounds))
             + (" | last: sd (seeds)" if many else "") + " | clDice | AUC | sens. | spec. | agreement | vessel fraction |",
             "|---|" + "---|" * (n_rounds + 6 + many)]
    for name, v in variants.items():
        last = max(v["rounds"])
        cells = [f"{v['rounds'][r]['dice']:.3f}" if r in v["rounds"] else "" for r in range(n_rounds)]
        lf = v["label_free"].get(last, {})
        s = v["rounds"][last]
        if many:
            sd = v["dice_sd"][last]
            cells.append(("—" if sd is None else f"{sd:.3f}") + f" ({v['n_seeds'][last]})")
        cells += [f"{s['cldice']:.3f}", f"{s['auc']:.3f}", f"{s['sensitivity']:.3f}", f"{s['specificity']:.3f}",
                  f"{lf.get('agreement', float('nan')):.3f}", f"{lf.get('vessel_fraction', float('nan')):.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    refs = {}
    first = Path(args.variant[0].rpartition("=")[2])
    for part in ("source-only", "oracle"):
        if first.suffix == ".json":
            per_seed = json.loads(first.read_text())["per_seed"]
            vals = [per_seed[str(s)][part]["mean"]["dice"] for s in args.seeds if part in per_seed.get(str(s), {})]
        else:
            vals = [json.loads(f.read_text())["mean"]["dice"] for s in args.seeds
                    if (f := first / args.pair / f"seed-{s}" / "scores" / f"{part}.json").is_file()]
        if vals:
            refs[part] = float(np.mean(vals))
    if refs:
        lines += ["", "For reference (same seeds, Dice): " + ", ".join(f"{k} {v:.3f}" for k, v in refs.items()) + "."]
    if args.note:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in args.note]
    out = Path(args.out)
    from vessel_studio.io.atomic import write_json, write_text

    write_json(out / f"{args.name}.json", {"pair": args.pair, "seeds": args.seeds, "variants": variants, "reference_dice": refs,
                                       "notes": args.note})
    write_text(out / f"{args.name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
