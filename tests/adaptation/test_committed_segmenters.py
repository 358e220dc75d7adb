"""The adapted segmenters committed under ``benchmarks/results/<pair>/segmenter`` (fp16) score, on the
target's test split, what their pair's ``results.json`` reports for the run they came from (seed 0, last
round). This is the independent check the issue asks for: anyone can load the folder and score it.
Needs the real datasets (skips without them); slow because it segments every test image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("pair", ["drive-chase", "drive-stare", "drive-octa500"])
def test_committed_segmenter_reproduces_its_report(pair, data_dir):
    from vessel_studio.adaptation.benchmark import BenchmarkSpec, _score_segmenter, _test_set
    from vessel_studio.models.segmenter import Segmenter

    folder = REPO / "benchmarks" / "results" / pair
    report = json.loads((folder / "results.json").read_text())
    seed = str(report["seeds"][0])
    rounds = report["per_seed"][seed]["adapted"]["rounds"]
    expected = rounds[-1]["scores"]["dice"]

    seg = Segmenter.load(folder / "segmenter")
    got = _score_segmenter(seg, _test_set(BenchmarkSpec(pair=pair, data=data_dir, work=REPO / "scratch")))
    # fp16 weights against the fp32 run: the same model up to rounding
    assert got["mean"]["dice"] == pytest.approx(expected, abs=0.01), (pair, got["mean"], expected)
