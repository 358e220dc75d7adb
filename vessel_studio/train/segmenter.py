"""Step-based, resumable segmenter training as a generator of events.

``train_segmenter(pairs, cfg, preprocessing=prep)`` trains the residual U-Net on random crops
(biased toward the FOV) of prepared images, with flips, 90° rotations and a mild intensity
jitter, Dice + BCE loss (soft labels allowed; each pair's ``weight`` multiplies its loss),
AdamW with warm-up + cosine (or one-cycle) learning rate. It yields ``Progress`` and a loss
``Metric`` every step and returns a ``Segmenter``.

Reproducible and resumable: the crops of step ``s`` come from ``np.random.default_rng((seed, s))``
and the learning rate is a pure function of the step, so a run resumed from a checkpoint
(``checkpoint_dir``, saved every ``checkpoint_every`` steps with weights, optimizer state and
step) equals an uninterrupted one. The same holds with ``prefetch`` (a background thread draws
the next batches while the device runs the current step; on by default on CUDA only, where it was
measured faster): each step's batch still comes from its own seeded generator.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vessel_studio.events import Job, Metric, Progress

STAGE = "train-segmenter"
#: batches of crops that ``reestimate_norm_statistics`` averages the BatchNorm statistics over by
#: default (the benchmark's ``adabn`` row, ``seg_norm="target"``, ``renormalize`` and the GUI use it)
NORM_BATCHES = 256


@dataclass
class TrainPair:
    """A prepared image ``x`` (float32 H×W), its ``label`` (bool, or float soft label in [0, 1]),
    an optional ``fov`` (bool H×W; None = whole image) and a loss ``weight``."""

    x: np.ndarray
    label: np.ndarray
    fov: np.ndarray | None = None
    weight: float = 1.0
    name: str = ""

    def __post_init__(self):
        self.x = np.asarray(self.x, np.float32)
        lab = np.asarray(self.label)
        if self.x.ndim != 2:
            raise ValueError(f"{self.name or 'TrainPair'}: x must be H×W, got shape {self.x.shape}")
        if lab.shape != self.x.shape:
            raise ValueError(f"{self.name or 'TrainPair'}: label shape {lab.shape} != image shape {self.x.shape}")
        self.label = lab.astype(np.float32) if lab.dtype != bool else lab.astype(np.float32)
        if np.isnan(self.x).any() or np.isnan(self.label).any():
            raise ValueError(f"{self.name or 'TrainPair'}: NaN in image or label")
        if self.label.min() < 0 or self.label.max() > 1:
            raise ValueError(f"{self.name or 'TrainPair'}: label values must lie in [0, 1]")
        if self.fov is not None:
            self.fov = np.asarray(self.fov, bool)
            if self.fov.shape != self.x.shape:
                raise ValueError(f"{self.name or 'TrainPair'}: fov shape {self.fov.shape} != image shape {self.x.shape}")
        if not (self.weight >= 0):
            raise ValueError(f"{self.name or 'TrainPair'}: weight must be >= 0, got {self.weight}")


PRESETS: dict[str, dict[str, Any]] = {
    # seconds, for tests
    "tiny": dict(channels=(8, 16), steps=4, batch_size=2, crop=32, checkpoint_every=2, warmup=0),
    # this 2-core CPU: a 2.1 M parameter U-Net, ~0.15 s per step when the machine is idle
    "cpu": dict(channels=(16, 32, 64, 128, 256), steps=2000, batch_size=8, crop=64, checkpoint_every=250),
    # one H100-class GPU, bf16 autocast
    "gpu": dict(channels=(16, 32, 64, 128, 256), steps=3000, batch_size=32, crop=128, checkpoint_every=500),
}


@dataclass(frozen=True)
class SegmenterTrainConfig:
    preset: str = "cpu"
    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    blocks_per_level: int = 1
    norm: str = "batch"
    steps: int = 2000
    batch_size: int = 8
    crop: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # "cosine" (linear warm-up, cosine to lr*final_lr_frac) | "onecycle" | "constant"
    warmup: int = 100
    final_lr_frac: float = 0.02
    dice_weight: float = 1.0
    bce_weight: float = 1.0
    fov_bias: float = 0.9  # probability that a crop centre is drawn inside the FOV
    flips: bool = True
    rotations: bool = True
    intensity_jitter: float = 0.1  # x * (1 + U(-j, j)) + U(-j, j)
    # appearance augmentation (0 = off, the default): vessel-to-background contrast of a crop scaled by
    # U(1 - contrast_jitter, 1 + contrast_jitter / 2) about its FOV mean, then (each with probability 0.5)
    # a Gaussian blur of sigma U(0, blur_sigma) px and Gaussian noise of sd U(0, noise_sd) (standardised
    # units). Applied to the image only, never to the label.
    contrast_jitter: float = 0.0
    blur_sigma: float = 0.0
    noise_sd: float = 0.0
    checkpoint_every: int = 250
    seed: int = 0
    grad_clip: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.steps < 1 or self.batch_size < 1 or self.crop < 8:
            raise ValueError("steps, batch_size must be >= 1 and crop >= 8")
        if self.schedule not in ("cosine", "onecycle", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}")

    @classmethod
    def preset(cls, name: str = "cpu", **overrides) -> "SegmenterTrainConfig":
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
        return cls(preset=name, **{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegmenterTrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def lr_at(self, step: int) -> float:
        """Learning rate for optimiser step ``step`` (0-based), a pure function of the step."""
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "onecycle":
            up = max(1, int(0.3 * self.steps))
            if step < up:
                return self.lr * (0.04 + 0.96 * step / up)
            t = (step - up) / max(1, self.steps - up)
            return self.lr * (self.final_lr_frac + (1 - self.final_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        t = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.lr * (self.final_lr_frac + (1 - self.final_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


# --- data sampling ---------------------------------------------------------------------------

class _CropSampler:
    """Draws augmented crops; everything random comes from the generator it is given."""

    def __init__(self, pairs: Sequence[TrainPair], cfg: SegmenterTrainConfig):
        self.pairs = list(pairs)
        self.cfg = cfg
        # pad every image so that any centre gives a full crop (reflect for the image)
        self.pad = cfg.crop // 2 + 1
        self.inside = []
        self.fov_f = []
        for p in self.pairs:
            if p.fov is None:
                self.inside.append(None)
                self.fov_f.append(None)
                continue
            idx = np.flatnonzero(p.fov)
            self.inside.append(idx.astype(np.int64) if idx.size else None)
            self.fov_f.append(p.fov.astype(np.float32))

    def _crop(self, a: np.ndarray | None, r: int, c: int, fill: float, shape=None) -> np.ndarray:
        """``crop``-sized window centred at (r, c); outside the image ``fill``; ``a=None`` = ones."""
        s = self.cfg.crop
        h, w = a.shape if a is not None else shape
        r0, c0 = r - s // 2, c - s // 2
        out = np.full((s, s), fill, np.float32)
        rs, cs = max(0, r0), max(0, c0)
        re, ce = min(h, r0 + s), min(w, c0 + s)
        if re > rs and ce > cs:
            out[rs - r0:re - r0, cs - c0:ce - c0] = 1.0 if a is None else a[rs:re, cs:ce]
        return out

    def batch(self, rng: np.random.Generator):
        cfg = self.cfg
        n = cfg.batch_size
        xs = np.empty((n, cfg.crop, cfg.crop), np.float32)
        ys = np.empty_like(xs)
        ms = np.empty_like(xs)
        ws = np.empty(n, np.float32)
        for i in range(n):
            k = int(rng.integers(len(self.pairs)))
            p = self.pairs[k]
            h, w = p.x.shape
            inside = self.inside[k]
            if inside is not None and rng.random() < cfg.fov_bias:
                flat = int(inside[rng.integers(inside.size)])
                r, c = divmod(flat, w)
            else:
                r, c = int(rng.integers(h)), int(rng.integers(w))
            x = self._crop(p.x, r, c, 0.0)
            y = self._crop(p.label, r, c, 0.0)
            m = self._crop(self.fov_f[k], r, c, 0.0, shape=(h, w))
            if cfg.flips and rng.random() < 0.5:
                x, y, m = x[:, ::-1], y[:, ::-1], m[:, ::-1]
            if cfg.flips and rng.random() < 0.5:
                x, y, m = x[::-1], y[::-1], m[::-1]
            if cfg.rotations:
                kk = int(rng.integers(4))
                x, y, m = np.rot90(x, kk), np.rot90(y, kk), np.rot90(m, kk)
            if cfg.intensity_jitter > 0:
                j = cfg.intensity_jitter
                gain, bias = 1 + rng.uniform(-j, j), rng.uniform(-j, j)
                x = (x * gain + bias) * (m > 0)
            if cfg.contrast_jitter > 0 or cfg.blur_sigma > 0 or cfg.noise_sd > 0:
                x = _appearance(x, m > 0, cfg, rng)
            xs[i], ys[i], ms[i], ws[i] = x, y, m, p.weight
        return xs, ys, ms, ws


def _batches(sampler: _CropSampler, seed: int, start: int, stop: int, *, ahead: int = 0):
    """The batches of steps ``start`` .. ``stop - 1`` in order, step ``s``'s drawn from
    ``np.random.default_rng((seed, s))``. With ``ahead > 0`` a background thread draws them and keeps
    up to ``ahead`` ready, so that the host's cropping and augmentation overlap the device's step
    (the same batches either way). Closing the generator stops the thread."""
    if ahead <= 0:
        for step in range(start, stop):
            yield sampler.batch(np.random.default_rng((seed, step)))
        return
    ready: queue.Queue = queue.Queue(maxsize=ahead)
    done = threading.Event()

    def put(item) -> bool:
        while not done.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for step in range(start, stop):
                if not put((None, sampler.batch(np.random.default_rng((seed, step))))):
                    return
        except BaseException as e:  # handed to the training loop, which raises it
            put((e, None))

    worker = threading.Thread(target=produce, name="segmenter-batches", daemon=True)
    worker.start()
    try:
        for _ in range(start, stop):
            error, batch = ready.get()
            if error is not None:
                raise error
            yield batch
    finally:
        done.set()
        worker.join(timeout=10)


def _appearance(x: np.ndarray, inside: np.ndarray, cfg: SegmenterTrainConfig, rng: np.random.Generator):
    """Contrast / blur / noise augmentation of one crop (see ``SegmenterTrainConfig``); draws from
    ``rng`` only for the enabled parts, so a config with them off sees the same batches as before."""
    x = np.ascontiguousarray(x, np.float32)
    if cfg.contrast_jitter > 0:
        c = rng.uniform(1.0 - cfg.contrast_jitter, 1.0 + cfg.contrast_jitter / 2)
        mean = float(x[inside].mean()) if inside.any() else 0.0
        x = mean + (x - mean) * np.float32(c)
    if cfg.blur_sigma > 0 and rng.random() < 0.5:
        from scipy.ndimage import gaussian_filter

        x = gaussian_filter(x, float(rng.uniform(0.0, cfg.blur_sigma)), mode="reflect")
    if cfg.noise_sd > 0 and rng.random() < 0.5:
        x = x + rng.normal(0.0, rng.uniform(0.0, cfg.noise_sd), x.shape).astype(np.float32)
    return (x * inside).astype(np.float32)


def _loss(logits, target, fov, weight, cfg: SegmenterTrainConfig):
    import torch.nn.functional as F

    n = logits.shape[0]
    lg, t, m = logits.reshape(n, -1), target.reshape(n, -1), fov.reshape(n, -1)
    bce = F.binary_cross_entropy_with_logits(lg, t, reduction="none")
    bce = (bce * m).sum(1) / m.sum(1).clamp_min(1.0)
    p = lg.sigmoid() * m
    inter = (p * t).sum(1)
    dice = 1 - (2 * inter + 1.0) / (p.sum(1) + (t * m).sum(1) + 1.0)
    per = cfg.bce_weight * bce + cfg.dice_weight * dice
    return (per * weight).sum() / weight.sum().clamp_min(1e-6)


def _steps(net, opt, cfg: SegmenterTrainConfig, batches, start: int, device, ckpt, ckpt_config):
    """The optimisation steps ``start`` .. ``cfg.steps - 1`` on ``batches``, with checkpoints and events."""
    import torch

    from vessel_studio.device import autocast
    from vessel_studio.models.folder import save_checkpoint

    for step, (xs, ys, ms, ws) in zip(range(start, cfg.steps), batches):
        x = torch.from_numpy(xs[:, None]).to(device)
        y = torch.from_numpy(ys[:, None]).to(device)
        m = torch.from_numpy(ms[:, None]).to(device)
        w = torch.from_numpy(ws).to(device)
        for g in opt.param_groups:
            g["lr"] = cfg.lr_at(step)
        with autocast(device):
            logits = net(x)
        loss = _loss(logits.float(), y, m, w, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        done = step + 1
        value = float(loss.detach())
        # the step's loss before its checkpoint (as the generator trainer does): a consumer that keeps the losses
        # with the checkpoints (adaptation.rounds._StageLosses) has them when the checkpoint exists; the other
        # way round a kill between the two lost the losses of the steps since the checkpoint before
        yield Metric(STAGE, "loss", value, step=done)
        if ckpt is not None and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_checkpoint(ckpt, step=done, config=ckpt_config, modules={"net": net}, optimizer=opt)
        yield Progress(STAGE, done, cfg.steps, message=f"loss {value:.3f}")


def prefetch_default(device, prefetch: bool | None = None) -> bool:
    """``train_segmenter``'s ``prefetch`` resolved: ``None`` -> on for a CUDA device only (measured)."""
    if prefetch is None:
        return str(getattr(device, "type", device)).split(":")[0] == "cuda"
    return bool(prefetch)


