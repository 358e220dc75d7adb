"""Mask-conditioned pixel-space diffusion generator (DDPM, epsilon prediction).

A :class:`Generator` wraps a diffusers ``UNet2DModel`` with two input channels (the noisy
grayscale image in [-1, 1] and a mask channel) and one output channel (the predicted noise).
The mask channel carries ``2*m - 1`` for a (possibly soft) vessel mask ``m`` in [0, 1] and
``0`` when there is no mask (unconditional). Training drops the condition at random
(``cond_dropout``) so one model works with and without a mask.

The noise schedule is the DDPM one of the paper: 1000 steps, linear betas 1e-4 .. 0.02.
Schedulers are built from the config; nothing is ever fetched from a model hub.

Saved as a Vessel Studio model folder (kind ``"generator"``)::

    config.json        {"architecture": GeneratorConfig, "scheduler": {...},
                        "preprocessing": {...}, "conditioned": bool, "training": {...}}
    model.safetensors  the (EMA) UNet weights
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

KIND = "generator"


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture and diffusion settings of a generator."""

    block_out_channels: tuple[int, ...] = (32, 64, 128)
    layers_per_block: int = 1
    attention: bool = False  # self-attention at the lowest resolution level
    norm_num_groups: int = 8
    in_channels: int = 2  # image + mask
    out_channels: int = 1
    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    beta_schedule: str = "linear"
    prediction_type: str = "epsilon"
    cond_dropout: float = 0.2  # probability of training a sample without its mask
    vessel_weight: bool = True  # loss = 0.5*MSE + MSE over a dilated vessel mask
    vessel_dilation: int = 2  # px radius of that dilation

    def __post_init__(self):
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        if len(self.block_out_channels) < 1:
            raise ValueError("GeneratorConfig: block_out_channels must not be empty")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ValueError(
                f"GeneratorConfig: every block_out_channels {self.block_out_channels} must be a multiple of "
                f"norm_num_groups={self.norm_num_groups}"
            )
        if self.in_channels != 2 or self.out_channels != 1:
            raise ValueError("GeneratorConfig: in_channels must be 2 (image, mask) and out_channels 1")
        if self.prediction_type != "epsilon":
            raise ValueError("GeneratorConfig: only prediction_type='epsilon' is supported")
        if not 0.0 <= self.cond_dropout <= 1.0:
            raise ValueError(f"GeneratorConfig: cond_dropout must be in [0, 1], got {self.cond_dropout}")

    @property
    def levels(self) -> int:
        return len(self.block_out_channels)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (2 ** (levels - 1))."""
        return 2 ** (self.levels - 1)

    @classmethod
    def preset(cls, name: str, **overrides) -> "GeneratorConfig":
        presets = {
            "tiny": dict(block_out_channels=(8, 16), layers_per_block=1),
            "cpu": dict(block_out_channels=(32, 64, 128), layers_per_block=1),
            "gpu": dict(block_out_channels=(64, 128, 256, 256), layers_per_block=2),
        }
        if name not in presets:
            raise ValueError(f"unknown generator preset {name!r} (choose from {', '.join(presets)})")
        return cls(**{**presets[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["block_out_channels"] = list(self.block_out_channels)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GeneratorConfig":
        from vessel_studio.config import check_fields

        check_fields(cls, d)
        return cls(**dict(d))

    def unet_kwargs(self) -> dict[str, Any]:
        n = self.levels
        down = ["DownBlock2D"] * n
        up = ["UpBlock2D"] * n
        if self.attention:
            down[-1] = "AttnDownBlock2D"
            up[0] = "AttnUpBlock2D"
        return dict(
            sample_size=64,
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            block_out_channels=tuple(self.block_out_channels),
            layers_per_block=self.layers_per_block,
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            norm_num_groups=self.norm_num_groups,
        )

    def scheduler_kwargs(self) -> dict[str, Any]:
        return dict(
            num_train_timesteps=self.num_train_timesteps,
            beta_start=self.beta_start,
            beta_end=self.beta_end,
            beta_schedule=self.beta_schedule,
            prediction_type=self.prediction_type,
        )


def build_unet(cfg: GeneratorConfig):
    from diffusers import UNet2DModel

    return UNet2DModel(**cfg.unet_kwargs())


def mask_channel(mask, like, *, check_size: bool = True):
    """The conditioning channel for ``like`` (N×1×H×W): ``2*m - 1``, or zeros for ``mask=None``.

    ``mask`` may be a tensor or array of shape N×1×H×W, N×H×W or H×W with values in [0, 1]
    (bool or soft). A per-sample all-NaN mask means "no mask for this sample" (channel 0).
    """
    import torch

    if mask is None:
        return torch.zeros_like(like)
    m = torch.as_tensor(np.asarray(mask) if not torch.is_tensor(mask) else mask)
    m = m.to(device=like.device, dtype=like.dtype)
    if m.ndim == 2:
        m = m[None, None].expand(like.shape[0], 1, *m.shape)
    elif m.ndim == 3:
        m = m[:, None]
    if m.ndim != 4 or m.shape[1] != 1:
        raise ValueError(f"mask must be H×W, N×H×W or N×1×H×W, got shape {tuple(m.shape)}")
    if check_size and (m.shape[0] != like.shape[0] or m.shape[2:] != like.shape[2:]):
        raise ValueError(
            f"mask shape {tuple(m.shape)} does not match the images {tuple(like.shape)}"
        )
    c = 2.0 * m.clamp(0, 1) - 1.0
    return torch.nan_to_num(c, nan=0.0)


class Generator:
    """A diffusion UNet plus its config and preprocessing; see the module docstring."""

    def __init__(self, unet=None, config: GeneratorConfig | None = None, preprocessing=None, *,
                 conditioned: bool = False, training: Mapping[str, Any] | None = None):
        self.config = config or GeneratorConfig()
        self.unet = unet if unet is not None else build_unet(self.config)
        self.preprocessing = preprocessing
        self.conditioned = bool(conditioned)
        self.training = dict(training or {})
        #: the U-Net runs in channels-last memory format (see ``use_channels_last``)
        self.channels_last = False

    def with_cond_dropout(self, p: float) -> "Generator":
        """This generator (its U-Net shared, not copied) with condition dropout ``p`` in its config: what fine-tuning
        it trains with, where ``train_generator`` takes the model's settings from the generator it starts from (the
        adaptation's ``cond_dropout``, ``train-generator --init --cond-dropout``)."""
        return Generator(self.unet, dataclasses.replace(self.config, cond_dropout=p), self.preprocessing,
                         conditioned=self.conditioned, training=self.training)

    # -- schedules ------------------------------------------------------------------------
    def noise_scheduler(self):
        from diffusers import DDPMScheduler

        return DDPMScheduler(**self.config.scheduler_kwargs(), clip_sample=False)

    def ddim_scheduler(self, *, timestep_spacing: str = "trailing"):
        from diffusers import DDIMScheduler

        return DDIMScheduler(**self.config.scheduler_kwargs(), clip_sample=False, set_alpha_to_one=True,
                             timestep_spacing=timestep_spacing)

    def alphas_cumprod(self):
        """ᾱ_t for t = 0..T-1 as a float64 CPU tensor (the same numbers the schedulers use)."""
        import torch

        return self.noise_scheduler().alphas_cumprod.to(torch.float64)

    # -- network --------------------------------------------------------------------------
    @property
    def device(self):
        return next(self.unet.parameters()).device

    def to(self, device) -> "Generator":
        self.unet.to(device)
        return self

    def use_channels_last(self, on: bool = True) -> "Generator":
        """Run the U-Net in channels-last memory format (``eps`` converts its input to match). The same
        network; the arithmetic differs by rounding (about 3e-6 in ``eps``). Measured on this project's
        CPU (benchmarks/results/generator/gen_step_speed-cpu.md): a synthesis forward of the ``cpu``
        generator took 0.78x the time; its training steps were not faster, so training stays as it is."""
        import torch

        self.channels_last = bool(on)
        self.unet.to(memory_format=torch.channels_last if on else torch.contiguous_format)
        return self

    def eps(self, x_t, t, mask=None):
        """Predicted noise for ``x_t`` (N×1×H×W) at timestep(s) ``t``; ``mask`` as in :func:`mask_channel`."""
        import torch

        if x_t.ndim != 4 or x_t.shape[1] != 1:
            raise ValueError(f"x_t must be N×1×H×W, got {tuple(x_t.shape)}")
        m = self.config.multiple
        if x_t.shape[-2] % m or x_t.shape[-1] % m:
            raise ValueError(f"image sides {tuple(x_t.shape[-2:])} must be multiples of {m} (pad first)")
        cond = mask_channel(mask, x_t)
        if not torch.is_tensor(t):
            t = torch.tensor([int(t)] * x_t.shape[0], device=x_t.device)
        elif t.ndim == 0:
            t = t.expand(x_t.shape[0])
        inp = torch.cat([x_t, cond], dim=1)
        if self.channels_last:
            inp = inp.contiguous(memory_format=torch.channels_last)
        return self.unet(inp, t.to(x_t.device)).sample

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.unet.parameters())

    # -- files ----------------------------------------------------------------------------
    def folder_config(self) -> dict[str, Any]:
        prep = self.preprocessing
        if prep is not None and hasattr(prep, "to_dict"):
            prep = prep.to_dict()
        return {
            "architecture": self.config.to_dict(),
            "scheduler": self.config.scheduler_kwargs(),
            "preprocessing": prep,
            "conditioned": self.conditioned,
            "training": self.training,
        }

    def save(self, folder: str | Path, *, half: bool = False, card: str | None = None) -> Path:
        from vessel_studio.models.folder import save_model_folder

        return save_model_folder(folder, kind=KIND, config=self.folder_config(), state_dict=self.unet.state_dict(),
                                 half=half, card=card)

    @classmethod
    def load(cls, name_or_path: str | Path, *, device=None) -> "Generator":
        from vessel_studio.models.folder import ModelFolderError, build_loaded, load_model_folder, read_config
        from vessel_studio.resources import resolve_model

        try:
            folder = resolve_model(name_or_path)
        except FileNotFoundError as exc:
            raise ModelFolderError(str(exc)) from exc
        read_config(folder, kind=KIND)  # validates format/kind before touching weights
        cfg_dict, state = load_model_folder(folder, kind=KIND)
        arch = cfg_dict.get("architecture")
        if not isinstance(arch, Mapping):
            raise ModelFolderError(f"{folder}: generator config.json has no 'architecture' section")
        try:
            cfg = GeneratorConfig.from_dict(arch)
        except (TypeError, ValueError) as exc:
            raise ModelFolderError(f"{folder}: invalid generator architecture in config.json ({exc})") from exc
        unet = build_loaded(lambda: build_unet(cfg), state, source=folder)
        unet.eval()
        gen = cls(unet, cfg, _preprocessing_from(cfg_dict.get("preprocessing")),
                  conditioned=bool(cfg_dict.get("conditioned", False)), training=cfg_dict.get("training") or {})
        gen.folder = folder
        if device is not None:
            gen.to(device)
        return gen


def _preprocessing_from(d):
    if d is None:
        return None
    try:
        from vessel_studio.preprocess import Preprocessing
    except ImportError:  # foundation module not available: keep the plain dict
        return dict(d)
    try:
        return Preprocessing.from_dict(d)
    except Exception:  # an older/newer dict layout: keep it readable rather than fail to load
        return dict(d)


def pad_to_multiple(x, multiple: int, mode: str = "reflect"):
    """Pad N×C×H×W on the bottom/right to multiples of ``multiple``; return (padded, (H, W))."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        use = mode if (mode != "reflect" or (ph < h and pw < w)) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=use)
    return x, (h, w)
