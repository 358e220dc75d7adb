"""The adaptation job end to end with the tiny preset: rounds, events, cancel, corrections,
procedural sources, label-free signals, and that no target label is ever read."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import numpy as np
import pytest

from _adapt_fixtures import ensure_synthesis, make_setup, tree_digest

from vessel_studio.adaptation import AdaptConfig, adapt
from vessel_studio.adaptation.selection import confidence_stats, dice_agreement, round_signals, should_stop
from vessel_studio.events import Artifact, Metric, Preview, Progress, collect
from vessel_studio.store import Project, ProjectBusyError

ensure_synthesis()

# never stop early in these tests: all rounds run
TINY = AdaptConfig.preset("tiny", stop_agreement=1.01, threads=1)


@pytest.fixture
def setup(tmp_path):
    return make_setup(tmp_path)


def test_tiny_adaptation_end_to_end(setup):
    proj, bundle, _ = setup
    result, events = collect(adapt(proj, TINY, source=bundle))
    assert [r.index for r in result.rounds] == [0, 1, 2]
    assert not result.stopped_early
    again = Project.open(proj.folder)
    assert [r.index for r in again.rounds] == [0, 1, 2]
    assert [r.stage for r in again.rounds] == ["lsm", "co-opt", "co-opt"]
    assert again.source["kind"] == "labelled" and again.source["segmenter"]["hash"]
    for r in again.rounds:
        d = proj.folder / r.folder
        assert (d / "segmenter" / "model.safetensors").is_file()
        assert (d / "generator" / "model.safetensors").is_file()
        assert (d / "synthetic" / "montage.png").is_file()
        # "auto" options are recorded resolved (an OCT-A project, a fundus source: across modalities)
        assert r.seed == TINY.seed and r.config == TINY.resolve_auto("fundus", "octa").to_dict()
        assert r.config["source_weight"] == 0.0 and not (d / "segmenter-chain").exists()
        assert set(r.models) == {"segmenter", "generator"}
        for key in ("agreement", "confidence", "entropy", "vessel_fraction", "generator_loss", "segmenter_loss"):
            assert np.isfinite(r.metrics[key]), key
    for rec in again.images:
        assert rec.state == "predicted"
        p = again.prediction(rec.id)
        assert p.shape == rec.shape[:2] and p.dtype == np.float32 and 0 <= p.min() <= p.max() <= 1
    assert result.segmenter == proj.folder / "rounds" / "round-002" / "segmenter"
    assert not any(p.name != ".job.lock" for p in (proj.folder / "work").iterdir())

    # events: progress per optimiser / denoising step, tagged with the round; metrics per round;
    # one artifact per committed file; small uint8 previews
    prog = [e for e in events if isinstance(e, Progress)]
    stages = {(e.stage, e.round) for e in prog}
    for r in (0, 1, 2):
        for s in ("target-generator", "synthesize", "segmenter", "pseudo-label"):
            assert (s, r) in stages, (s, r)
    gen_steps = [e for e in prog if e.stage == "target-generator" and e.round == 0]
    assert len(gen_steps) == TINY.gen_steps and gen_steps[-1].step == gen_steps[-1].total
    seg_steps = [e for e in prog if e.stage == "segmenter" and e.round == 1]
    assert len(seg_steps) == TINY.seg_finetune_steps
    metrics = {(e.name, e.round) for e in events if isinstance(e, Metric)}
    assert ("agreement", 0) in metrics and ("agreement", 2) in metrics
    arts = [e for e in events if isinstance(e, Artifact)]
    assert {Path(a.path).name for a in arts} >= {"model.safetensors", "montage.png"}
    assert all(Path(a.path).is_file() for a in arts)
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and all(p.image.dtype == np.uint8 and max(p.image.shape[:2]) <= 128 for p in previews)

    # the adapted segmenter is a regular model folder recording the target preprocessing
    from vessel_studio.models.segmenter import Segmenter

    seg = Segmenter.load(again.segmenter_path())
    assert seg.preprocessing.modality == "octa"
    pred = seg.predict(again.read_image(again.images[0].id))
    assert pred.prob.shape == again.images[0].shape[:2]

    # continuing the project adds rounds after the latest one
    more, _ = collect(adapt(again, TINY.replace(rounds=1), source=bundle))
    assert [r.index for r in more.rounds] == [3]
    assert [r.index for r in Project.open(proj.folder).rounds] == [0, 1, 2, 3]


def test_no_target_label_is_read(setup, monkeypatch):
    proj, bundle, target_folder = setup
    forbidden = [str((target_folder / "labels").resolve()), str(target_folder / "labels")]
    opened: list[str] = []

    def guard(path):
        s = str(path)
        try:
            s2 = str(Path(path).resolve())
        except (TypeError, OSError):
            s2 = s
        if any(s.startswith(f) or s2.startswith(f) for f in forbidden) or (
                s2.startswith(str(target_folder.resolve())) and ("manual" in s2 or "label" in s2)):
            opened.append(s)
            raise AssertionError(f"target label opened during adaptation: {s}")

    real_open = builtins.open

    def open_guard(file, *a, **k):
        if isinstance(file, (str, Path)):
            guard(file)
        return real_open(file, *a, **k)

    import vessel_studio.io.images as images

    real_read_mask, real_read_image = images.read_mask, images.read_image

    def read_mask_guard(path, *a, **k):
        guard(path)
        return real_read_mask(path, *a, **k)

    def read_image_guard(path, *a, **k):
        guard(path)
        return real_read_image(path, *a, **k)

    monkeypatch.setattr(builtins, "open", open_guard)
    monkeypatch.setattr(images, "read_mask", read_mask_guard)
    monkeypatch.setattr(images, "read_image", read_image_guard)
    # the guard itself works:
    with pytest.raises(AssertionError):
        images.read_mask(next((target_folder / "labels").iterdir()))
    opened.clear()
    collect(adapt(proj, TINY.replace(rounds=1), source=bundle))
    assert opened == []


def _run_until(job, stop):
    for ev in job:
        if stop(ev):
            job.close()
            return ev
    raise AssertionError("job finished before the cancel point")


@pytest.mark.parametrize("cancel_at", [("segmenter", 0), ("synthesize", 1)])
def test_cancel_leaves_project_exactly_as_before(setup, cancel_at):
    proj, bundle, _ = setup
    if cancel_at[1] == 1:  # a project with a committed round already, cancel in the next job
        collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    before = tree_digest(proj.folder)
    manifest = json.loads((proj.folder / "project.json").read_text())
    stage, rnd = cancel_at
    ev = _run_until(adapt(proj, TINY, source=bundle),
                    lambda e: isinstance(e, Progress) and e.stage == stage and e.round == rnd)
    assert ev.round == rnd
    assert json.loads((proj.folder / "project.json").read_text()) == manifest
    assert tree_digest(proj.folder) == before
    assert not Project.open(proj.folder).job_running()
    # and the project still adapts afterwards
    res, _ = collect(adapt(proj, TINY.replace(rounds=1), source=bundle))
    assert res.rounds


def test_cancel_after_a_committed_round_rolls_it_back(setup):
    proj, bundle, _ = setup
    before = json.loads((proj.folder / "project.json").read_text())
    _run_until(adapt(proj, TINY, source=bundle),
               lambda e: isinstance(e, Progress) and e.stage == "segmenter" and e.round == 1)
    after = json.loads((proj.folder / "project.json").read_text())
    assert after == before
    assert not (proj.folder / "rounds" / "round-000").exists()
    assert not (proj.folder / "work").exists()


def test_ctrl_c_inside_the_job_cancels_it_like_close(setup):
    """The CLI's Ctrl-C raises KeyboardInterrupt inside the running job (not GeneratorExit): the
    rounds it committed are rolled back and work/ removed, as the CLI says ("as it was")."""
    proj, bundle, _ = setup
    before = json.loads((proj.folder / "project.json").read_text())
    job = adapt(proj, TINY, source=bundle)
    for ev in job:
        if isinstance(ev, Progress) and ev.stage == "segmenter" and ev.round == 1:
            assert [r.index for r in Project.open(proj.folder).rounds] == [0]
            with pytest.raises(KeyboardInterrupt):
                job.throw(KeyboardInterrupt())
            break
    else:
        raise AssertionError("job finished before the interrupt")
    assert json.loads((proj.folder / "project.json").read_text()) == before
    assert not (proj.folder / "rounds" / "round-000").exists()
    assert not (proj.folder / "work").exists() and not Project.open(proj.folder).job_running()


def test_corrections_replace_pseudo_labels_and_count_as_trusted(setup):
    proj, bundle, _ = setup
    collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    rec = proj.images[0]
    mask = np.zeros(rec.shape[:2], bool)
    mask[20:24, :] = True
    proj.save_correction(rec.id, mask)
    res, _ = collect(adapt(proj, TINY.replace(rounds=1), source=bundle))
    m = res.rounds[0].metrics
    assert m["corrected_images"] == 1
    assert m["real_pairs"] >= 1  # the corrected image is a training pair
    assert Project.open(proj.folder).image(rec.id).state == "corrected"


def test_corrections_made_before_the_first_round_train_round_0(setup):
    """A lab corrects a few masks of the bundled model's predictions, then adapts: round 0's segmenter
    trains on those corrected images too (whole FOV, weighted). Two projects of the same target images,
    one with a correction: round 0 without it counts no real pair, with it one, and their segmenters
    differ (the job is deterministic for a seed, so nothing else makes them differ)."""
    from vessel_studio.models.segmenter import Segmenter

    proj, bundle, target_folder = setup
    other = Project.create(proj.folder.parent / "corrected", modality=proj.modality)
    other.add_images([target_folder / "images"])
    rec = other.images[0]
    mask = np.zeros(rec.shape[:2], bool)
    mask[20:24, :] = True
    other.save_correction(rec.id, mask)

    plain, _ = collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    used, _ = collect(adapt(other, TINY.replace(rounds=0), source=bundle))
    assert plain.rounds[0].metrics["corrected_images"] == 0 and plain.rounds[0].metrics["real_pairs"] == 0
    assert used.rounds[0].metrics["corrected_images"] == 1 and used.rounds[0].metrics["real_pairs"] == 1
    w0 = Segmenter.load(proj.segmenter_path(0)).net.state_dict()
    w1 = Segmenter.load(other.segmenter_path(0)).net.state_dict()
    assert any(not np.array_equal(w0[k].numpy(), w1[k].numpy()) for k in w0)
    logged = [json.loads(line) for line in (other.folder / "log.jsonl").read_text().splitlines()]
    assert any(e.get("round") == 0 and e.get("images") == [rec.name] for e in logged
               if e["message"] == "round trained on corrected masks")


def test_round_labels_use_corrections(setup):
    from vessel_studio.adaptation.rounds import RoundContext, real_pairs, round_labels
    from vessel_studio.adaptation.job import load_targets
    from vessel_studio.preprocess import Preprocessing

    proj, _, _ = setup
    targets = load_targets(proj, Preprocessing.for_modality("octa"))
    probs = {t.id: np.full(t.prepared.x.shape, 0.9, np.float32) for t in targets}
    corr = np.zeros(targets[0].fov.shape, bool)
    corr[5:9, 5:30] = True
    cfg = TINY.replace(pseudo_mode="hard")
    ctx = RoundContext(cfg=cfg, device=None, work=Path("."), index=1, targets=targets, target_prep=None,
                       source_generator=None, source_segmenter=None, source=None, prev_probs_model=probs,
                       corrections={targets[0].id: corr})
    labels = round_labels(ctx)
    assert labels[0].sum() == corr.sum() and labels[1].min() == 1.0
    pairs = real_pairs(ctx, labels)
    assert pairs[0].weight == cfg.correction_weight and pairs[1].weight == cfg.real_weight


def test_procedural_source_when_no_labelled_images(setup):
    proj, bundle, _ = setup
    bundle.images = []
    res, events = collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    assert [r.index for r in res.rounds] == [0]
    assert Project.open(proj.folder).source["kind"] == "procedural"
    assert any(isinstance(e, Progress) and e.stage == "render-source" for e in events)


def test_busy_project_and_empty_project(setup, tmp_path):
    proj, bundle, _ = setup
    other = Project.open(proj.folder)
    other.acquire_job_lock()
    try:
        with pytest.raises(ProjectBusyError):
            collect(adapt(proj, TINY, source=bundle))
    finally:
        other.release_job_lock()
    empty = Project.create(tmp_path / "empty", modality="octa")
    with pytest.raises(ValueError, match="no target images"):
        collect(adapt(empty, TINY, source=bundle))
    assert not empty.job_running()


def test_early_stop_on_label_free_agreement(setup):
    proj, bundle, _ = setup
    res, _ = collect(adapt(proj, TINY.replace(stop_agreement=0.0, rounds=3), source=bundle))
    assert res.stopped_early and [r.index for r in res.rounds] == [0, 1]
    assert "label-free" in res.reason


def test_config_presets_roundtrip_and_validation():
    for name in ("tiny", "cpu", "gpu"):
        cfg = AdaptConfig.preset(name)
        assert AdaptConfig.from_dict(cfg.to_dict()) == cfg
    assert AdaptConfig.preset("gpu").n_synthetic > AdaptConfig.preset("cpu").n_synthetic
    with pytest.raises(ValueError, match="unknown preset"):
        AdaptConfig.preset("huge")
    with pytest.raises(ValueError, match="t0"):
        AdaptConfig.preset("tiny", t0=0.0)
    with pytest.raises(ValueError, match="unknown fields"):
        AdaptConfig.preset("tiny", nonsense=1)


def test_config_refuses_counts_that_are_not_integers_and_rates_that_are_not_positive():
    """Session 33 API QA: AdaptConfig.preset("tiny", gen_steps="10"), gen_steps=2.5 or seed=1.5 were accepted,
    ran and were recorded in the manifest as given; seg_lr=-1 was accepted and the job failed in the segmenter's
    optimiser after the generator's training and the synthesis had run; threads=-4 failed in torch. Each is a
    ValueError naming the field now, when the config is made."""
    import numpy as np

    bad = {"gen_steps": "10", "seed": 1.5, "seg_finetune_steps": -3, "n_preview": -2, "threads": 0,
           "procedural_images": 0, "min_rounds": -1}
    for field, value in bad.items():
        with pytest.raises(ValueError, match=rf"AdaptConfig: {field} must be an integer"):
            AdaptConfig.preset("tiny", **{field: value})
    for field in ("gen_lr", "seg_lr", "seg_finetune_lr"):
        for value in (-1.0, 0, float("nan"), None):
            with pytest.raises(ValueError, match=rf"AdaptConfig: {field} must be a positive number"):
                AdaptConfig.preset("tiny", **{field: value})
    for field in ("real_weight", "correction_weight"):
        with pytest.raises(ValueError, match=rf"AdaptConfig: {field} must be a number >= 0"):
            AdaptConfig.preset("tiny", **{field: -1})
    # what is valid stays valid: NumPy integers, zero fine-tuning steps, no previews, threads left as set
    cfg = AdaptConfig.preset("tiny", seed=np.int64(3), gen_finetune_steps=0, seg_finetune_steps=0, n_preview=0,
                             threads=None, real_weight=0, seg_lr=1)
    assert cfg.seed == 3 and AdaptConfig.from_dict(cfg.to_dict()) == cfg


def test_config_refuses_fractions_that_are_not_numbers():
    """Session 34: ``--set t0=abc`` (or ``cond_dropout``) was a TypeError traceback out of the comparison, not the
    one-line error the command gives for a ValueError; ``stop_agreement`` took anything: a word failed after round 1
    had trained (the stopping rule compares with it), NaN never stopped, ``guard_retries="x"`` was int()'s message
    naming no field."""
    for field in ("t0", "cond_dropout", "synth_filter", "stop_agreement"):
        for value in ("abc", float("nan"), None, True):
            with pytest.raises(ValueError, match=rf"AdaptConfig: {field} must be a number, got"):
                AdaptConfig.preset("tiny", **{field: value})
    for value in (-0.5, float("inf")):
        with pytest.raises(ValueError, match=r"AdaptConfig: stop_agreement must be a number >= 0"):
            AdaptConfig.preset("tiny", stop_agreement=value)
    with pytest.raises(ValueError, match=r"AdaptConfig: guard_retries must be an integer >= 0, got 'x'"):
        AdaptConfig.preset("tiny", guard_retries="x")
    # above 1 stays the way to turn early stopping off (the tests' 1.01)
    assert AdaptConfig.preset("tiny", stop_agreement=1.01).stop_agreement == 1.01


def test_label_free_signals():
    a = np.zeros((10, 10), np.float32)
    a[2:5, :] = 0.9
    b = a.copy()
    assert dice_agreement(a, b) == 1.0
    b[2, :] = 0.1
    assert dice_agreement(a, b) == pytest.approx(2 * 20 / (30 + 20))
    assert dice_agreement(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    s = confidence_stats(np.array([0.0, 1.0, 0.5, 0.5]))
    assert s["confidence"] == pytest.approx(0.75) and s["entropy"] == pytest.approx(0.5, abs=1e-5)
    sig = round_signals([a], [None], [b])
    assert set(sig) == {"confidence", "entropy", "vessel_fraction", "fragmentation", "agreement"}
    hist = [{"agreement": 0.5}, {"agreement": 0.99}]
    assert should_stop(hist, stop_agreement=0.98)[0]
    assert not should_stop(hist[:1], stop_agreement=0.1)[0]  # round 0 alone never stops
    assert not should_stop(hist, stop_agreement=0.98, min_rounds=2)[0]


def test_fragmentation_and_round_selection():
    """Components per 1000 skeleton pixels: one long vessel scores low, the same length broken
    into pieces scores high; specks under MIN_OBJECT px and pixels outside the FOV do not count;
    the selection takes the least fragmented round (ties: the later one)."""
    from vessel_studio.adaptation.selection import MIN_OBJECT, fragment_counts, fragmentation, select_round

    whole = np.zeros((64, 200), np.float32)
    whole[30:33, 10:190] = 0.9
    broken = whole.copy()
    broken[:, 40:200:30] = 0.0  # cut into six pieces
    n, length = fragment_counts(whole)
    assert n == 1 and 170 <= length <= 180
    assert fragment_counts(broken)[0] == 6
    assert fragmentation([broken]) > 5 * fragmentation([whole])
    speck = whole.copy()
    speck[5:7, 5:7] = 0.9  # 4 px < MIN_OBJECT
    assert MIN_OBJECT > 4 and fragment_counts(speck) == (n, length)
    fov = np.ones_like(whole, bool)
    fov[:, 100:] = False
    assert fragment_counts(whole, fov)[1] < length
    assert np.isnan(fragmentation([np.zeros((8, 8))]))
    hist = [{"round": 0, "fragmentation": 8.0}, {"round": 1, "fragmentation": 9.5}, {"round": 2, "fragmentation": 8.0}]
    assert select_round(hist) == 2
    assert select_round(hist[:2]) == 0
    assert select_round([{"round": 0}, {"round": 1, "fragmentation": float("nan")}]) is None


def test_round0_agreement_uses_the_target_preprocessing(setup):
    """Round 0 compares with the source segmenter applied as source-only is (target preprocessing),
    not with the source modality's preprocessing (fundus: green channel inverted, rescaled)."""
    from vessel_studio.adaptation.job import load_targets
    from vessel_studio.adaptation.rounds import predict_target
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing

    proj, bundle, _ = setup
    seg = Segmenter.load(bundle.segmenter)
    assert seg.preprocessing.modality == "fundus"
    t = load_targets(proj, Preprocessing.for_modality("octa"))[0]
    pm, po = predict_target(seg, t)
    assert pm.shape == t.prepared.x.shape and po.shape == t.fov.shape
    np.testing.assert_allclose(pm, seg.predict_prepared(t.prepared.x, t.prepared.fov), atol=1e-6)
    image = proj.read_image(t.id)  # the target keeps only its prepared arrays and FOV
    seg.preprocessing = Preprocessing.for_modality("octa")
    np.testing.assert_allclose(po, seg.predict(image, fov=t.fov).prob, atol=1e-5)
    seg.preprocessing = Preprocessing.for_modality("fundus")
    assert not np.allclose(po, seg.predict(image, fov=t.fov).prob, atol=1e-3)  # what round 0 used to compare with


