"""Vessel measures that retina labs report, from a binary vessel mask.

Every measure is of the mask inside the field of view (``fov``; the whole image without one): the
mask is cut to the FOV first, and outside the image and the FOV counts as background. The skeleton
is ``skimage.morphology.skeletonize`` of that mask (8-connected, one pixel wide), its pixels joined
by links (4-neighbours always, diagonal neighbours only where no 4-connected corner joins them),
without its spurs (:func:`prune_spurs`: a terminal branch of at most ``√2·r + 1`` px, ``r`` the
distance to the background at its branch point: a rough edge's bump, or the fork thinning leaves
at a flat end where the image's or the FOV's edge cuts a vessel).

- **density**: vessel pixels / FOV pixels (unitless, 0-1).
- **skeleton length** (``skeleton_length_px``, ``_mm``): the skeleton's length by Vossepoel &
  Smeulders' (1982) estimator for 8-connected chains, ``0.980·n_e + 1.406·n_o − 0.091·n_c`` px (n_e
  links between 4-neighbours, n_o diagonal links (none where a 4-connected corner already joins the
  two pixels), n_c corners: pixels with two links that are not opposite); :func:`skeleton_length`.
  Within about 2 % of a straight line's length at any angle (counting 1 / √2 per step overstated
  it by up to 8 %, at 22.5°). The skeleton stops short of a vessel's free end by about half
  its width, so a vessel's length is short by about its width.
- **length density** (``length_density_per_px``, ``_per_mm``): skeleton length / FOV area, in
  px / px² (1/px) or mm / mm² (1/mm).
- **calibre** (``calibre_mean_px``, ``calibre_median_px``, ``_um``): the local vessel diameter at
  each skeleton pixel, averaged (mean, median) over the skeleton pixels (so weighted by length):
  ``d + min(d', d)``, ``d`` the Euclidean distance from the skeleton pixel's centre to the nearest
  background pixel's centre and ``d'`` the largest such distance among its 8 neighbours off the
  skeleton (:func:`local_calibre`). A vessel ``w`` px wide along the rows or the columns gives
  ``w`` (1 for a one-pixel vessel); over angles 0-45°, for each width 1-15 px, the median's error
  averages within ±0.3 px (the mean's within ±0.4 px; single errors up to 1 px). Until session 41 it was ``2·d``: ``w + 1`` for odd widths (2 px for a
  one-pixel vessel), ``w`` for even ones. NaN without a skeleton pixel (an empty mask, or one wholly outside the
  FOV); until session 42 that was 0.0, which ``measures.csv`` wrote as a calibre.
- **tortuosity**: arc length / chord length of each unbranched skeleton segment (the skeleton
  with its branch points and their 8 neighbours removed; segments with two ends, loops left out),
  averaged with arc-length weights over segments at least ``min_segment`` (10) px of arc long; the
  arc joins every 4th pixel of the segment's chain with straight lines; NaN without such a segment.
- **segments** (``n_segments``): the open segments above (of any length, with a chord > 0);
  **branch points** (``n_branch_points``): the clusters of skeleton pixels with 3 or more links,
  pixels within 2 px of each other (chessboard) counted as one. Until session 41 spurs were kept
  and 3 or more 8-neighbours made a branch point (three pixels in an L too): 130 of 270 straight
  vessels (widths 1-15 px, angles 0-85°) had one.

With ``spacing_mm`` (one number, or (row, col) mm per pixel) lengths also come in mm and calibres in
µm. Pixels taller than wide (anisotropic) are measured in their own directions: a row step of the
skeleton counts the row spacing, a column step the column spacing, a diagonal step
``√(row² + col²)`` (each with the estimator's coefficient, a corner the mean spacing), and the
calibres in µm come from distances measured in mm (``distance_transform_edt``'s ``sampling``), not
from the px values. ``spacing_mm`` is the mean of the two, for reference. No Qt, no torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["VesselMeasures", "MeasureStopped", "measure_vessels", "vessel_density", "skeleton_segments", "skeleton_length",
           "skeleton_link_counts", "local_calibre", "prune_spurs",
           "MIN_OBJECT", "speck_size", "small_pieces", "remove_small_pieces", "piece_at"]


@dataclass(frozen=True)
class VesselMeasures:
    """Per-image measures (defined in the module doc); ``*_mm`` / ``*_um`` fields are None without a
    pixel spacing; ``spacing_mm`` is the mean of the row and column spacing (``spacing_row_mm``,
    ``spacing_col_mm``), which the lengths and calibres in mm / µm use each in its own direction."""

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
    spacing_row_mm: float | None = None
    spacing_col_mm: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class MeasureStopped(Exception):
    """:func:`measure_vessels` was asked to stop (its ``stop_requested``) before it finished."""


def _as_mask(mask: np.ndarray, what: str = "mask") -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array, got shape {mask.shape}")
    return mask > 0 if mask.dtype != bool else mask


def _spacing(spacing_mm) -> tuple[float, float] | None:
    """``(row_mm, col_mm)`` per pixel from one number or two (row, col), or None."""
    if spacing_mm is None:
        return None
    vals = np.atleast_1d(np.asarray(spacing_mm, dtype=float))
    if vals.size not in (1, 2) or not np.all(np.isfinite(vals)) or np.any(vals <= 0):
        raise ValueError(f"spacing_mm must be one or two positive numbers, got {spacing_mm!r}")
    return (float(vals[0]), float(vals[-1]))


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


def skeleton_segments(skeleton: np.ndarray) -> tuple[list[tuple[float, float]], int]:
    """Split a skeleton at its branch points; return ``([(arc_px, chord_px), ...], n_branch_points)``
    for open segments (two end points). Arc length walks the pixel chain (1 or √2 per step)."""
    from scipy.ndimage import binary_dilation, label

    sk = _as_mask(skeleton, "skeleton")
    branch = _degree(sk) >= 3  # links, not 8-neighbours: three pixels in an L are a chain, not a junction
    ring = binary_dilation(branch, structure=EIGHT)
    # one branch point per junction: its pixels within 2 px of each other are one (the small loop
    # thinning leaves where two vessels cross has 2-3 pixels of 3 links)
    _, n_branch = label(ring, structure=EIGHT)
    segs = sk & ~ring
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

        def nbrs(p):  # the pixel's links within the segment
            return _linked(members.__contains__, *p)

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


#: Vossepoel & Smeulders (1982)'s length estimator of an 8-connected chain: ``A·n_e + B·n_o + C·n_c`` px,
#: n_e the 4-neighbour links, n_o the diagonal links, n_c the corners (where the chain changes direction)
VS_EVEN, VS_ODD, VS_CORNER = 0.980, 1.406, -0.091


def _links(sk: np.ndarray):
    """The links of a one-pixel-wide skeleton, as ``(dy, dx, bool array of the pixels with a link to
    (y + dy, x + dx))`` for the 8 directions: each 4-neighbour pair is linked, a diagonal pair only
    where no 4-connected corner already joins the two pixels."""
    h, w = sk.shape
    pad = np.zeros((h + 2, w + 2), bool)
    pad[1:-1, 1:-1] = sk

    def at(dy, dx):
        return pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        yield dy, dx, sk & at(dy, dx)
    for dy, dx in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        yield dy, dx, sk & at(dy, dx) & ~at(dy, 0) & ~at(0, dx)


def _linked(on, y: int, x: int) -> list[tuple[tuple[int, int], float]]:
    """:func:`_links` for one pixel: the pixels linked to ``(y, x)`` with the step's length (1 or √2), in the
    skeleton whose pixels ``on((yy, xx))`` tells (a whole skeleton, or one segment's pixels)."""
    return [((y + dy, x + dx), d) for dy, dx, d in _OFFSETS if on((y + dy, x + dx))
            and not (dy and dx and (on((y + dy, x)) or on((y, x + dx))))]


def _degree(sk: np.ndarray) -> np.ndarray:
    """How many links (:func:`_links`) each skeleton pixel has (0 off the skeleton)."""
    deg = np.zeros(sk.shape, np.uint8)
    for _, _, a in _links(sk):
        deg += a
    return deg


def skeleton_link_counts(skeleton: np.ndarray) -> tuple[int, int, int, int, int]:
    """``(n_rows, n_cols, n_diag, n_corners, n_pixels)`` of a one-pixel-wide skeleton: its links
    between vertical neighbours (a row step), horizontal neighbours (a column step) and diagonal
    neighbours (diagonal links only where no 4-connected corner joins the pair; :func:`_links`), and its
    corners: pixels with exactly two links that are not opposite (the chain turns there)."""
    sk = _as_mask(skeleton, "skeleton")
    if not sk.any():
        return 0, 0, 0, 0, 0
    ys, xs = np.nonzero(sk)  # the skeleton's bounding box: a vessel mask's skeleton is a few % of it
    sk = sk[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    links = {(dy, dx): a for dy, dx, a in _links(sk)}
    n_rows = int(links[(1, 0)].sum())
    n_cols = int(links[(0, 1)].sum())
    n_diag = int(links[(1, 1)].sum() + links[(1, -1)].sum())
    deg = np.zeros(sk.shape, np.uint8)
    straight = np.zeros(sk.shape, bool)
    for (dy, dx), a in links.items():
        deg += a
        if (dy, dx) in ((1, 0), (0, 1), (1, 1), (1, -1)):
            straight |= a & links[(-dy, -dx)]
    n_corners = int((sk & (deg == 2) & ~straight).sum())
    return n_rows, n_cols, n_diag, n_corners, int(sk.sum())


def skeleton_length(skeleton: np.ndarray, spacing=None) -> float:
    """Length of a one-pixel-wide skeleton, by Vossepoel & Smeulders' estimator
    ``0.980·n_e + 1.406·n_o − 0.091·n_c`` (n_e 4-neighbour links, n_o diagonal links, n_c corners:
    :func:`skeleton_link_counts`), in px, or in the units of ``spacing`` ((row, col) per pixel): then a
    row step counts ``0.980·row``, a column step ``0.980·col``, a diagonal ``1.406·√(row²+col²)/√2``, a
    corner ``−0.091·(row+col)/2``. The plain 1 / √2 per step overstates a vessel's length by up to 8 %
    at 22.5° (a straight line's digital chain zig-zags); this estimator is within ~2 % at every angle."""
    n_rows, n_cols, n_diag, n_corners, _ = skeleton_link_counts(skeleton)
    sy, sx = (1.0, 1.0) if spacing is None else (float(spacing[0]), float(spacing[1]))
    return (VS_EVEN * (n_rows * sy + n_cols * sx) + VS_ODD * n_diag * math.hypot(sy, sx) / math.sqrt(2)
            + VS_CORNER * n_corners * (sy + sx) / 2)


def _distance(mask: np.ndarray, sampling=None) -> np.ndarray:
    """Euclidean distance from each vessel pixel to the nearest background pixel, outside the image
    counting as background (``distance_transform_edt`` of the mask padded with one background pixel)."""
    from scipy.ndimage import distance_transform_edt

    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), bool)
    pad[1:-1, 1:-1] = mask
    return distance_transform_edt(pad, sampling=sampling)[1:-1, 1:-1]


