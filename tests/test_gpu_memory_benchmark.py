"""benchmarks/gpu_memory.py: the counting is linear in the batch and the fp32 count is twice the
bf16 one; its GPU measurement path runs the real trainers and synthesis (here on the CPU, at the
tiny preset, without memory statistics)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def gm(benchmark_script):
    return benchmark_script("gpu_memory")


def test_counts_are_linear_in_the_batch(gm, one_torch_thread):
    from vessel_studio.adaptation.config import AdaptConfig

    acfg = AdaptConfig.preset("tiny")
    row = gm.count_segmenter(acfg, batches=(2, 4))
    per = row["saved_bytes_by_batch"]
    assert per["fp32"][4] == pytest.approx(2 * per["fp32"][2], rel=0.05)
    assert per["bf16-autocast"][2] == pytest.approx(per["fp32"][2] / 2, rel=0.1)
    e = gm.extrapolate(row)["fp32"]
    assert abs(e["linear_check"]) < 0.05
    assert e["total_bytes"] == pytest.approx(e["saved_at_batch_bytes"] + row["persistent_bytes"])
    gen = gm.count_generator(acfg, batches=(1, 2))
    assert gen["parameters"] > 0 and gen["persistent_bytes"] == 5 * 4 * gen["parameters"]


def test_measure_path_runs_the_real_steps(gm, one_torch_thread):
    from vessel_studio.adaptation.config import AdaptConfig

    rows = gm.measure(AdaptConfig.preset("tiny"), device="cpu")
    assert [r["component"].split(" (")[0] for r in rows] == [
        "target generator training step", "segmenter training step", "synthesis chunk"]
    assert all(r["peak_allocated_bytes"] is None and r["seconds"] >= 0 for r in rows)


@pytest.mark.gpu
def test_gpu_preset_fits_16_gb(gm):
    """On a CUDA GPU: a step of each gpu-preset trainer and a synthesis chunk stay under 16 GB."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from vessel_studio.adaptation.config import AdaptConfig

    rows = gm.measure(AdaptConfig.preset("gpu"), device="cuda")
    for r in rows:
        assert r["peak_reserved_bytes"] < 16e9 - 1e9, r  # leave ~1 GB for the CUDA context
