"""Adaptation on a simulated high-resolution fundus camera (``benchmarks/hires_data.py``): memory,
time and disk of ``vessel-studio adapt`` as the number of ~15-megapixel target images grows, and
the cost of storing a probability map with and without lossless compression.

``adapt`` part: for each N in ``--counts``, a new project in ``--work`` adapted to the first N
images of ``DATA/jpeg`` (sorted by name; linked into a target folder), in its own process under
``/usr/bin/time -v`` (wall time, peak RSS):

    vessel-studio adapt PROJECT --target DIR --modality fundus --preset tiny --rounds 1 --quiet

It records per N the command, exit status, wall time, peak RSS, the project's disk use (whole,
``images/``, and per round ``pseudo/`` + ``pseudo-chain/``) and each round's stage seconds, plus
the load average at both ends. ``--codec`` part: one real probability map (a round's
``pseudo/`` TIFF of the largest project, and the same map resized to ~1 MP) written and read
``--repeats`` times as float32 TIFF uncompressed and with zlib levels 1 and 6: size, ratio,
median write / read seconds, and whether it reads back bit for bit.

    .venv/bin/python benchmarks/hires_adapt.py --data scratch/hires-data --work scratch/hires-adapt \\
        --counts 4,8,16 --compare scratch/hires-adapt-before --out benchmarks/results/hires-adapt/after.json

``--disk-sample S``: the project's disk use (allocated blocks, each inode once) sampled every S
seconds while ``adapt`` runs: its peak (the job's ``work/`` included) and its end.

``--compare`` (a ``--work`` folder of another run, e.g. of the code before a change): whether its
projects hold the same numbers as this run's (round metrics without the stage seconds, model
tensors, probability maps bit for bit).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from hires_cli import timed, write_report  # noqa: E402

from vessel_studio.adaptation.disk import disk_used  # noqa: E402  (allocated blocks, each inode once)


def du(path: Path) -> int:
    """Bytes of the files under ``path`` (apparent size)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def mb(n: int) -> float:
    return round(n / 2**20, 1)


def timed_with_disk(cmd: list[str], log: Path, folder: Path, every: float) -> dict:
    """:func:`timed`, sampling :func:`disk_used` of ``folder`` every ``every`` seconds meanwhile:
    the largest sample (the job's peak disk, to within the sampling) and the number of samples."""
    import threading

    out: dict = {}
    th = threading.Thread(target=lambda: out.update(timed(cmd, log)))
    th.start()
    peak, samples = 0, 0
    while th.is_alive():
        peak, samples = max(peak, disk_used(folder) if folder.exists() else 0), samples + 1
        th.join(every)
    return {**out, "peak_disk_mb": mb(peak), "end_disk_mb": mb(disk_used(folder)), "disk_samples": samples,
            "disk_sample_s": every}