def prune_spurs(skeleton: np.ndarray, edt: np.ndarray, *, passes: int = 3) -> np.ndarray:
    """``skeleton`` without its spurs: a terminal branch (from a free end along the skeleton's links,
    :func:`_links`, to a branch point: a pixel with 3 or more links) of at most ``√2·r + 1`` pixels,
    ``r`` the vessel's distance to the background at the branch point (``edt``), ends within about
    a pixel of the vessel's edge: a bump of a rough edge, or one arm of the fork that thinning leaves
    at a vessel's flat end (cut by the image's or the FOV's edge; its arms run to the end's corners,
    ``√2·r`` away), not a vessel. The branch point stays. Repeated (``passes``) while it removes any."""
    sk = _as_mask(skeleton, "skeleton").copy()
    h, w = sk.shape
    for _ in range(passes):
        deg = _degree(sk)
        ends = np.argwhere(deg == 1)
        if not len(ends):
            break
        cap = math.sqrt(2) * float(edt.max()) + 1

        def on(q):
            return 0 <= q[0] < h and 0 <= q[1] < w and bool(sk[q])

        remove = []
        for y, x in ends:
            path, prev, cur = [(int(y), int(x))], None, (int(y), int(x))
            while len(path) <= cap:
                nxt = [q for q, _ in _linked(on, *cur) if q != prev]
                if len(nxt) != 1:
                    break
                prev, cur = cur, nxt[0]
                if deg[cur] >= 3:
                    if len(path) <= math.sqrt(2) * float(edt[cur]) + 1:
                        remove.extend(path)
                    break
                path.append(cur)
        if not remove:
            break
        ys, xs = np.asarray(remove).T
        sk[ys, xs] = False
    return sk


