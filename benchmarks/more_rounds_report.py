"""Report of the pre-registered "more rounds" test (benchmarks/results/more-rounds/PREREGISTRATION.md).

usage: python benchmarks/more_rounds_report.py OUT_DIR RUNS_DIR[:SEEDS] [RUNS_DIR[:SEEDS] ...]

RUNS_DIR is a benchmark ``--work`` folder (PAIR/seed-S/{scores,project,adapt-result.json}); SEEDS a comma
list (default 0,1,2). Reads the cached test scores of every round (written by ``vessel-studio benchmark``)
and the label-free signals each round recorded in its project; computes nothing new. The decision rule is
applied to seeds 0-2 only; other seeds are reported as held-out.
"""
import json
import sys
from pathlib import Path

import numpy as np

PAIRS = ("drive-octa500", "drive-chase", "drive-stare")
NAMES = {"drive-octa500": "OCTA-500", "drive-chase": "CHASE_DB1", "drive-stare": "STARE"}


def load(runs: Path, pair: str, seed: int) -> dict | None:
    d = runs / pair / f"seed-{seed}"
    if not (d / "adapt-result.json").is_file():
        return None
    proj = json.loads((d / "project" / "project.json").read_text())
    rounds = []
    for r in sorted(proj["rounds"], key=lambda r: r["index"]):
        sc = json.loads((d / "scores" / f"adapted-round-{r['index']}.json").read_text())["mean"]
        m = r.get("metrics") or {}
        rounds.append({"round": r["index"], "dice": sc["dice"], "cldice": sc["cldice"], "auc": sc["auc"],
                       "agreement": m.get("agreement"), "vessel_fraction": m.get("vessel_fraction"),
                       "confidence": m.get("confidence"), "seconds": r.get("seconds")})
    src = json.loads((d / "scores" / "source-only.json").read_text())["mean"]["dice"]
    res = json.loads((d / "adapt-result.json").read_text())
    return {"pair": pair, "seed": seed, "runs": str(runs), "rounds": rounds, "source_only": src,
            "stopped_early": bool(res.get("stopped_early")), "reason": res.get("reason", ""),
            "seconds_continued": res.get("seconds")}


def main(argv):
    out = Path(argv[0])
    runs = []
    for spec in argv[1:]:
        folder, _, seeds = spec.partition(":")
        for pair in PAIRS:
            for s in [int(x) for x in (seeds or "0,1,2").split(",")]:
                r = load(Path(folder), pair, s)
                if r is not None:
                    runs.append(r)
    f = lambda x: "" if x is None else f"{x:.3f}"
    md = ["# More co-optimization rounds with the label-free stop: results", "",
          "Command: `python benchmarks/more_rounds_report.py " + " ".join(argv) + "`", "",
          "Test Dice per round (rounds 0–2 as in the `rounds=2` runs; 3–5 added by the continued job, which "
          "stops early when the label-free agreement reaches 0.97). The delivered model of a round is what "
          "is scored (within fundus: the 0.5 weight merge with the source segmenter).", "",
          "| pair | seed | Dice r0 | r1 | r2 | r3 | r4 | r5 | last | stopped early | agreement r3/r4/r5 | source-only |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        d = {x["round"]: x for x in r["rounds"]}
        dice = [f(d[i]["dice"]) if i in d else "–" for i in range(6)]
        agr = " / ".join(f(d[i]["agreement"]) for i in (3, 4, 5) if i in d)
        md.append(f"| {NAMES[r['pair']]} | {r['seed']} | " + " | ".join(dice) +
                  f" | {f(r['rounds'][-1]['dice'])} (r{r['rounds'][-1]['round']}) | {'yes' if r['stopped_early'] else 'no'} "
                  f"| {agr} | {f(r['source_only'])} |")
    md += ["", "## Decision (seeds 0–2, pre-registered rule)", "",
           "| pair | seeds | round 2 (`rounds=2`) | last round (up to 5) | difference | source-only |",
           "|---|---|---|---|---|---|"]
    summary = {}
    for pair in PAIRS:
        for group, seeds in (("decision", (0, 1, 2)), ("held-out", (3, 4))):
            rs = [r for r in runs if r["pair"] == pair and r["seed"] in seeds]
            if not rs:
                continue
            r2 = [next(x["dice"] for x in r["rounds"] if x["round"] == 2) for r in rs]
            last = [r["rounds"][-1]["dice"] for r in rs]
            so = [r["source_only"] for r in rs]
            summary[f"{pair}/{group}"] = {"seeds": [r["seed"] for r in rs], "round2": r2, "last": last,
                                         "source_only": so}
            if group == "decision":
                sd = lambda v: f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"
                md.append(f"| {NAMES[pair]} | {', '.join(str(r['seed']) for r in rs)} | {sd(r2)} | {sd(last)} | "
                          f"{np.mean(last) - np.mean(r2):+.3f} | {np.mean(so):.3f} |")
    dec = {p: summary.get(f"{p}/decision") for p in PAIRS}
    if all(v is not None and len(v["seeds"]) == 3 for v in dec.values()):
        diffs = {p: float(np.mean(v["last"]) - np.mean(v["round2"])) for p, v in dec.items()}
        adopt = all(x >= -0.005 for x in diffs.values()) and any(x >= 0.01 for x in diffs.values())
        md += ["", f"Rule: adopt `rounds=5` only if no pair loses more than 0.005 and one gains 0.01 or more. "
               f"Outcome: **{'adopt' if adopt else 'do not adopt'}** "
               f"({', '.join(f'{NAMES[p]} {d:+.3f}' for p, d in diffs.items())})."]
        summary["decision"] = {"differences": diffs, "adopt": adopt}
    held = [r for r in runs if r["seed"] >= 3]
    if held:
        md += ["", "## Held-out seeds (reported, not part of the decision)", "",
               "| pair | seed | round 2 | last round | source-only |", "|---|---|---|---|---|"]
        for r in held:
            r2 = next(x["dice"] for x in r["rounds"] if x["round"] == 2)
            md.append(f"| {NAMES[r['pair']]} | {r['seed']} | {r2:.3f} | {r['rounds'][-1]['dice']:.3f} "
                      f"(r{r['rounds'][-1]['round']}) | {r['source_only']:.3f} |")
    md += ["", "## Wall clock per continued round (s; median over runs)", "", "| pair | round 3 | round 4 | round 5 |",
           "|---|---|---|---|"]
    for pair in PAIRS:
        cells = []
        for i in (3, 4, 5):
            v = [x["seconds"] for r in runs if r["pair"] == pair for x in r["rounds"] if x["round"] == i and x["seconds"]]
            cells.append(f"{np.median(v):.0f} ({len(v)})" if v else "–")
        md.append(f"| {NAMES[pair]} | " + " | ".join(cells) + " |")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n".join(md) + "\n")
    (out / "results.json").write_text(json.dumps({"runs": runs, "summary": summary}, indent=1))
    print("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1:])
