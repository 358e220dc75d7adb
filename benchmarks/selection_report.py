"""Validation table of the label-free round selection (``selection.select_round``) from benchmark
reports: per run, the fragmentation of each round, the round chosen, its test Dice, the last
round's and source-only's; per pair, the means and the count of runs where the choice is better /
equal / worse than always reporting the last round.

    python benchmarks/selection_report.py --out benchmarks/results/selection --name validation \\
        benchmarks/results/drive-chase/variant-source-share-ddim/results.json ...

The test Dice columns use the target test labels: they judge the rule, they do not make it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def rows_of(report: dict) -> list[dict]:
    from vessel_studio.adaptation.selection import report_round_rows, select_round

    out = []
    for seed, parts in report["per_seed"].items():
        rounds = parts.get("adapted", {}).get("rounds") or []
        if not rounds:
            continue
        hist = report_round_rows(rounds)
        pick = select_round(hist)
        dice = {r["round"]: r["scores"]["dice"] for r in rounds}
        out.append({"pair": report["pair"], "seed": int(seed), "overrides": report.get("adapt_overrides", {}),
                    "fragmentation": [round(float(h.get("fragmentation", np.nan)), 2) for h in hist],
                    "dice": [round(dice[h["round"]], 4) for h in hist], "selected": pick,
                    "selected_dice": dice.get(pick) if pick is not None else None,
                    "last_dice": dice[rounds[-1]["round"]],
                    "source_only_dice": parts.get("source-only", {}).get("mean", {}).get("dice")})
    return out


def markdown(rows: list[dict], command: str, notes: list[str]) -> str:
    lines = ["# Label-free round selection: validation", "", f"Command: `{command}`", "",
             "| pair | overrides | seed | fragmentation per round | Dice per round | selected | Dice selected | "
             "Dice last | source-only |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ov = " ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "default"
        so = "" if r["source_only_dice"] is None else f"{r['source_only_dice']:.3f}"
        lines.append(f"| {r['pair']} | {ov} | {r['seed']} | {' / '.join(f'{x:.2f}' for x in r['fragmentation'])} | "
                     f"{' / '.join(f'{x:.3f}' for x in r['dice'])} | {r['selected']} | {r['selected_dice']:.3f} | "
                     f"{r['last_dice']:.3f} | {so} |")
    lines += ["", "Per pair and configuration (mean Dice over seeds; runs where the selected round is better / "
                  "equal / worse than the last round):", "",
              "| pair | overrides | runs | selected | last | source-only | better / equal / worse |", "|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["pair"], json.dumps(r["overrides"], sort_keys=True)), []).append(r)
    for (pair, ov), rs in groups.items():
        sel = np.mean([r["selected_dice"] for r in rs])
        last = np.mean([r["last_dice"] for r in rs])
        so = [r["source_only_dice"] for r in rs if r["source_only_dice"] is not None]
        b = sum(r["selected_dice"] > r["last_dice"] + 1e-9 for r in rs)
        w = sum(r["selected_dice"] < r["last_dice"] - 1e-9 for r in rs)
        ovs = " ".join(f"{k}={v}" for k, v in json.loads(ov).items()) or "default"
        lines.append(f"| {pair} | {ovs} | {len(rs)} | {sel:.3f} | {last:.3f} | "
                     f"{np.mean(so):.3f} | {b} / {len(rs) - b - w} / {w} |" if so else
                     f"| {pair} | {ovs} | {len(rs)} | {sel:.3f} | {last:.3f} |  | {b} / {len(rs) - b - w} / {w} |")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", help="results.json files written by `vessel-studio benchmark`")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="validation")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args(argv)
    from vessel_studio.io.atomic import write_json, write_text

    rows = [r for p in args.reports for r in rows_of(json.loads(Path(p).read_text()))]
    command = "python benchmarks/selection_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    write_json(out / f"{args.name}.json", {"command": command, "rows": rows, "notes": args.note})
    write_text(out / f"{args.name}.md", markdown(rows, command, args.note))
    print(markdown(rows, command, args.note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
