"""Mirroring at inference (test-time flips), exploratory: see benchmarks/results/mirror-tta/PLAN.md.

usage: python benchmarks/mirror_eval.py OUT_DIR RUN_DIR...
RUN_DIR: a benchmark seed folder (``.../PAIR/seed-N``). Every segmenter the folder holds is scored on
the pair's test set as the benchmark scores it (plain) and with ``mirror=True``: ``source-only``,
``oracle``, ``histmatch`` and the adapted project's last round (``project/rounds/<last>/segmenter``, the
delivered model). A segmenter already scored (same tensors, e.g. a source-only copied into
several ablation folders) is scored once. The plain score is checked against the one the benchmark
cached in ``scores/``. Writes OUT_DIR/mirror.json (resumable) and OUT_DIR/mirror.md.
Target labels are read only to score; nothing here chooses anything from them.
"""
from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vessel_studio.adaptation.benchmark import PAIRS, BenchmarkSpec, _score_segmenter, _test_set
from vessel_studio.io.atomic import write_json
from vessel_studio.models.segmenter import Segmenter
from vessel_studio.preprocess import Preprocessing

KEYS = ("dice", "cldice", "auc")


def segmenters_of(run: Path) -> dict[str, tuple[Path, Path]]:
    """``{part: (model folder, cached score file)}`` of the parts present in a benchmark seed folder."""
    out = {}
    for part in ("source-only", "oracle", "histmatch"):
        if (run / part / "model.safetensors").is_file():
            out[part] = (run / part, run / "scores" / f"{part}.json")
    rounds = sorted((run / "project" / "rounds").glob("round-*"))
    if rounds:
        last = rounds[-1]
        out["adapted"] = (last / "segmenter", run / "scores" / f"adapted-round-{int(last.name.split('-')[1])}.json")
    return out


def load_as_scored(folder: Path, part: str, pair: str) -> Segmenter:
    """The segmenter as the benchmark scores it: the source-only one with the target's preprocessing."""
    seg = Segmenter.load(folder)
    if part == "source-only":
        seg.preprocessing = Preprocessing.for_modality(PAIRS[pair]["modality"])
    return seg


def weights_hash(folder: Path) -> str:
    """A hash of the tensors (names and values) of a model folder. Not of the file's bytes: the
    safetensors header orders its metadata differently from one save to the next."""
    from safetensors import safe_open

    h = hashlib.sha256()
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for name in sorted(f.keys()):
            t = f.get_tensor(name).contiguous()
            h.update(name.encode() + str(t.dtype).encode() + str(tuple(t.shape)).encode())
            h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def score(seg: Segmenter, tests, mirror: bool) -> dict:
    """The benchmark's scoring of ``seg`` (``_score_segmenter``), with or without mirroring."""
    seg.mirror = mirror
    return _score_segmenter(seg, tests)["mean"]


def time_ratio(seg: Segmenter, image, fov, repeats: int = 3) -> dict:
    """Median seconds of one plain and one mirrored prediction of ``image``."""
    t = {}
    for mirror in (False, True):
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            seg.predict(image, fov=fov, mirror=mirror)
            runs.append(time.perf_counter() - t0)
        t[mirror] = statistics.median(runs)
    return {"plain_s": t[False], "mirror_s": t[True], "ratio": t[True] / t[False]}


