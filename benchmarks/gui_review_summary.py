"""Pool the per-step, per-burst and per-save rows of several ``gui_review.py`` reports (runs of one
code version) and print their medians (max in brackets), one block per ``NAME=GLOB`` argument:

    .venv/bin/python benchmarks/gui_review_summary.py \
        before='benchmarks/results/gui/hires/step-save-before-run*.json' \
        after='benchmarks/results/gui/hires/step-save-after-run*.json'
"""

from __future__ import annotations

import glob
import json
import sys

import numpy as np


def med(vals) -> str:
    v = [x for x in vals if x is not None]
    return f"{np.median(v):.0f} ({np.max(v):.0f})" if v else "-"


def summary(name: str, pattern: str) -> None:
    runs = [json.load(open(f)) for f in sorted(glob.glob(pattern))]
    steps = [s for r in runs for s in r.get("review_steps", {}).get("per_step", [])]
    bursts = [b for r in runs for b in r.get("bursts", {}).get("per_burst", [])]
    saves = [s for r in runs for s in r.get("saves", {}).get("per_save", [])]
    print(f"== {name}: {len(runs)} runs; steps {len(steps)}, bursts {len(bursts)}, saves {len(saves)}; "
          f"load average at the ends {[r['machine']['loadavg_at_end'] for r in runs]}; "
          f"peak RSS {[r['peak_rss_mb'] for r in runs]} MB")
    for k in ("max_stall_ms", "next_call_ms", "shown_ms", "gui_read_ms", "gui_layers_ms", "worker_read_ms"):
        print("  step", k, med([s.get(k) for s in steps]))
    for k in ("max_stall_ms", "shown_after_last_step_ms", "gui_read_ms", "displays", "max_stall_after_ms"):
        print("  burst", k, med([b[k] for b in bursts]))
    print("  burst next_call_ms", med([c for b in bursts for c in b["next_call_ms"]]))
    for mode in ("save", "save + next at once"):
        rows = [s for s in saves if s["mode"] == mode]
        for k in ("call_ms", "landed_ms", "max_stall_ms", "gui_save_ms", "worker_save_ms"):
            print(f"  {mode}: {k}", med([s[k] for s in rows]))
        print(f"  {mode}: dirty after", sum(s["dirty_after"] for s in rows))
    print("  dialogs", [r["dialogs"] for r in runs])


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        name, _, pattern = arg.partition("=")
        summary(name, pattern)
