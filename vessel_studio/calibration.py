"""Fit where a model's masks put the vessel boundary to a few masks a person corrected.

Why: an adapted segmenter learns the vessel's edge from the target images, and a dataset's labels
may be drawn elsewhere. OCTA-500's labels lie about one pixel inside the edges the images show
(benchmarks/results/exploration-session19/), and no label-free signal can know such a drawing
convention. A lab settles it by correcting a few masks; this module turns those corrections into
a boundary rule for every other image:

- a probability threshold (instead of 0.5), and
- a thinning by ``thin`` pixels that keeps each vessel's centre line (``thin_mask``), so a vessel one
  or two pixels across is not erased.

``fit_boundary`` picks the pair with the best mean Dice on the corrected images (ties: the rule
closest to the plain one). With no corrected image it returns the plain rule. The test labels of
a benchmark are never corrections; see benchmarks/calibration_from_corrections.py for the declared
stand-in used to measure it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

# 0.05 to 0.95: the first grid (0.2 to 0.95) put OCT-A's fit on its lower edge, 0.2, with the
# corrected images alone showing it (benchmarks/results/exploration-session19/)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05))
THINNING = (0, 1, 2)


def thin_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` eroded by ``pixels`` (a 3 x 3 cross each time), with its skeleton kept."""
    mask = np.asarray(mask, bool)
    if pixels <= 0 or not mask.any():
        return mask
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    return ndi.binary_erosion(mask, iterations=int(pixels)) | skeletonize(mask)


@dataclass(frozen=True)
class BoundaryCalibration:
    threshold: float = 0.5
    thin: int = 0
    images: int = 0  # corrected images it was fitted on
    dice_plain: float | None = None  # mean Dice on them with threshold 0.5 and no thinning
    dice_fitted: float | None = None

    def __post_init__(self):
        if not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"BoundaryCalibration: threshold must be in (0, 1), got {self.threshold}")
        if isinstance(self.thin, bool) or int(self.thin) != self.thin or self.thin < 0:
            raise ValueError(f"BoundaryCalibration: thin must be an integer >= 0, got {self.thin!r}")

    def apply(self, prob: np.ndarray, fov: np.ndarray | None = None) -> np.ndarray:
        mask = thin_mask(np.asarray(prob) >= self.threshold, self.thin)
        return mask & np.asarray(fov, bool) if fov is not None else mask

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BoundaryCalibration":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"BoundaryCalibration: unknown fields {sorted(unknown)}")
        return cls(**dict(d))


def fit_to_corrections(project, prob_of) -> BoundaryCalibration:
    """The boundary fitted to ``project``'s corrected masks. ``prob_of(image_id)`` gives a corrected
    image's ``(probability map, FOV or None)``, or None when the image has no prediction."""
    probs, masks, fovs = [], [], []
    for image_id, mask in project.corrections().items():
        got = prob_of(image_id)
        if got is None:
            continue
        prob, fov = got
        if np.shape(prob) != np.shape(mask):
            raise ValueError(f"{project.correction_path(image_id)}: corrected mask shape {np.shape(mask)} does not "
                             f"match its prediction {np.shape(prob)}")
        probs.append(prob)
        masks.append(mask)
        fovs.append(fov)
    if not probs:
        raise ValueError(f"{project.folder}: no corrected masks to fit the mask boundary to (no corrected image "
                         "has a prediction): correct at least one segmented image first")
    return fit_boundary(probs, masks, fovs)


def fit_boundary(probs: Sequence[np.ndarray], masks: Sequence[np.ndarray], fovs: Sequence[np.ndarray | None] | None = None,
                 *, thresholds: Sequence[float] = THRESHOLDS, thinning: Sequence[int] = THINNING) -> BoundaryCalibration:
    """The threshold and thinning with the best mean Dice of ``probs`` against the corrected ``masks``."""
    from vessel_studio.metrics import dice

    if len(probs) != len(masks) or (fovs is not None and len(fovs) != len(probs)):
        raise ValueError("fit_boundary: probs, masks (and fovs) must pair up")
    if not probs:
        return BoundaryCalibration()
    fovs = list(fovs) if fovs is not None else [None] * len(probs)
    for p, m in zip(probs, masks):
        if np.shape(p) != np.shape(m):
            raise ValueError(f"fit_boundary: a probability map of shape {np.shape(p)} has a mask of shape {np.shape(m)}")

    def mean_dice(t: float, k: int) -> float:
        return float(np.mean([dice(thin_mask(np.asarray(p) >= t, k), np.asarray(m, bool), fov=f)
                              for p, m, f in zip(probs, masks, fovs)]))

    plain = mean_dice(0.5, 0)
    best = (plain, 0.0, 0.5, 0)  # (dice, -distance from the plain rule, threshold, thinning)
    for k in thinning:
        for t in thresholds:
            d = plain if (t == 0.5 and k == 0) else mean_dice(float(t), int(k))
            cand = (d, -(abs(float(t) - 0.5) + int(k)), float(t), int(k))
            if cand > best:
                best = cand
    return BoundaryCalibration(threshold=best[2], thin=best[3], images=len(probs), dice_plain=plain,
                               dice_fitted=best[0])
