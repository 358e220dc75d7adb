"""Random crops inside the field of view, reproducible from a seed.

Two faces over the same idea:

- :func:`sample_crops` (NumPy): ``count`` crops of ``size``×``size`` whose centres lie inside the
  FOV, optionally with at least ``vessel_min`` of their pixels labelled vessel; used by
  ``translate`` and the benchmarks.
- :class:`CropSampler` (torch): the training data pipeline. Images, masks and the list of valid
  crop origins live on the training device; a batch is cut by tensor indexing (one gather), not a
  Python loop per crop, so a GPU is not starved. Each batch is drawn from a CPU ``torch.Generator``
  seeded by ``(seed, step)``, so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


def _as_list(arrays, name: str) -> list[np.ndarray]:
    if arrays is None:
        return []
    if isinstance(arrays, np.ndarray) and arrays.ndim == 2:
        arrays = [arrays]
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.ndim != 2:
            raise ValueError(f"{name}[{i}]: expected a 2-D H×W array, got shape {a.shape}")
        out.append(a)
    return out


def check_inputs(images, masks=None, fovs=None):
    """Validate and normalise ``images`` (list of H×W float), ``masks`` and ``fovs`` (lists or None)."""
    imgs = [a.astype(np.float32, copy=False) for a in _as_list(images, "images")]
    if not imgs:
        raise ValueError("no images given")
    ms = _as_list(masks, "masks") if masks is not None else None
    fs = _as_list(fovs, "fovs") if fovs is not None else None
    for name, other in (("masks", ms), ("fovs", fs)):
        if other is None:
            continue
        if len(other) != len(imgs):
            raise ValueError(f"{len(imgs)} images but {len(other)} {name}")
        for i, (a, b) in enumerate(zip(imgs, other)):
            if a.shape != b.shape:
                raise ValueError(f"{name}[{i}] has shape {b.shape} but image {i} has shape {a.shape}")
    if ms is not None:
        ms = [m.astype(np.float32) for m in ms]
        for i, m in enumerate(ms):
            if np.nanmin(m) < 0 or np.nanmax(m) > 1:
                raise ValueError(f"masks[{i}] has values outside [0, 1]")
    if fs is not None:
        fs = [f.astype(bool) for f in fs]
    return imgs, ms, fs


def _pad_to(a: np.ndarray, size: int, value=0) -> np.ndarray:
    h, w = a.shape
    if h >= size and w >= size:
        return a
    return np.pad(a, ((0, max(0, size - h)), (0, max(0, size - w))), constant_values=value)


def valid_origins(fov: np.ndarray, size: int) -> np.ndarray:
    """Flat indices ``y * W + x`` of crop origins whose crop centre lies inside ``fov``."""
    h, w = fov.shape
    c = size // 2
    sub = fov[c:h - size + c + 1, c:w - size + c + 1]
    ys, xs = np.nonzero(sub)
    if ys.size == 0:  # FOV too small or empty: allow every origin
        ys, xs = np.mgrid[0:h - size + 1, 0:w - size + 1].reshape(2, -1)
    return (ys * w + xs).astype(np.int64)


def sample_crops(images, masks=None, fovs=None, *, size: int, count: int, seed: int = 0,
                 vessel_min: float = 0.0, max_tries: int = 50):
    """``count`` random ``size``×``size`` crops with centres inside the FOV.

    Returns ``(image_crops, mask_crops, origins)``: float32 count×size×size arrays (masks None
    when not given) and an int array of (image index, y, x). Images smaller than ``size`` are
    zero-padded. With ``vessel_min > 0`` (needs masks) a crop is redrawn up to ``max_tries`` times
    until at least that fraction of its pixels is vessel.
    """
    imgs, ms, fs = check_inputs(images, masks, fovs)
    if vessel_min > 0 and ms is None:
        raise ValueError("vessel_min needs masks")
    if not 0 <= vessel_min < 1:
        raise ValueError(f"vessel_min is a fraction of a crop's pixels in [0, 1), got {vessel_min}")
    if int(count) < 1 or int(size) < 1:
        raise ValueError(f"count and size must be >= 1, got count={count}, size={size}")
    rng = np.random.default_rng(seed)
    imgs = [_pad_to(a, size) for a in imgs]
    ms = [_pad_to(m, size) for m in ms] if ms is not None else None
    fs = [_pad_to(f, size, False) for f in fs] if fs is not None else [np.ones(a.shape, bool) for a in imgs]
    origins = [valid_origins(f, size) for f in fs]
    out_i = np.empty((count, size, size), np.float32)
    out_m = np.empty((count, size, size), np.float32) if ms is not None else None
    where = np.empty((count, 3), np.int64)
    for k in range(count):
        for _ in range(max_tries):
            i = int(rng.integers(len(imgs)))
            o = int(origins[i][rng.integers(origins[i].size)])
            y, x = divmod(o, imgs[i].shape[1])
            if vessel_min <= 0 or np.nanmean(ms[i][y:y + size, x:x + size]) >= vessel_min:
                break
        out_i[k] = imgs[i][y:y + size, x:x + size]
        if out_m is not None:
            out_m[k] = ms[i][y:y + size, x:x + size]
        where[k] = (i, y, x)
    return out_i, out_m, where


def step_generator(seed: int, step: int):
    """A CPU ``torch.Generator`` determined by ``(seed, step)`` only (resume-safe randomness)."""
    import torch

    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + int(step) * 7919 + 12345) % (2**63 - 1))
    return g


@dataclass
class CropBatch:
    images: "object"  # N×1×S×S tensor
    masks: "object | None"  # N×1×S×S tensor or None


class CropSampler:
    """Cut random FOV crops on the device by tensor indexing (see the module docstring)."""

    def __init__(self, images: Sequence[np.ndarray], masks=None, fovs=None, *, size: int, device="cpu",
                 augment: bool = True):
        import torch

        imgs, ms, fs = check_inputs(images, masks, fovs)
        self.size = int(size)
        self.augment = augment
        imgs = [_pad_to(a, size) for a in imgs]
        ms = [_pad_to(m, size) for m in ms] if ms is not None else None
        fs = [_pad_to(f, size, False) for f in fs] if fs is not None else [np.ones(a.shape, bool) for a in imgs]
        H = max(a.shape[0] for a in imgs)
        W = max(a.shape[1] for a in imgs)
        self.width = W
        stack = np.zeros((len(imgs), H, W), np.float32)
        mstack = np.zeros((len(imgs), H, W), np.float32) if ms is not None else None
        origins, owner = [], []
        for i, a in enumerate(imgs):
            h, w = a.shape
            stack[i, :h, :w] = a
            if mstack is not None:
                mstack[i, :h, :w] = np.nan_to_num(ms[i], nan=0.0)
            o = valid_origins(fs[i], size)
            y, x = np.divmod(o, w)
            origins.append(i * H * W + y * W + x)  # flat index into the stacked tensor
            owner.append(np.full(o.size, i))
        # each image equally likely, whatever its FOV size: weight origins by 1 / count
        counts = np.array([o.size for o in origins], np.float64)
        weights = np.concatenate([np.full(o.size, 1.0 / c) for o, c in zip(origins, counts)])
        self.device = torch.device(device)
        self.flat = torch.from_numpy(stack).reshape(-1).to(self.device)
        self.mflat = torch.from_numpy(mstack).reshape(-1).to(self.device) if mstack is not None else None
        self.origins = torch.from_numpy(np.concatenate(origins)).to(self.device)
        self.cdf = torch.from_numpy(np.cumsum(weights / weights.sum())).to(torch.float64)
        dy, dx = np.mgrid[0:size, 0:size]
        self.offsets = torch.from_numpy((dy * W + dx).reshape(-1)).to(self.device)
        self.n_images = len(imgs)

    def sample(self, count: int, generator) -> CropBatch:
        """``count`` crops (N×1×S×S tensors on the device) drawn with the CPU ``generator``."""
        import torch

        u = torch.rand(count, generator=generator, dtype=torch.float64)
        pick = torch.searchsorted(self.cdf, u).clamp_max(self.cdf.numel() - 1).to(self.device)
        idx = self.origins[pick][:, None] + self.offsets[None, :]
        s = self.size
        img = self.flat[idx].reshape(count, 1, s, s)
        msk = self.mflat[idx].reshape(count, 1, s, s) if self.mflat is not None else None
        if self.augment:
            k = torch.randint(0, 8, (count,), generator=generator)
            img = augment8(img, k)
            msk = augment8(msk, k) if msk is not None else None
        return CropBatch(img, msk)


def augment8(x, k):
    """Apply one of the 8 flips/90° rotations per sample (``k`` in 0..7, a CPU tensor)."""
    import torch

    out = x.clone()
    for code in range(1, 8):
        sel = (k == code).nonzero().flatten()
        if sel.numel() == 0:
            continue
        sel = sel.to(x.device)
        y = x[sel]
        if code & 4:
            y = torch.flip(y, dims=(-1,))
        y = torch.rot90(y, code & 3, dims=(-2, -1))
        out[sel] = y
    return out


# --- folders of files -> generator inputs -----------------------------------------------------


@dataclass
class FolderData:
    names: list
    images: list  # unit-range float32 H×W at the model's scale
    masks: list | None  # float32 {0, 1} H×W (same scale) or None
    fovs: list  # bool H×W
    files: list = field(default_factory=list)  # the image files (str), in the same order


def _check_mask_file(path) -> None:
    """Reject a file that is clearly an image, not a mask (colour content, or non-zero everywhere)."""
    from vessel_studio.io import read_image

    arr, _ = read_image(path)
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[-1] >= 3:
        c = a[..., :3].astype(np.int64)
        if (c[..., 0] != c[..., 1]).mean() > 0.01 or (c[..., 1] != c[..., 2]).mean() > 0.01:
            raise ValueError(f"{path}: this is a colour image, not a vessel mask")
        a = a[..., 0]
    if a.ndim == 2 and (a > 0).all():
        raise ValueError(f"{path}: mask is non-zero everywhere; is this an image rather than a vessel mask?")


def load_folder(images, masks=None, fovs=None, *, prep, require_masks: bool = False) -> FolderData:
    """Read a folder of images (and partner masks / FOV masks, paired by stem) as generator inputs.

    Images are prepared with ``prep`` (gray, polarity, rescale, standardise in the FOV) and mapped
    to [-1, 1] with ``to_unit``; masks come back at the same scale. Errors name the offending file.
    """
    from pathlib import Path

    from vessel_studio.io import discover, load_sample
    from vessel_studio.preprocess import to_unit

    folder = Path(images)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    if masks is not None and not Path(masks).is_dir():
        raise ValueError(f"{masks}: no such mask folder")
    samples = discover(folder, labels=masks, fovs=fovs, require_labels=masks is not None or require_masks)
    if not samples:
        raise ValueError(f"{folder}: no images found")
    out = FolderData([], [], [] if masks is not None else None, [])
    for s in samples:
        if s.label is not None:
            _check_mask_file(s.label)
        ls = load_sample(s, prep)
        out.names.append(s.name)
        out.files.append(str(s.image))
        out.images.append(to_unit(ls.prepared.x))
        out.fovs.append(np.asarray(ls.prepared.fov, bool))
        if out.masks is not None:
            out.masks.append(np.asarray(ls.label, np.float32))
    return out


def check_crop_fits(crop: int, images, files, *, option: str | None, prep=None, preset: str | None = None,
                    role: str = "training", unchanged: str = "nothing was trained", crop_text: str | None = None,
                    remedy: str | None = None) -> None:
    """Crops of ``crop`` px must fit inside every image as the model sees it (``images``: the
    prepared H×W arrays, ``files`` their files); the crop samplers zero-pad a smaller image, so a
    larger crop would train (re-normalise, translate, check) mostly on padding. A ``ValueError`` names
    the smallest image (file and size) and the crop, before any work. ``preset``: the crop is that
    preset's (the option was not given); ``role``: what the images are ("training", "source", "" ...);
    ``unchanged``: what the error says was left undone. Where no option sets the crop (the GUI's
    re-normalisation), ``crop_text`` names the crop and ``remedy`` says what to do instead of
    "choose OPTION of at most N"."""
    side, shape, name = min(((min(a.shape[:2]), a.shape[:2], f) for a, f in zip(images, files)), key=lambda t: t[0])
    if crop <= side:
        return
    size = f"{shape[0]}×{shape[1]} px"
    if prep is not None and getattr(prep, "fov_diameter", None):
        size += f" after rescaling to a FOV diameter of {prep.fov_diameter:g} px"
    what = crop_text or (f"{option} {crop}" if preset is None else f"the {preset} preset's crop of {crop} px")
    image = f"{role} image" if role else "image"
    remedy = remedy or f"choose {option} of at most {side}"
    raise ValueError(f"{name}: the smallest {image} is {size}, smaller than {what}; crops would be mostly "
                     f"padding, so {remedy} ({unchanged})")
