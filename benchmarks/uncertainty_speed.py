"""Time ``gui.tasks.uncertainty`` (the Review panel's uncertainty map, computed on the GUI thread for each map it
shows) against the expression it replaced in session 31, on a 3952 x 3952 (15.6-MP) float32 map; medians of
``--repeats``, the two interleaved, and a check that they give the same values bit for bit.

    .venv/bin/python benchmarks/uncertainty_speed.py --out benchmarks/results/gui/uncertainty-speed.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hires_cli import write_report  # noqa: E402  (print the report, and write it to --out)


def before(prob: np.ndarray) -> np.ndarray:
    """The expression up to session 30."""
    return (1.0 - np.abs(2.0 * np.asarray(prob, np.float32) - 1.0)).astype(np.float32)


def main(argv=None) -> int:
    from vessel_studio.gui.tasks import uncertainty

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=3952)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    p = np.random.default_rng(0).random((args.size, args.size), dtype=np.float32)
    same = bool(np.array_equal(before(p), uncertainty(p)))
    times: dict[str, list[float]] = {"before": [], "now": []}
    for _ in range(args.repeats):
        for name, fn in (("before", before), ("now", uncertainty)):
            t = time.perf_counter()
            fn(p)
            times[name].append((time.perf_counter() - t) * 1000)
    out = {"command": "python benchmarks/uncertainty_speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
           "size": [args.size, args.size], "same_values": same,
           **{f"{k}_median_ms": round(statistics.median(v), 1) for k, v in times.items()},
           "ratio_now_to_before": round(statistics.median(times["now"]) / statistics.median(times["before"]), 3)}
    write_report(out, args.out)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
