"""Preprocessing as a declared step, saved with every model and applied identically at inference.

``prepare(image, fov=..., prep=...)`` does, in this order:

1. **gray**: RGB(A) -> the green channel (``channel="green"``, the usual choice for fundus: best
   vessel contrast) or luma (``channel="luma"``, ITU-R 601 weights); gray passes through;
2. **range**: any dtype converted once to float32: integers by the dtype's range (uint8 / 255,
   uint16 / 65535, bool 0/1), floats as they are;
3. **polarity**: ``invert=True`` negates intensities so that fundus vessels (dark) become bright
   as in OCT-A (the paper negates fundus intensities; after step 5 ``-x`` and ``1 - x`` are the same);
4. **resolution**: the image is rescaled so that its FOV diameter equals ``fov_diameter`` pixels
   (or, when both ``pixel_spacing_mm`` and the image's spacing are known, so that its spacing
   equals the declared one); bilinear with anti-aliasing when shrinking; the FOV is resized by
   nearest neighbour. Factors within ``RESCALE_TOLERANCE`` (2 %) of 1 are not applied: a
   resampling blur costs more than a 2 % change of vessel calibre. ``Prepared.scale`` records
   the factor applied and ``restore`` maps results back;
5. **normalisation** inside the FOV: zero mean, unit standard deviation; 0 outside the FOV.

``to_unit`` / ``from_unit`` map standardised values to and from the [-1, 1] range that
diffusion models work in (``clip(x / 3, -1, 1)``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "Preprocessing",
    "Prepared",
    "prepare",
    "restore",
    "to_gray",
    "to_float",
    "resize_mask",
    "to_unit",
    "from_unit",
    "UNIT_SCALE",
    "RESCALE_TOLERANCE",
    "DEFAULT_FUNDUS_FOV_DIAMETER",
]

#: Standardised intensities are divided by this before clipping to [-1, 1] (3 standard deviations).
UNIT_SCALE = 3.0
#: FOV diameter (px) that fundus models work at: DRIVE's native scale (its FOV is ~535-540 px).
DEFAULT_FUNDUS_FOV_DIAMETER = 540.0
#: Rescale factors within this fraction of 1 are not applied (scale stays 1.0).
RESCALE_TOLERANCE = 0.02
#: ``prepare`` refuses to ENLARGE an image beyond this many pixels (8192 x 8192): a FOV mask a few pixels
#: across asks a fundus model (FOV diameter 540 px) for a ~100-fold enlargement (session 33 API QA: a 1-pixel
#: FOV in a 64 x 64 image, a 34560 x 34560 image: 19 GB and still rescaling after 10 minutes). An image
#: kept at its size or shrunk is never refused.
MAX_ENLARGED_PIXELS = 8192 * 8192
_STD_FLOOR = 1e-6


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What is done to an image before a model sees it. Saved in every model's config."""

    modality: str = "fundus"  # "fundus" | "octa"
    channel: str = "green"  # "green" | "luma" (RGB input only)
    invert: bool = True  # negate intensities (fundus: vessels become bright)
    fov_diameter: float | None = DEFAULT_FUNDUS_FOV_DIAMETER  # px after rescaling; None = native
    pixel_spacing_mm: float | None = None  # target spacing, used when the image declares its own

    def __post_init__(self):
        if self.modality not in ("fundus", "octa"):
            raise ValueError(f"Preprocessing: unknown modality {self.modality!r} (fundus, octa)")
        if self.channel not in ("green", "luma"):
            raise ValueError(f"Preprocessing: unknown channel {self.channel!r} (green, luma)")
        if self.fov_diameter is not None and not (self.fov_diameter > 0):
            raise ValueError(f"Preprocessing: fov_diameter must be positive or None, got {self.fov_diameter}")
        if self.pixel_spacing_mm is not None and not (self.pixel_spacing_mm > 0):
            raise ValueError(f"Preprocessing: pixel_spacing_mm must be positive or None, got {self.pixel_spacing_mm}")

    @classmethod
    def for_modality(cls, modality: str, **overrides: Any) -> "Preprocessing":
        """Defaults: fundus = green, inverted, FOV rescaled to 540 px; octa = as is, native scale."""
        if modality == "fundus":
            base = dict(modality="fundus", channel="green", invert=True, fov_diameter=DEFAULT_FUNDUS_FOV_DIAMETER)
        elif modality == "octa":
            base = dict(modality="octa", channel="luma", invert=False, fov_diameter=None)
        else:
            raise ValueError(f"Preprocessing.for_modality: unknown modality {modality!r} (fundus, octa)")
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Preprocessing.from_dict: unknown keys {sorted(unknown)}")
        return cls(**d)


