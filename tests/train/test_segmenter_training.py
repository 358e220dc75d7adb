import numpy as np
import pytest
import torch

from vessel_studio.events import Metric, Progress, collect
from vessel_studio.models.segmenter import Segmenter
from vessel_studio.preprocess import Preprocessing, prepare
from vessel_studio.train.segmenter import SegmenterTrainConfig, TrainPair, train_segmenter

PREP = Preprocessing.for_modality("fundus", fov_diameter=None)


def _pairs(synthetic_fundus, n=2):
    image, mask, fov = synthetic_fundus
    p = prepare(image, fov=fov, prep=PREP)
    out = [TrainPair(p.x, mask, p.fov, name="a")]
    for k in range(1, n):  # rotated copies as extra images
        out.append(TrainPair(np.rot90(p.x, k).copy(), np.rot90(mask, k).copy(), np.rot90(p.fov, k).copy(), name=f"r{k}"))
    return out


def _state(seg):
    return {k: v.detach().clone() for k, v in seg.net.state_dict().items()}


def test_tiny_training_yields_every_step_and_returns_segmenter(synthetic_fundus, tmp_path):
    cfg = SegmenterTrainConfig.preset("tiny", steps=5)
    seg, events = collect(train_segmenter(_pairs(synthetic_fundus), cfg, preprocessing=PREP))
    prog = [e for e in events if isinstance(e, Progress)]
    assert [e.step for e in prog] == [1, 2, 3, 4, 5] and prog[-1].total == 5
    assert sum(isinstance(e, Metric) and e.name == "loss" for e in events) == 5
    assert isinstance(seg, Segmenter) and seg.config.channels == (8, 16)
    assert seg.training["preset"] == "tiny" and seg.training["pairs"] == 2
    back = Segmenter.load(seg.save(tmp_path / "m"))
    image, _, fov = synthetic_fundus
    np.testing.assert_allclose(back.predict(image, fov=fov).prob, seg.predict(image, fov=fov).prob, atol=1e-6)


def test_prefetched_batches_give_the_same_training(synthetic_fundus, tmp_path):
    """``prefetch`` draws the batches in a thread: the same weights, resume included, and closing the
    job (a cancel) stops the thread."""
    import threading

    pairs = _pairs(synthetic_fundus)
    cfg = SegmenterTrainConfig.preset("tiny", steps=6, checkpoint_every=2, contrast_jitter=0.5, blur_sigma=1.0,
                                      noise_sd=0.3)
    plain = collect(train_segmenter(pairs, cfg, preprocessing=PREP, prefetch=False))[0]
    ahead = collect(train_segmenter(pairs, cfg, preprocessing=PREP, prefetch=True))[0]
    a, b = _state(plain), _state(ahead)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)

    ckpt = tmp_path / "ckpt"
    job = train_segmenter(pairs, cfg, preprocessing=PREP, checkpoint_dir=ckpt, prefetch=True)
    for ev in job:
        if isinstance(ev, Progress) and ev.step == 3:
            break
    job.close()
    assert not any(t.name == "segmenter-batches" for t in threading.enumerate())
    resumed = collect(train_segmenter(pairs, cfg, preprocessing=PREP, checkpoint_dir=ckpt, prefetch=True))[0]
    c = _state(resumed)
    for k in a:
        torch.testing.assert_close(a[k], c[k], rtol=0, atol=1e-6, msg=k)


def test_prefetch_default_is_on_for_cuda_only(synthetic_fundus, monkeypatch):
    """Measured (benchmarks/results/segmenter/seg_step_speed-{cuda,cpu}.md): 0.58x on an H200, 1.00x on
    the CPU; so ``prefetch=None`` resolves per device and an explicit choice wins."""
    from vessel_studio.train import segmenter as mod

    assert mod.prefetch_default(torch.device("cuda")) is True
    assert mod.prefetch_default(torch.device("cpu")) is False
    assert mod.prefetch_default("cuda:1") is True and mod.prefetch_default("cpu") is False
    assert mod.prefetch_default("cuda", False) is False and mod.prefetch_default("cpu", True) is True
    seen = []
    real = mod._batches
    monkeypatch.setattr(mod, "_batches", lambda *a, ahead=0: seen.append(ahead) or real(*a, ahead=ahead))
    cfg = SegmenterTrainConfig.preset("tiny", steps=2)
    collect(train_segmenter(_pairs(synthetic_fundus), cfg, preprocessing=PREP, device="cpu"))
    collect(train_segmenter(_pairs(synthetic_fundus), cfg, preprocessing=PREP, device="cpu", prefetch=True))
    assert seen == [0, 2]