def train_segmenter(
    pairs: Sequence[TrainPair],
    cfg: SegmenterTrainConfig | None = None,
    *,
    init=None,
    preprocessing=None,
    checkpoint_dir: str | Path | None = None,
    device=None,
    description: dict | None = None,
    prefetch: bool | None = None,
) -> Job:
    """Train (or, with ``init=Segmenter``, fine-tune) a segmenter; return the ``Segmenter``.

    ``preprocessing`` is stored with the model (defaults to ``init``'s). ``description`` (a JSON
    dict describing the data) goes into the model's ``training`` config. ``prefetch``: draw the next
    two batches in a background thread while the device trains (it changes the speed, not the
    result); ``None`` (the default): on for a CUDA device, off otherwise (``prefetch_default``).
    Measured with ``benchmarks/seg_step_speed.py``: on an H200 (batch 32 x 128^2, the adaptation's
    strong augmentation) a step took 0.58x as long with it (26 vs 46 ms,
    benchmarks/results/segmenter/seg_step_speed-cuda.md); on this project's CPU the same (1.00x,
    seg_step_speed-cpu.md), where a step's compute dwarfs the 17 ms of drawing a batch.
    """
    import torch

    from vessel_studio.device import pick_device
    from vessel_studio.io.atomic import recover_dir
    from vessel_studio.models.folder import CKPT_JSON, load_checkpoint
    from vessel_studio.models.segmenter import Segmenter, SegmenterConfig, build_unet

    cfg = cfg or SegmenterTrainConfig.preset("cpu")
    pairs = [p if isinstance(p, TrainPair) else TrainPair(*p) for p in pairs]
    if not pairs:
        raise ValueError("train_segmenter: no training pairs")
    if sum(p.weight for p in pairs) <= 0:
        raise ValueError("train_segmenter: all pair weights are zero")
    if preprocessing is None:
        if init is None:
            raise ValueError("train_segmenter: pass preprocessing= (or init=) so the model records it")
        preprocessing = init.preprocessing
    device = pick_device(device) if not hasattr(device, "type") else device

    if init is not None:
        arch = init.config
        net = copy.deepcopy(init.net)
    else:
        arch = SegmenterConfig(channels=cfg.channels, blocks_per_level=cfg.blocks_per_level, norm=cfg.norm)
        torch.manual_seed(cfg.seed)
        net = build_unet(arch)
    net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr_at(0), weight_decay=cfg.weight_decay)

    start = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and (recover_dir(ckpt) / CKPT_JSON).is_file():
        meta = load_checkpoint(ckpt, modules={"net": net}, optimizer=opt)
        saved = SegmenterTrainConfig.from_dict(meta["config"].get("train", {}))
        if saved != cfg:
            from vessel_studio.models.folder import ModelFolderError

            a, b = saved.to_dict(), cfg.to_dict()
            diff = ", ".join(f"{k}: checkpoint {a.get(k)!r}, now {b.get(k)!r}" for k in sorted(set(a) | set(b))
                             if a.get(k) != b.get(k))
            raise ModelFolderError(f"{ckpt}: checkpoint was written with a different training config ({diff}); "
                                   "use the same options, or another --checkpoint-dir to start afresh")
        start = int(meta["step"])
        net.to(device).train()

    sampler = _CropSampler(pairs, cfg)
    ckpt_config = {"train": cfg.to_dict(), "architecture": arch.to_dict(), "pairs": len(pairs)}
    ahead = 2 if prefetch_default(device, prefetch) else 0
    batches = _batches(sampler, cfg.seed, start, cfg.steps, ahead=ahead)
    try:
        yield from _steps(net, opt, cfg, batches, start, device, ckpt, ckpt_config)
    finally:
        batches.close()

    net.eval()
    training = {
        "preset": cfg.preset,
        "config": cfg.to_dict(),
        "pairs": len(pairs),
        "fine_tuned_from": getattr(init, "source", None) if init is not None else None,
        **({"data": description} if description else {}),
    }
    return Segmenter(net.to("cpu"), arch, preprocessing, training=training)


