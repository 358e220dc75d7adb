"""Small helpers: numpy thumbnails and QPixmaps."""

from __future__ import annotations

import numpy as np
from qtpy.QtGui import QImage, QPixmap


def thumbnail(image: np.ndarray, size: int = 64) -> np.ndarray:
    """A uint8 thumbnail (longest side ``size``) of a gray or RGB image of any dtype."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] > 3:
        a = a[..., :3]
    step = max(1, int(np.ceil(max(a.shape[:2]) / size)))
    a = a[::step, ::step]
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        lo, hi = np.percentile(a, (0.5, 99.5))
        a = np.clip((a - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def array_to_pixmap(a: np.ndarray) -> QPixmap:
    """uint8 H×W or H×W×3 array to a QPixmap (copied)."""
    a = np.ascontiguousarray(a)
    if a.dtype != np.uint8:
        a = thumbnail(a, max(a.shape[:2]))
    h, w = a.shape[:2]
    if a.ndim == 2:
        img = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8)
    else:
        img = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(img.copy())


def fmt_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "–"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