def markdown(results: dict, command: str) -> str:
    lines = ["# Mirroring at inference (exploratory; reads test labels only to score; chooses nothing)", "",
             f"Command: `{command}`", "",
             "Plain = the benchmark's scoring; mirrored = the probabilities averaged over the image and its three "
             "flips (`Segmenter.predict(..., mirror=True)`), threshold 0.5, same metrics. Δ = mirrored − plain.", "",
             "| run | part | Dice plain | Dice mirrored | Δ Dice | Δ clDice | Δ AUC | plain = cached |",
             "|---|---|---|---|---|---|---|---|"]
    for key, row in results["segmenters"].items():
        p, m = row["plain"], row["mirrored"]
        lines.append(f"| {row['run']} | {row['part']} | {p['dice']:.4f} | {m['dice']:.4f} | "
                     f"{m['dice'] - p['dice']:+.4f} | {m['cldice'] - p['cldice']:+.4f} | {m['auc'] - p['auc']:+.4f} | "
                     f"{'yes' if row['matches_cache'] else 'NO'} |")
    lines += ["", "## Summary: Δ Dice per pair and part (mean, min, max, count)", "",
              "| pair | part | mean Δ | min | max | n |", "|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[float]] = {}
    for row in results["segmenters"].values():
        groups.setdefault((row["pair"], row["part"]), []).append(row["mirrored"]["dice"] - row["plain"]["dice"])
    for (pair, part), d in sorted(groups.items()):
        lines.append(f"| {pair} | {part} | {np.mean(d):+.4f} | {min(d):+.4f} | {max(d):+.4f} | {len(d)} |")
    gaps = gap_closed(results)
    if gaps:
        lines += ["", "## Gap closed, (adapted − source-only) / (oracle − source-only), Dice means over the runs that "
                  "hold all three; mirroring applied to every row alike", "",
                  "| pair | runs | source-only | oracle | adapted | gap closed plain | gap closed mirrored |",
                  "|---|---|---|---|---|---|---|"]
        for pair, g in sorted(gaps.items()):
            cell = lambda part: f"{g['plain'][part]:.4f} / {g['mirrored'][part]:.4f}"
            lines.append(f"| {pair} | {g['runs']} | {cell('source-only')} | {cell('oracle')} | {cell('adapted')} | "
                         f"{g['plain']['gap']:.3f} | {g['mirrored']['gap']:.3f} |")
        lines.append("")
        lines.append("Cells: plain / mirrored.")
    if results.get("timing"):
        lines += ["", "## Time of one prediction (median of 3, seconds; this shared 2-core machine)", "",
                  "| pair | plain | mirrored | ratio |", "|---|---|---|---|"]
        for pair, t in sorted(results["timing"].items()):
            lines.append(f"| {pair} | {t['plain_s']:.3f} | {t['mirror_s']:.3f} | {t['ratio']:.2f} |")
    return "\n".join(lines) + "\n"


def gap_closed(results: dict) -> dict:
    """Per pair, over the runs holding source-only, oracle and adapted: mean Dice of each part, plain and
    mirrored, and the gap closed from those means (the benchmark's definition)."""
    by_run: dict[str, dict[str, dict]] = {}
    for row in results["segmenters"].values():
        by_run.setdefault(row["run"], {})[row["part"]] = row
    out: dict[str, dict] = {}
    parts = ("source-only", "oracle", "adapted")
    for run, rows in sorted(by_run.items()):
        if all(p in rows for p in parts):
            g = out.setdefault(rows["adapted"]["pair"], {"runs": 0, "rows": []})
            g["runs"] += 1
            g["rows"].append(rows)
    for g in out.values():
        for mode in ("plain", "mirrored"):
            m = {p: float(np.mean([r[p][mode]["dice"] for r in g["rows"]])) for p in parts}
            m["gap"] = (m["adapted"] - m["source-only"]) / (m["oracle"] - m["source-only"])
            g[mode] = m
        del g["rows"]
    return out


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    path = out / "mirror.json"
    results = json.loads(path.read_text()) if path.exists() else {"segmenters": {}, "timing": {}}
    tests: dict[str, list] = {}
    for run in map(Path, argv[1:]):
        pair = run.parent.name
        if pair not in tests:
            tests[pair] = _test_set(BenchmarkSpec(pair=pair, data=Path("../shared/data"), work=Path("scratch")))
        for part, (folder, cached) in segmenters_of(run).items():
            key = f"{pair}/{part}/{weights_hash(folder)}"
            if key in results["segmenters"]:
                continue
            seg = load_as_scored(folder, part, pair)
            t = time.time()
            row = {"run": str(run), "pair": pair, "part": part, "folder": str(folder),
                   "plain": score(seg, tests[pair], False), "mirrored": score(seg, tests[pair], True)}
            committed = json.loads(cached.read_text())["mean"] if cached.is_file() else None
            row["cached"] = committed
            row["matches_cache"] = committed is not None and all(
                abs(row["plain"][k] - committed[k]) < 1e-6 for k in KEYS)
            if pair not in results["timing"]:
                _, image, _, fov = tests[pair][0]
                results["timing"][pair] = time_ratio(seg, image, fov)
            results["segmenters"][key] = row
            write_json(path, results)
            print(f"{run} {part}: dice {row['plain']['dice']:.4f} -> {row['mirrored']['dice']:.4f} "
                  f"(cache {'ok' if row['matches_cache'] else 'MISMATCH'}) {time.time() - t:.0f}s", flush=True)
    command = "python benchmarks/mirror_eval.py " + " ".join(argv)
    (out / "mirror.md").write_text(markdown(results, command))


if __name__ == "__main__":
    main(sys.argv[1:])
