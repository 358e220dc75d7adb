"""How close adapt's disk check (``adaptation.disk.round_need``) is to the rounds a project really holds:
round 0's estimate from the images' sizes and each later round's (the round before it + margin),
against every committed round's allocated size. One JSON line per project.

    .venv/bin/python benchmarks/disk_estimate.py PROJECT...
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace


def estimate(folder: str) -> dict:
    from vessel_studio.adaptation import AdaptConfig
    from vessel_studio.adaptation.disk import MARGIN_BYTES, disk_used, round_need
    from vessel_studio.store import Project

    p = Project.open(folder)
    cfg = AdaptConfig.from_dict(p.get_round(0).config)  # as the job ran it (resolved)
    targets = [SimpleNamespace(shape=tuple(r.shape[:2])) for r in p.images]  # the shapes the job sees
    rows = [(r.index, disk_used(p.round_dir(r.index))) for r in p.rounds if r.pruned is None]
    return {"project": folder, "images": len(targets), "source_weight": cfg.source_weight,
            "round0_estimate_mb": round(round_need(p, targets, cfg, None) / 2**20),
            "rounds_actual_mb": {i: round(b / 2**20) for i, b in rows},
            "later_round_estimate_mb": {i + 1: round((b + MARGIN_BYTES) / 2**20) for i, b in rows}}


def main(argv=None) -> int:
    for folder in sys.argv[1:] if argv is None else argv:
        print(json.dumps(estimate(folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
