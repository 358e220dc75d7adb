"""The command line on a simulated high-resolution fundus camera (``benchmarks/hires_data.py``):
``vessel-studio segment`` and ``vessel-studio evaluate`` on the same images at their native size and
enlarged to ~3900 px (JPEG, PNG, 16-bit TIFF), each command in its own process under
``/usr/bin/time -v`` (wall time, peak RSS), one after the other.

Per set it records the commands, their wall time and peak RSS, whether every mask has its image's
size, and evaluate's mean / pooled Dice, clDice and AUC against the labels enlarged the same way
(native set: the original labels). The data folder is ``hires_data.py``'s ``--out``; outputs go under
``--work`` (git-ignored scratch).

    .venv/bin/python benchmarks/hires_cli.py --data scratch/hires-data --work scratch/hires-cli \\
        --out benchmarks/results/gui/hires/cli.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` under ``/usr/bin/time -v``; its wall time, peak RSS and exit status."""
    full = ["/usr/bin/time", "-v", *cmd]
    with open(log, "w") as fh:
        rc = subprocess.call(full, stdout=fh, stderr=subprocess.STDOUT)
    text = log.read_text(errors="replace")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    secs = None
    if wall:
        parts = [float(x) for x in wall.group(1).split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return {"command": " ".join(cmd), "rc": rc, "wall_s": secs,
            "peak_rss_mb": round(int(rss.group(1)) / 1024) if rss else None}


def write_report(report: dict, out: Path | None) -> None:
    """Print the report as JSON and, with ``out``, write it there."""
    text = json.dumps(report, indent=1)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / "scratch" / "hires-data")
    ap.add_argument("--work", type=Path, default=REPO / "scratch" / "hires-cli")
    ap.add_argument("--sets", default="native,jpeg,png,tiff16")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.data / "made.json").is_file():
        print(f"SKIPPED: {args.data} has no images of benchmarks/hires_data.py")
        return 0
    from vessel_studio.io.images import read_image

    py = [sys.executable, "-m", "vessel_studio"]
    args.work.mkdir(parents=True, exist_ok=True)
    report = {"sets": {}, "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    for name in args.sets.split(","):
        images = args.data / ("native/images" if name == "native" else name)
        labels = args.data / ("native/labels" if name == "native" else "labels")
        fovs = args.data / ("native/fov" if name == "native" else "fov")
        out = args.work / f"{name}-seg"
        seg = timed([*py, "segment", "--out", str(out), "--save-prob", str(images)], args.work / f"{name}-segment.log")
        sizes_ok = []
        for f in sorted(images.iterdir()):
            mask, _ = read_image(out / f"{f.stem}.png")
            sizes_ok.append(mask.shape == read_image(f)[0].shape[:2])
        ev_json = args.work / f"{name}-eval.json"
        ev = timed([*py, "evaluate", "--pred", str(out), "--gt", str(labels), "--fov", str(fovs), "--json", str(ev_json)],
                   args.work / f"{name}-evaluate.log")
        summary = json.loads(ev_json.read_text()) if ev_json.is_file() else {}
        pick = ("dice", "cldice", "auc")
        report["sets"][name] = {
            "images": len(sizes_ok), "masks_at_image_size": all(sizes_ok),
            "segment": seg, "evaluate": ev,
            "mean": {k: round(summary["mean"][k], 4) for k in pick} if summary else None,
            "pooled": {k: round(summary["pooled"][k], 4) for k in pick} if summary else None,
        }
        print(name, json.dumps(report["sets"][name]), flush=True)
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["cpus"] = os.cpu_count()
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