def test_a_failing_batch_in_the_prefetch_thread_reaches_the_caller(synthetic_fundus, monkeypatch):
    from vessel_studio.train import segmenter as mod

    def broken(self, rng):
        raise RuntimeError("crop failed")

    monkeypatch.setattr(mod._CropSampler, "batch", broken)
    cfg = SegmenterTrainConfig.preset("tiny", steps=3)
    with pytest.raises(RuntimeError, match="crop failed"):
        collect(train_segmenter(_pairs(synthetic_fundus), cfg, preprocessing=PREP, prefetch=True))


def test_resume_equals_uninterrupted(synthetic_fundus, tmp_path):
    pairs = _pairs(synthetic_fundus)
    cfg = SegmenterTrainConfig.preset("tiny", steps=6, checkpoint_every=2)
    full = collect(train_segmenter(pairs, cfg, preprocessing=PREP))[0]

    ckpt = tmp_path / "ckpt"
    job = train_segmenter(pairs, cfg, preprocessing=PREP, checkpoint_dir=ckpt)
    for ev in job:  # "kill" after step 3: the last checkpoint is step 2
        if isinstance(ev, Progress) and ev.step == 3:
            break
    job.close()
    resumed_job = train_segmenter(pairs, cfg, preprocessing=PREP, checkpoint_dir=ckpt)
    resumed, events = collect(resumed_job)
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert steps == [3, 4, 5, 6]  # continued from the step-2 checkpoint
    a, b = _state(full), _state(resumed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)

    other = SegmenterTrainConfig.preset("tiny", steps=6, checkpoint_every=2, lr=1e-2)
    with pytest.raises(ValueError, match=r"different training config \(lr: checkpoint .*, now 0.01\)"):
        collect(train_segmenter(pairs, other, preprocessing=PREP, checkpoint_dir=ckpt))


def test_a_steps_loss_is_reported_before_its_checkpoint_is_written(synthetic_fundus, tmp_path):
    """A consumer that keeps the losses with the checkpoints (the adaptation's ``_StageLosses``) has every step's
    loss once that step's checkpoint exists: the trainer wrote the checkpoint first, so a kill between the two
    resumed after a step whose loss nobody had kept (session 30; the generator trainer already reported first)."""
    import json

    cfg = SegmenterTrainConfig.preset("tiny", steps=4, checkpoint_every=2)
    ckpt = tmp_path / "ckpt"

    def on_disk():
        f = ckpt / "checkpoint.json"
        return json.loads(f.read_text())["step"] if f.is_file() else 0

    seen = []
    for ev in train_segmenter(_pairs(synthetic_fundus), cfg, preprocessing=PREP, checkpoint_dir=ckpt):
        if isinstance(ev, Metric) and ev.name == "loss":
            assert on_disk() < ev.step, (ev.step, on_disk())  # its checkpoint not written yet
            seen.append(ev.step)
        elif isinstance(ev, Progress):
            assert on_disk() == ev.step - ev.step % 2  # written once the loss was out
    assert seen == [1, 2, 3, 4]