def pairs_from_samples(samples, preprocessing, *, soft_labels: bool = True, weight: float = 1.0) -> list[TrainPair]:
    """Read labelled ``Sample``s (``vessel_studio.io.datasets``) and prepare them as ``TrainPair``s.

    When the image is rescaled, the label is resized by area averaging into a soft label (thin
    vessels survive down-sampling) unless ``soft_labels=False`` (nearest neighbour, bool).
    """
    from vessel_studio.io.datasets import load_sample

    out = []
    for s in samples:
        if s.label is None:
            raise ValueError(f"{s.image}: no label found for this image")
        ls = load_sample(s, preprocessing)
        label = ls.label
        if soft_labels and ls.prepared.x.shape != ls.label_original.shape:
            from skimage.transform import resize

            label = resize(ls.label_original.astype(np.float32), ls.prepared.x.shape, order=1,
                           anti_aliasing=ls.prepared.scale < 1, mode="edge", preserve_range=True)
            label = np.clip(label, 0, 1).astype(np.float32)
        out.append(TrainPair(ls.prepared.x, label, ls.prepared.fov, weight=weight, name=str(s.image)))
    return out


#: OCTA-500 test image 10388 is pixel-identical to 10333 (data README): excluded from scoring.
EXCLUDED_FROM_SCORING = frozenset({"10388"})


