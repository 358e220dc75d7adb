"""Generator training: events per step, EMA result, vessel-weighted loss, exact resume, fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vessel_studio.adaptation.crops import CropSampler, sample_crops, step_generator
from vessel_studio.events import Metric, Progress, collect
from vessel_studio.models.generator import Generator
from vessel_studio.train.generator import GeneratorTrainConfig, diffusion_loss, train_generator


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def data(n=3, h=40, w=44, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    images, masks, fovs = [], [], []
    for i in range(n):
        m = (np.abs(np.sin(xx / 5 + i) + np.cos(yy / 7)) < 0.3).astype(np.float32)
        images.append((m * 1.2 - 0.6 + 0.1 * rng.normal(size=(h, w))).astype(np.float32).clip(-1, 1))
        masks.append(m)
        fovs.append((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.45 * min(h, w)) ** 2)
    return images, masks, fovs


def cfg(**kw):
    base = dict(steps=6, batch_size=4, crop_size=16, checkpoint_every=3)
    return GeneratorTrainConfig.preset("tiny", **{**base, **kw})


def test_events_and_result():
    images, masks, fovs = data()
    gen, events = collect(train_generator(images, masks, cfg(), fovs=fovs))
    prog = [e for e in events if isinstance(e, Progress)]
    losses = [e for e in events if isinstance(e, Metric) and e.name == "loss"]
    assert [p.step for p in prog] == list(range(1, 7)) and all(p.total == 6 for p in prog)
    assert len(losses) == 6 and all(np.isfinite(e.value) for e in losses)
    assert isinstance(gen, Generator) and gen.conditioned
    assert gen.training["steps_this_run"] == 6
    assert not any(p.requires_grad for p in gen.unet.parameters())  # the EMA copy


def test_unconditional_when_no_masks():
    images, _, fovs = data()
    gen, _ = collect(train_generator(images, None, cfg(steps=2), fovs=fovs))
    assert not gen.conditioned


def test_vessel_weighted_loss():
    pred = torch.zeros(1, 1, 8, 8)
    noise = torch.ones(1, 1, 8, 8)
    noise[..., :4, :] = 3.0  # larger error in the top half
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 1, 3] = 1.0
    mse = float(((pred - noise) ** 2).mean())
    assert float(diffusion_loss(pred, noise, None)) == pytest.approx(mse)
    assert float(diffusion_loss(pred, noise, mask, vessel_weight=False)) == pytest.approx(mse)
    # dilation 1 -> a 3x3 block around (1, 3), all in the top half where the error is 9
    assert float(diffusion_loss(pred, noise, mask, dilation=1)) == pytest.approx(0.5 * mse + 9.0)
    assert float(diffusion_loss(pred, noise, torch.zeros_like(mask))) == pytest.approx(mse)


def _weights(gen):
    return {k: v.clone() for k, v in gen.unet.state_dict().items()}


def test_resume_equals_uninterrupted(tmp_path):
    images, masks, fovs = data()
    full, _ = collect(train_generator(images, masks, cfg(), fovs=fovs, checkpoint_dir=tmp_path / "a"))

    job = train_generator(images, masks, cfg(), fovs=fovs, checkpoint_dir=tmp_path / "b")
    for ev in job:  # stop after step 4: the checkpoint at step 3 is the last one
        if isinstance(ev, Progress) and ev.step == 4:
            break
    job.close()
    resumed, events = collect(train_generator(images, masks, cfg(), fovs=fovs, checkpoint_dir=tmp_path / "b"))
    assert [e.step for e in events if isinstance(e, Progress)] == [4, 5, 6]
    a, b = _weights(full), _weights(resumed)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the model's record of its training loss is the whole training's, not only the steps run after the
    # checkpoint (session 43's kill fuzz: a round's committed generator/config.json said otherwise after a kill)
    assert resumed.training["final_loss_mean_last_100"] == full.training["final_loss_mean_last_100"]
    assert resumed.training["steps_this_run"] == 3


def test_resume_rejects_other_config(tmp_path):
    images, masks, fovs = data()
    collect(train_generator(images, masks, cfg(steps=3), fovs=fovs, checkpoint_dir=tmp_path / "c"))
    with pytest.raises(ValueError, match="different training config"):
        collect(train_generator(images, masks, cfg(steps=3, lr=1e-3), fovs=fovs, checkpoint_dir=tmp_path / "c"))


def test_resume_refuses_fewer_steps_than_the_checkpoint(tmp_path):
    """A checkpoint at step 6 resumed with steps=3 ran no step and returned the 6-step model recorded as a
    3-step one (``steps_this_run`` -3; session 34, ``training/train_fundus_generator.py --steps`` rerun)."""
    images, masks, fovs = data()
    collect(train_generator(images, masks, cfg(), fovs=fovs, checkpoint_dir=tmp_path / "d"))
    with pytest.raises(ValueError, match="checkpoint is at step 6, past the 3 steps asked for"):
        collect(train_generator(images, masks, cfg(steps=3), fovs=fovs, checkpoint_dir=tmp_path / "d"))
    gen, events = collect(train_generator(images, masks, cfg(steps=6), fovs=fovs, checkpoint_dir=tmp_path / "d"))
    assert gen.training["steps_this_run"] == 0 and not [e for e in events if isinstance(e, Progress)]


def test_fine_tune_from_init(tmp_path):
    images, masks, fovs = data()
    base, _ = collect(train_generator(images, None, cfg(steps=2), fovs=fovs))
    base.save(tmp_path / "base")
    tuned, _ = collect(train_generator(images, masks, cfg(steps=2, seed=1), fovs=fovs, init=tmp_path / "base"))
    assert tuned.conditioned and tuned.config == base.config
    a, b = _weights(base), _weights(tuned)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_crop_sampler_reproducible_and_inside_fov():
    images, masks, fovs = data(n=2, h=30, w=30)
    s = CropSampler(images, masks, fovs, size=8, augment=False)
    a = s.sample(16, step_generator(0, 5))
    b = s.sample(16, step_generator(0, 5))
    c = s.sample(16, step_generator(0, 6))
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert a.images.shape == (16, 1, 8, 8) and a.masks.shape == (16, 1, 8, 8)
    # every crop is a real window of one of the images, with its centre inside the FOV
    for crop in a.images[:, 0].numpy():
        found = False
        for img, fov in zip(images, fovs):
            for y in range(0, 23):
                for x in range(0, 23):
                    if np.array_equal(img[y:y + 8, x:x + 8], crop):
                        found = found or bool(fov[y + 4, x + 4])
        assert found


def test_sample_crops():
    images, masks, fovs = data(n=2)
    a = sample_crops(images, masks, fovs, size=16, count=5, seed=3, vessel_min=0.1)
    b = sample_crops(images, masks, fovs, size=16, count=5, seed=3, vessel_min=0.1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2])
    assert (a[1].reshape(5, -1).mean(1) >= 0.1).all()
    small = sample_crops([np.zeros((5, 5), np.float32)], size=8, count=2, seed=0)[0]
    assert small.shape == (2, 8, 8)
    with pytest.raises(ValueError, match="masks\\[1\\] has shape"):
        sample_crops(images, [masks[0], masks[1][:-1]], size=8, count=1)
    with pytest.raises(ValueError, match="vessel_min needs masks"):
        sample_crops(images, size=8, count=1, vessel_min=0.1)


def test_config_refuses_sizes_that_would_crash_or_train_nothing():
    assert cfg(steps=0).steps == 0  # allowed: a copy of init (the adaptation may switch fine-tuning off)
    for bad, match in ((dict(batch_size=0), "batch_size must be >= 1"), (dict(checkpoint_every=0), "checkpoint_every"),
                       (dict(steps=-1), "steps must be >= 0"), (dict(crop_size=9), "multiple of 2"),
                       (dict(crop_size=4), "crop_size must be >= 8"), (dict(threads=0), "threads must be >= 1")):
        with pytest.raises(ValueError, match=match):
            cfg(**bad)
    with pytest.raises(ValueError, match="vessel_min is a fraction"):
        sample_crops(*data(n=1)[:2], size=8, count=1, vessel_min=1.5)


def test_inversion_and_denoising_refuse_batch_size_zero():
    from vessel_studio.adaptation.inversion import invert
    from vessel_studio.adaptation.synthesis import denoise
    from vessel_studio.models.generator import GeneratorConfig

    gen = Generator(config=GeneratorConfig.preset("tiny"), conditioned=False)
    x = np.zeros((1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        collect(invert(gen, x, t0=0.3, steps=10, batch_size=0))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        collect(denoise(gen, x, t0=0.3, steps=10, batch_size=0))
