"""Step-based, resumable training of a (mask-conditioned) diffusion generator.

``train_generator`` is a job (a generator of events): one ``Progress`` and one ``Metric("loss")``
per optimiser step, returning the trained :class:`~vessel_studio.models.generator.Generator`
holding the EMA weights. Crops are cut on the device (:class:`~vessel_studio.adaptation.crops.CropSampler`);
all randomness of step ``k`` comes from a generator seeded by ``(seed, k)``, so a run resumed from
``checkpoint_dir`` equals an uninterrupted one.

Loss (epsilon prediction): plain MSE, or with ``vessel_weight`` and masks the paper's
``0.5 * MSE + MSE averaged over the dilated vessel mask``. With masks, each sample's condition is
dropped with probability ``cond_dropout`` (mask channel 0) so the model also learns p(x).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vessel_studio.events import Artifact, Job, Metric, Progress
from vessel_studio.models.generator import Generator, GeneratorConfig, mask_channel

STAGE = "train-generator"
#: the losses of the last steps that a checkpoint keeps and ``final_loss_mean_last_100`` averages: a resumed
#: training records the mean over the same steps as an uninterrupted one
LOSSES_KEPT = 100


@dataclass(frozen=True)
class GeneratorTrainConfig:
    model: GeneratorConfig = field(default_factory=GeneratorConfig)
    steps: int = 2000
    batch_size: int = 16
    crop_size: int = 64
    lr: float = 2e-4
    weight_decay: float = 1e-4
    warmup: int = 100
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    augment: bool = True
    seed: int = 0
    checkpoint_every: int = 200
    threads: int | None = None  # torch CPU threads (None: leave as is)

    def __post_init__(self):
        # steps = 0 is allowed (a copy of ``init``: the adaptation's fine-tuning may be switched off)
        for name, least in (("steps", 0), ("batch_size", 1), ("checkpoint_every", 1), ("warmup", 0)):
            if isinstance(getattr(self, name), bool) or int(getattr(self, name)) < least:
                raise ValueError(f"GeneratorTrainConfig: {name} must be >= {least}, got {getattr(self, name)}")
        m = self.model.multiple if isinstance(self.model, GeneratorConfig) else 1
        if self.crop_size < 8 or self.crop_size % m:
            raise ValueError(f"GeneratorTrainConfig: crop_size must be >= 8 and a multiple of {m} "
                             f"(the model's levels), got {self.crop_size}")
        if self.threads is not None and int(self.threads) < 1:
            raise ValueError(f"GeneratorTrainConfig: threads must be >= 1, got {self.threads}")

    @classmethod
    def preset(cls, name: str, **overrides) -> "GeneratorTrainConfig":
        presets: dict[str, dict[str, Any]] = {
            # seconds on a CPU: for tests
            "tiny": dict(model=GeneratorConfig.preset("tiny"), steps=20, batch_size=4, crop_size=32, warmup=2,
                         ema_decay=0.9, checkpoint_every=10),
            # 2 idle CPU cores: ~0.8 s/step at 64x64 batch 16 (from ENVIRONMENT.md's 0.39 s per batch
            # of 8) -> about 32 min. On the shared, loaded machine of the first session 1 thread gave
            # 3.5-12 s/step, and the bundled model was trained with steps=900 instead.
            "cpu": dict(model=GeneratorConfig.preset("cpu"), steps=2400, batch_size=16, crop_size=64, warmup=100,
                        ema_decay=0.999, checkpoint_every=200),
            # one H100-class GPU (bf16): not run on a GPU yet. Batch 32 so that a 16 GB GPU holds a
            # step (benchmarks/results/gpu/gpu_memory.md: batch 64 saves 11-22 GB of activations)
            "gpu": dict(model=GeneratorConfig.preset("gpu"), steps=6000, batch_size=32, crop_size=128, lr=2e-4,
                        warmup=200, ema_decay=0.9995, checkpoint_every=1000),
        }
        if name not in presets:
            raise ValueError(f"unknown training preset {name!r} (choose from {', '.join(presets)})")
        params = {**presets[name], **overrides}
        if isinstance(params.get("model"), Mapping):
            params["model"] = GeneratorConfig.from_dict(params["model"])
        return cls(**params)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GeneratorTrainConfig":
        d = dict(d)
        if "model" in d:
            d["model"] = GeneratorConfig.from_dict(d["model"])
        return cls(**d)


def diffusion_loss(pred, noise, mask=None, *, vessel_weight: bool = True, dilation: int = 2):
    """``0.5 * MSE + MSE over the dilated mask`` (with a mask and ``vessel_weight``), else MSE."""
    import torch.nn.functional as F

    err = (pred.float() - noise.float()) ** 2
    mse = err.mean()
    if mask is None or not vessel_weight:
        return mse
    m = mask.float()
    if dilation > 0:
        m = F.max_pool2d(m, 2 * dilation + 1, stride=1, padding=dilation)
    denom = m.sum()
    if denom <= 0:
        return mse
    return 0.5 * mse + (err * m).sum() / denom


def _lr_at(step: int, cfg: GeneratorTrainConfig) -> float:
    if cfg.warmup > 0 and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr


def train_generator(images, masks=None, cfg: GeneratorTrainConfig | None = None, *, fovs=None, init=None,
                    preprocessing=None, checkpoint_dir=None, device=None, description: Mapping | None = None,
                    round: int | None = None, channels_last: bool = False) -> Job[Generator]:
    """Train a generator on unit-range ([-1, 1]) float32 H×W ``images``.

    ``masks`` (same shapes, values in [0, 1], soft allowed; None: unconditional training),
    ``fovs`` (bool, crops are centred inside them), ``init`` (a Generator or model folder to
    fine-tune; its architecture wins over ``cfg.model``), ``checkpoint_dir`` (resume from and save
    to). Returns a Generator with the EMA weights. ``channels_last``: run the U-Net in channels-last
    memory format (often faster for bf16 convolutions on GPUs, but the arithmetic differs slightly
    and GroupNorm may convert back; off until ``benchmarks/gen_step_speed.py --device cuda`` says).
    """
    import torch

    from vessel_studio.adaptation.crops import CropSampler, step_generator
    from vessel_studio.device import autocast, pick_device
    from vessel_studio.io.atomic import recover_dir
    from vessel_studio.models.folder import CKPT_JSON, load_checkpoint, save_checkpoint

    cfg = cfg or GeneratorTrainConfig.preset("cpu")
    device = pick_device(device) if not isinstance(device, torch.device) else device
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))

    if init is not None and not isinstance(init, Generator):
        init = Generator.load(init)
    model_cfg = init.config if init is not None else cfg.model
    if init is not None and model_cfg != cfg.model:
        cfg = dataclasses.replace(cfg, model=model_cfg)
    sampler = CropSampler(images, masks, fovs, size=cfg.crop_size, device=device, augment=cfg.augment)
    conditioned = masks is not None or bool(init is not None and init.conditioned)

    torch.manual_seed(cfg.seed)
    gen = Generator(config=model_cfg, preprocessing=preprocessing if preprocessing is not None
                    else (init.preprocessing if init is not None else None), conditioned=conditioned)
    if init is not None:
        gen.unet.load_state_dict(init.unet.state_dict())
    gen.to(device)
    unet = gen.unet
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    unet.to(memory_format=memory_format)
    ema = copy.deepcopy(unet).requires_grad_(False)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    alphas = gen.noise_scheduler().alphas_cumprod.to(device=device, dtype=torch.float32)

    start = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and (recover_dir(ckpt) / CKPT_JSON).is_file():
        meta = load_checkpoint(ckpt, modules={"unet": unet, "ema": ema}, optimizer=opt)
        saved = meta.get("config", {})
        if saved and _resume_key(saved) != _resume_key(_json_roundtrip(cfg.to_dict())):
            raise ValueError(f"{ckpt}: checkpoint was written with a different training config; "
                             "use another --checkpoint-dir or the same settings")
        start = int(meta["step"])
        if start > cfg.steps:  # shortened below the checkpoint: the model would be trained past its steps
            raise ValueError(f"{ckpt}: checkpoint is at step {start}, past the {cfg.steps} steps asked for; ask for "
                             f"at least {start} steps, or use another --checkpoint-dir to start afresh")
        unet.to(device), ema.to(device)
        # the losses of the steps before the checkpoint (``final_loss_mean_last_100``), as it kept them; none from a
        # checkpoint written before they were kept
        kept = (meta.get("extra") or {}).get("losses")
        losses = [float(v) for v in kept] if isinstance(kept, list) else []
    else:
        losses = []

    t_start = time.perf_counter()
    unet.train()
    for step in range(start, cfg.steps):
        g = step_generator(cfg.seed, step)
        batch = sampler.sample(cfg.batch_size, g)
        x0 = batch.images
        noise = torch.randn(x0.shape, generator=g).to(device)
        t = torch.randint(0, model_cfg.num_train_timesteps, (x0.shape[0],), generator=g).to(device)
        a = alphas[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        if batch.masks is not None:
            cond = mask_channel(batch.masks, x_t)
            drop = (torch.rand(x0.shape[0], generator=g) < model_cfg.cond_dropout).to(device)
            cond = torch.where(drop.view(-1, 1, 1, 1), torch.zeros_like(cond), cond)
        else:
            cond = torch.zeros_like(x_t)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg)
        with autocast(device):
            pred = unet(torch.cat([x_t, cond], 1).contiguous(memory_format=memory_format), t).sample
        loss = diffusion_loss(pred, noise, batch.masks, vessel_weight=model_cfg.vessel_weight,
                              dilation=model_cfg.vessel_dilation)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(unet.parameters(), cfg.grad_clip)
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), unet.parameters()):
                pe.lerp_(p, 1 - decay)
            for be, b in zip(ema.buffers(), unet.buffers()):
                be.copy_(b)
        value = float(loss.detach())
        losses.append(value)
        done = step + 1
        yield Progress(STAGE, done, cfg.steps, f"loss {value:.4f}", round=round)
        yield Metric(STAGE, "loss", value, step=done, round=round)
        if ckpt is not None and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_checkpoint(ckpt, step=done, config=cfg.to_dict(), modules={"unet": unet, "ema": ema},
                            optimizer=opt, extra={"seed": cfg.seed, "losses": losses[-LOSSES_KEPT:]})
            yield Artifact(STAGE, "checkpoint", str(ckpt), round=round)

    seconds = time.perf_counter() - t_start
    trained = cfg.steps - start
    ema.eval()
    ema.to(memory_format=torch.contiguous_format)
    training = {
        "config": cfg.to_dict(),
        "conditioned": conditioned,
        "images": sampler.n_images,
        "init": str(getattr(init, "folder", "in-memory generator")) if init is not None else None,
        "steps_this_run": trained,
        "seconds_this_run": float(f"{seconds:.1f}"),
        "seconds_per_step": float(f"{seconds / trained:.4f}") if trained else None,
        "final_loss_mean_last_100": float(np.mean(losses[-LOSSES_KEPT:])) if losses else None,
        "device": str(device),
        **dict(description or {}),
    }
    return Generator(ema, model_cfg, gen.preprocessing, conditioned=conditioned, training=training)


def _resume_key(d: Mapping[str, Any]) -> dict:
    """What must match to resume: everything except the step count, checkpoint interval and threads
    (a run may be extended, shortened to a step count not below its checkpoint's, or finished at its last
    checkpoint)."""
    return {k: v for k, v in d.items() if k not in ("steps", "checkpoint_every", "threads")}


def _json_roundtrip(d):
    import json

    return json.loads(json.dumps(d, default=str))
