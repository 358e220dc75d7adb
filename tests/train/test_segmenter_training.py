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
    with pytest.raises(ValueError, match="different training config"):
        collect(train_segmenter(pairs, other, preprocessing=PREP, checkpoint_dir=ckpt))


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