def evaluate(segmenter, samples, *, threshold: float | None = None, exclude=EXCLUDED_FROM_SCORING):
    """Score ``segmenter`` on labelled ``Sample``s at their original resolution, inside the FOV
    (the file's FOV when given, else the whole image for OCT-A / the estimated disc for fundus).
    Returns a ``MetricAccumulator``."""
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.io.images import read_image, read_mask
    from vessel_studio.metrics import MetricAccumulator

    acc = MetricAccumulator(threshold=segmenter.threshold if threshold is None else threshold)
    for s in samples:
        if s.name in exclude:
            continue
        image, _ = read_image(s.image)
        fov = read_mask(s.fov, shape=image.shape) if s.fov is not None else estimate_fov(
            image, modality=segmenter.preprocessing.modality)
        gt = read_mask(s.label, shape=image.shape)
        pred = segmenter.predict(image, fov=fov)
        acc.add(s.name, pred.prob, gt, fov)
    return acc


def refuse_blank(image: np.ndarray, name) -> None:
    """A ValueError naming ``name`` when every pixel of ``image`` equals the first (one colour for RGB): the
    BatchNorm statistics re-estimated from it would be a constant's (session 33). ``renormalize`` and the
    ``renormalize`` command both check each image with it."""
    if image.ndim < 2:  # not an image: the shape checks after it name that
        return
    pixels = image.reshape(image.shape[0] * image.shape[1], -1)
    if len(pixels) and (pixels == pixels[0]).all():
        raise ValueError(f"{name}: every pixel has the value {pixels[0].tolist()}: a blank image has no statistics "
                         "to re-estimate from; leave it out")


