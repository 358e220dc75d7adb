"""Time estimate_fov (what the Review panel now runs once per image shown that was not read ahead)
on the first three CHASE_DB1 images (999x960 RGB) and three DRIVE training images; median of 5 each.
Run: .venv/bin/python benchmarks/results/gui/first-image-s24/fov_time.py [DATA]"""
import glob
import statistics
import sys
import time

from vessel_studio.io.fov import estimate_fov
from vessel_studio.io.images import read_image

data = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"
for pattern in ("CHASE_DB1/**/*.jpg", "DRIVE/training/images/*.png"):
    for f in sorted(glob.glob(f"{data}/{pattern}", recursive=True))[:3]:
        a, _ = read_image(f)
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            estimate_fov(a, modality="fundus")
            ts.append(time.perf_counter() - t)
        print(f.split("/")[-1], a.shape, f"median {statistics.median(ts) * 1000:.1f} ms")
