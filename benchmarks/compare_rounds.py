"""Are round R of two projects the same, bit for bit? (weights of every model folder of the round,
and its pseudo-label TIFFs)

usage: python benchmarks/compare_rounds.py PROJECT_A PROJECT_B ROUND

Prints one line per part and ends with ``identical`` or ``DIFFERENT``; exit status 0 / 1.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    import tifffile
    from safetensors.numpy import load_file

    a, b = (Path(x) / "rounds" / f"round-{int(argv[2]):03d}" for x in argv[:2])
    same = True
    for part in sorted(p.name for p in a.iterdir() if (p / "model.safetensors").is_file()):
        ta, tb = load_file(str(a / part / "model.safetensors")), load_file(str(b / part / "model.safetensors"))
        eq = ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta)
        same &= eq
        print(f"{part}: {len(ta)} tensors, {'equal' if eq else 'DIFFER'}")
    for part in sorted(p.name for p in a.iterdir() if p.is_dir() and any(p.glob("*.tif"))):
        files = sorted((a / part).glob("*.tif"))
        bad = [f.name for f in files if not (b / part / f.name).is_file()
               or not np.array_equal(tifffile.imread(f), tifffile.imread(b / part / f.name))]
        same &= not bad
        print(f"{part}: {len(files)} maps, {len(bad)} differ")
    print("identical" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
