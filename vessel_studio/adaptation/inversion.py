"""Deterministic DDIM inversion (eta = 0): clean images -> noisy latents at t0 * T.

The step grid is DDIM's "trailing" spacing over the full schedule: with ``steps`` DDIM steps over
T = 1000 training steps, the grid is tau_k = round(k * T / steps) - 1 (19, 39, ..., 999 for 50
steps). Inverting to ``t0`` walks the first n = round(t0 * steps) points of that grid (15 for
t0 = 0.3, steps = 50); the latent sits at timestep tau_n (299 for the defaults), a noise level of
sqrt(1 - alphabar) ≈ 0.52.

One inversion step from the state at tau_{k-1} (tau_0 = "clean", alphabar = 1) to tau_k::

    eps   = model(x_{k-1}, tau_k, mask)                  # as diffusers' DDIMInverseScheduler
    x0    = (x_{k-1} - sqrt(1 - a_{k-1}) eps) / sqrt(a_{k-1})
    x_k   = sqrt(a_k) x0 + sqrt(1 - a_k) eps

It is the exact reverse of a DDIM denoising step except that eps is evaluated at x_{k-1} instead of
x_k; that mismatch (the only error) shrinks as the steps get smaller. ``denoise`` in
``synthesis.py`` walks the same grid back. Images are padded (reflect) to a multiple of
2^(levels-1) and cropped back at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vessel_studio.events import Job, Progress

STAGE = "invert"


@dataclass(frozen=True)
class InversionResult:
    latents: np.ndarray = field(repr=False)  # N×1×H×W float32
    timestep: int  # timestep of the latents (tau_n)
    t0: float
    steps: int  # DDIM steps over the full schedule
    timesteps: tuple[int, ...]  # tau_1 .. tau_n (the grid walked)


def ddim_grid(t0: float, steps: int, num_train_timesteps: int = 1000) -> list[int]:
    """tau_1 .. tau_n with n = round(t0 * steps): the timesteps an inversion to ``t0`` visits."""
    if not 0 < t0 <= 1:
        raise ValueError(f"t0 must be in (0, 1], got {t0}")
    if not 1 <= int(steps) <= num_train_timesteps:
        raise ValueError(f"steps must be in 1..{num_train_timesteps}, got {steps}")
    steps = int(steps)
    full = np.round(np.arange(num_train_timesteps, 0, -num_train_timesteps / steps)[::-1]).astype(np.int64) - 1
    n = max(1, int(round(t0 * steps)))
    return [int(t) for t in full[:n]]


def as_batch(arrays, name: str, *, kind: str = "image") -> np.ndarray:
    """N×H×W float32 from a list of H×W arrays, an N×H×W or N×1×H×W array, or one H×W array."""
    if isinstance(arrays, np.ndarray):
        a = arrays
        if a.ndim == 2:
            a = a[None]
        elif a.ndim == 4 and a.shape[1] == 1:
            a = a[:, 0]
    else:
        items = [np.asarray(x) for x in arrays]
        if not items:
            raise ValueError(f"{name}: no {kind}s given")
        for i, x in enumerate(items):
            if x.ndim == 3 and x.shape[-1] in (3, 4):
                raise ValueError(f"{name}[{i}]: got an RGB image of shape {x.shape} where a gray {kind} is expected")
            if x.ndim != 2:
                raise ValueError(f"{name}[{i}]: expected a 2-D H×W {kind}, got shape {x.shape}")
        shapes = {x.shape for x in items}
        if len(shapes) > 1:
            raise ValueError(f"{name}: all {kind}s of one call must have the same size, got {sorted(shapes)}")
        a = np.stack(items)
    if a.ndim == 4 and a.shape[-1] in (3, 4):
        raise ValueError(f"{name}: got RGB data of shape {a.shape} where gray {kind}s are expected")
    if a.ndim != 3:
        raise ValueError(f"{name}: expected N×H×W {kind}s, got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name}: no {kind}s given")
    a = a.astype(np.float32)
    if kind == "mask":
        finite = a[np.isfinite(a)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise ValueError(f"{name}: mask values must lie in [0, 1] (got {finite.min():g}..{finite.max():g})")
    elif not np.isfinite(a).all():
        raise ValueError(f"{name}: images contain NaN or infinite values")
    return a


def check_masks(masks, images: np.ndarray, name: str = "masks") -> np.ndarray | None:
    if masks is None:
        return None
    m = as_batch(masks, name, kind="mask")
    if m.shape != images.shape:
        raise ValueError(f"{name}: shape {m.shape[1:]} (×{m.shape[0]}) does not match the images "
                         f"{images.shape[1:]} (×{images.shape[0]})")
    return m


def check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size}")
    return int(batch_size)


def _alpha(alphas, t: int) -> float:
    return 1.0 if t < 0 else float(alphas[t])


def invert(gen, images, masks=None, *, t0: float = 0.3, steps: int = 50, batch_size: int = 16, device=None,
           round: int | None = None) -> Job[InversionResult]:
    """DDIM-invert unit-range images ([-1, 1], N×H×W) with ``gen`` (conditioned on ``masks``) to ``t0``."""
    import torch

    from vessel_studio.models.generator import pad_to_multiple

    x_all = as_batch(images, "images")
    m_all = check_masks(masks, x_all)
    grid = ddim_grid(t0, steps, gen.config.num_train_timesteps)
    check_batch_size(batch_size)
    device = torch.device(device) if device is not None else gen.device
    gen.to(device)
    gen.unet.eval()
    alphas = gen.alphas_cumprod()
    n, total_batches = x_all.shape[0], -(-x_all.shape[0] // batch_size)
    total = total_batches * len(grid)
    out = np.empty((n, 1) + x_all.shape[1:], np.float32)
    done = 0
    for b0 in range(0, n, batch_size):
        x, (h, w) = pad_to_multiple(torch.from_numpy(x_all[b0:b0 + batch_size, None]).to(device),
                                    gen.config.multiple)
        m = None
        if m_all is not None:
            m, _ = pad_to_multiple(torch.from_numpy(m_all[b0:b0 + batch_size, None]).to(device), gen.config.multiple)
        x = x.double()
        prev = -1
        for t in grid:
            with torch.no_grad():
                e = gen.eps(x.float(), t, m).double()
            a_prev, a_t = _alpha(alphas, prev), _alpha(alphas, t)
            x0 = (x - (1 - a_prev) ** 0.5 * e) / a_prev ** 0.5
            x = a_t ** 0.5 * x0 + (1 - a_t) ** 0.5 * e
            prev = t
            done += 1
            yield Progress(STAGE, done, total, f"t={t}", round=round)
        out[b0:b0 + batch_size] = x[..., :h, :w].float().cpu().numpy()
    return InversionResult(out, grid[-1], float(t0), int(steps), tuple(grid))


def psnr(a: np.ndarray, b: np.ndarray, *, data_range: float = 2.0) -> float:
    """Peak signal-to-noise ratio in dB of unit-range images (peak-to-peak ``data_range``)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(data_range ** 2 / mse)


def reconstruct(gen, images, masks=None, *, t0: float = 0.3, steps: int = 50, batch_size: int = 16,
                device=None) -> Job[np.ndarray]:
    """Invert with ``gen`` and denoise back with the same model and masks (DDIM): N×H×W."""
    from vessel_studio.adaptation.synthesis import denoise

    inv = yield from invert(gen, images, masks, t0=t0, steps=steps, batch_size=batch_size, device=device)
    return (yield from denoise(gen, inv.latents, t0=t0, steps=steps, masks=masks, mode="ddim",
                               batch_size=batch_size, device=device))
