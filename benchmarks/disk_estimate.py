"""How close adapt's disk check (``adaptation.disk.round_need``) is to the rounds a project really holds:
round 0's estimate from the images' sizes and each later round's (the round before it + margin),
against every committed round's allocated size. One JSON line per project.

    .venv/bin/python benchmarks/disk_estimate.py PROJECT...
"""
import json, sys
from pathlib import Path
from vessel_studio.adaptation import AdaptConfig
from vessel_studio.adaptation.disk import round_need, disk_used, MARGIN_BYTES
from vessel_studio.store import Project
for folder in sys.argv[1:]:
    p = Project.open(folder)
    cfg = AdaptConfig.from_dict(p.get_round(0).config)
    class T:  # the targets' shapes as the job sees them
        def __init__(s, shape): s.shape = shape
    ts = [T(tuple(r.shape[:2])) for r in p.images]
    est0 = round_need(p, ts, cfg, None)
    rows = [(r.index, disk_used(p.round_dir(r.index))) for r in p.rounds if r.pruned is None]
    print(json.dumps({"project": folder, "images": len(ts), "source_weight": cfg.source_weight,
                      "round0_estimate_mb": round(est0 / 2**20), "rounds_actual_mb": {i: round(b / 2**20) for i, b in rows},
                      "later_round_estimate_mb": {i + 1: round((b + MARGIN_BYTES) / 2**20) for i, b in rows}}))
