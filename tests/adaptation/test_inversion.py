"""DDIM inversion: the grid, agreement with diffusers' schedulers, round trips, bad input, cancel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vessel_studio.adaptation.inversion import ddim_grid, invert, psnr, reconstruct
from vessel_studio.adaptation.synthesis import denoise
from vessel_studio.events import Progress, collect, run
from vessel_studio.models.generator import Generator, GeneratorConfig, pad_to_multiple


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def gen():
    torch.manual_seed(0)
    return Generator(config=GeneratorConfig.preset("tiny"), conditioned=True)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:24, 0:24]
    imgs = np.stack([0.6 * np.sin(xx / 3 + i) * np.cos(yy / 5) + 0.05 * rng.normal(size=(24, 24))
                     for i in range(3)]).astype(np.float32)
    masks = (rng.uniform(size=(3, 24, 24)) > 0.7).astype(np.float32)
    return imgs, masks


def test_grid():
    g = ddim_grid(0.3, 50)
    assert len(g) == 15 and g[0] == 19 and g[-1] == 299
    assert ddim_grid(1.0, 10)[-1] == 999
    assert len(ddim_grid(0.01, 50)) == 1
    with pytest.raises(ValueError, match="t0"):
        ddim_grid(0.0, 50)
    with pytest.raises(ValueError, match="steps"):
        ddim_grid(0.3, 0)


def test_inversion_matches_diffusers_inverse_scheduler(gen, batch):
    from diffusers import DDIMInverseScheduler

    imgs, masks = batch
    res = run(invert(gen, imgs, masks, t0=0.3, steps=50))
    sched = DDIMInverseScheduler(**gen.config.scheduler_kwargs(), clip_sample=False, set_alpha_to_one=True,
                                 timestep_spacing="trailing")
    sched.set_timesteps(50)
    x = torch.from_numpy(imgs[:, None])
    m = torch.from_numpy(masks[:, None])
    for t in sched.timesteps[:15]:
        with torch.no_grad():
            x = sched.step(gen.eps(x, int(t), m), t, x).prev_sample
    assert res.timestep == 299 and res.latents.shape == (3, 1, 24, 24)
    np.testing.assert_allclose(res.latents, x.numpy(), atol=1e-5)


def test_ddim_denoise_matches_diffusers_scheduler(gen, batch):
    imgs, masks = batch
    lat = np.random.default_rng(1).normal(size=(3, 1, 24, 24)).astype(np.float32) * 0.5
    out = run(denoise(gen, lat, t0=0.3, steps=50, masks=masks, mode="ddim"))
    sched = gen.ddim_scheduler()
    sched.set_timesteps(50)
    x = torch.from_numpy(lat)
    m = torch.from_numpy(masks[:, None])
    for t in sched.timesteps[-15:]:
        with torch.no_grad():
            x = sched.step(gen.eps(x, int(t), m), t, x).prev_sample
    np.testing.assert_allclose(out, x[:, 0].clamp(-1, 1).numpy(), atol=1e-5)


def test_round_trip_error_falls_with_steps(gen, batch):
    """Invert then DDIM back with the same (untrained) model and mask: faithful, better with more steps."""
    imgs, masks = batch
    values = [psnr(run(reconstruct(gen, imgs, masks, t0=0.3, steps=s)), imgs) for s in (10, 20, 50, 100)]
    assert values[2] > 35.0
    assert all(b > a + 2.0 for a, b in zip(values, values[1:])), values
    # the latent really is noisy: far from the input
    lat = run(invert(gen, imgs, masks, t0=0.3, steps=50)).latents[:, 0]
    assert psnr(lat, imgs) < 20


def test_odd_sizes_are_padded_and_cropped(gen):
    x = np.random.default_rng(2).uniform(-0.5, 0.5, (2, 13, 17)).astype(np.float32)
    res = run(invert(gen, x, None, t0=0.2, steps=50))
    assert res.latents.shape == (2, 1, 13, 17)
    rec = run(denoise(gen, res.latents, t0=0.2, steps=50))
    assert rec.shape == (2, 13, 17) and psnr(rec, x) > psnr(res.latents[:, 0], x) + 10


def test_batching_does_not_change_results(gen, batch):
    imgs, masks = batch
    a = run(invert(gen, imgs, masks, batch_size=1)).latents
    b = run(invert(gen, imgs, masks, batch_size=16)).latents
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_progress_and_cancel(gen, batch):
    imgs, masks = batch
    _, events = collect(invert(gen, imgs, masks, t0=0.3, steps=50, batch_size=2))
    prog = [e for e in events if isinstance(e, Progress)]
    assert len(prog) == 30 and prog[-1].step == prog[-1].total == 30  # 2 batches x 15 steps
    job = invert(gen, imgs, masks)
    next(job)
    job.close()  # cancelling between steps is clean


def test_bad_inputs(gen, batch):
    imgs, masks = batch
    with pytest.raises(ValueError, match="does not match the images"):
        run(invert(gen, imgs, masks[:, :20]))
    rgb = np.zeros((24, 24, 3), np.float32)
    with pytest.raises(ValueError, match="RGB"):
        run(invert(gen, imgs[:1], [rgb]))
    with pytest.raises(ValueError, match="RGB"):
        run(invert(gen, [rgb], None))
    with pytest.raises(ValueError, match="no images"):
        run(invert(gen, [], None))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        run(invert(gen, imgs, masks * 255))
    with pytest.raises(ValueError, match="same size"):
        run(invert(gen, [imgs[0], imgs[0][:20]], None))
    with pytest.raises(ValueError, match="NaN"):
        run(invert(gen, np.full((1, 8, 8), np.nan, np.float32), None))


@pytest.mark.slow
def test_bundled_generator_inverts_drive_test_crops(data_dir):
    """The bundled fundus generator reconstructs DRIVE test crops at t0 = 0.3 with PSNR >= 30 dB."""
    from vessel_studio.adaptation.crops import load_folder, sample_crops
    g = Generator.load("fundus-generator")
    folder = data_dir / "DRIVE" / "test"
    data = load_folder(folder / "images", folder / "1st_manual", folder / "mask", prep=g.preprocessing)
    crops, masks, _ = sample_crops(data.images, data.masks, data.fovs, size=64, count=4, seed=0)
    rec = run(reconstruct(g, crops, masks, t0=0.3, steps=50))
    assert psnr(rec, crops) >= 30