def renormalize(segmenter, images, fovs=None, *, crop: int = 64, batch_size: int = 8,
                batches: int = NORM_BATCHES, seed: int = 0):
    """AdaBN from images as ``read_image`` returns them (H×W gray or H×W×3 RGB, any dtype): each is
    prepared as ``vessel-studio renormalize`` prepares it (``fovs[i]``, else the FOV estimated for the
    model's modality; ``prepare`` with ``segmenter.preprocessing``, so call ``use_modality`` first for
    images of another modality), then :func:`reestimate_norm_statistics` runs on the prepared arrays
    with the same defaults as the command. Returns ``segmenter``, changed in place; its ``training``
    record gains ``batchnorm_statistics`` (what ``save`` writes into ``config.json``). A
    ``ValueError`` before any work when an image is smaller than ``crop`` as the model sees it."""
    from vessel_studio.adaptation.crops import check_crop_fits
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.preprocess import prepare

    if isinstance(images, np.ndarray) and (images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (3, 4))):
        # one image, not a list: its rows were taken for images (session 33 API QA); a stack N x H x W goes on
        raise ValueError(f"renormalize: images is one image of shape {images.shape}; give a list of images ([image] "
                         "for one) (nothing was changed)")
    images = list(images)
    fovs = [None] * len(images) if fovs is None else list(fovs)
    if len(fovs) != len(images):
        raise ValueError(f"renormalize: {len(images)} images but {len(fovs)} FOVs")
    prep = segmenter.preprocessing
    xs, prepared_fovs = [], []
    for i, (image, fov) in enumerate(zip(images, fovs)):
        if isinstance(image, (str, os.PathLike)):  # a path said "estimate_fov: ... got shape ()" (session 33 API QA)
            raise ValueError(f"renormalize: image {i} is the path {str(image)!r}; give the images as arrays, as "
                             "read_image returns them (vs.read_image(path)[0]) (nothing was changed)")
        image = np.asarray(image)
        refuse_blank(image, f"renormalize: image {i}")
        try:
            fov = estimate_fov(image, modality=prep.modality) if fov is None else np.asarray(fov, bool)
            p = prepare(image, fov=fov, prep=prep)
        except ValueError as exc:  # which of the images
            raise ValueError(f"renormalize: image {i}: {exc} (nothing was changed)") from exc
        xs.append(p.x)
        prepared_fovs.append(p.fov)
    if xs:
        check_crop_fits(int(crop), xs, [f"image {i}" for i in range(len(xs))], option="crop", prep=prep, role="",
                        unchanged="nothing was changed")
    reestimate_norm_statistics(segmenter, xs, prepared_fovs, crop=crop, batch_size=batch_size, batches=batches,
                               seed=seed)
    segmenter.training = {**(segmenter.training or {}), "batchnorm_statistics": {
        "base_model": str(segmenter.source), "image_count": len(xs), "modality": prep.modality,
        "batches": int(batches), "crop": int(crop), "batch_size": int(batch_size), "seed": int(seed),
        "method": "AdaBN: running means and variances re-estimated on crops of the images; weights unchanged"}}
    return segmenter


