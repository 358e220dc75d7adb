"""The library used as the README's "Use it from Python" shows it, on real images: the bundled
segmenter on CHASE_DB1 test images through ``vs.io.dataset`` / ``vs.Segmenter`` / ``vs.metrics``
gives the committed per-image scores (``benchmarks/results/segmenter/fundus_segmenter_scores.json``).
Skips without ``../shared/data``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vessel_studio as vs

SCORES = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "segmenter" / "fundus_segmenter_scores.json"


def test_bundled_segmenter_on_chase_matches_the_committed_scores(data_dir, one_torch_thread):
    committed = {r["name"]: r for r in json.loads(SCORES.read_text())["scores"]["CHASE_DB1"]["per_image"]}
    samples = vs.io.dataset(data_dir, "CHASE_DB1", "test")[:2]
    assert len(samples) == 2 and all(s.label is not None and s.fov is not None for s in samples)
    seg = vs.Segmenter.load("fundus-segmenter")
    acc = vs.metrics.MetricAccumulator()
    for s in samples:
        image, _ = vs.read_image(s.image)
        fov = vs.read_mask(s.fov, shape=image.shape)
        pred = seg.predict(image, fov=fov)
        gt = vs.read_mask(s.label, shape=image.shape)
        row = acc.add(s.name, pred.prob, gt, fov)
        # within 0.005: the committed run used bf16 inference where the CPU has it (precision "auto")
        for key in ("dice", "auc", "cldice"):
            assert row[key] == pytest.approx(committed[s.name][key], abs=5e-3), (s.name, key)
        assert vs.metrics.dice(pred.mask, gt, fov=fov) == pytest.approx(row["dice"])
        with pytest.raises(ValueError, match="probability map"):  # the slip the metrics now refuse
            vs.metrics.dice(pred.prob, gt, fov=fov)
    assert acc.mean()["dice"] > 0.7