def test_soft_labels_weights_and_init(synthetic_fundus):
    pairs = _pairs(synthetic_fundus)
    soft = TrainPair(pairs[0].x, pairs[0].label * 0.7, pairs[0].fov, weight=0.5)
    zero = TrainPair(pairs[1].x, pairs[1].label, pairs[1].fov, weight=0.0)
    cfg = SegmenterTrainConfig.preset("tiny", steps=2)
    base = collect(train_segmenter([soft, zero], cfg, preprocessing=PREP))[0]
    tuned = collect(train_segmenter([soft], cfg, init=base))[0]  # preprocessing taken from init
    assert tuned.preprocessing == PREP and tuned.config == base.config
    assert tuned.net is not base.net
    with pytest.raises(ValueError, match="weights are zero"):
        collect(train_segmenter([zero], cfg, preprocessing=PREP))
    with pytest.raises(ValueError, match="no training pairs"):
        collect(train_segmenter([], cfg, preprocessing=PREP))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        TrainPair(pairs[0].x, pairs[0].label * 2.0)
    with pytest.raises(ValueError, match="shape"):
        TrainPair(pairs[0].x, pairs[0].label[:10])
    with pytest.raises(ValueError, match="unknown preset"):
        SegmenterTrainConfig.preset("huge")


def test_cancel_leaves_no_checkpoint_half_written(synthetic_fundus, tmp_path):
    cfg = SegmenterTrainConfig.preset("tiny", steps=4, checkpoint_every=2)
    ckpt = tmp_path / "ckpt"
    job = train_segmenter(_pairs(synthetic_fundus), cfg, preprocessing=PREP, checkpoint_dir=ckpt)
    next(job)
    job.close()
    assert not ckpt.exists() or (ckpt / "checkpoint.json").is_file()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_tiny_network_learns_the_synthetic_vessels(synthetic_fundus):
    from vessel_studio.metrics import dice

    image, mask, fov = synthetic_fundus
    cfg = SegmenterTrainConfig.preset("tiny", steps=80, batch_size=4, crop=48, lr=1e-2, warmup=5)
    seg = collect(train_segmenter(_pairs(synthetic_fundus, 4), cfg, preprocessing=PREP))[0]
    assert dice(seg.predict(image, fov=fov).mask, mask, fov=fov) > 0.6


def test_appearance_augmentation_changes_images_not_labels(synthetic_fundus):
    """contrast / blur / noise act on the image only; off (the default) the batches are those of
    a config without the fields, so committed results stay reproducible."""
    from vessel_studio.train.segmenter import _CropSampler

    pairs = _pairs(synthetic_fundus)
    base = SegmenterTrainConfig.preset("tiny", batch_size=6)
    off = SegmenterTrainConfig.preset("tiny", batch_size=6, contrast_jitter=0.0, blur_sigma=0.0, noise_sd=0.0)
    b0 = _CropSampler(pairs, base).batch(np.random.default_rng(7))
    b1 = _CropSampler(pairs, off).batch(np.random.default_rng(7))
    for a, b in zip(b0, b1):
        np.testing.assert_array_equal(a, b)
    # on: one crop per batch (the augmentation draws come after the crop's own draws)
    on = SegmenterTrainConfig.preset("tiny", batch_size=1, contrast_jitter=0.5, blur_sigma=1.0, noise_sd=0.3)
    con = SegmenterTrainConfig.preset("tiny", batch_size=1, contrast_jitter=0.5)
    one = SegmenterTrainConfig.preset("tiny", batch_size=1)
    changed = 0
    for seed in range(8):
        x0, y0, m0, w0 = _CropSampler(pairs, one).batch(np.random.default_rng(seed))
        x2, y2, m2, w2 = _CropSampler(pairs, on).batch(np.random.default_rng(seed))
        x3, _, _, _ = _CropSampler(pairs, con).batch(np.random.default_rng(seed))
        np.testing.assert_array_equal(y0, y2)  # labels, FOV masks and weights untouched
        np.testing.assert_array_equal(m0, m2)
        np.testing.assert_array_equal(w0, w2)
        assert np.all(x2[m2 == 0] == 0)  # still zero outside the FOV
        changed += not np.allclose(x0, x2)
        inside = m0 > 0
        if inside.sum() >= 10 and x0[inside].std() > 1e-3:  # contrast alone: std scaled by [0.5, 1.25]
            ratio = x3[inside].std() / x0[inside].std()
            assert 0.5 - 1e-4 <= ratio <= 1.25 + 1e-4
    assert changed == 8
