"""Vessel measures that retina labs report, from a binary vessel mask.

- **density**: vessel pixels / field-of-view pixels (unitless);
- **skeleton length** and **length density** (skeleton length per FOV area);
- **calibre**: twice the Euclidean distance to the background, read on the skeleton (the local
  vessel diameter), as mean and median over skeleton pixels;
- **tortuosity**: arc length / chord length of each unbranched skeleton segment (branch points
  removed), averaged with arc-length weights over segments at least ``min_segment`` px long.

With ``spacing_mm`` (row, col mm per pixel, or one number) lengths come in mm and calibres in µm.
No Qt, no torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["VesselMeasures", "measure_vessels", "vessel_density", "skeleton_segments", "skeleton_length",
           "MIN_OBJECT", "speck_size", "small_pieces", "remove_small_pieces", "piece_at"]


@dataclass(frozen=True)
class VesselMeasures:
    """Per-image measures; ``*_mm`` / ``*_um`` fields are None without a pixel spacing."""

    density: float
    skeleton_length_px: float
    length_density_per_px: float
    calibre_mean_px: float
    calibre_median_px: float
    tortuosity: float
    n_segments: int
    n_branch_points: int
    spacing_mm: float | None = None
    skeleton_length_mm: float | None = None
    length_density_per_mm: float | None = None
    calibre_mean_um: float | None = None
    calibre_median_um: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _as_mask(mask: np.ndarray, what: str = "mask") -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array, got shape {mask.shape}")
    return mask > 0 if mask.dtype != bool else mask


def _spacing(spacing_mm) -> float | None:
    if spacing_mm is None:
        return None
    vals = np.atleast_1d(np.asarray(spacing_mm, dtype=float))
    if vals.size not in (1, 2) or not np.all(np.isfinite(vals)) or np.any(vals <= 0):
        raise ValueError(f"spacing_mm must be one or two positive numbers, got {spacing_mm!r}")
    return float(vals.mean())


def vessel_density(mask: np.ndarray, *, fov: np.ndarray | None = None) -> float:
    """Fraction of the field of view (whole image when ``fov`` is None) covered by vessels."""
    mask = _as_mask(mask)
    if fov is None:
        return float(mask.mean())
    fov = _as_mask(fov, "fov")
    if fov.shape != mask.shape:
        raise ValueError(f"fov shape {fov.shape} does not match mask shape {mask.shape}")
    n = int(fov.sum())
    return float((mask & fov).sum() / n) if n else 0.0


#: a vessel mask's pieces are 8-connected (a one-pixel vessel running diagonally is one piece):
#: the fragmentation signal (``adaptation.selection``), the pieces a reviewer removes (the Review
#: panel's "Erase piece" and "Remove specks") and the skeleton measures here count them so
EIGHT = np.ones((3, 3), bool)
#: pieces smaller than this (px) are specks: left out of the fragmentation count
#: (``adaptation.selection.fragment_counts``, on maps at the benchmark images' own size) and, scaled
#: to the image (:func:`speck_size`), the default of the Review panel's "Remove specks"
MIN_OBJECT = 10
#: the field of view (px across) at which :data:`MIN_OBJECT` is counted: DRIVE's (~540 px), the scale
#: the bundled fundus segmenter works at (its ``fov_diameter``)
SPECK_REFERENCE_SIDE = 540


def speck_size(shape) -> int:
    """:data:`MIN_OBJECT` at the scale of an image of ``shape`` (rows, cols[, ...]): scaled by area
    from a :data:`SPECK_REFERENCE_SIDE`-px side to the image's shorter side, never below
    :data:`MIN_OBJECT` (11 px at DRIVE's 565x584, 32 at CHASE_DB1's 960x999, 522 at 3900 px)."""
    side = min(int(shape[0]), int(shape[1]))
    if side <= 0:
        raise ValueError(f"speck_size: an image shape needs two positive sides, got {tuple(shape)}")
    return max(MIN_OBJECT, int(round(MIN_OBJECT * (side / SPECK_REFERENCE_SIDE) ** 2)))


def small_pieces(mask: np.ndarray, min_size: int) -> tuple[np.ndarray, int, int]:
    """The 8-connected pieces of ``mask`` smaller than ``min_size`` px: ``(their pixels as a bool
    array, how many of them, how many pieces in all)``."""
    from scipy.ndimage import label

    mask = _as_mask(mask)
    if int(min_size) < 1:
        raise ValueError(f"min_size must be a positive number of pixels, got {min_size!r}")
    lab, n = label(mask, structure=EIGHT)
    if n == 0:
        return np.zeros(mask.shape, bool), 0, 0
    small = np.bincount(lab.ravel()) < int(min_size)
    small[0] = False
    return small[lab], int(small.sum()), int(n)


def remove_small_pieces(mask: np.ndarray, min_size: int) -> tuple[np.ndarray, int, int]:
    """``mask`` without its 8-connected pieces smaller than ``min_size`` px: ``(bool mask, pieces
    removed, pixels removed)``."""
    mask = _as_mask(mask)
    small, n, _ = small_pieces(mask, min_size)
    return mask & ~small, n, int(small.sum())


def piece_at(mask: np.ndarray, point) -> np.ndarray | None:
    """The 8-connected piece of ``mask`` under ``point`` (row, col; rounded) as a bool array, or None
    when the point is outside the image or on background."""
    from skimage.segmentation import flood

    mask = _as_mask(mask)
    r, c = (int(round(float(v))) for v in point[:2])
    if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]) or not mask[r, c]:
        return None
    return flood(mask, (r, c), connectivity=2)


_STRIDE = 4
_OFFSETS = [(-1, 0, 1.0), (1, 0, 1.0), (0, -1, 1.0), (0, 1, 1.0),
            (-1, -1, math.sqrt(2)), (-1, 1, math.sqrt(2)), (1, -1, math.sqrt(2)), (1, 1, math.sqrt(2))]


def _neighbours(sk: np.ndarray) -> np.ndarray:
    from scipy.ndimage import convolve

    k = np.ones((3, 3), np.int32)
    k[1, 1] = 0
    return convolve(sk.astype(np.int32), k, mode="constant") * sk


def skeleton_segments(skeleton: np.ndarray) -> tuple[list[tuple[float, float]], int]:
    """Split a skeleton at its branch points; return ``([(arc_px, chord_px), ...], n_branch_points)``
    for open segments (two end points). Arc length walks the pixel chain (1 or √2 per step)."""
    from scipy.ndimage import binary_dilation, label

    sk = _as_mask(skeleton, "skeleton")
    nb = _neighbours(sk)
    branch = sk & (nb >= 3)
    _, n_branch = label(branch, structure=EIGHT)
    segs = sk & ~binary_dilation(branch, structure=np.ones((3, 3)))
    lab, n = label(segs, structure=EIGHT)
    out: list[tuple[float, float]] = []
    if n == 0:
        return out, int(n_branch)
    coords = np.argwhere(lab > 0)
    labels_at = lab[coords[:, 0], coords[:, 1]]
    order = np.argsort(labels_at, kind="stable")
    coords, labels_at = coords[order], labels_at[order]
    bounds = np.searchsorted(labels_at, np.arange(1, n + 2))
    for i in range(n):
        pts = coords[bounds[i] : bounds[i + 1]]
        if len(pts) < 2:
            continue
        members = {(int(y), int(x)) for y, x in pts}

        def nbrs(p):
            return [((p[0] + dy, p[1] + dx), d) for dy, dx, d in _OFFSETS if (p[0] + dy, p[1] + dx) in members]

        ends = [p for p in members if len(nbrs(p)) == 1]
        if len(ends) != 2:
            continue  # a loop, or a blob the skeleton did not thin: no chord to speak of
        start = min(ends)
        seen = {start}
        path = [start]
        cur = start
        while True:
            nxt = [(q, d) for q, d in nbrs(cur) if q not in seen]
            if not nxt:
                break
            cur = min(nxt, key=lambda t: t[1])[0]  # prefer 4-neighbours: no corner cutting twice
            seen.add(cur)
            path.append(cur)
        # arc length over every ``_STRIDE``-th pixel: a pixel chain's 1/√2 steps overstate the
        # length of smooth curves by several percent
        idx = list(range(0, len(path), _STRIDE))
        if idx[-1] != len(path) - 1:
            idx.append(len(path) - 1)
        p = np.asarray([path[i] for i in idx], float)
        arc = float(np.hypot(*np.diff(p, axis=0).T).sum())
        chord = math.hypot(path[-1][0] - start[0], path[-1][1] - start[1])
        if chord > 0:
            out.append((arc, chord))
    return out, int(n_branch)


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]`` (False outside)."""
    h, w = a.shape
    out = np.zeros_like(a)
    out[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)] = a[
        max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)
    ]
    return out


