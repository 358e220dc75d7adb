"""Denoising from t0 back to a clean image, and translation (latent similarity mining).

``denoise`` walks the grid of ``inversion.ddim_grid`` backwards, tau_n -> ... -> tau_1 -> clean::

    eps = model(x_k, tau_k, mask)
    x0  = (x_k - sqrt(1 - a_k) eps) / sqrt(a_k)            # clipped to [-1, 1] in ddpm mode
    ddim: x_{k-1} = sqrt(a_{k-1}) x0 + sqrt(1 - a_{k-1}) eps                (deterministic)
    ddpm: x_{k-1} = mu + sigma z,  the DDPM posterior q(x_{k-1} | x_k, x0) on the strided grid:
          mu    = sqrt(a_{k-1}) b / (1 - a_k) x0 + sqrt(r) (1 - a_{k-1}) / (1 - a_k) x_k,
          r     = a_k / a_{k-1},  b = 1 - r,  sigma^2 = (1 - a_{k-1}) / (1 - a_k) b
          (equal to DDIM with eta = 1; z ~ N(0, 1) drawn per sample from (seed, sample index))

``translate`` inverts source images with the source generator (conditioned on their masks) and
denoises the latents with the target generator (unconditional, or conditioned on the same masks
with ``target_masks=True`` once the target model has been fine-tuned on pseudo-labels). The
synthetic images keep the source masks as labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vessel_studio.adaptation.inversion import _alpha, as_batch, check_batch_size, check_masks, ddim_grid, invert
from vessel_studio.events import Job, Progress

STAGE = "synthesize"
MODES = ("ddim", "ddpm")


@dataclass(frozen=True)
class TranslationResult:
    images: np.ndarray = field(repr=False)  # N×H×W unit-range synthetic target images
    masks: np.ndarray = field(repr=False)  # N×H×W their labels (the source masks)
    latents: np.ndarray = field(repr=False)  # N×1×H×W latents at t0
    t0: float = 0.3
    steps: int = 50
    mode: str = "ddpm"
    timestep: int = 0


def _sample_noise(seed: int, index: int, step: int, shape) -> "object":
    import torch

    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + int(index) * 97_003 + int(step) * 13 + 7) % (2**63 - 1))
    return torch.randn(shape, generator=g, dtype=torch.float64)


def denoise(gen, latents, *, t0: float, steps: int = 50, masks=None, mode: str = "ddim", seed: int = 0,
            batch_size: int = 16, device=None, clip_x0: bool | None = None, round: int | None = None,
            stage: str = STAGE) -> Job[np.ndarray]:
    """Denoise N×1×H×W (or N×H×W) ``latents`` at ``t0`` to clean unit-range images (N×H×W)."""
    import torch

    from vessel_studio.models.generator import pad_to_multiple

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    lat = as_batch(latents, "latents", kind="latent")
    m_all = check_masks(masks, lat)
    grid = ddim_grid(t0, steps, gen.config.num_train_timesteps)
    check_batch_size(batch_size)
    clip_x0 = (mode == "ddpm") if clip_x0 is None else clip_x0
    device = torch.device(device) if device is not None else gen.device
    gen.to(device)
    gen.unet.eval()
    alphas = gen.alphas_cumprod()
    n = lat.shape[0]
    total = -(-n // batch_size) * len(grid)
    out = np.empty(lat.shape, np.float32)
    done = 0
    for b0 in range(0, n, batch_size):
        x, (h, w) = pad_to_multiple(torch.from_numpy(lat[b0:b0 + batch_size, None]).to(device), gen.config.multiple)
        m = None
        if m_all is not None:
            m, _ = pad_to_multiple(torch.from_numpy(m_all[b0:b0 + batch_size, None]).to(device), gen.config.multiple)
        x = x.double()
        for k in range(len(grid) - 1, -1, -1):
            t, prev = grid[k], (grid[k - 1] if k > 0 else -1)
            with torch.no_grad():
                e = gen.eps(x.float(), t, m).double()
            a_t, a_prev = _alpha(alphas, t), _alpha(alphas, prev)
            x0 = (x - (1 - a_t) ** 0.5 * e) / a_t ** 0.5
            if clip_x0:
                x0 = x0.clamp(-1, 1)
            if mode == "ddim":
                x = a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * e
            else:
                r = a_t / a_prev
                beta = 1 - r
                mu = (a_prev ** 0.5 * beta / (1 - a_t)) * x0 + (r ** 0.5 * (1 - a_prev) / (1 - a_t)) * x
                var = (1 - a_prev) / (1 - a_t) * beta
                if var > 0:
                    z = torch.stack([_sample_noise(seed, b0 + i, k, x.shape[1:]) for i in range(x.shape[0])])
                    x = mu + var ** 0.5 * z.to(device)
                else:
                    x = mu
            done += 1
            yield Progress(stage, done, total, f"t={t}", round=round)
        out[b0:b0 + batch_size] = x[:, 0, :h, :w].clamp(-1, 1).float().cpu().numpy()
    return out


def translate(source_gen, target_gen, images, masks, *, t0: float = 0.3, steps: int = 50, mode: str = "ddpm",
              seed: int = 0, target_masks: bool = False, batch_size: int = 16, device=None,
              round: int | None = None) -> Job[TranslationResult]:
    """Latent similarity mining: invert ``images`` (N×H×W, [-1, 1]) with ``source_gen`` conditioned on
    ``masks``, then denoise with ``target_gen``; the result's labels are ``masks``."""
    x = as_batch(images, "images")
    m = check_masks(masks, x)
    if m is None:
        raise ValueError("translate needs the source masks (they become the labels of the synthetic images)")
    if source_gen.config.num_train_timesteps != target_gen.config.num_train_timesteps:
        raise ValueError("source and target generators use different noise schedules")
    if target_masks and not target_gen.conditioned:
        raise ValueError("target_masks=True needs a target generator trained with masks (conditioned=False here)")
    inv = yield from invert(source_gen, x, m, t0=t0, steps=steps, batch_size=batch_size, device=device, round=round)
    synth = yield from denoise(target_gen, inv.latents, t0=t0, steps=steps, masks=m if target_masks else None,
                               mode=mode, seed=seed, batch_size=batch_size, device=device, round=round)
    return TranslationResult(synth, m, inv.latents, float(t0), int(steps), mode, inv.timestep)
