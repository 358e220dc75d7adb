"""Tiny source models, sample source / target folders and a project, for the adaptation tests.

Used by ``test_job.py``, ``test_resume.py`` and ``tests/commands/test_adapt_cli.py`` (and by the
subprocess that ``test_resume.py`` kills). Everything is small enough for seconds on a CPU.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np


def ensure_synthesis() -> bool:
    """Install a minimal stand-in for ``vessel_studio.adaptation.synthesis`` when the real module
    (generative core) is not in this checkout yet. Returns True when the real module is used."""
    try:
        import vessel_studio.adaptation.synthesis  # noqa: F401

        return True
    except ImportError:
        pass
    import torch

    from vessel_studio.events import Progress

    mod = types.ModuleType("vessel_studio.adaptation.synthesis")

    class TranslationResult:
        def __init__(self, images, masks, latents):
            self.images, self.masks, self.latents = images, masks, latents

    def _ddim(gen, x, ts, masks, stage):
        a = gen.alphas_cumprod().float()
        for i, (t, t_next) in enumerate(ts):
            with torch.no_grad():
                eps = gen.eps(x, int(t), masks)
            x0 = (x - (1 - a[t]).sqrt() * eps) / a[t].sqrt()
            an = a[t_next] if t_next >= 0 else torch.tensor(1.0)
            x = an.sqrt() * x0 + (1 - an).sqrt() * eps
            yield Progress(stage, i + 1, len(ts))
        return x

    def denoise(gen, latents, *, t0, steps, masks=None, mode="ddim", seed=0, batch_size=16):
        x = torch.as_tensor(np.asarray(latents, np.float32))
        if x.ndim == 3:
            x = x[:, None]
        m = None if masks is None else torch.as_tensor(np.asarray(masks, np.float32))[:, None]
        T = gen.config.num_train_timesteps
        k = max(1, int(round(t0 * steps)))
        grid = np.linspace(0, min(T - 1, int(t0 * T)), k + 1).astype(int)[::-1]
        ts = [(int(grid[i]), int(grid[i + 1]) if i + 1 < k else -1) for i in range(k)]
        x = yield from _ddim(gen, x, ts, m, "denoise")
        return x[:, 0].clamp(-1, 1).numpy()

    def translate(source_gen, target_gen, images, masks, *, t0=0.3, steps=50, mode="ddpm", seed=0,
                  target_masks=False, batch_size=16):
        g = torch.Generator().manual_seed(int(seed))
        x0 = torch.as_tensor(np.asarray(images, np.float32))[:, None]
        a = source_gen.alphas_cumprod().float()
        t = min(source_gen.config.num_train_timesteps - 1, int(t0 * source_gen.config.num_train_timesteps))
        noise = torch.randn(x0.shape, generator=g)
        lat = a[t].sqrt() * x0 + (1 - a[t]).sqrt() * noise
        out = yield from denoise(target_gen, lat.numpy(), t0=t0, steps=steps,
                                 masks=np.asarray(masks) if target_masks else None)
        return TranslationResult(out, np.asarray(masks, np.float32), lat[:, 0].numpy())

    mod.denoise, mod.translate, mod.TranslationResult = denoise, translate, TranslationResult
    sys.modules["vessel_studio.adaptation.synthesis"] = mod
    import vessel_studio.adaptation as pkg

    pkg.synthesis = mod
    return False


def make_source_models(folder: Path) -> tuple[Path, Path]:
    """A tiny untrained mask-conditioned source generator and a tiny source segmenter (fundus,
    native resolution so that small test images stay small)."""
    import torch

    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig
    from vessel_studio.preprocess import Preprocessing

    torch.manual_seed(0)
    prep = Preprocessing.for_modality("fundus", fov_diameter=None)
    gen = Generator(config=GeneratorConfig.preset("tiny"), preprocessing=prep, conditioned=True)
    seg = Segmenter.create(SegmenterConfig(channels=(8, 16)), prep)
    gdir, sdir = folder / "src-generator", folder / "src-segmenter"
    gen.save(gdir)
    seg.save(sdir)
    return sdir, gdir


def make_setup(root: Path, *, n_target: int = 3, n_source: int = 2, target_shape=(64, 64)):
    """``(project, source_bundle, target_folder)``: an OCT-A-like target project and a fundus source."""
    from vessel_studio.adaptation import SourceBundle
    from vessel_studio.samples import write_sample_images
    from vessel_studio.store import Project

    src = write_sample_images(root / "src", n=n_source, modality="fundus", seed=10, shape=(96, 96))
    tgt = write_sample_images(root / "tgt", n=n_target, modality="octa", seed=20, shape=target_shape)
    sdir, gdir = make_source_models(root)
    bundle = SourceBundle(segmenter=sdir, generator=gdir, modality="fundus",
                          images=[(i, m, f) for i, m, f in zip(src.images, src.labels, src.fovs)])
    proj = Project.create(root / "proj", modality="octa")
    proj.add_images([tgt.folder / "images"])
    return proj, bundle, tgt.folder


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> hash), lock files excluded."""
    import hashlib

    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file() and p.name not in (".lock", ".job.lock"):
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def record_adapt_sources(monkeypatch) -> list:
    """Replace ``vessel_studio.adaptation.adapt`` (what ``vessel-studio adapt`` runs) by a job that
    records the source bundle it is given and adapts nothing; the list it appends to."""
    import vessel_studio.adaptation as adaptation
    from vessel_studio.adaptation import AdaptResult

    seen = []

    def fake_adapt(project, cfg, *, source=None, device=None, stop_requested=None):
        seen.append(source)
        return AdaptResult(project=project.folder, rounds=[], stopped_early=False, reason="", segmenter=None,
                           seconds=0.0)
        yield  # noqa: unreachable - a generator

    monkeypatch.setattr(adaptation, "adapt", fake_adapt)
    return seen
