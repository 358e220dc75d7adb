"""The vessel segmenter: a residual U-Net with pre-activation blocks, and its model-folder wrapper.

``build_unet(cfg)`` returns a plain ``nn.Module`` mapping N×1×H×W prepared gray images to
N×1×H×W logits (H, W multiples of ``2 ** (levels - 1)``). ``Segmenter`` bundles the network with
its ``SegmenterConfig`` and the ``Preprocessing`` it was trained with, and segments whole images
at their original resolution: prepare (gray, polarity, rescale by FOV diameter, standardise),
pad (reflect) or tile with overlap, run, map the probability back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

KIND = "segmenter"


@dataclass(frozen=True)
class SegmenterConfig:
    """Architecture of the residual U-Net (16–256 channels by default, as in the paper)."""

    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    blocks_per_level: int = 1
    norm: str = "batch"  # "batch" | "group"
    in_channels: int = 1
    dropout: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.channels) < 2 or any(c < 1 for c in self.channels):
            raise ValueError(f"SegmenterConfig.channels must list >= 2 positive widths, got {self.channels}")
        if self.norm not in ("batch", "group"):
            raise ValueError(f"SegmenterConfig.norm must be 'batch' or 'group', got {self.norm!r}")
        if self.blocks_per_level < 1:
            raise ValueError("SegmenterConfig.blocks_per_level must be >= 1")

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegmenterConfig":
        from vessel_studio.config import check_fields

        check_fields(cls, d)
        return cls(**d)


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(min(8, ch), ch)
    return nn.BatchNorm2d(ch)


class PreActBlock(nn.Module):
    """norm-ReLU-conv-norm-ReLU-conv with an identity (or 1×1) shortcut."""

    def __init__(self, cin: int, cout: int, norm: str, dropout: float = 0.0):
        super().__init__()
        self.n1 = _norm(norm, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.n2 = _norm(norm, cout)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        h = self.c1(F.relu(self.n1(x)))
        h = self.c2(self.drop(F.relu(self.n2(h))))
        return h + self.skip(x)


class ResUNet(nn.Module):
    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        ch = cfg.channels
        self.stem = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1, bias=False)
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        for i, c in enumerate(ch):
            cin = ch[0] if i == 0 else ch[i - 1]
            blocks = [PreActBlock(cin, c, cfg.norm, cfg.dropout if i == len(ch) - 1 else 0.0)]
            blocks += [PreActBlock(c, c, cfg.norm) for _ in range(cfg.blocks_per_level - 1)]
            self.down.append(nn.Sequential(*blocks))
            if i < len(ch) - 1:
                self.pool.append(nn.Conv2d(c, c, 2, stride=2, bias=False))  # learned down-sampling
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(len(ch) - 2, -1, -1):
            self.up.append(nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2, bias=False))
            blocks = [PreActBlock(2 * ch[i], ch[i], cfg.norm)]
            blocks += [PreActBlock(ch[i], ch[i], cfg.norm) for _ in range(cfg.blocks_per_level - 1)]
            self.dec.append(nn.Sequential(*blocks))
        self.head_norm = _norm(cfg.norm, ch[0])
        self.head = nn.Conv2d(ch[0], 1, 1)

    def forward(self, x):
        h = self.stem(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h)
            if i < len(self.pool):
                skips.append(h)
                h = self.pool[i](h)
        for up, dec in zip(self.up, self.dec):
            h = up(h)
            h = dec(torch.cat([h, skips.pop()], 1))
        return self.head(F.relu(self.head_norm(h)))


def build_unet(cfg: SegmenterConfig) -> nn.Module:
    """A residual pre-activation U-Net; logits N×1×H×W."""
    return ResUNet(cfg)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@dataclass
class Prediction:
    """``prob`` float32 in [0, 1] and ``mask`` bool at the input's H×W; ``fov`` bool (used FOV)."""

    prob: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    fov: np.ndarray = field(repr=False)


# --- whole-image inference -------------------------------------------------------------------

def _window(size: int, overlap: int) -> np.ndarray:
    """1-D blending weights: a linear ramp over ``overlap`` pixels at each end, 1 inside."""
    w = np.ones(size, np.float32)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        w[:overlap] = ramp
        w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return w


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    s = list(range(0, length - tile, step))
    s.append(length - tile)
    return s