@dataclasses.dataclass(frozen=True, eq=False)
class Prepared:
    """A prepared image: ``x`` float32 H'xW' standardised inside ``fov`` (bool H'xW')."""

    x: np.ndarray
    fov: np.ndarray
    scale: float  # H'/H (model pixels per original pixel)
    original_shape: tuple[int, int]
    mean: float = 0.0  # of the [0,1] (possibly negated) intensities inside the FOV, before standardising
    std: float = 1.0
    prep: Preprocessing | None = None


def narrow_wide_integers(a: np.ndarray) -> np.ndarray:
    """32/64-bit integer pixels in the 16-bit type that holds their values (other arrays as they are): by their
    own dtype's range every value of an 8-bit image lands within float32's rounding of one number (session 32 QA:
    an int32 scan segmented as an empty mask; session 33: an int64 array). Values beyond 16 bits raise
    ``ValueError``. ``to_float`` and ``vessel_studio.io.read_image`` both read such pixels through it."""
    if a.dtype.kind not in "ui" or a.dtype.itemsize < 4 or not a.size:
        return a
    lo, hi = int(a.min()), int(a.max())
    if 0 <= lo and hi <= 65535:
        return a.astype(np.uint16)
    if -32768 <= lo and hi <= 32767:
        return a.astype(np.int16)
    raise ValueError(f"{a.dtype} pixels from {lo} to {hi}, beyond 16 bits (integers are read at up to 16 bits)")


def to_float(image: np.ndarray) -> np.ndarray:
    """float32 copy: integers by their dtype's range (uint8/255, uint16/65535), bool 0/1, floats as is.

    32/64-bit integers (``np.array`` of Python ints is int64) by the range of the 16-bit type that holds
    their values (:func:`narrow_wide_integers`)."""
    a = np.asarray(image)
    if a.dtype == bool:
        return a.astype(np.float32)
    try:
        a = narrow_wide_integers(a)
    except ValueError as exc:
        raise ValueError(f"{exc}; convert the image to 16-bit integers or to float32") from None
    if a.dtype.kind in "ui":
        info = np.iinfo(a.dtype)
        if info.min == 0:
            return a.astype(np.float32) / np.float32(info.max)
        return (a.astype(np.float32) - np.float32(info.min)) / np.float32(float(info.max) - float(info.min))
    if a.dtype.kind == "f":
        return a.astype(np.float32, copy=True)
    raise ValueError(f"unsupported pixel type {a.dtype}")


def to_gray(image: np.ndarray, channel: str = "green") -> np.ndarray:
    """H x W (passes through) or H x W x 3/4 -> H x W float32 in the dtype's [0, 1] range."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return to_float(a)
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise ValueError(f"expected an H x W or H x W x 3 image, got shape {a.shape}")
    if channel == "green":
        return to_float(a[..., 1])
    if channel == "luma":
        f = to_float(a[..., :3])
        return (0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]).astype(np.float32)
    raise ValueError(f"unknown channel {channel!r} (green, luma)")


def _resize(a: np.ndarray, shape: tuple[int, int], *, order: int) -> np.ndarray:
    from skimage.transform import resize

    if tuple(a.shape[:2]) == tuple(shape):
        return a.copy()
    shrink = shape[0] < a.shape[0] or shape[1] < a.shape[1]
    return resize(
        a, shape, order=order, mode="edge", anti_aliasing=bool(shrink and order > 0), preserve_range=True
    )


def resize_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``shape[:2]``."""
    m = np.asarray(mask, dtype=bool)
    shape = (int(shape[0]), int(shape[1]))
    if m.shape == shape:
        return m.copy()
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * m.shape[0] / shape[0]).astype(int), m.shape[0] - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * m.shape[1] / shape[1]).astype(int), m.shape[1] - 1)
    return m[rows[:, None], cols[None, :]]


def _by_spacing(prep: Preprocessing, spacing_mm: float | None) -> bool:
    """The image is scaled by its pixel spacing (else by its FOV's diameter)."""
    return prep.pixel_spacing_mm is not None and spacing_mm is not None and spacing_mm > 0


def _scale_for(fov: np.ndarray, prep: Preprocessing, spacing_mm: float | None) -> float:
    if _by_spacing(prep, spacing_mm):
        return float(spacing_mm) / float(prep.pixel_spacing_mm)
    if prep.fov_diameter is not None:
        from vessel_studio.io.fov import fov_diameter

        return float(prep.fov_diameter) / fov_diameter(fov)
    return 1.0