def skeleton_length(skeleton: np.ndarray) -> float:
    """Length of a one-pixel-wide skeleton in px: each 4-neighbour link counts 1, each diagonal
    link √2 unless a 4-connected corner already joins the two pixels."""
    sk = _as_mask(skeleton, "skeleton")
    length = float((sk & _shift(sk, 1, 0)).sum() + (sk & _shift(sk, 0, 1)).sum())
    for dx in (1, -1):
        diag = sk & _shift(sk, 1, dx) & ~_shift(sk, 1, 0) & ~_shift(sk, 0, dx)
        length += math.sqrt(2) * float(diag.sum())
    return length


def measure_vessels(
    mask: np.ndarray,
    *,
    fov: np.ndarray | None = None,
    spacing_mm: float | tuple[float, float] | None = None,
    min_segment: float = 10.0,
) -> VesselMeasures:
    """Density, skeleton length, calibre and tortuosity of a vessel mask (see the module doc)."""
    from scipy.ndimage import distance_transform_edt
    from skimage.morphology import skeletonize

    mask = _as_mask(mask)
    if fov is not None:
        fov = _as_mask(fov, "fov")
        if fov.shape != mask.shape:
            raise ValueError(f"fov shape {fov.shape} does not match mask shape {mask.shape}")
        mask = mask & fov
    sp = _spacing(spacing_mm)
    density = vessel_density(mask, fov=fov)
    sk = skeletonize(mask)
    area = float(fov.sum()) if fov is not None else float(mask.size)
    segments, n_branch = skeleton_segments(sk)
    length = skeleton_length(sk)
    if sk.any():
        diam = 2.0 * distance_transform_edt(mask)[sk]
        cal_mean, cal_med = float(diam.mean()), float(np.median(diam))
    else:
        cal_mean = cal_med = 0.0
    long = [(a, c) for a, c in segments if a >= min_segment]
    tort = float(sum(a * (a / c) for a, c in long) / sum(a for a, _ in long)) if long else float("nan")
    return VesselMeasures(
        density=density,
        skeleton_length_px=length,
        length_density_per_px=length / area if area else 0.0,
        calibre_mean_px=cal_mean,
        calibre_median_px=cal_med,
        tortuosity=tort,
        n_segments=len(segments),
        n_branch_points=n_branch,
        spacing_mm=sp,
        skeleton_length_mm=None if sp is None else length * sp,
        length_density_per_mm=None if sp is None or not area else (length * sp) / (area * sp * sp),
        calibre_mean_um=None if sp is None else cal_mean * sp * 1000.0,
        calibre_median_um=None if sp is None else cal_med * sp * 1000.0,
    )