def reestimate_norm_statistics(segmenter, images, fovs=None, *, crop: int = 64, batch_size: int = 8,
                               batches: int = NORM_BATCHES, seed: int = 0, flips: bool = True,
                               rotations: bool = True):
    """Re-estimate ``segmenter``'s BatchNorm running means and variances on unlabelled images
    (AdaBN, Li et al. 2016; after a weight interpolation, REPAIR's re-normalisation): each
    BatchNorm's statistics are reset and replaced by their cumulative average over ``batches``
    batches of ``batch_size`` crops of ``crop`` px, drawn by the training's crop sampler (FOV-biased,
    with its flips and rotations) from ``images`` (prepared H×W float32, as ``prepare`` makes them;
    ``fovs``: their bool FOVs or None). No gradient; weights are not touched; reads no label.

    Returns ``segmenter`` itself, changed in place, in eval mode. A segmenter without BatchNorm
    (GroupNorm) is returned unchanged. Deterministic for a given ``seed``. The same work as a
    generator of ``Progress`` events: :func:`reestimate_norm_statistics_job`.
    """
    from vessel_studio.events import run

    return run(reestimate_norm_statistics_job(segmenter, images, fovs, crop=crop, batch_size=batch_size,
                                              batches=batches, seed=seed, flips=flips, rotations=rotations))