def adapt_part(data: Path, work: Path, counts: list[int], extra: list[str], disk_every: float = 0) -> list[dict]:
    images = sorted((data / "jpeg").glob("*.jpg"))
    py = [sys.executable, "-m", "vessel_studio"]
    rows = []
    for n in counts:
        if n > len(images):
            print(f"skip {n}: only {len(images)} images in {data / 'jpeg'}")
            continue
        target, proj = work / f"target-{n}", work / f"proj-{n}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(proj, ignore_errors=True)
        target.mkdir(parents=True)
        for f in images[:n]:
            (target / f.name).symlink_to(f.resolve())
        cmd = [*py, "adapt", str(proj), "--target", str(target), "--modality", "fundus", "--preset", "tiny",
               "--rounds", "1", "--quiet", *extra]
        load = [round(x, 2) for x in os.getloadavg()]
        run = (timed(cmd, work / f"adapt-{n}.log") if not disk_every
               else timed_with_disk(cmd, work / f"adapt-{n}.log", proj, disk_every))
        row = {"images": n, "loadavg_start": load, **run}
        row["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        row["disk_mb"] = {"project": mb(du(proj)), "images": mb(du(proj / "images"))}
        manifest = json.loads((proj / "project.json").read_text()) if (proj / "project.json").is_file() else {}
        row["rounds"] = []
        for rd in sorted((proj / "rounds").glob("round-*")):
            maps = [p for sub in ("pseudo", "pseudo-chain") for p in (rd / sub).glob("*.tif")]
            rec = next((r for r in manifest.get("rounds", []) if Path(r.get("folder", "")).name == rd.name), {})
            row["rounds"].append({
                "round": rd.name, "disk_mb": mb(du(rd)), "maps": len(maps), "maps_mb": mb(sum(p.stat().st_size for p in maps)),
                "maps_mb_per_image": round(mb(sum(p.stat().st_size for p in maps)) / n, 1),
                "seconds": {k[8:]: round(v, 1) for k, v in (rec.get("metrics") or {}).items() if k.startswith("seconds_")},
                "signals": {k: round(v, 4) for k, v in (rec.get("metrics") or {}).items()
                            if k in ("vessel_fraction", "agreement", "fragmentation", "confidence")},
            })
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def codec_part(prob_path: Path, work: Path, repeats: int) -> list[dict]:
    import numpy as np
    import tifffile
    from skimage.transform import resize

    big = np.asarray(tifffile.imread(prob_path), np.float32)
    small_shape = tuple(int(round(s * (1.0e6 / big.size) ** 0.5)) for s in big.shape)
    small = np.clip(resize(big, small_shape, order=1, anti_aliasing=False), 0, 1).astype(np.float32)
    from vessel_studio.io.images import read_prob, write_prob

    out = []
    for name, arr in (("15MP", big), ("1MP", small)):
        # tifffile with its defaults (one thread on 2 cores), then what the project uses:
        # write_prob(compress=False / True) and read_prob (``io.images._prob_workers`` threads)
        for codec in (None, ("zlib", 1), ("zlib", 6), "write_prob", "write_prob-compress"):
            path = work / f"codec-{name}.tif"
            kw = {} if not isinstance(codec, tuple) else {"compression": codec[0], "compressionargs": {"level": codec[1]}}
            wt, rt = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                if isinstance(codec, str):
                    write_prob(path, arr, compress=codec.endswith("compress"))
                else:
                    tifffile.imwrite(path, arr, photometric="minisblack", **kw)
                wt.append(time.perf_counter() - t)
                t = time.perf_counter()
                back = read_prob(path) if isinstance(codec, str) else tifffile.imread(path)
                rt.append(time.perf_counter() - t)
            label = codec if isinstance(codec, str) else ("none" if codec is None else f"{codec[0]}-{codec[1]}")
            out.append({"size": name, "shape": list(arr.shape), "codec": label,
                        "mb": mb(path.stat().st_size), "ratio": round(arr.nbytes / path.stat().st_size, 2),
                        "write_s_median": round(statistics.median(wt), 3), "read_s_median": round(statistics.median(rt), 3),
                        "identical": bool(back.dtype == arr.dtype and np.array_equal(back.view(np.uint32), arr.view(np.uint32)))})
            print(json.dumps(out[-1]), flush=True)
    return out


def compare_projects(a: Path, b: Path) -> dict:
    """Whether two projects adapted the same way hold the same numbers: every round's label-free
    metrics (stage seconds left out), model tensors and probability maps (bit for bit)."""
    import numpy as np
    from safetensors.numpy import load_file

    from vessel_studio.io.images import read_prob

    ma, mb_ = (json.loads((x / "project.json").read_text()) for x in (a, b))
    out = {"a": str(a), "b": str(b), "rounds": len(ma["rounds"]), "metrics_equal": True, "tensors_equal": True,
           "maps_equal": True, "maps_compared": 0, "differences": []}
    if len(ma["rounds"]) != len(mb_["rounds"]):
        out["differences"].append("round count")
    for ra, rb in zip(ma["rounds"], mb_["rounds"]):
        strip = lambda m: {k: v for k, v in (m or {}).items() if not k.startswith("seconds_")}  # noqa: E731
        if strip(ra["metrics"]) != strip(rb["metrics"]):
            out["metrics_equal"] = False
            out["differences"].append(f"{ra['folder']} metrics")
        for part in ("segmenter", "segmenter-chain", "generator"):
            fa, fb = a / ra["folder"] / part / "model.safetensors", b / rb["folder"] / part / "model.safetensors"
            if fa.is_file() or fb.is_file():
                ta, tb = load_file(str(fa)), load_file(str(fb))
                if ta.keys() != tb.keys() or not all(np.array_equal(ta[k], tb[k]) for k in ta):
                    out["tensors_equal"] = False
                    out["differences"].append(f"{ra['folder']}/{part}")
        for sub in ("pseudo", "pseudo-chain"):
            for fa in sorted((a / ra["folder"] / sub).glob("*.tif")):
                fb = b / rb["folder"] / sub / fa.name
                x, y = read_prob(fa), read_prob(fb)
                out["maps_compared"] += 1
                if x.shape != y.shape or not np.array_equal(x.view(np.uint32), y.view(np.uint32)):
                    out["maps_equal"] = False
                    out["differences"].append(f"{ra['folder']}/{sub}/{fa.name}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / "scratch" / "hires-data")
    ap.add_argument("--work", type=Path, default=REPO / "scratch" / "hires-adapt")
    ap.add_argument("--counts", default="4,8,16")
    ap.add_argument("--parts", default="adapt,codec")
    ap.add_argument("--codec-map", type=Path, action="append", default=None,
                    help="a map for --parts codec (repeatable; default: the first of the largest project's last round)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--adapt-args", default="", help="more arguments for adapt, e.g. '--threads 2'")
    ap.add_argument("--disk-sample", type=float, default=0, metavar="S",
                    help="sample the project's disk use (allocated, hard links once) every S seconds during adapt: "
                         "peak_disk_mb, end_disk_mb")
    ap.add_argument("--compare", type=Path, default=None,
                    help="another --work folder (e.g. the run before a change): compare its projects with this run's")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    parts = args.parts.split(",")
    if "adapt" in parts and not (args.data / "made.json").is_file():
        print(f"SKIPPED: {args.data} has no images of benchmarks/hires_data.py")
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    report: dict = {"cpus": os.cpu_count(), "python": sys.executable}
    counts = [int(x) for x in args.counts.split(",") if x]
    if "adapt" in parts:
        report["adapt"] = adapt_part(args.data, args.work, counts, args.adapt_args.split(), args.disk_sample)
    if args.compare is not None:
        report["compare"] = [compare_projects(args.compare / f"proj-{n}", args.work / f"proj-{n}") for n in counts
                             if (args.compare / f"proj-{n}" / "project.json").is_file()
                             and (args.work / f"proj-{n}" / "project.json").is_file()]
        for c in report["compare"]:
            print(json.dumps(c), flush=True)
    if "codec" in parts:
        found = sorted((args.work / f"proj-{max(counts)}").glob("rounds/round-*/pseudo/*.tif"))
        maps = args.codec_map or found[-1:]
        if not maps:
            print("no probability map for the codec part")
        report["codec_loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
        report["codec"] = [{"map": str(m), "rows": codec_part(m, args.work, args.repeats)} for m in maps]
        report["codec_loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
