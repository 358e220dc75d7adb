"""The label-free guard: rounds whose pseudo-labels collapse or flood are flagged, from label-free
signals only (the source segmenter's vessel fraction on the same target images as reference)."""

from __future__ import annotations

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup

from vessel_studio.adaptation import AdaptConfig, adapt
from vessel_studio.adaptation.selection import (history_warnings, review_hint, review_pick, round_rows,
                                                round_signals, round_warnings, select_round, shown_warnings)
from vessel_studio.events import collect
from vessel_studio.store import Project

ensure_synthesis()

TINY = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1)


def test_round_warnings_collapse_and_flood():
    assert round_warnings({"vessel_fraction": 0.08}, reference=0.10) == []
    # at most a quarter of the source segmenter's vessel pixels: collapsed
    (w,) = round_warnings({"vessel_fraction": 0.02}, reference=0.10)
    assert w.startswith("collapse") and "2.0%" in w and "10.0%" in w
    assert round_warnings({"vessel_fraction": 0.026}, reference=0.10) == []
    # more than 35 % of the FOV, or more than 4x the source: flooded
    (w,) = round_warnings({"vessel_fraction": 0.40}, reference=0.30)
    assert w.startswith("flood") and "35%" in w
    (w,) = round_warnings({"vessel_fraction": 0.30}, reference=0.05)
    assert w.startswith("flood") and "4x" in w
    # without a reference only the absolute bounds apply
    assert round_warnings({"vessel_fraction": 0.001})[0].startswith("collapse")
    assert round_warnings({"vessel_fraction": 0.02}) == []
    assert round_warnings({"vessel_fraction": 0.5})[0].startswith("flood")
    # nothing to judge
    assert round_warnings({}) == [] and round_warnings({"vessel_fraction": float("nan")}) == []
    assert round_warnings({"vessel_fraction": 0.001}, reference=0.0)[0].startswith("collapse")


def test_history_warnings_take_the_reference_from_round0():
    hist = [{"round": 0, "vessel_fraction": 0.01, "source_vessel_fraction": 0.08},
            {"round": 1, "vessel_fraction": 0.05}, {"round": 2, "vessel_fraction": 0.015}]
    flags = history_warnings(hist)
    assert set(flags) == {0, 1, 2}
    assert flags[0] and flags[0][0].startswith("collapse")
    assert flags[1] == []
    assert flags[2] and "8.0%" in flags[2][0]
    # rows without "round" are numbered in order
    assert set(history_warnings([{"vessel_fraction": 0.1}, {"vessel_fraction": 0.9}])) == {0, 1}


def test_review_hint_never_points_at_a_flagged_round():
    """An end-to-end GUI run showed "least fragmented: round 2" beside round 2's flood warning."""
    hist = [{"round": 0, "vessel_fraction": 0.0, "source_vessel_fraction": 0.016, "fragmentation": float("nan")},
            {"round": 1, "vessel_fraction": 0.05, "fragmentation": 9.0},
            {"round": 2, "vessel_fraction": 0.135, "fragmentation": 4.0}]
    assert select_round(hist) == 2  # the benchmarks' pre-registered rule is unchanged
    assert review_pick(hist) == (1, [0, 2])
    hint = review_hint(hist)
    assert hint.startswith("least fragmented pseudo-labels: round 1;") and "0, 2" in hint
    assert review_hint([hist[0], hist[2]]) is None  # every round flagged: no hint
    ok = [{"round": 0, "vessel_fraction": 0.1, "source_vessel_fraction": 0.1, "fragmentation": 5.0},
          {"round": 1, "vessel_fraction": 0.1, "fragmentation": 6.0}]
    assert review_hint(ok) == "least fragmented pseudo-labels: round 0"


def test_adaptation_records_the_reference_and_reports_flags(tmp_path):
    proj, bundle, _ = make_setup(tmp_path)
    result, _ = collect(adapt(proj, TINY, source=bundle))
    rounds = Project.open(proj.folder).rounds
    ref = rounds[0].metrics["source_vessel_fraction"]
    assert 0.0 <= ref <= 1.0
    assert all("source_vessel_fraction" not in r.metrics for r in rounds[1:])
    # the result's warnings are the guard applied to the committed rounds (only flagged ones listed), as shown
    rows = [{"round": r.index, **r.metrics} for r in rounds]
    expected = {k: v for k, v in shown_warnings(rows).items() if v}
    assert result.warnings == expected
    flagged = [e for e in Project.open(proj.folder).read_log() if "label-free guard" in e["message"]]
    assert len(flagged) == len({k: v for k, v in history_warnings(rows).items() if v})


