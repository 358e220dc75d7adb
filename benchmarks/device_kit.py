"""Build ``device-kit/``: what a device call (the lent GPU machine) needs to run the ``gpu`` benchmark.

The device machine gets a copy of the working tree (tracked files, untracked files git does not
ignore, and ignored paths named in the call's ``carry``), 64 MiB in all; ``../shared/data`` does
not travel, and its Python (3.12, with CUDA torch, numpy, scikit-image, tifffile, safetensors,
tqdm) lacks diffusers. This script, run HERE before the call:

- copies the splits one pair's benchmark reads (the source's training split with labels and FOV
  masks; the target's training split, images and labels, the labels for the oracle only; the
  target's test split, images and labels, for scoring) into ``device-kit/data`` in the layout of
  ``../shared/data`` (``--limit N`` keeps the first N of each split: for tests);
- downloads the wheels missing there (diffusers, pure Python) into ``device-kit/whl``;
- adds ``/device-kit/`` to ``.git/info/exclude`` (the data must never be committed) and prints the
  size of what the call would carry, failing above 64 MiB.

Then: ``run`` with ``carry=["device-kit"]`` and ``command="bash benchmarks/device_gpu.sh"``
(see ``benchmarks/DEVICE.md``).

    python benchmarks/device_kit.py [--pair drive-octa500] [--data ../shared/data] [--out device-kit]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LIMIT_BYTES = 64 * 2**20
#: wheels the device machine lacks (``/work/.library/device/KINDS.md``: its package list); pure Python
WHEELS = ("diffusers==0.42.1",)


def copy_pair(data: Path, out: Path, pair: str, limit: int | None = None) -> list[Path]:
    """Copy the files of ``pair``'s benchmark splits from ``data`` to ``out`` (same relative paths)."""
    from vessel_studio.adaptation.benchmark import PAIRS
    from vessel_studio.io.datasets import dataset

    info = PAIRS[pair]
    wanted = [(info["source"], "train"), (info["target"], "train"), (info["target"], "test")]
    copied = []
    for name, split in wanted:
        samples = dataset(data, name, split)[: limit or None]
        for s in samples:
            for f in (s.image, s.label, s.fov):
                if f is None:
                    continue
                rel = Path(f).resolve().relative_to(Path(data).resolve())
                dst = out / rel
                if not dst.is_file():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, dst)
                copied.append(dst)
    return copied


def download_wheels(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    for req in WHEELS:
        name = req.split("==")[0].replace("-", "_")
        if any(out.glob(f"{name}-*.whl")):
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp",
                        "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64",
                        "-d", str(out), req], check=True)
    return sorted(out.glob("*.whl"))


def travel_bytes(repo: Path, carried: list[Path]) -> int:
    """Bytes a device call sends: tracked + untracked-not-ignored files, plus the carried paths."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            capture_output=True, check=True).stdout.split(b"\0")
    total = sum((repo / p.decode()).stat().st_size for p in listed if p and (repo / p.decode()).is_file())
    for c in carried:
        total += sum(f.stat().st_size for f in Path(c).rglob("*") if f.is_file())
    return total


def exclude(repo: Path, pattern: str) -> None:
    ex = repo / ".git" / "info" / "exclude"
    if ex.parent.is_dir():
        lines = ex.read_text().splitlines() if ex.is_file() else []
        if pattern not in lines:
            ex.write_text("\n".join(lines + [pattern]) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", default="drive-octa500")
    ap.add_argument("--data", default=os.environ.get("VESSEL_STUDIO_DATA") or str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "device-kit"))
    ap.add_argument("--limit", type=int, default=None, help="first N samples of each split (tests)")
    ap.add_argument("--no-wheels", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.resolve().is_relative_to(REPO):
        exclude(REPO, "/" + out.resolve().relative_to(REPO).as_posix() + "/")
    files = copy_pair(Path(args.data), out / "data", args.pair, args.limit)
    wheels = [] if args.no_wheels else download_wheels(out / "whl")
    size = travel_bytes(REPO, [out]) if out.resolve().is_relative_to(REPO) else None
    print(f"{out}: {len(files)} data files, {len(wheels)} wheels"
          + (f"; a device call carrying it sends {size / 2**20:.1f} MiB (limit 64)" if size is not None else ""))
    if size is not None and size > LIMIT_BYTES:
        print("too large for one device call: remove files from the tree or carry less", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
