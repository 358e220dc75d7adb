import json, statistics, glob
out = {}
for v in ("before", "main"):
    for job in ("add", "open"):
        xs = [json.load(open(f))["summary"]["after"][job]["start_max_stall_ms"]["median"]
              for f in sorted(glob.glob(f"benchmarks/results/gui/first-image-s24/{v}-*.json"))]
        out[(v, job)] = xs
        print(v, job, "largest stall ms per trial", xs, "median", statistics.median(xs), "max", max(xs))
