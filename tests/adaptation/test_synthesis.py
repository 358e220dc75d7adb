"""Denoising and translation: seeded DDPM, conditioning, labels carried over, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vessel_studio.adaptation.inversion import psnr
from vessel_studio.adaptation.synthesis import TranslationResult, denoise, translate
from vessel_studio.events import Progress, collect, run
from vessel_studio.models.generator import Generator, GeneratorConfig


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make(seed, conditioned=True):
    torch.manual_seed(seed)
    return Generator(config=GeneratorConfig.preset("tiny"), conditioned=conditioned)


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(-0.5, 0.5, (3, 16, 16)).astype(np.float32)
    masks = (rng.uniform(size=(3, 16, 16)) > 0.7).astype(np.float32)
    return imgs, masks


def test_ddpm_is_seeded_and_batch_independent(pair):
    g = make(0)
    lat = np.random.default_rng(1).normal(size=(3, 1, 16, 16)).astype(np.float32)
    a = run(denoise(g, lat, t0=0.3, steps=20, mode="ddpm", seed=5))
    b = run(denoise(g, lat, t0=0.3, steps=20, mode="ddpm", seed=5, batch_size=1))
    c = run(denoise(g, lat, t0=0.3, steps=20, mode="ddpm", seed=6))
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(a - c).mean() > 1e-3
    assert a.min() >= -1 and a.max() <= 1
    d1 = run(denoise(g, lat, t0=0.3, steps=20, mode="ddim", seed=1))
    d2 = run(denoise(g, lat, t0=0.3, steps=20, mode="ddim", seed=2))
    np.testing.assert_array_equal(d1, d2)  # DDIM ignores the seed
    with pytest.raises(ValueError, match="mode"):
        run(denoise(g, lat, t0=0.3, mode="euler"))


def test_translate_labels_conditioning_and_events(pair):
    imgs, masks = pair
    src, tgt = make(0), make(1)
    res, events = collect(translate(src, tgt, imgs, masks, t0=0.3, steps=20, seed=0))
    assert isinstance(res, TranslationResult)
    assert res.images.shape == (3, 16, 16) and res.latents.shape == (3, 1, 16, 16)
    np.testing.assert_array_equal(res.masks, masks)
    stages = {e.stage for e in events if isinstance(e, Progress)}
    assert stages == {"invert", "synthesize"}
    again = run(translate(src, tgt, imgs, masks, t0=0.3, steps=20, seed=0))
    np.testing.assert_array_equal(res.images, again.images)  # seeded
    cond = run(translate(src, tgt, imgs, masks, t0=0.3, steps=20, seed=0, target_masks=True))
    assert np.abs(cond.images - res.images).mean() > 1e-3  # the mask reaches the target model
    # the source model decides the latent: same target, other source -> other images
    other = run(translate(make(2), tgt, imgs, masks, t0=0.3, steps=20, seed=0))
    assert np.abs(other.latents - res.latents).mean() > 1e-3


def test_larger_t0_moves_further_from_the_source(pair):
    imgs, masks = pair
    src, tgt = make(0), make(1)
    near = run(translate(src, tgt, imgs, masks, t0=0.1, steps=50, mode="ddim"))
    far = run(translate(src, tgt, imgs, masks, t0=0.6, steps=50, mode="ddim"))
    assert psnr(near.images, imgs) > psnr(far.images, imgs)


def test_translate_bad_input(pair):
    imgs, masks = pair
    src, tgt = make(0), make(1, conditioned=False)
    with pytest.raises(ValueError, match="needs the source masks"):
        run(translate(src, tgt, imgs, None))
    with pytest.raises(ValueError, match="conditioned=False"):
        run(translate(src, tgt, imgs, masks, target_masks=True))
    with pytest.raises(ValueError, match="does not match"):
        run(translate(src, tgt, imgs, masks[:2]))
    with pytest.raises(ValueError, match="RGB"):
        run(translate(src, tgt, imgs[:1], [np.zeros((16, 16, 3))]))