def test_the_result_names_a_round_whose_delivered_maps_collapsed_as_rounds_does(tmp_path, monkeypatch,
                                                                               capsys):
    """Session 41: ``adapt``'s closing "warning: round N" lines (``AdaptResult.warnings``) came from the pseudo-labels'
    checks alone, while ``vessel-studio rounds``, the window and export.json also flag a round whose delivered maps
    (the merge with the source segmenter) collapse (session 40 QA: a tiny run's round 1 delivered maps marking no
    pixel). Here round 1's real round is run and its delivered maps' vessel fraction read as 0, as that run's was.
    (The re-run decision, ``guard_retries``, still follows the pseudo-labels alone, as the GUIDE says.)"""
    from vessel_studio.adaptation import job as job_module
    from vessel_studio.adaptation.selection import DELIVERED
    from vessel_studio.cli import main

    real = job_module.run_round

    def run_round(ctx):
        out = yield from real(ctx)
        if ctx.index == 1:
            assert "delivered_vessel_fraction" in out.metrics  # source_weight 0.5: a merge is delivered
            out.metrics["delivered_vessel_fraction"] = 0.0
        return out

    monkeypatch.setattr(job_module, "run_round", run_round)
    proj, bundle, _ = make_setup(tmp_path)
    # the merge is delivered within a modality by default ("auto"); asked for here, this setup being OCT-A-like
    result, _ = collect(adapt(proj, TINY.replace(rounds=1, source_weight=0.5), source=bundle))
    rounds = Project.open(proj.folder).rounds
    assert [w.split(":")[0] for w in result.warnings[1] if DELIVERED in w] == ["collapse"]
    assert result.warnings == {k: v for k, v in shown_warnings(round_rows(rounds)).items() if v}
    capsys.readouterr()
    assert main(["rounds", str(proj.folder)]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: round 1:")]
    assert printed == [f"warning: round 1: {w}" for w in result.warnings[1]]


def test_round0_reference_is_the_source_segmenter_vessel_fraction(tmp_path):
    """round 0's source_vessel_fraction = the vessel fraction of the source segmenter applied to the
    target images with the target's preprocessing (what round 0's agreement compares with)."""
    from vessel_studio.adaptation.job import load_targets
    from vessel_studio.adaptation.rounds import predict_target
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing

    proj, bundle, _ = make_setup(tmp_path)
    collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    seg = Segmenter.load(bundle.segmenter)
    targets = load_targets(proj, Preprocessing.for_modality(proj.modality))
    probs = [predict_target(seg, t)[1] for t in targets]
    want = round_signals(probs, [t.fov for t in targets])["vessel_fraction"]
    got = Project.open(proj.folder).rounds[0].metrics["source_vessel_fraction"]
    assert got == pytest.approx(want, abs=1e-6)


def test_a_blind_source_segmenter_does_not_make_every_round_a_flood():
    """The GUI lab run (benchmarks/results/gui/lab-run-drive-octa500.md): the bundled fundus
    segmenter marks 1.4 % of OCT-A fields of view, so "4x the source segmenter" (5.6 %) flagged every
    round (7.9-14.3 %) as a flood. The flood ratio is taken against the larger of the source
    segmenter's share and the source masks' vessel share (round 0's source_mask_fraction)."""
    rounds = [0.143, 0.123, 0.079]
    hist = [{"round": k, "vessel_fraction": vf} for k, vf in enumerate(rounds)]
    hist[0]["source_vessel_fraction"] = 0.014
    assert all(ws and ws[0].startswith("flood") for ws in history_warnings(hist).values())  # old records
    hist[0]["source_mask_fraction"] = 0.12
    assert history_warnings(hist) == {0: [], 1: [], 2: []}
    # a real flood is still one: 35 % of the FOV, or 4x the source masks' share when that is larger
    (w,) = round_warnings({"vessel_fraction": 0.30}, reference=0.014, source_masks=0.06)
    assert w.startswith("flood") and "4x the vessel share of the source masks (6.0%" in w and "1.4%" in w
    assert round_warnings({"vessel_fraction": 0.40}, reference=0.014, source_masks=0.12)[0].startswith("flood")
    # the larger reference is the source segmenter's: as before
    (w,) = round_warnings({"vessel_fraction": 0.30}, reference=0.06, source_masks=0.02)
    assert "4x what the source segmenter marks (6.0%)" in w
    # collapse stays relative to the source segmenter alone
    (w,) = round_warnings({"vessel_fraction": 0.002}, reference=0.014, source_masks=0.12)
    assert w.startswith("collapse") and "1.4%" in w


def test_adaptation_records_the_source_masks_vessel_share(tmp_path):
    """round 0 records source_mask_fraction: the labelled source masks' vessel share inside their FOVs."""
    from vessel_studio.adaptation.job import load_sources
    from vessel_studio.models.generator import Generator
    from vessel_studio.preprocess import Preprocessing

    proj, bundle, _ = make_setup(tmp_path)
    collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    got = Project.open(proj.folder).rounds[0].metrics["source_mask_fraction"]
    prep = Generator.load(bundle.generator).preprocessing  # as the job prepares the source images
    if prep is None or not hasattr(prep, "modality"):
        prep = Preprocessing.for_modality(bundle.modality)
    src = load_sources(bundle.images, prep)
    want = np.mean([(m >= 0.5)[f.astype(bool)].mean() for m, f in zip(src.masks, src.fovs)])
    assert 0.0 < got < 1.0 and got == pytest.approx(want, abs=1e-6)


def test_shown_warnings_also_check_the_maps_a_round_delivers():
    """Session 40 QA: a tiny run's round delivered maps (the merge with the source segmenter, what Review, export and
    segment use) marking no pixel while its chain's maps marked about 5 % of each image: the guard said nothing.
    ``shown_warnings`` (the panel, ``rounds``, export) checks them with the same bounds and names them; the job's
    re-runs and the benchmark's round choice keep ``history_warnings`` (the chain's) alone."""
    from vessel_studio.adaptation.selection import DELIVERED, shown_warnings

    hist = [{"round": 0, "vessel_fraction": 0.05, "source_vessel_fraction": 0.126, "delivered_vessel_fraction": 0.09},
            {"round": 1, "vessel_fraction": 0.05, "delivered_vessel_fraction": 0.0},
            {"round": 2, "vessel_fraction": 0.01, "delivered_vessel_fraction": 0.6},
            {"round": 3, "vessel_fraction": 0.08}]  # no merge delivered (across modalities): the chain alone
    assert history_warnings(hist) == {0: [], 1: [], 2: [history_warnings(hist)[2][0]], 3: []}
    shown = shown_warnings(hist)
    assert shown[0] == [] and shown[3] == []
    (one,) = shown[1]
    assert one.startswith(f"collapse: {DELIVERED} mark 0.0% of the FOV")
    chain, *delivered = shown[2]
    assert chain.startswith("collapse: the pseudo-labels mark 1.0%")
    assert [w.split(":")[0] for w in delivered] == ["flood"] and DELIVERED in delivered[0]


def test_the_rounds_table_says_why_a_signal_is_missing_instead_of_printing_nan():
    """Session 42: pseudo-labels without a vessel pixel have no fragmentation (nan), which the table of
    ``vessel-studio rounds`` / ``adapt`` printed as "nan"; it shows "–" and a line under the table says why. A
    signal not recorded stays blank and adds no line."""
    from vessel_studio.adaptation.selection import summarize

    table = summarize([{"round": 0, "agreement": 0.5, "fragmentation": float("nan")},
                       {"round": 1, "agreement": 0.6, "fragmentation": 3.0}])
    assert "nan" not in table.lower()
    lines = table.splitlines()
    assert lines[2].split("|")[6].strip() == "–" and lines[3].split("|")[6].strip() == "3.0000"
    assert "no vessel pixel" in table
    plain = summarize([{"round": 0, "agreement": 0.5}])
    assert "–" not in plain and plain.count("\n") == 3