@pytest.mark.parametrize("lsm_masks", [True, False])
def test_round0_decoding_conditioned_on_source_masks(setup, monkeypatch, lsm_masks):
    """cfg.lsm_masks: round 0 decodes with the target generator conditioned on the source masks
    (its mask pathway comes from the source generator); False is the paper's unconditional decode.
    Co-optimization rounds are always conditioned (the generator was fine-tuned on pseudo-labels)."""
    import vessel_studio.adaptation.synthesis as synthesis

    calls = []
    real = synthesis.translate

    def spy(*args, **kwargs):
        calls.append(kwargs["target_masks"])
        return real(*args, **kwargs)

    monkeypatch.setattr(synthesis, "translate", spy)
    proj, bundle, _ = setup
    collect(adapt(proj, TINY.replace(rounds=1, lsm_masks=lsm_masks), source=bundle))
    n0 = -(-TINY.n_synthetic // TINY.synth_batch)  # chunks per round
    assert calls[:n0] == [lsm_masks] * n0 and calls[n0:] == [True] * n0
    with pytest.raises(ValueError, match="lsm_masks"):
        AdaptConfig.preset("tiny", lsm_masks="yes")


def test_source_pairs_share_and_off(setup):
    """cfg.source_share: the labelled source images join the segmenter's pairs at about that share;
    0 (the paper) and procedural sources add none."""
    from vessel_studio.adaptation.job import load_sources
    from vessel_studio.adaptation.rounds import RoundContext, SourceCrops, source_pairs
    from vessel_studio.preprocess import Preprocessing

    _, bundle, _ = setup
    src = load_sources(bundle.images, Preprocessing.for_modality("fundus"))
    ctx = RoundContext(cfg=TINY.replace(source_share=0.25), device=None, work=Path("."), index=0, targets=[],
                       target_prep=None, source_generator=None, source_segmenter=None, source=src)
    pairs = source_pairs(ctx, 30)
    assert len(pairs) == 10 and {p.name for p in pairs} == {"source-0", "source-1"}  # 10 / (30 + 10) = 0.25
    assert pairs[0].label.shape == src.masks[0].shape and set(np.unique(pairs[0].label)) <= {0.0, 1.0}
    assert source_pairs(RoundContext(**{**ctx.__dict__, "cfg": TINY.replace(source_share=0.0)}), 30) == []
    proc = RoundContext(**{**ctx.__dict__, "source": SourceCrops([], [], [], procedural=True)})
    assert source_pairs(proc, 30) == []
    with pytest.raises(ValueError, match="source_share"):
        AdaptConfig.preset("tiny", source_share=1.0)
    for name in ("tiny", "cpu", "gpu"):  # the paper's method unless asked otherwise
        cfg = AdaptConfig.preset(name)
        assert cfg.source_share == 0.0 and cfg.lsm_masks is False


def test_seg_augment_reaches_the_segmenter_trainer(setup, monkeypatch):
    """cfg.seg_augment="strong" sets the trainer's appearance augmentation; "mild" (the default of
    every preset before session 6) leaves it off; "strong" is now the default; anything else is refused."""
    import vessel_studio.train.segmenter as ts
    from vessel_studio.adaptation.config import SEG_AUGMENT

    proj, bundle, _ = setup
    seen = []
    real = ts.train_segmenter

    def spy(pairs, cfg, **kw):
        seen.append((cfg.contrast_jitter, cfg.blur_sigma, cfg.noise_sd))
        return real(pairs, cfg, **kw)

    monkeypatch.setattr(ts, "train_segmenter", spy)
    collect(adapt(proj, TINY.replace(rounds=0, seg_augment="strong"), source=bundle))
    s = SEG_AUGMENT["strong"]
    assert seen == [(s["contrast_jitter"], s["blur_sigma"], s["noise_sd"])]
    for name in ("tiny", "cpu", "gpu"):
        assert AdaptConfig.preset(name).seg_augment == "strong"  # default since session 6
    with pytest.raises(ValueError, match="seg_augment"):
        AdaptConfig.preset("tiny", seg_augment="heavy")


def test_source_pairs_counted_in_round_signals(setup):
    proj, bundle, _ = setup
    res, _ = collect(adapt(proj, TINY.replace(rounds=0, source_share=0.5), source=bundle))
    m = Project.open(proj.folder).rounds[0].metrics
    assert m["source_pairs"] >= m["synthetic_pairs"] * 0.5 and m["real_pairs"] == 0


def test_source_share_auto_resolves_by_modality(setup):
    """source_share="auto": SAME_MODALITY_SOURCE_SHARE when the source bundle and the target project
    share a modality, 0 across modalities; the job records the resolved number, never "auto"."""
    import dataclasses

    from vessel_studio.adaptation.config import SAME_MODALITY_SOURCE_SHARE

    auto = TINY.replace(source_share="auto")
    assert auto.resolve_auto("fundus", "fundus").source_share == SAME_MODALITY_SOURCE_SHARE > 0
    assert auto.resolve_auto("fundus", "octa").source_share == 0.0
    assert TINY.replace(source_share=0.1).resolve_auto("fundus", "octa").source_share == 0.1
    for bad in ("sometimes", True, -0.1):
        with pytest.raises(ValueError, match="source_share"):
            TINY.replace(source_share=bad)

    proj, bundle, _ = setup  # an OCT-A project, a fundus source bundle: across modalities
    assert proj.modality != bundle.modality
    collect(adapt(proj, auto.replace(rounds=0), source=bundle))
    r0 = Project.open(proj.folder).rounds[0]
    assert r0.config["source_share"] == 0.0 and r0.metrics["source_pairs"] == 0
    same = dataclasses.replace(bundle, modality=proj.modality)  # the same images, called same-modality
    collect(adapt(proj, auto.replace(rounds=1), source=same))
    r1 = Project.open(proj.folder).rounds[1]
    assert r1.config["source_share"] == SAME_MODALITY_SOURCE_SHARE and r1.metrics["source_pairs"] > 0


def test_guard_retries_rerun_a_flagged_round_with_another_seed(setup, monkeypatch):
    """cfg.guard_retries: a round the label-free guard flags is run again with a derived seed in its
    own work folder; the kept attempt's seed and count are recorded. 0 (the default) keeps the first."""
    import vessel_studio.adaptation.job as jobmod
    from vessel_studio.adaptation.rounds import derive_seed
    from vessel_studio.events import Metric

    real = jobmod.history_warnings
    calls = []

    def flag_first_round0_once(history):
        out = real(history)
        calls.append(1)
        if len(calls) == 1:  # the guard's look at round 0's first attempt
            out = {**out, 0: ["collapse: forced by the test"]}
        return out

    monkeypatch.setattr(jobmod, "history_warnings", flag_first_round0_once)
    proj, bundle, _ = setup
    cfg = TINY.replace(rounds=0, guard_retries=1, seed=3)
    _, events = collect(adapt(proj, cfg, source=bundle))
    r0 = Project.open(proj.folder).rounds[0]
    assert r0.seed == derive_seed(cfg.seed, "guard-retry", 0, 1) != cfg.seed
    assert r0.config["seed"] == r0.seed and r0.metrics["guard_retries"] == 1.0
    # the job's seed beside it (session 29 QA: a project whose rounds were all re-run continued with the derived one)
    from vessel_studio.adaptation.config import recorded_config

    assert r0.job_seed == cfg.seed == recorded_config(Project.open(proj.folder))["fields"]["seed"]
    assert [e.value for e in events if isinstance(e, Metric) and e.stage == "guard"] == [1.0]
    assert "running it again with another seed" in (proj.folder / "log.jsonl").read_text()

    with pytest.raises(ValueError, match="guard_retries"):
        AdaptConfig.preset("tiny", guard_retries=-1)
    assert AdaptConfig.preset("cpu").guard_retries == 0


def test_guard_retry_work_folders(tmp_path):
    from vessel_studio.adaptation.job import _accepted_round_work, _round_work

    assert _round_work(tmp_path, 2, 0).name == "round-002"
    assert _accepted_round_work(tmp_path, 2) == tmp_path / "round-002"
    for k in (1, 2):
        _round_work(tmp_path, 2, k).mkdir(parents=True)
    (tmp_path / "round-003-retry-5").mkdir()
    assert _accepted_round_work(tmp_path, 2) == tmp_path / "round-002-retry-2"


def test_synth_filter_drops_the_pairs_whose_image_hides_their_mask(setup):
    """cfg.synth_filter: the synthetic pairs whose image the starting segmenter agrees least with
    their mask are left out (the kept count is recorded); 0 (the default) keeps all."""
    from vessel_studio.adaptation.rounds import filter_synthetic, synthetic_agreement
    from vessel_studio.train.segmenter import TrainPair

    class Thresh:  # a stand-in segmenter: bright pixels are vessels
        def predict_prepared(self, x, fov=None):
            return (x > 0).astype(np.float32)

    m = np.zeros((16, 16), np.float32)
    m[:, 6:9] = 1
    shown = np.where(m > 0, 1.0, -1.0).astype(np.float32)  # the image shows its mask's vessel
    hidden = -np.ones_like(shown)  # an image without it
    pairs = [TrainPair(shown, m, name="a"), TrainPair(hidden, m, name="b"), TrainPair(shown, m, name="c")]
    assert list(synthetic_agreement(pairs, Thresh())) == [1.0, 0.0, 1.0]
    assert [p.name for p in filter_synthetic(pairs, Thresh(), 0.34)] == ["a", "c"]
    assert [p.name for p in filter_synthetic(pairs, Thresh(), 0.0)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="synth_filter"):
        AdaptConfig.preset("tiny", synth_filter=1.0)
    assert AdaptConfig.preset("cpu").synth_filter == 0.0

    proj, bundle, _ = setup
    collect(adapt(proj, TINY.replace(rounds=0, synth_filter=0.5), source=bundle))
    m0 = Project.open(proj.folder).rounds[0].metrics
    assert m0["synthetic_pairs"] == TINY.n_synthetic // 2


def test_interpolate_weights():
    import torch

    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig, interpolate_weights
    from vessel_studio.preprocess import Preprocessing

    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    torch.manual_seed(1)
    a = Segmenter.create(SegmenterConfig(channels=(8, 16)), prep)
    b = Segmenter.create(SegmenterConfig(channels=(8, 16)), Preprocessing.for_modality("octa"))
    with torch.no_grad():  # distinct BatchNorm statistics too
        for m in b.net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean += 1.0
                m.running_var *= 3.0
                m.num_batches_tracked += 5
    sa, sb = a.net.state_dict(), b.net.state_dict()
    for w in (0.0, 0.3, 1.0):
        m = interpolate_weights(a, b, w)
        sm = m.net.state_dict()
        for k in sb:
            if sb[k].is_floating_point():
                torch.testing.assert_close(sm[k], w * sa[k] + (1 - w) * sb[k], msg=k)
            else:
                assert torch.equal(sm[k], sb[k]), k
        assert m.preprocessing == b.preprocessing and m.training["weight_interpolation"]["base_weight"] == w
    with pytest.raises(ValueError, match="architectures differ"):
        interpolate_weights(Segmenter.create(SegmenterConfig(channels=(4, 8)), prep), b, 0.5)
    with pytest.raises(ValueError, match="base_weight"):
        interpolate_weights(a, b, 1.5)


def test_source_weight_delivers_a_merge_and_leaves_the_chain_unchanged(tmp_path):
    """With source_weight the round delivers (segmenter/, pseudo/) the weight interpolation of the
    source segmenter and the adapted one; the co-optimization chain (segmenter-chain/, pseudo-chain/,
    the next round's start, the label-free signals) is bit for bit the run without it."""
    import dataclasses

    from safetensors.numpy import load_file

    from vessel_studio.adaptation.config import SAME_MODALITY_SOURCE_WEIGHT
    from vessel_studio.models.segmenter import Segmenter, interpolate_weights

    auto = TINY.replace(source_weight="auto")
    assert auto.resolve_auto("fundus", "fundus").source_weight == SAME_MODALITY_SOURCE_WEIGHT == 0.5
    assert auto.resolve_auto("fundus", "octa").source_weight == 0.0
    assert AdaptConfig.preset("cpu").source_weight == "auto" == AdaptConfig.preset("gpu").source_weight
    for bad in ("often", True, -0.1, 1.0):
        with pytest.raises(ValueError, match="source_weight"):
            TINY.replace(source_weight=bad)

    runs = {}
    for name, w in (("plain", 0.0), ("merged", "auto")):
        proj, bundle, _ = make_setup(tmp_path / name)
        bundle = dataclasses.replace(bundle, modality=proj.modality)  # call it a same-modality change
        collect(adapt(proj, TINY.replace(rounds=1, source_weight=w), source=bundle))
        runs[name] = (Project.open(proj.folder), bundle)
    plain, (merged, bundle) = runs["plain"][0], runs["merged"]
    src = Segmenter.load(bundle.segmenter)
    for r in (0, 1):
        rec = merged.get_round(r)
        assert rec.config["source_weight"] == 0.5 and "segmenter_chain" in rec.models
        d, p = merged.round_dir(r), plain.round_dir(r)
        chain_m, chain_p = load_file(str(d / "segmenter-chain" / "model.safetensors")), \
            load_file(str(p / "segmenter" / "model.safetensors"))
        for k in chain_p:
            np.testing.assert_array_equal(chain_m[k], chain_p[k], err_msg=f"round {r} chain {k}")
        for img in merged.images:  # chain maps = the plain run's; delivered maps = the merged model's
            np.testing.assert_array_equal(merged.prediction(img.id, r, chain=True), plain.prediction(img.id, r))
            assert merged.prediction_path(img.id, r).parent.name == "pseudo"
        for key in ("agreement", "vessel_fraction", "confidence", "fragmentation"):
            assert rec.metrics[key] == plain.get_round(r).metrics[key], key
        assert 0 <= rec.metrics["delivered_agreement_with_chain"] <= 1
        delivered = Segmenter.load(d / "segmenter")
        expect = interpolate_weights(src, Segmenter.load(d / "segmenter-chain"), 0.5)
        for k, v in expect.net.state_dict().items():
            assert np.array_equal(delivered.net.state_dict()[k].numpy(), v.numpy()), k
        img = merged.images[0]
        assert not np.array_equal(merged.prediction(img.id, r), merged.prediction(img.id, r, chain=True))
    # round 1 fine-tuned the chain, not the delivered merge
    tr = Segmenter.load(merged.round_dir(1) / "segmenter-chain").training
    assert Path(tr["fine_tuned_from"]).resolve() == merged.chain_segmenter_path(0).resolve()
    assert merged.chain_segmenter_path(0).name == "segmenter-chain"
    assert plain.chain_segmenter_path(0) == plain.segmenter_path(0)


def test_merge_chain_goes_on_from_the_merge(tmp_path):
    """merge_chain: the merge pseudo-labels the targets and is what the next round fine-tunes."""
    import dataclasses

    from safetensors.numpy import load_file

    from vessel_studio.models.segmenter import Segmenter, interpolate_weights

    with pytest.raises(ValueError, match="merge_chain"):
        TINY.replace(merge_chain="yes")
    runs = {}
    for name, extra in (("plain", dict(source_weight=0.0)), ("chain", dict(source_weight=0.5, merge_chain=True))):
        proj, bundle, _ = make_setup(tmp_path / name)
        bundle = dataclasses.replace(bundle, modality=proj.modality)
        collect(adapt(proj, TINY.replace(rounds=1, **extra), source=bundle))
        runs[name] = (Project.open(proj.folder), bundle)
    plain, (chain, bundle) = runs["plain"][0], runs["chain"]
    for r in (0, 1):
        assert not (chain.round_dir(r) / "segmenter-chain").exists()
        assert chain.chain_segmenter_path(r) == chain.segmenter_path(r)
    # round 0 trains exactly as without the merge; what it keeps is the merge
    expect = interpolate_weights(Segmenter.load(bundle.segmenter), Segmenter.load(plain.segmenter_path(0)), 0.5)
    got = load_file(str(chain.segmenter_path(0) / "model.safetensors"))
    for k, v in expect.net.state_dict().items():
        np.testing.assert_array_equal(got[k], v.numpy(), err_msg=k)
    merged0 = Segmenter.load(chain.segmenter_path(0))
    img = chain.images[0]
    assert chain.prediction(img.id, 0).shape == img.shape[:2]
    tr = Segmenter.load(chain.segmenter_path(1)).training
    assert Path(tr["fine_tuned_from"]).resolve() == chain.segmenter_path(0).resolve()
    assert tr["weight_interpolation"]["base_weight"] == 0.5 and merged0.training["weight_interpolation"]


def test_rounds_auto_resolves_by_modality(setup, monkeypatch):
    """rounds="auto": SAME_MODALITY_ROUNDS within one modality, CROSS_MODALITY_ROUNDS across; the job
    records the resolved number, and bad values are refused."""
    from vessel_studio.adaptation import config as config_mod

    assert AdaptConfig.preset("cpu").rounds == "auto" and AdaptConfig.preset("gpu").rounds == 2
    auto = TINY.replace(rounds="auto")
    assert auto.resolve_auto("fundus", "fundus").rounds == config_mod.SAME_MODALITY_ROUNDS
    assert auto.resolve_auto("fundus", "octa").rounds == config_mod.CROSS_MODALITY_ROUNDS
    assert config_mod.CROSS_MODALITY_ROUNDS > config_mod.SAME_MODALITY_ROUNDS
    assert TINY.replace(rounds=3).resolve_auto("fundus", "octa").rounds == 3
    for bad in ("many", -1, 2.5, True):
        with pytest.raises(ValueError, match="rounds"):
            TINY.replace(rounds=bad)

    monkeypatch.setattr(config_mod, "CROSS_MODALITY_ROUNDS", 1)  # keep the job short
    proj, bundle, _ = setup  # an OCT-A project, a fundus source bundle
    res, _ = collect(adapt(proj, auto, source=bundle))
    assert [r.index for r in res.rounds] == [0, 1]
    assert all(r.config["rounds"] == 1 for r in Project.open(proj.folder).rounds)


def test_pseudo_mirror_changes_only_the_chains_pseudo_labels(tmp_path):
    """``pseudo_mirror``: the chain's pseudo-labels are the mirrored maps of the round's segmenter;
    round 0 trains the same segmenter as without it (its pseudo-labels are first used in round 1)."""
    import torch

    from vessel_studio.adaptation.job import load_targets
    from vessel_studio.adaptation.rounds import predict_target
    from vessel_studio.models.segmenter import Segmenter

    cfg = TINY.replace(rounds=1)
    runs = {}
    for mirror in (False, True):
        proj, bundle, _ = make_setup(tmp_path / f"mirror-{mirror}")
        collect(adapt(proj, cfg.replace(pseudo_mirror=mirror), source=bundle))
        runs[mirror] = Project.open(proj.folder)
    plain, mirrored = runs[False], runs[True]
    assert [r.config["pseudo_mirror"] for r in mirrored.rounds] == [True, True]

    def same_weights(r: int) -> bool:
        a, b = (Segmenter.load(p.segmenter_path(r)).net.state_dict() for p in (plain, mirrored))
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    assert same_weights(0)
    seg = Segmenter.load(mirrored.chain_segmenter_path(0))  # the chain wrote the pseudo-labels
    targets = load_targets(mirrored, seg.preprocessing)
    differs = False
    for t in targets:
        saved = mirrored.prediction(t.id, round=0, chain=True)
        want_m, want_p = predict_target(seg, t, mirror=True)[1], predict_target(seg, t)[1]
        np.testing.assert_allclose(saved, want_m, atol=1e-6)
        np.testing.assert_allclose(plain.prediction(t.id, round=0, chain=True), want_p, atol=1e-6)
        differs |= float(np.abs(want_m - want_p).max()) > 1e-4
    assert differs
    assert not same_weights(1)  # round 1 trained on different labels


def test_gen_channels_last_runs_the_generators_channels_last_and_synthesises_the_same_up_to_rounding(tmp_path,
                                                                                                    monkeypatch):
    """``gen_channels_last``: every generator the job loads runs channels-last; round 0's synthetic
    images equal the default's up to rounding."""
    from vessel_studio.adaptation import rounds
    from vessel_studio.models.generator import Generator

    seen = []
    real_eps = Generator.eps

    def eps(self, x_t, t, mask=None):
        seen.append(self.channels_last)
        return real_eps(self, x_t, t, mask)

    monkeypatch.setattr(Generator, "eps", eps)
    synth = {}
    real_stage = rounds.stage_synthesize

    def stage(ctx, target_gen, crops, masks, *, target_masks):
        out = yield from real_stage(ctx, target_gen, crops, masks, target_masks=target_masks)
        synth[(ctx.cfg.gen_channels_last, ctx.index)] = out[0]
        return out

    monkeypatch.setattr(rounds, "stage_synthesize", stage)
    cfg = TINY.replace(rounds=1)
    for on in (False, True):
        seen.clear()
        proj, bundle, _ = make_setup(tmp_path / f"cl-{on}")
        collect(adapt(proj, cfg.replace(gen_channels_last=on), source=bundle))
        assert seen and set(seen) == {on}
        assert [r.config["gen_channels_last"] for r in Project.open(proj.folder).rounds] == [on, on]
    np.testing.assert_allclose(synth[(True, 0)], synth[(False, 0)], atol=1e-3)


def test_seg_norm_target_renormalises_each_trained_segmenter(tmp_path):
    """seg_norm="target": round 0's segmenter is the one seg_norm="source" trains (same weights: the
    training runs BatchNorm on batch statistics), with its BatchNorm statistics re-estimated on the
    project's target images; the option is recorded, validated, and off by default."""
    import torch

    from vessel_studio.adaptation.job import load_targets
    from vessel_studio.adaptation.rounds import derive_seed
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing
    from vessel_studio.train.segmenter import NORM_BATCHES, reestimate_norm_statistics

    assert all(AdaptConfig.preset(p).seg_norm == "source" for p in ("tiny", "cpu", "gpu"))
    with pytest.raises(ValueError, match="seg_norm"):
        AdaptConfig.preset("tiny", seg_norm="sideways")
    runs = {}
    for mode in ("source", "target"):
        proj, bundle, _ = make_setup(tmp_path / mode)
        cfg = TINY.replace(rounds=0, seg_norm=mode)
        _, events = collect(adapt(proj, cfg, source=bundle))
        runs[mode] = (proj, events)
    plain = Segmenter.load(runs["source"][0].folder / "rounds" / "round-000" / "segmenter")
    normed = Segmenter.load(runs["target"][0].folder / "rounds" / "round-000" / "segmenter")
    assert any(isinstance(e, Progress) and e.stage == "renormalize" and e.round == 0 for e in runs["target"][1])
    assert not any(isinstance(e, Progress) and e.stage == "renormalize" for e in runs["source"][1])
    assert normed.training["batchnorm_statistics"]["batches"] == NORM_BATCHES
    assert Project.open(runs["target"][0].folder).rounds[0].config["seg_norm"] == "target"
    proj = runs["source"][0]
    targets = load_targets(proj, Preprocessing.for_modality("octa"))
    reestimate_norm_statistics(plain, [t.prepared.x for t in targets], [t.prepared.fov for t in targets],
                               crop=TINY.seg_crop, batch_size=TINY.seg_batch, batches=NORM_BATCHES,
                               seed=derive_seed(TINY.seed, "seg-norm", 0))
    a, b = plain.net.state_dict(), normed.net.state_dict()
    assert set(a) == set(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def test_synth_replay_adds_round0_pairs_to_later_rounds(tmp_path, monkeypatch):
    """synth_replay: round 0 keeps its synthetic pairs in its committed synthetic/ folder, and every later
    round trains its segmenter on them (the same images and masks, read back) beside its own; round 0
    itself is the default's; a round 0 made without it gets its pairs made again; off by default, validated."""
    import vessel_studio.train.segmenter as ts
    from vessel_studio.adaptation.rounds import REPLAY_IMAGES, REPLAY_MASKS, RoundContext, replay_pairs
    from vessel_studio.preprocess import from_unit

    assert all(AdaptConfig.preset(p).synth_replay is False for p in ("tiny", "cpu", "gpu"))
    with pytest.raises(ValueError, match="synth_replay"):
        AdaptConfig.preset("tiny", synth_replay="yes")
    real = ts.train_segmenter
    seen: dict[bool, list] = {}

    def spy(pairs, cfg, **kw):
        seen.setdefault(spy.mode, []).append({p.name: p for p in pairs})
        return real(pairs, cfg, **kw)

    monkeypatch.setattr(ts, "train_segmenter", spy)
    projects = {}
    for on in (False, True):
        spy.mode = on
        proj, bundle, _ = make_setup(tmp_path / str(on))
        if on:  # the tiny set-up adapts fundus -> OCT-A: across modalities, where replay collapsed a run
            with pytest.warns(UserWarning, match="synth_replay across modalities"):
                collect(adapt(proj, TINY.replace(rounds=2, synth_replay=on), source=bundle))
        else:
            collect(adapt(proj, TINY.replace(rounds=2, synth_replay=on), source=bundle))
        projects[on] = Project.open(proj.folder)
    n = TINY.n_synthetic
    r0 = projects[True].round_dir(0) / "synthetic"
    assert (r0 / REPLAY_IMAGES).is_file() and (r0 / REPLAY_MASKS).is_file()
    assert not (projects[False].round_dir(0) / "synthetic" / REPLAY_IMAGES).exists()
    assert not (projects[True].round_dir(1) / "synthetic" / REPLAY_IMAGES).exists()  # round 0's only
    # round 0 is the default's, bit for bit
    weights = [(projects[on].segmenter_path(0) / "model.safetensors").read_bytes() for on in (False, True)]
    assert weights[0] == weights[1]
    round0, *later = seen[True]
    assert not any(k.startswith("replay-") for k in round0)
    for pairs in later:  # rounds 1 and 2: the round's own n pairs + round 0's n, same arrays
        assert sum(k.startswith("synthetic-") for k in pairs) == n
        assert sum(k.startswith("replay-") for k in pairs) == n
        for i in range(n):
            np.testing.assert_array_equal(pairs[f"replay-{i}"].x, round0[f"synthetic-{i}"].x)
            np.testing.assert_array_equal(pairs[f"replay-{i}"].label, round0[f"synthetic-{i}"].label)
    assert not any(k.startswith("replay-") for pairs in seen[False] for k in pairs)
    assert [r.metrics["synthetic_pairs"] for r in projects[True].rounds] == [n, 2 * n, 2 * n]
    assert [r.metrics["synthetic_pairs"] for r in projects[False].rounds] == [n, n, n]
    assert projects[True].rounds[1].config["synth_replay"] is True
    # a project whose round 0 ran without synth_replay, continued with it: round 0's pairs are made again,
    # the same arrays round 0 keeps when it runs with synth_replay
    spy.mode = "continued"
    proj, bundle, _ = make_setup(tmp_path / "continued")
    collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    assert not (Project.open(proj.folder).round_dir(0) / "synthetic" / REPLAY_IMAGES).exists()
    with pytest.warns(UserWarning, match="synth_replay across modalities"):
        _, events = collect(adapt(proj, TINY.replace(rounds=1, synth_replay=True), source=bundle))
    assert {e.round for e in events if isinstance(e, Progress) and e.stage == "replay"} == {1}
    kept = np.load(r0 / REPLAY_IMAGES), np.load(r0 / REPLAY_MASKS)
    pairs = seen["continued"][-1]
    for i in range(n):
        np.testing.assert_array_equal(pairs[f"replay-{i}"].x, from_unit(kept[0][i]))
        np.testing.assert_array_equal(pairs[f"replay-{i}"].label, kept[1][i].astype(np.float32))
    assert Project.open(proj.folder).rounds[1].metrics["synthetic_pairs"] == 2 * n
    # nothing to make them from: a clear error naming the folder
    empty = tmp_path / "empty"
    empty.mkdir()
    ctx = RoundContext(cfg=TINY.replace(synth_replay=True), device=None, work=tmp_path / "w" / "round-001",
                       index=1, targets=[], target_prep=None, source_generator=None, source_segmenter=None,
                       source=None, replay=empty)
    with pytest.raises(ValueError, match="round 0 keeps neither"):
        collect(replay_pairs(ctx))
    (empty / "synthetic").mkdir()
    (empty / "synthetic" / REPLAY_IMAGES).write_bytes(b"not a numpy file")
    (empty / "synthetic" / REPLAY_MASKS).write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match="cannot read round 0's replay pairs"):
        collect(replay_pairs(ctx))


def test_a_second_job_of_one_project_object_is_refused(setup):
    """A paused, unclosed ``adapt`` generator (a ``for`` loop left with ``break``) keeps the project:
    a second ``adapt`` of the same Project object is refused at its first step instead of running
    beside it in the same work folder; the first then finishes as if alone."""
    proj, bundle, _ = setup
    first = adapt(proj, TINY.replace(rounds=0), source=bundle)
    assert isinstance(next(first), Progress)  # started: it holds the job lock
    with pytest.raises(ProjectBusyError, match="close()"):
        collect(adapt(proj, TINY.replace(rounds=0), source=bundle))
    assert proj.job_running() and proj.rounds == []
    from vessel_studio.events import run

    result = run(first)
    assert [r.index for r in result.rounds] == [0] and not proj.job_running()


def test_an_interrupt_in_the_consumer_of_events_run_cancels_the_job(setup):
    """Ctrl-C (a notebook's interrupt) that lands in ``events.run``'s callback, not inside the job:
    ``run`` closes the job, so the committed round is rolled back and the lock released at once."""
    from vessel_studio.events import run

    proj, bundle, _ = setup
    before = json.loads((proj.folder / "project.json").read_text())

    def on_event(ev):
        if isinstance(ev, Progress) and ev.stage == "segmenter" and ev.round == 1:
            assert [r.index for r in Project.open(proj.folder).rounds] == [0]
            raise KeyboardInterrupt

    job = adapt(proj, TINY, source=bundle)  # a notebook keeps it (in a variable, or the traceback)
    with pytest.raises(KeyboardInterrupt):
        run(job, on_event)
    assert job.gi_frame is None  # closed, not paused
    assert json.loads((proj.folder / "project.json").read_text()) == before
    assert not (proj.folder / "work").exists() and not proj.job_running()


def test_a_crop_the_models_cannot_take_is_refused_before_any_work(setup):
    """Session 33: AdaptConfig takes any crop >= 1, and a seg_crop that is not a multiple of the source segmenter's
    levels (33) failed in the segmenter's first step, after the target generator had trained and the synthesis had
    run. It is now a ValueError naming the field, before the first stage; the project has no round."""
    from vessel_studio.events import Progress

    proj, bundle, _ = setup
    events = []
    with pytest.raises(ValueError, match=r"AdaptConfig: seg_crop must be a multiple of \d+ .*got 33"):
        for ev in adapt(proj, TINY.replace(seg_crop=33), source=bundle):
            events.append(ev)
    assert {e.stage for e in events if isinstance(e, Progress)} <= {"load"}
    assert Project.open(proj.folder).rounds == []
    with pytest.raises(ValueError, match="unknown generator preset 'huge'"):
        collect(adapt(proj, TINY.replace(target_init="scratch", gen_model="huge"), source=bundle))


def test_an_image_added_while_a_job_runs_is_for_the_next_run(setup, tmp_path):
    """Session 38 QA (``images --add`` in a second terminal while ``vessel-studio adapt`` ran): the job took its
    images for its key (what a resume compares) once it held the project, and read them again for its targets after
    loading the source models, so an image added in between was adapted to though the key did not name it; one
    added later and corrected in the window was counted as a corrected mask the round "trained on" (the record's
    ``corrected_images``, ``vessel-studio rounds``, the log) though no round had it. The run adapts to the images it
    started with; one added meanwhile stays "new" (or "corrected") for the next run."""
    from vessel_studio.samples import write_sample_images

    proj, bundle, _ = setup
    before = [r.id for r in proj.images]
    job = adapt(proj, TINY.replace(rounds=1), source=bundle)
    for ev in job:
        if isinstance(ev, Progress) and ev.stage == "load" and ev.step == 1:  # the key taken, the models loaded
            break
    extra = write_sample_images(tmp_path / "extra", n=1, modality="octa", seed=33, shape=(64, 64))
    other = Project.open(proj.folder)  # another terminal's ``images --add``, a window's Save
    (new,) = other.add_images([extra.folder / "images"])
    mask = np.zeros(new.shape[:2], bool)
    mask[30:33, :] = True
    other.save_correction(new.id, mask)
    result, _ = collect(job)
    again = Project.open(proj.folder)
    assert [r.index for r in result.rounds] == [0, 1]
    assert all(r.metrics["corrected_images"] == 0 for r in again.rounds)
    assert again.image(new.id).state == "corrected" and again.prediction(new.id) is None
    assert all(again.image(i).state == "predicted" and again.prediction(i) is not None for i in before)
    log = [json.loads(line) for line in (proj.folder / "log.jsonl").read_text().splitlines()]
    assert not any(e["message"] == "round trained on corrected masks" for e in log)
    # the next run adapts to it (its correction trusted)
    result, _ = collect(adapt(proj, TINY.replace(rounds=1), source=bundle))
    assert all(r.metrics["corrected_images"] == 1 for r in result.rounds)
