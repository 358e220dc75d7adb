"""The benchmark on a CUDA device, checked on the CPU: it scores segmenters on the device it picks
(not on the CPU), and it does not reset CUDA's peak-memory statistics before CUDA is initialised
(``torch.cuda.reset_peak_memory_stats`` raises "Invalid device argument 0: did you call init?" then)."""

from __future__ import annotations

import numpy as np
import pytest


def test_segmenters_are_scored_on_the_picked_device(monkeypatch):
    import vessel_studio.device
    from vessel_studio.adaptation import benchmark

    calls = []

    class FakeSegmenter:
        def to(self, device):
            calls.append(("to", device))
            return self

        def predict(self, image, *, fov=None):
            calls.append(("predict", None))
            return type("P", (), {"prob": np.where(fov, 0.9, 0.0).astype(np.float32)})()

    monkeypatch.setattr(vessel_studio.device, "pick_device", lambda requested=None: "the-device")
    fov = np.ones((8, 8), bool)
    gt = np.zeros((8, 8), bool)
    gt[:, 3] = True
    out = benchmark._score_segmenter(FakeSegmenter(), [("a", np.zeros((8, 8), np.uint8), gt, fov)])
    assert calls == [("to", "the-device"), ("predict", None)]
    assert set(out["mean"]) == set(benchmark.KEYS)


def test_no_peak_memory_reset_before_cuda_is_initialised(monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    import vessel_studio.device
    from vessel_studio.adaptation import benchmark

    if torch.cuda.is_available():
        pytest.skip("emulates an uninitialised CUDA on a machine without one")

    def reset(device=None):
        raise RuntimeError("Invalid device argument 0: did you call init?")

    monkeypatch.setattr(vessel_studio.device, "pick_device", lambda requested=None: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
    monkeypatch.setattr(benchmark, "_test_set", lambda spec: [])
    scores = {"mean": {k: 0.5 for k in benchmark.KEYS}, "per_image": []}
    monkeypatch.setitem(benchmark.PART_FUNCS, "frangi", lambda spec, seed, tests: dict(scores))
    spec = benchmark.BenchmarkSpec(pair="drive-octa500", data=tmp_path, work=tmp_path / "work")
    res = benchmark.run_benchmark(spec, [0], ["frangi"])
    assert res["0"]["frangi"]["mean"]["dice"] == 0.5