def prepare(
    image: np.ndarray,
    *,
    fov: np.ndarray | None = None,
    prep: Preprocessing,
    spacing_mm: float | None = None,
) -> Prepared:
    """Apply ``prep`` to ``image`` (H x W or H x W x 3, any dtype); see the module docstring.

    ``fov``: bool H x W; None estimates it (``estimate_fov``: fundus disc, OCT-A whole image).
    ``spacing_mm``: the image's pixel spacing when known (used only if ``prep.pixel_spacing_mm``).
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:  # H x W x 1 gray: what to_gray takes; the FOV estimate refused it
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        # a channels-first array (3 x H x W) was taken for a 3-row image: "FOV mask is (H, W) but the image is
        # (3, H)" with a FOV given, an estimate_fov error without (session 34 formats QA)
        first = (" (channels first? np.moveaxis(image, 0, -1) puts them last)"
                 if a.ndim == 3 and a.shape[0] in (1, 3, 4) else "")
        raise ValueError(f"prepare: expected an H x W or H x W x 3 image, got shape {a.shape}{first}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError("prepare: image contains NaN or infinite values")
    h, w = a.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"prepare: the image is empty ({h}x{w} pixels)")
    if fov is None:
        from vessel_studio.io.fov import estimate_fov

        fov = estimate_fov(a, modality=prep.modality)
    fov = np.asarray(fov, dtype=bool)
    if fov.shape != (h, w):
        raise ValueError(f"prepare: FOV mask is {fov.shape} but the image is {(h, w)}")
    if not fov.any():
        raise ValueError("prepare: the FOV mask is empty")
    g = to_gray(a, prep.channel)
    if prep.invert:
        g = -g
    scale = _scale_for(fov, prep, spacing_mm)
    if abs(scale - 1.0) <= RESCALE_TOLERANCE:
        scale = 1.0
    new_shape = (max(1, int(round(h * scale))), max(1, int(round(w * scale))))
    if new_shape[0] * new_shape[1] > max(h * w, MAX_ENLARGED_PIXELS):
        from vessel_studio.io.fov import fov_diameter

        by_spacing = _by_spacing(prep, spacing_mm)
        why = (f"its pixel spacing is {spacing_mm:g} mm and the model's {prep.pixel_spacing_mm:g} mm" if by_spacing
               else f"its FOV mask is {fov_diameter(fov):.0f} px across and the model works at a FOV of "
                    f"{prep.fov_diameter:g} px")
        raise ValueError(f"prepare: {why}: the {h}x{w} image would be enlarged {scale:.3g}-fold to "
                         f"{new_shape[0]}x{new_shape[1]} pixels (at most {MAX_ENLARGED_PIXELS:,} by enlarging); "
                         + ("is the image's pixel spacing right?" if by_spacing
                            else "is the FOV mask the image's field of view?"))
    if new_shape != (h, w):
        g = _resize(g, new_shape, order=1).astype(np.float32)
        fov_s = resize_mask(fov, new_shape)
        if not fov_s.any():
            raise ValueError(f"prepare: the FOV vanished when rescaling {(h, w)} -> {new_shape}")
    else:
        scale = 1.0
        fov_s = fov
    vals = g[fov_s]
    mean = float(vals.mean())
    std = float(vals.std())
    x = (g - mean) / max(std, _STD_FLOOR)
    x[~fov_s] = 0.0
    return Prepared(
        x=x.astype(np.float32, copy=False),
        fov=fov_s,
        scale=float(new_shape[0] / h) if new_shape != (h, w) else 1.0,
        original_shape=(h, w),
        mean=mean,
        std=std,
        prep=prep,
    )


def restore(array: np.ndarray, prepared: Prepared) -> np.ndarray:
    """Map a model-scale H'xW' array (probabilities, logits ...) back to the original H x W.

    Float arrays are resized bilinearly (the caller thresholds afterwards); bool masks by
    nearest neighbour. Returns float32 (or bool for bool input).
    """
    a = np.asarray(array)
    want = tuple(prepared.x.shape)
    if a.shape != want:
        raise ValueError(f"restore: expected an array of the prepared shape {want}, got {a.shape}")
    target = tuple(prepared.original_shape)
    if a.dtype == bool:
        return resize_mask(a, target)
    out = _resize(a.astype(np.float32), target, order=1).astype(np.float32)
    return out


def to_unit(x: np.ndarray) -> np.ndarray:
    """Standardised intensities -> [-1, 1]: ``clip(x / 3, -1, 1)`` (float32)."""
    return np.clip(np.asarray(x, dtype=np.float32) / np.float32(UNIT_SCALE), -1.0, 1.0)


def from_unit(u: np.ndarray) -> np.ndarray:
    """[-1, 1] -> standardised intensities (inverse of :func:`to_unit` inside its range)."""
    return np.asarray(u, dtype=np.float32) * np.float32(UNIT_SCALE)