def cpu_bf16_supported() -> bool:
    """True when this CPU runs bfloat16 convolutions natively (AVX512-BF16 / AMX via oneDNN)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - older torch / no oneDNN
        return False


def _autocast(device, precision: str):
    import contextlib

    from vessel_studio.device import autocast

    if device.type == "cpu":
        if precision == "bf16" or (precision == "auto" and cpu_bf16_supported()):
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    return autocast(device) if precision in ("auto", "bf16") else contextlib.nullcontext()


def infer_logits(net: nn.Module, x: np.ndarray, **options) -> np.ndarray:
    """Run ``net`` on a prepared H×W float32 image; return H×W float32 logits.

    Images whose sides fit in ``tile`` are reflect-padded to a multiple of ``multiple`` and run in
    one pass; bigger ones are cut into ``tile``-sized tiles overlapping by ``overlap`` pixels and
    blended with linear ramps, so memory stays bounded whatever the image size. ``options``
    (``multiple``, ``tile``, ``overlap``, ``device``, ``batch_size``, ``precision``): see
    :func:`infer_logits_many`.
    """
    return infer_logits_many(net, [x], **options)[0]


@torch.inference_mode()
def infer_logits_many(
    net: nn.Module,
    images,
    *,
    multiple: int = 16,
    tile: int = 1024,
    overlap: int = 64,
    device=None,
    batch_size: int = 4,
    precision: str = "fp32",
) -> list[np.ndarray]:
    """:func:`infer_logits` of several prepared images, their passes (whole images or tiles, each
    image padded and tiled as it would be alone) run together in batches of ``batch_size``; one
    H×W float32 logit map per image (mirrored inference can run its four flips as one batch).

    ``precision``: "fp32", "bf16" (autocast; on CPU only fast with native bf16 support) or "auto"
    (bf16 on CUDA and on CPUs with native bf16, fp32 otherwise). Runs channels-last.
    """
    if precision not in ("fp32", "bf16", "auto"):
        raise ValueError(f"precision must be fp32, bf16 or auto, got {precision!r}")
    xs = [np.asarray(x) for x in images]
    for x in xs:
        if x.ndim != 2:
            raise ValueError(f"infer_logits expects an H×W prepared image, got shape {x.shape}")
    device = device or next(net.parameters()).device
    tile = max(multiple, tile - tile % multiple)
    win = None

    def run_batch(patches: list[np.ndarray]) -> np.ndarray:
        t = torch.from_numpy(np.stack(patches)[:, None]).to(device).contiguous(memory_format=torch.channels_last)
        with _autocast(device, precision):
            out = net(t)
        return out.float()[:, 0].cpu().numpy()

    # every pass: (image index, row, col, patch); a whole image is one pass at (0, 0)
    passes: list[tuple[int, int, int, np.ndarray]] = []
    tiled: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # image -> (accumulator, weight sum)
    for k, x in enumerate(xs):
        h, w = x.shape
        if h <= tile and w <= tile:
            ph, pw = (-h) % multiple, (-w) % multiple
            mode = "reflect" if (ph < h and pw < w) else "edge"
            xp = np.pad(x, ((0, ph), (0, pw)), mode=mode) if (ph or pw) else x
            passes.append((k, 0, 0, np.ascontiguousarray(xp, dtype=np.float32)))
            continue
        # tiled: pad so that every tile is full and each side is covered
        ph, pw = max(0, tile - h), max(0, tile - w)
        xp = np.pad(x, ((0, ph), (0, pw)), mode="reflect" if (ph < h and pw < w) else "edge")
        H, W = xp.shape
        step = tile - overlap
        tiled[k] = (np.zeros((H, W), np.float32), np.zeros((H, W), np.float32))
        if win is None:
            win = np.outer(_window(tile, overlap), _window(tile, overlap))
        passes += [(k, r, c, np.ascontiguousarray(xp[r:r + tile, c:c + tile], dtype=np.float32))
                   for r in _starts(H, tile, step) for c in _starts(W, tile, step)]

    whole: dict[int, np.ndarray] = {}
    for i in range(0, len(passes), batch_size):
        chunk = passes[i:i + batch_size]
        if len({p[3].shape for p in chunk}) > 1:  # images of different sizes: one pass each
            outs = [run_batch([p[3]])[0] for p in chunk]
        else:
            outs = run_batch([p[3] for p in chunk])
        for (k, r, c, patch), o in zip(chunk, outs):
            if k in tiled:
                acc, wsum = tiled[k]
                acc[r:r + tile, c:c + tile] += o * win
                wsum[r:r + tile, c:c + tile] += win
            else:
                whole[k] = o
    out = []
    for k, x in enumerate(xs):
        h, w = x.shape
        if k in tiled:
            acc, wsum = tiled[k]
            out.append((acc / np.maximum(wsum, 1e-6))[:h, :w])
        else:
            out.append(whole[k][:h, :w])
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))).astype(np.float32)


#: the flips that mirrored inference averages over: as is, left-right, up-down, both (nnU-Net's
#: test-time mirroring in 2-D)
MIRROR_AXES: tuple[tuple[int, ...], ...] = ((), (1,), (0,), (0, 1))


class Segmenter:
    """A trained segmenter: network + architecture config + the preprocessing it expects."""

    def __init__(self, net: nn.Module, config: SegmenterConfig, preprocessing, *, training: dict | None = None,
                 threshold: float = 0.5, source: str | None = None):
        self.net = net
        self.config = config
        self.preprocessing = preprocessing
        self.training = dict(training or {})
        self.threshold = float(threshold)
        self.source = source
        self.tile = 1024
        self.overlap = 64
        #: inference arithmetic: "auto" = bf16 where the hardware has it natively, else fp32
        self.precision = "auto"
        #: test-time mirroring: average the probabilities over the image and its flips (4x the work);
        #: off by default, so that predictions equal the benchmark's (benchmarks/results/mirror-tta/)
        self.mirror = False
        #: mirrored inference runs the four flips as one batch (True) or one after another (False);
        #: None (the default) = batched on CUDA, sequential elsewhere. Measured: on the CPU one batch
        #: of 4 was 1.4-1.8x slower and took about 260 MB more (benchmarks/results/mirror-tta/
        #: mirror_speed.md); on an H200 it took 0.49x the time of four passes (11 vs 23 ms for a
        #: 565 x 584 image) at 307 instead of 83 MB of CUDA memory
        #: (benchmarks/results/drive-octa500/gpu/mirror-cuda/). The maps are the same either way on the CPU; on
        #: CUDA they differed by up to 2.49e-03 in probability there (the batched kernels' arithmetic).
        self.mirror_batch: bool | None = None

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def create(cls, config: SegmenterConfig, preprocessing, **kw) -> "Segmenter":
        return cls(build_unet(config), config, preprocessing, **kw)

    @property
    def device(self):
        return next(self.net.parameters()).device

    def batches_mirror(self) -> bool:
        """Whether mirrored inference runs its four flips as one batch (``mirror_batch``, resolved)."""
        if self.mirror_batch is None:
            return self.device.type == "cuda"
        return bool(self.mirror_batch)

    def use_modality(self, modality: str | None) -> "Segmenter":
        """Prepare images for ``modality`` ("fundus" | "octa") when it is not the model's: a fundus
        model applied to OCT-A images gets OCT-A's preprocessing (as the benchmark applies a
        source-only segmenter to its target). ``None`` or the model's own modality: unchanged. Returns self."""
        if modality is not None and modality != self.preprocessing.modality:
            from vessel_studio.preprocess import Preprocessing

            self.preprocessing = Preprocessing.for_modality(modality)
        return self

    def to(self, device) -> "Segmenter":
        self.net.to(device)
        return self

    @classmethod
    def load(cls, name_or_path, *, device=None) -> "Segmenter":
        """Load a model folder (a path, or the name of a bundled model such as ``fundus-segmenter``)."""
        from vessel_studio.models.folder import ModelFolderError, build_loaded, load_model_folder
        from vessel_studio.preprocess import Preprocessing
        from vessel_studio.resources import resolve_model

        folder = resolve_model(name_or_path)
        cfg, state = load_model_folder(folder, kind=KIND)
        try:
            config = SegmenterConfig.from_dict(cfg["architecture"])
            prep = Preprocessing.from_dict(cfg["preprocessing"])
            threshold = float(cfg.get("threshold", 0.5))
            if not 0.0 <= threshold <= 1.0:  # False for NaN too
                raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFolderError(f"{folder}: invalid segmenter config ({exc})") from exc
        net = build_loaded(lambda: build_unet(config), state, source=folder)
        net.eval()
        seg = cls(net, config, prep, training=cfg.get("training"), threshold=threshold, source=str(folder))
        if device is not None:
            seg.to(device)
        return seg

    def save(self, folder, *, half: bool = False, card: str | None = None, extra: dict | None = None) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (+ ``README.md`` when ``card``) atomically."""
        from vessel_studio.models.folder import save_model_folder

        config = {
            "architecture": self.config.to_dict(),
            "preprocessing": self.preprocessing.to_dict(),
            "training": self.training,
            "threshold": self.threshold,
            "parameters": count_parameters(self.net),
            **dict(extra or {}),
        }
        return save_model_folder(folder, kind=KIND, config=config, state_dict=self.net.state_dict(),
                                 half=half, card=card)

    # -- inference ------------------------------------------------------------------------------
    def predict_logits_prepared(self, x: np.ndarray) -> np.ndarray:
        return self.predict_logits_prepared_many([x])[0]

    def predict_logits_prepared_many(self, xs) -> list[np.ndarray]:
        """Logits of several prepared images, run together (:func:`infer_logits_many`)."""
        was_training = self.net.training
        self.net.eval()
        try:
            self.net.to(memory_format=torch.channels_last)
            return infer_logits_many(self.net, [np.asarray(x, np.float32) for x in xs],
                                     multiple=self.config.multiple, tile=self.tile, overlap=self.overlap,
                                     precision=self.precision)
        finally:
            self.net.train(was_training)

    def predict_prepared(self, x: np.ndarray, fov: np.ndarray | None = None, *,
                         mirror: bool | None = None) -> np.ndarray:
        """Probability map (float32 H×W, 0 outside ``fov``) of an already prepared image.

        ``mirror`` (default: ``self.mirror``): average the probabilities of the image and of its
        left-right, up-down and doubly flipped copies, each flipped back (label-free; 4x the work;
        the copies run as one batch or one after another, see ``mirror_batch``).
        """
        mirror = self.mirror if mirror is None else bool(mirror)
        if mirror:
            x = np.asarray(x, np.float32)
            flipped = [np.ascontiguousarray(np.flip(x, axes)) if axes else x for axes in MIRROR_AXES]
            logits = (self.predict_logits_prepared_many(flipped) if self.batches_mirror()
                      else [self.predict_logits_prepared(xf) for xf in flipped])
            prob = np.zeros(x.shape, np.float32)
            for axes, z in zip(MIRROR_AXES, logits):
                p = _sigmoid(z)
                prob += np.flip(p, axes) if axes else p
            prob /= np.float32(len(MIRROR_AXES))
        else:
            prob = _sigmoid(self.predict_logits_prepared(x))
        if fov is not None:
            prob = np.where(np.asarray(fov, bool), prob, np.float32(0.0)).astype(np.float32)
        return prob

    def predict(self, image: np.ndarray, *, fov: np.ndarray | None = None,
                threshold: float | None = None, mirror: bool | None = None) -> Prediction:
        """Segment a whole image (H×W gray or H×W×3 RGB, any dtype) at its original resolution.
        ``threshold``: in [0, 1] (default ``self.threshold``). ``mirror``: test-time mirroring (see
        :meth:`predict_prepared`; default ``self.mirror``)."""
        from vessel_studio.preprocess import prepare, restore

        t = self.threshold if threshold is None else float(threshold)
        if not 0.0 <= t <= 1.0:  # False for NaN too; checked before the work (an empty mask, silently)
            raise ValueError(f"predict: threshold must be in [0, 1], got {threshold if threshold is not None else t}")
        prepared = prepare(image, fov=fov, prep=self.preprocessing)
        prob_p = self.predict_prepared(prepared.x, prepared.fov, mirror=mirror)
        prob = np.clip(np.asarray(restore(prob_p, prepared), np.float32), 0.0, 1.0)
        h, w = prob.shape[:2]
        if fov is None:
            fov_o = np.asarray(restore(prepared.fov.astype(np.float32), prepared)) >= 0.5
        else:
            fov_o = np.asarray(fov, bool)
        if fov_o.shape != (h, w):
            raise ValueError(f"FOV of shape {fov_o.shape} does not match the image {(h, w)}")
        prob = np.where(fov_o, prob, np.float32(0.0)).astype(np.float32)
        return Prediction(prob=prob, mask=(prob >= t) & fov_o, fov=fov_o)


def interpolate_weights(base: Segmenter, tuned: Segmenter, base_weight: float) -> Segmenter:
    """Weight-space interpolation of two segmenters of one architecture (WiSE-FT, Wortsman et al.,
    CVPR 2022): every floating-point tensor of the state dict, BatchNorm running statistics included,
    becomes ``base_weight * base + (1 - base_weight) * tuned``; integer buffers (BatchNorm's batch
    counter) are ``tuned``'s. Meaningful when ``tuned`` was fine-tuned from ``base``. The result keeps
    ``tuned``'s preprocessing, threshold and training record (with the merge noted in it)."""
    if not 0.0 <= float(base_weight) <= 1.0:
        raise ValueError(f"interpolate_weights: base_weight must be in [0, 1], got {base_weight}")
    if base.config != tuned.config:
        raise ValueError(f"interpolate_weights: architectures differ ({base.config} vs {tuned.config})")
    w = float(base_weight)
    b_sd, t_sd = base.net.state_dict(), tuned.net.state_dict()
    merged = {}
    with torch.no_grad():
        for k, v in t_sd.items():
            if v.is_floating_point():
                merged[k] = (w * b_sd[k].to(v.device, torch.float32) + (1.0 - w) * v.float()).to(v.dtype)
            else:
                merged[k] = v.clone()
    net = build_unet(tuned.config).to(tuned.device)
    net.load_state_dict(merged)
    net.eval()
    training = {**tuned.training, "weight_interpolation": {"base": base.source, "base_weight": w}}
    return Segmenter(net, tuned.config, tuned.preprocessing, training=training, threshold=tuned.threshold,
                     source=tuned.source)