def local_calibre(mask: np.ndarray, skeleton: np.ndarray, sampling=None, edt=None) -> np.ndarray:
    """The vessel's local diameter at each skeleton pixel (in the skeleton's ``np.nonzero`` order):
    ``d + min(d', d)``, ``d`` the Euclidean distance from the pixel to the nearest background pixel
    (outside the image counts as background) and ``d'`` the largest such distance among its 8
    neighbours that are not on the skeleton (0 when they are all background). A straight vessel ``w``
    pixels wide along the rows or columns gives exactly ``w`` (1 for a one-pixel vessel): its centre
    line lies on the skeleton pixel (odd ``w``, ``d = (w+1)/2``, ``d' = d − 1``) or between it and
    its neighbour (even ``w``, ``d' = d = w/2``). ``2·d`` is ``w + 1`` for odd widths. ``sampling``:
    (row, col) size of a pixel, for distances in those units (anisotropic pixels)."""
    from scipy.ndimage import distance_transform_edt, maximum_filter

    mask = _as_mask(mask)
    sk = _as_mask(skeleton, "skeleton") & mask
    if not sk.any():
        return np.zeros(0)
    ys, xs = np.nonzero(sk)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    edt = _distance(mask, sampling) if edt is None else edt
    d = edt[ys, xs]
    off = np.where(sk, 0.0, edt)
    part = maximum_filter(off[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1], size=3, mode="constant")
    part = part[ys - max(y0 - 1, 0), xs - max(x0 - 1, 0)]
    return d + np.minimum(part, d)


