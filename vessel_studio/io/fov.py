"""Field-of-view (FOV) masks: the disc of a fundus photograph that holds retina.

Given FOV masks are read with :func:`vessel_studio.io.images.read_mask`. When none is given:

* fundus: the red channel (bright across the whole retina, near zero outside the camera's
  aperture) is smoothed (3x3 mean) and thresholded at a low level (the smaller of Otsu's
  threshold and 15 % of the way from its 1st to its 99th percentile, never below 3 %), the largest connected component is kept,
  its holes are filled, and it is eroded by about 0.15 % of its diameter (1 px at DRIVE scale) so that the
  dark, blurry rim is left out, as the official DRIVE masks do;
* OCT-A (and anything that is not a fundus photograph): the whole image.

Images larger than about 1200 px a side are analysed block-averaged to about 1000 px a side
and the mask is enlarged back (its edge is then exact to a block, 0.1 % of a 4000 px image).

When no dark border is found (an image cropped inside the retina), the result is the whole
image; when nothing bright is found at all (an all-black file), also the whole image.
"""

from __future__ import annotations

import numpy as np

from vessel_studio.preprocess import to_float as _to_float

__all__ = ["estimate_fov", "fov_diameter", "MODALITIES"]

MODALITIES = ("fundus", "octa")



def estimate_fov(image: np.ndarray, *, modality: str = "fundus") -> np.ndarray:
    """Estimate the FOV of ``image`` (``H x W`` or ``H x W x 3``) as a bool ``H x W`` mask."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 4:
        a = a[..., :3]
    if a.ndim == 3 and a.shape[-1] == 1:  # H x W x 1 gray
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)):
        first = (" (channels first? np.moveaxis(image, 0, -1) puts them last)"
                 if a.ndim == 3 and a.shape[0] in (1, 3, 4) else "")
        raise ValueError(f"estimate_fov: expected H x W or H x W x 3, got shape {a.shape}{first}")
    h, w = a.shape[:2]
    if modality not in MODALITIES:
        raise ValueError(f"estimate_fov: unknown modality {modality!r}; expected one of {MODALITIES}")
    if modality != "fundus":
        return np.ones((h, w), bool)

    # red channel for colour fundus; the gray image otherwise
    red = a[..., 0] if a.ndim == 3 else a
    # integers are converted later (a large image block by block); floats are checked as float32
    g = _to_float(red) if red.dtype.kind not in "uib" else None
    if g is not None and not np.isfinite(g).all():
        raise ValueError("estimate_fov: image contains NaN or infinite values")
    # large images: work on a block-averaged copy (at most ~1000 px a side), then enlarge
    k = int(np.ceil(max(h, w) / _WORK_SIDE)) if max(h, w) > _WORK_SIDE * 1.2 else 1
    if k > 1:
        hk, wk = h // k, w // k
        src = red if g is None else g
        m = _estimate_gray(_block_mean(src[: hk * k, : wk * k], k))
        if m is None:
            return np.ones((h, w), bool)
        out = np.empty((h, w), bool)
        out[: hk * k, : wk * k].reshape(hk, k, wk, k)[...] = m[:, None, :, None]
        # the rows and columns past the last whole block: as the block's edge ("edge" padding)
        out[hk * k :, : wk * k] = out[hk * k - 1, : wk * k]
        out[:, wk * k :] = out[:, wk * k - 1 : wk * k]
        return out
    m = _estimate_gray(_to_float(red) if g is None else g)
    return np.ones((h, w), bool) if m is None else m


def _block_mean(channel: np.ndarray, k: int) -> np.ndarray:
    """Means of the ``k`` x ``k`` blocks of a 2-D array whose sides are multiples of ``k``, in the
    range :func:`~vessel_studio.preprocess.to_float` gives its type (float32). The blocks are summed
    as ``k * k`` strided slices (8- and 16-bit images in integers, exactly): NumPy's reduction over
    the small block axes took ~0.15 s of a 0.2 s estimate on a 3900 px image, this ~0.02 s."""
    c = np.asarray(channel)
    hk, wk = c.shape[0] // k, c.shape[1] // k
    if c.dtype in (np.uint8, np.uint16, np.bool_):
        acc = np.zeros((hk, wk), np.uint32)  # k * k * 65535 fits for k up to 256
        scale = 1.0 if c.dtype == np.bool_ else float(np.iinfo(c.dtype).max)
    else:  # other types (float, signed): as to_float converts them, summed in float64
        c, acc, scale = _to_float(c), np.zeros((hk, wk), np.float64), 1.0
    for i in range(k):
        for j in range(k):
            acc += c[i::k, j::k]
    return (acc / (scale * k * k)).astype(np.float32)


_WORK_SIDE = 1000


def _estimate_gray(g: np.ndarray) -> np.ndarray | None:
    """The fundus disc of a float gray image, or None when no plausible disc is found."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    lo, hi = np.percentile(g, [1, 99])
    if hi - lo <= 1e-6:
        return None
    # smooth a little so that sensor noise in the black border does not speckle the mask
    gs = ndi.uniform_filter(g, size=3)
    try:
        otsu = float(threshold_otsu(gs))
    except ValueError:
        otsu = hi
    thr = max(min(otsu, lo + 0.15 * (hi - lo)), lo + 0.03 * (hi - lo))
    fg = gs > thr
    labels, n = ndi.label(fg)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    fov = labels == int(np.argmax(sizes))
    fov = ndi.binary_fill_holes(fov)
    if fov.mean() < 0.05:  # no plausible retina found
        return None
    r = max(1, int(round(0.0015 * fov_diameter(fov))))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    # erode with the image border counting as inside (a retina cut by the frame stays whole)
    return ndi.binary_erosion(fov, structure=(yy**2 + xx**2) <= r * r, border_value=1)


def fov_diameter(fov: np.ndarray) -> float:
    """The FOV's diameter in pixels: the larger extent of its bounding box.

    Fundus photographs are often cut at the top and bottom, so the larger extent (usually the
    horizontal one) is the aperture's true diameter; for a full-image FOV it is ``max(H, W)``.
    """
    m = np.asarray(fov, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"fov_diameter: expected a 2-D mask, got shape {m.shape}")
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        raise ValueError("fov_diameter: the FOV mask is empty")
    return float(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
