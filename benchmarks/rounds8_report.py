"""Report of the pre-registered "up to 8 rounds" test (benchmarks/results/rounds-8/PREREGISTRATION.md).

usage: python benchmarks/rounds8_report.py OUT_DIR HELDOUT_RUNS [SEEN_RUNS [FOLLOWUP_RUNS]]

HELDOUT_RUNS is the ``--work`` folder of the continued runs (PAIR/seed-S/{scores,project,adapt-result.json}:
OCT-A seeds 3-4, fundus seeds 0-4); SEEN_RUNS (optional) one holding OCT-A seeds 0-2 continued to round 8
in session 9, reported beside and not part of the decision; FOLLOWUP_RUNS (optional) the fresh 8-round
DRIVE -> OCTA-500 jobs of seeds 5 and 6 that decide FOLLOW-UP-PREREGISTRATION.md. Reads the cached test scores of every round
(written by ``vessel-studio benchmark``) and the label-free signals each round recorded in its project;
computes nothing new. Applies the decision rules exactly as written in the pre-registration.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

PAIRS = ("drive-octa500", "drive-chase", "drive-stare")
NAMES = {"drive-octa500": "DRIVE → OCTA-500", "drive-chase": "DRIVE → CHASE_DB1", "drive-stare": "DRIVE → STARE"}
HELDOUT = {"drive-octa500": (3, 4), "drive-chase": (0, 1, 2, 3, 4), "drive-stare": (0, 1, 2, 3, 4)}
BASE = 5  # the round the continued jobs start after
JUMP = 1.2  # rule F: fragmentation(r) > JUMP * fragmentation(r - 1), r >= 6 -> deliver r - 1
AUTO_MET = 'met: adopt rounds = "auto" (8 across modalities, 5 within)'


def load(runs: Path, pair: str, seed: int) -> dict | None:
    d = runs / pair / f"seed-{seed}"
    if not (d / "adapt-result.json").is_file():
        return None
    proj = json.loads((d / "project" / "project.json").read_text())
    rounds = {}
    for r in proj["rounds"]:
        i = r["index"]
        sc = json.loads((d / "scores" / f"adapted-round-{i}.json").read_text())["mean"]
        m = r.get("metrics") or {}
        rounds[i] = {"dice": sc["dice"], "cldice": sc["cldice"], "auc": sc["auc"],
                     "sensitivity": sc.get("sensitivity"), "specificity": sc.get("specificity"),
                     **{k: m.get(k) for k in ("agreement", "vessel_fraction", "fragmentation", "confidence",
                                              "generator_loss")},
                     "seconds": r.get("seconds")}
    res = json.loads((d / "adapt-result.json").read_text())
    src = json.loads((d / "scores" / "source-only.json").read_text())["mean"]["dice"]
    last = max(rounds)
    f_round = last
    for r in range(BASE + 1, last + 1):
        fr, fp = rounds[r]["fragmentation"], rounds[r - 1]["fragmentation"]
        if fr is not None and fp is not None and np.isfinite(fr) and np.isfinite(fp) and fr > JUMP * fp:
            f_round = r - 1
            break
    return {"pair": pair, "seed": seed, "runs": str(runs), "rounds": rounds, "last": last,
            "stopped_early": bool(res.get("stopped_early")), "reason": res.get("reason", ""),
            "seconds_continued": res.get("seconds"), "source_only": src, "rule_f_round": f_round}


def main(argv: list[str]) -> int:
    out, held = Path(argv[0]), Path(argv[1])
    seen = Path(argv[2]) if len(argv) > 2 else None
    follow = Path(argv[3]) if len(argv) > 3 else None
    runs = [r for p in PAIRS for s in HELDOUT[p] if (r := load(held, p, s)) is not None]
    seen_runs = [r for s in (0, 1, 2) if seen and (r := load(seen, "drive-octa500", s)) is not None]
    missing = [f"{p} seed {s}" for p in PAIRS for s in HELDOUT[p]
               if not any(r["pair"] == p and r["seed"] == s for r in runs)]
    f3 = lambda x: "–" if x is None else f"{x:.3f}"
    md = ["# Up to 8 co-optimization rounds: results", "",
          "Command: `python benchmarks/rounds8_report.py " + " ".join(argv) + "`", "",
          "Pre-registration: `PREREGISTRATION.md`. Test Dice (threshold 0.5) of the segmenter each round delivers "
          "(fundus: the 0.5 weight merge with the source segmenter; OCT-A: the adapted one). Rounds 6–8 were added "
          "to 5-round projects by `vessel-studio benchmark PAIR --preset cpu --seeds S --source-generator train "
          "--threads 1 --work scratch/s11/ext --parts adapted --set rounds=3` (`scratch/s11/ext.sh PAIR S`).", ""]
    if missing:
        md += [f"**Incomplete: no finished run for {', '.join(missing)}.** The decision below uses what finished.", ""]
    md += ["## Per run", "",
           "| pair | seed | Dice r5 | r6 | r7 | r8 | last − r5 | rule F delivers | source-only | "
           "fragmentation r5/r6/r7/r8 | vessel fraction r5/r8 | agreement r6/r7/r8 |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def row(r, tag=""):
        d = r["rounds"]
        dice = [f3(d[i]["dice"]) if i in d else "–" for i in range(BASE, 9)]
        diff = d[r["last"]]["dice"] - d[BASE]["dice"]
        frag = " / ".join(f"{d[i]['fragmentation']:.1f}" for i in range(BASE, 9) if i in d)
        agr = " / ".join(f3(d[i]["agreement"]) for i in range(BASE + 1, 9) if i in d)
        vf = f"{d[BASE]['vessel_fraction']:.3f} / {d[r['last']]['vessel_fraction']:.3f}"
        fr = f"r{r['rule_f_round']} {d[r['rule_f_round']]['dice']:.3f}"
        return (f"| {NAMES[r['pair']]}{tag} | {r['seed']} | " + " | ".join(dice) + f" | {diff:+.3f} | {fr} | "
                f"{r['source_only']:.3f} | {frag} | {vf} | {agr} |")

    md += [row(r) for r in runs]
    md += [row(r, " (seen, session 9)") for r in seen_runs]
    md += ["", "## Decision (held-out runs only)", "",
           "| pair | runs | mean Dice r5 | mean last round | mean difference | rule F: mean delivered | rule F fired in |",
           "|---|---|---|---|---|---|---|"]
    summary = {}
    for p in PAIRS:
        rs = [r for r in runs if r["pair"] == p]
        if not rs:
            continue
        r5 = float(np.mean([r["rounds"][BASE]["dice"] for r in rs]))
        lst = float(np.mean([r["rounds"][r["last"]]["dice"] for r in rs]))
        rf = float(np.mean([r["rounds"][r["rule_f_round"]]["dice"] for r in rs]))
        fired = [r["seed"] for r in rs if r["rule_f_round"] != r["last"]]
        summary[p] = {"n": len(rs), "round5": r5, "last": lst, "difference": lst - r5, "rule_f": rf,
                      "rule_f_fired_seeds": fired,
                      "last_sd": float(np.std([r["rounds"][r["last"]]["dice"] for r in rs], ddof=1)) if len(rs) > 1 else None}
        md.append(f"| {NAMES[p]} | {len(rs)} | {r5:.3f} | {lst:.3f} | {lst - r5:+.3f} | {rf:.3f} | "
                  f"{', '.join(f'seed {s}' for s in fired) or 'none'} |")
    diffs = [v["difference"] for v in summary.values()]
    adopt = bool(diffs) and not missing and min(diffs) >= -0.005 and max(diffs) >= 0.01
    fired_any = any(v["rule_f_fired_seeds"] for v in summary.values())
    adopt_f = adopt and fired_any and all(v["rule_f"] >= v["last"] for v in summary.values())
    md += ["", f"Primary rule (no pair below −0.005, at least one pair +0.01 or more, every held-out run finished): "
               f"**{'met: adopt rounds = 8' if adopt else 'not met: rounds stays 5'}**.",
           f"Rule F (only if the primary adopts 8; fires at least once; not below fixed 8 on any pair): "
           f"**{'met: adopt' if adopt_f else 'not met: reported only'}**.", "",
           "## Label-free stop and cost", ""]
    for r in runs:
        if r["stopped_early"]:
            md.append(f"- {NAMES[r['pair']]} seed {r['seed']}: the agreement stop fired at round {r['last']} ({r['reason']}).")
    if not any(r["stopped_early"] for r in runs):
        md.append("- The agreement stop (0.97) fired in none of the held-out runs.")
    secs = [r["rounds"][i]["seconds"] for r in runs for i in range(BASE + 1, r["last"] + 1) if r["rounds"][i]["seconds"]]
    if secs:
        md.append(f"- Wall clock per added round (one thread per job; two jobs at a time until 16:35 UTC, then up to four: the follow-up's two OCT-A runs overlapped the last fundus runs): median {np.median(secs):.0f} s "
                  f"(range {min(secs):.0f}–{max(secs):.0f} s, {len(secs)} rounds).")
    follow_runs = [r for s in (5, 6) if follow and (r := load(follow, "drive-octa500", s)) is not None]
    adopt_auto = None
    if follow:
        md += ["", "## Follow-up: 8 rounds across modalities only (`FOLLOW-UP-PREREGISTRATION.md`)", "",
               "Fresh, uninterrupted DRIVE → OCTA-500 jobs with `--set rounds=8` (`scratch/s11/octa.sh S`: "
               "`vessel-studio benchmark drive-octa500 --preset cpu --seeds S --source-generator train --threads 1 "
               "--work scratch/s11/octa --parts source-only adapted --set rounds=8`).", "",
               "| seed | Dice r0 | r1 | r2 | r3 | r4 | r5 | r6 | r7 | r8 | last − r5 | source-only | vessel fraction r5 / r8 |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in follow_runs:
            d = r["rounds"]
            md.append(f"| {r['seed']} | " + " | ".join(f3(d[i]["dice"]) if i in d else "–" for i in range(9))
                      + f" | {d[r['last']]['dice'] - d[BASE]['dice']:+.3f} | {r['source_only']:.3f} | "
                      f"{d[BASE]['vessel_fraction']:.3f} / {d[r['last']]['vessel_fraction']:.3f} |")
        diffs_f = [r["rounds"][r["last"]]["dice"] - r["rounds"][BASE]["dice"] for r in follow_runs]
        adopt_auto = len(follow_runs) == 2 and float(np.mean(diffs_f)) >= 0.01
        octa = [r for r in seen_runs + runs + follow_runs if r["pair"] == "drive-octa500"]
        pooled = [r["rounds"][r["last"]]["dice"] - r["rounds"][BASE]["dice"] for r in octa]
        md += ["", f"Mean difference over seeds 5 and 6: {np.mean(diffs_f):+.3f}. Rule (mean +0.01 or more): "
                   f"**{AUTO_MET if adopt_auto else 'not met: rounds stays 5'}**.",
               f"Pooled over every OCT-A seed run to round 8 ({', '.join(str(r['seed']) for r in octa)}): "
               f"round 5 {np.mean([r['rounds'][BASE]['dice'] for r in octa]):.3f} → last "
               f"{np.mean([r['rounds'][r['last']]['dice'] for r in octa]):.3f} (mean difference {np.mean(pooled):+.3f}; "
               f"{sum(x > 0 for x in pooled)} of {len(pooled)} seeds rise)."]
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n".join(md) + "\n")
    (out / "results.json").write_text(json.dumps({"heldout": runs, "seen": seen_runs, "summary": summary,
                                                  "missing": missing, "adopt_rounds_8": adopt,
                                                  "adopt_rule_f": adopt_f,
                                                  "followup": follow_runs, "adopt_rounds_auto": adopt_auto}, indent=1, default=str) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