def measure_vessels(
    mask: np.ndarray,
    *,
    fov: np.ndarray | None = None,
    spacing_mm: float | tuple[float, float] | None = None,
    min_segment: float = 10.0,
    stop_requested=None,
) -> VesselMeasures:
    """Density, skeleton length, calibre and tortuosity of a vessel mask (see the module doc).

    ``stop_requested``: a no-argument callable asked between the measure's stages (the distance map, the skeleton,
    its pruning, its segments, the calibres); :class:`MeasureStopped` is raised when it says True. At 15 megapixels
    the whole measure takes several seconds on a 2-core machine and its longest stage about 2 s: the window asks a
    measure whose result it no longer wants to stop (a newer edit, another image, the window closing: session 48, a
    close waited 5.6-6.9 s for such a measure)."""
    from skimage.morphology import skeletonize

    def check() -> None:
        if stop_requested is not None and stop_requested():
            raise MeasureStopped("the vessel measure was stopped")

    mask = _as_mask(mask)
    if fov is not None:
        fov = _as_mask(fov, "fov")
        if fov.shape != mask.shape:
            raise ValueError(f"fov shape {fov.shape} does not match mask shape {mask.shape}")
        mask = mask & fov
    sp = _spacing(spacing_mm)
    density = vessel_density(mask, fov=fov)
    check()
    edt = _distance(mask)
    check()
    sk = skeletonize(mask)
    check()
    sk = prune_spurs(sk, edt)
    check()
    area = float(fov.sum()) if fov is not None else float(mask.size)
    segments, n_branch = skeleton_segments(sk)
    check()
    length = skeleton_length(sk)
    diam = local_calibre(mask, sk, edt=edt)
    nan = float("nan")  # no skeleton pixel: no calibre (not 0.0, which read as a measured calibre in measures.csv)
    cal_mean, cal_med = (float(diam.mean()), float(np.median(diam))) if diam.size else (nan, nan)
    long = [(a, c) for a, c in segments if a >= min_segment]
    tort = float(sum(a * (a / c) for a, c in long) / sum(a for a, _ in long)) if long else float("nan")
    length_mm = cal_mean_um = cal_med_um = None
    if sp is not None:
        if math.isclose(sp[0], sp[1], rel_tol=1e-6):
            length_mm, cal_mean_um, cal_med_um = length * sp[0], cal_mean * sp[0] * 1000.0, cal_med * sp[0] * 1000.0
        else:  # anisotropic pixels: each step its own length, distances in mm
            check()
            length_mm = skeleton_length(sk, sp)
            diam_mm = local_calibre(mask, sk, sampling=sp)
            if diam_mm.size:
                cal_mean_um, cal_med_um = float(diam_mm.mean()) * 1000.0, float(np.median(diam_mm)) * 1000.0
            else:
                cal_mean_um = cal_med_um = nan
    return VesselMeasures(
        density=density,
        skeleton_length_px=length,
        length_density_per_px=length / area if area else 0.0,
        calibre_mean_px=cal_mean,
        calibre_median_px=cal_med,
        tortuosity=tort,
        n_segments=len(segments),
        n_branch_points=n_branch,
        spacing_mm=None if sp is None else (sp[0] + sp[1]) / 2,
        skeleton_length_mm=length_mm,
        length_density_per_mm=None if sp is None or not area else length_mm / (area * sp[0] * sp[1]),
        calibre_mean_um=cal_mean_um,
        calibre_median_um=cal_med_um,
        spacing_row_mm=None if sp is None else sp[0],
        spacing_col_mm=None if sp is None else sp[1],
    )
