import json, numpy as np
from pathlib import Path
for pair in ("drive-chase", "drive-stare", "drive-octa500"):
    d = json.loads(Path(f"benchmarks/results/weight-merge/scores-{pair}.json").read_text())
    print(f"\n### {pair}\n")
    print("| round | unmerged | merge 0.25 | merge 0.5 | merge 0.75 | probability average |")
    print("|---|---|---|---|---|---|")
    for r in ("round-000", "round-001", "round-002"):
        cells = []
        for v in ("unmerged", "merge-0.25", "merge-0.5", "merge-0.75", "prob-average"):
            x = [d[f"seed-{s}/{r}/{v}"]["dice"] for s in (0, 1, 2)]
            cells.append(f"{np.mean(x):.3f} ± {np.std(x, ddof=1):.3f}")
        print(f"| {int(r[-3:])} | " + " | ".join(cells) + " |")
    so = [d[f"seed-{s}/source-only"]["dice"] for s in (0, 1, 2)]
    print(f"\nsource-only {np.mean(so):.3f} ± {np.std(so, ddof=1):.3f}; last-round merge 0.5 per seed:",
          ", ".join(f"{d[f'seed-{s}/round-002/merge-0.5']['dice']:.3f}" for s in (0, 1, 2)),
          "; unmerged per seed:", ", ".join(f"{d[f'seed-{s}/round-002/unmerged']['dice']:.3f}" for s in (0, 1, 2)))
    for k in ("cldice", "auc"):
        x = [d[f"seed-{s}/round-002/merge-0.5"][k] for s in (0, 1, 2)]
        print(f"last-round merge 0.5 {k}: {np.mean(x):.3f} ± {np.std(x, ddof=1):.3f}")
