"""Paired per-seed comparison of two benchmark reports' adapted rounds (Dice per round, last round).

    python benchmarks/compare_runs.py BASE_results.json VARIANT_results.json [--title TITLE]

Prints, per seed, each round's Dice of the base and the variant, the last round's delta, and the
set-up check of a plan that changes nothing before round 1: round 0 equal to 1e-6. Reads only the
two reports (scores already computed by ``vessel-studio benchmark``), through
``compare_results.rows_of``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_results import rows_of  # noqa: E402


def round_dice(path: Path) -> dict[str, list[float]]:
    """Per seed, the adapted Dice after every round (seeds without an adapted run left out)."""
    return {s: row["rounds"] for s, row in rows_of(path)["seeds"].items() if "rounds" in row}


def compare(base: Path, variant: Path, *, tol: float = 1e-6) -> dict:
    """Paired comparison of two ``results.json`` files over the seeds both hold."""
    b, v = round_dice(base), round_dice(variant)
    seeds = sorted(set(b) & set(v), key=int)
    rows = []
    for s in seeds:
        rows.append({"seed": int(s), "base": b[s], "variant": v[s],
                     "round0_equal": abs(b[s][0] - v[s][0]) <= tol,
                     "last_delta": v[s][-1] - b[s][-1]})
    deltas = [r["last_delta"] for r in rows]
    return {"seeds": [int(s) for s in seeds], "rows": rows,
            "mean_last_delta": sum(deltas) / len(deltas) if deltas else None,
            "base_last_mean": sum(b[s][-1] for s in seeds) / len(seeds) if seeds else None,
            "variant_last_mean": sum(v[s][-1] for s in seeds) / len(seeds) if seeds else None,
            "all_round0_equal": all(r["round0_equal"] for r in rows)}


def to_markdown(c: dict, title: str) -> str:
    n = max(len(r["base"]) for r in c["rows"])
    lines = [f"### {title}", "",
             "| seed | " + " | ".join(f"round {i}" for i in range(n)) + " | Δ last | round 0 equal |",
             "|---|" + "---|" * (n + 2)]
    for r in c["rows"]:
        cells = [f"{a:.4f} / {b:.4f}" for a, b in zip(r["base"], r["variant"])]
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + f" | {r['last_delta']:+.4f} | "
                     f"{'yes' if r['round0_equal'] else 'NO'} |")
    lines += ["", f"Cells: base / variant Dice. Last round mean: {c['base_last_mean']:.4f} → "
                  f"{c['variant_last_mean']:.4f} (mean Δ {c['mean_last_delta']:+.4f}, {len(c['rows'])} seeds).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("variant", type=Path)
    ap.add_argument("--title", default=None)
    args = ap.parse_args(argv)
    c = compare(args.base, args.variant)
    print(to_markdown(c, args.title or f"{args.base} vs {args.variant}"))
    return 0 if c["all_round0_equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
