"""``vessel-studio benchmark``: the source-generator part, peak memory per part, and a report-only
run that scores what is cached and trains nothing (what ``benchmarks/device_gpu.sh`` relies on
after a budget cut parts short). Real files: a 2-sample copy of DRIVE -> OCTA-500 made by
``benchmarks/device_kit.py``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _kit():
    spec = importlib.util.spec_from_file_location("device_kit", REPO / "benchmarks" / "device_kit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_parts_peak_memory_and_report_only(tmp_path, data_dir, one_torch_thread, capsys):
    from vessel_studio.adaptation.benchmark import PARTS, BenchmarkSpec, run_benchmark
    from vessel_studio.cli import main

    data = tmp_path / "data"
    copied = _kit().copy_pair(data_dir, data, "drive-octa500", limit=2)
    assert (data / "DRIVE" / "training" / "1st_manual").is_dir() and len(copied) == 2 * 3 + 2 * 2 + 2 * 2
    work, out = tmp_path / "work", tmp_path / "out"
    common = ["benchmark", "drive-octa500", "--preset", "tiny", "--seeds", "0", "--data", str(data),
              "--work", str(work), "--source-generator", "train"]
    assert main(common + ["--parts", "source-generator", "source-only"]) == 0
    seed = work / "drive-octa500" / "seed-0"
    # without --out the report goes into the work folder, never over benchmarks/results/PAIR
    assert (work / "drive-octa500" / "report" / "results.md").is_file()
    assert (seed / "source-generator" / "model.safetensors").is_file()
    memory = {p.stem: json.loads(p.read_text()) for p in (seed / "memory").glob("*.json")}
    assert set(memory) == {"source-generator", "source-only"}
    assert all(v["peak_mb"] > 0 and v["device"] == "cpu" for v in memory.values())
    assert set(json.loads((seed / "timings.json").read_text())) == {"source-only"}

    # report only, every part asked for: the missing ones are left out and nothing is trained
    spec = BenchmarkSpec(pair="drive-octa500", data=data, work=work, preset="tiny", source_generator="train",
                         score_only=True)
    res = run_benchmark(spec, [0], PARTS)
    assert set(res["0"]) == {"source-only"}
    assert not any((seed / p).exists() for p in ("oracle", "histmatch", "project", "scores/frangi.json"))
    assert main(common + ["--report-only", "--out", str(out)]) == 0
    md = (out / "results.md").read_text()
    assert "| source-only |" in md and "| oracle |" not in md
    assert "Peak memory per part" in md and "source-generator" in md
    assert json.loads((out / "results.json").read_text())["peak_memory"]["source-only"]["device"] == "cpu"


def test_adabn_part_is_source_only_with_target_batchnorm_statistics(tmp_path, data_dir, one_torch_thread):
    """``adabn`` trains (or finds) the source-only segmenter, re-estimates only its BatchNorm statistics
    on the target training images, and scores it like the other parts."""
    from vessel_studio.adaptation.benchmark import BenchmarkSpec, run_benchmark

    data = tmp_path / "data"
    _kit().copy_pair(data_dir, data, "drive-octa500", limit=2)
    spec = BenchmarkSpec(pair="drive-octa500", data=data, work=tmp_path / "work", preset="tiny")
    res = run_benchmark(spec, [0], ["adabn", "source-only"])
    seed = tmp_path / "work" / "drive-octa500" / "seed-0"
    assert (seed / "scores" / "adabn.json").is_file() and (seed / "source-only" / "model.safetensors").is_file()
    assert res["0"]["adabn"]["mean"]["auc"] != res["0"]["source-only"]["mean"]["auc"]
    assert len(res["0"]["adabn"]["per_image"]) == len(res["0"]["source-only"]["per_image"])
    # rerun from the cached source-only model: the same scores, and that model's file untouched
    import hashlib

    model = seed / "source-only" / "model.safetensors"
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    (seed / "scores" / "adabn.json").unlink()
    again = run_benchmark(spec, [0], ["adabn"])
    assert again["0"]["adabn"]["mean"] == res["0"]["adabn"]["mean"]
    # the same spec twice: the same WORK/PAIR (it nested WORK/PAIR/PAIR and trained a second source-only model)
    assert not (tmp_path / "work" / "drive-octa500" / "drive-octa500").exists()
    assert hashlib.sha256(model.read_bytes()).hexdigest() == digest