def reestimate_norm_statistics_job(segmenter, images, fovs=None, *, crop: int = 64, batch_size: int = 8,
                                   batches: int = NORM_BATCHES, seed: int = 0, flips: bool = True,
                                   rotations: bool = True):
    """:func:`reestimate_norm_statistics` as a job: yields ``Progress("renormalize", b, batches)``
    (cancel by closing it between batches: the segmenter's old statistics are then put back) and
    returns the segmenter."""
    import torch

    net = segmenter.net
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return segmenter
    images = [np.asarray(x) for x in images]
    for i, x in enumerate(images):  # a raw image would give the statistics of 0..255 pixels, silently
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"reestimate_norm_statistics: image {i} is {x.dtype} of shape {x.shape}, not a "
                             "prepared float H×W array (prepare(image, fov=..., prep=segmenter.preprocessing).x); "
                             "for images as read_image returns them use train.segmenter.renormalize")
    images = [x.astype(np.float32, copy=False) for x in images]
    if not images:
        raise ValueError("reestimate_norm_statistics: no images to estimate the statistics on")
    fovs = [None] * len(images) if fovs is None else list(fovs)
    if len(fovs) != len(images):
        raise ValueError(f"reestimate_norm_statistics: {len(images)} images but {len(fovs)} FOVs")
    if int(batches) < 1:
        raise ValueError(f"reestimate_norm_statistics: batches must be >= 1, got {batches}")
    pairs = [TrainPair(x, np.zeros(x.shape, np.float32), None if f is None else np.asarray(f, bool),
                       name=f"image {i}") for i, (x, f) in enumerate(zip(images, fovs))]
    cfg = SegmenterTrainConfig(crop=int(crop), batch_size=int(batch_size), flips=flips, rotations=rotations,
                               intensity_jitter=0.0)
    sampler = _CropSampler(pairs, cfg)
    saved = [(m.momentum, {k: v.clone() for k, v in m.state_dict().items()}) for m in norms]
    device = next(net.parameters()).device
    was_training = net.training
    finished = False
    net.eval()
    # one memory format whatever ran before (a prediction leaves the net channels-last, whose
    # convolutions round differently): the statistics depend only on the images and the settings
    net.to(memory_format=torch.contiguous_format)
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average over the batches
            m.train()
        for b in range(int(batches)):
            xs, _, _, _ = sampler.batch(np.random.default_rng((int(seed), b)))
            with torch.no_grad():
                net(torch.from_numpy(np.ascontiguousarray(xs)[:, None]).to(device))
            yield Progress("renormalize", b + 1, int(batches), "BatchNorm statistics from the images")
        finished = True
    finally:
        for m, (momentum, state) in zip(norms, saved):
            m.momentum = momentum
            if not finished:  # cancelled or failed: the old statistics back
                m.load_state_dict(state)
        net.train(was_training)
    net.eval()
    return segmenter
