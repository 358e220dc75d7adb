"""Procedural sample data: vessel trees, synthetic fundus photographs and OCTA-like en-face images.

The public datasets cannot ship with the package, so first-time users (and tests) get images
made here, each with the exact vessel mask it was drawn from:

- :func:`make_vessel_tree` grows branching, tapering, tortuous vessel trees and returns a mask;
- :func:`synthetic_fundus` paints an orange-red fundus with dark vessels, optic disc, macula,
  vignetting and noise (RGB uint8, mask, field of view);
- :func:`synthetic_octa` paints bright large vessels and a capillary texture on a dark,
  speckled background, with a foveal avascular zone (gray uint8, large-vessel mask);
- :func:`write_sample_images` / :func:`write_sample_project` write a folder of them.

Vessels are grown as random walks whose heading has smoothly varying curvature (an AR(1)
process, giving realistic tortuosity), whose calibre tapers with length and drops at each
bifurcation (Murray-like: children 55-80 % of the parent), and which are drawn as discs along
their centre line. Main vessels are about 5-10 px wide at 512 px and scale with the image size.
No Qt, no torch: numpy + scipy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = [
    "VesselTree",
    "grow_vessel_tree",
    "make_vessel_tree",
    "synthetic_fundus",
    "synthetic_octa",
    "write_sample_images",
    "write_sample_project",
    "SampleSet",
]


# --------------------------------------------------------------------------------------------
# vessel trees
# --------------------------------------------------------------------------------------------


@dataclass
class VesselTree:
    """Centre-line points of a grown tree: ``points`` N×2 (row, col) float, ``radius`` N float,
    ``segment`` N int (index of the unbranched segment each point belongs to)."""

    shape: tuple[int, int]
    points: np.ndarray
    radius: np.ndarray
    segment: np.ndarray
    n_segments: int = 0
    profile: np.ndarray | None = field(default=None, repr=False)

    def mask(self) -> np.ndarray:
        """The vessel mask: union of discs of ``radius`` around every centre-line point."""
        return self.render()[0]

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mask, profile)``: the mask and a cylinder profile in [0, 1] (1 on the axis of a vessel,
        scaled by the vessel's relative calibre) for painting images."""
        h, w = self.shape
        mask = np.zeros((h, w), bool)
        prof = np.zeros((h, w), np.float32)
        if len(self.points) == 0:
            return mask, prof
        rmax = float(self.radius.max())
        for (y, x), r in zip(self.points, self.radius):
            r = max(float(r), 0.75)  # thinner discs miss pixel centres and break vessels apart
            ext = int(math.ceil(r + 1))
            y0, y1 = max(int(y) - ext, 0), min(int(y) + ext + 2, h)
            x0, x1 = max(int(x) - ext, 0), min(int(x) + ext + 2, w)
            if y0 >= y1 or x0 >= x1:
                continue
            yy = np.arange(y0, y1, dtype=np.float32)[:, None] - y
            xx = np.arange(x0, x1, dtype=np.float32)[None, :] - x
            d2 = yy * yy + xx * xx
            inside = d2 <= r * r
            mask[y0:y1, x0:x1] |= inside
            depth = np.sqrt(np.clip(1.0 - d2 / (r * r + 1e-6), 0.0, 1.0)) * (0.45 + 0.55 * r / rmax)
            np.maximum(prof[y0:y1, x0:x1], depth.astype(np.float32), out=prof[y0:y1, x0:x1])
        return mask, prof


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def grow_vessel_tree(
    shape: tuple[int, int],
    roots: list[tuple[float, float, float, float]],
    *,
    seed: int | np.random.Generator = 0,
    guide: Callable[[float, float, float, int], float | None] | None = None,
    inside: Callable[[float, float], bool] | None = None,
    min_radius: float | None = None,
    branch_every: float | None = None,
    tortuosity: float = 1.0,
    max_points: int = 60000,
) -> VesselTree:
    """Grow vessels from ``roots`` = [(row, col, heading_rad, radius_px), ...].

    ``guide(y, x, heading, depth)`` may return a preferred heading (the walk turns gently
    toward it); ``inside(y, x)`` stops a vessel when it returns False (default: image bounds).
    ``tortuosity`` scales the curvature noise (0 = smooth arcs). Sizes scale with the image.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    h, w = shape
    s = min(h, w) / 512.0
    min_r = 0.55 * max(s, 0.5) if min_radius is None else min_radius
    every = 55.0 * s if branch_every is None else float(branch_every)
    if inside is None:

        def inside(y: float, x: float) -> bool:
            return 0 <= y < h and 0 <= x < w

    pts: list[tuple[float, float]] = []
    rads: list[float] = []
    segs: list[int] = []
    stack = [(float(y), float(x), float(a), float(r), 0) for y, x, a, r in roots]
    seg_id = 0
    while stack and len(pts) < max_points:
        y, x, a, r, depth = stack.pop()
        omega = 0.0
        taper = math.exp(-0.0032 / max(s, 0.25))
        next_branch = rng.exponential(every) + 0.25 * every
        walked = 0.0
        sigma = 0.0045 * tortuosity / max(s, 0.35)
        while r >= min_r and len(pts) < max_points:
            if not inside(y, x):
                break
            pts.append((y, x))
            rads.append(r)
            segs.append(seg_id)
            step = max(0.6, min(1.0, r))
            # smooth random curvature (AR(1)) plus a gentle pull toward the guide heading
            omega = 0.95 * omega + rng.normal(0.0, sigma)
            a += omega * step + rng.normal(0.0, 0.01 * tortuosity)
            if guide is not None:
                want = guide(y, x, a, depth)
                if want is not None:
                    a += 0.04 * step * _wrap(want - a)
            y += step * math.sin(a)
            x += step * math.cos(a)
            r *= taper**step
            walked += step
            if walked >= next_branch and r > 1.6 * min_r:
                walked = 0.0
                next_branch = rng.exponential(every) + 0.3 * every
                frac = rng.uniform(0.55, 0.8)
                side = rng.choice((-1.0, 1.0))
                child_a = a + side * rng.uniform(math.radians(30), math.radians(70))
                stack.append((y, x, child_a, r * frac, depth + 1))
                r *= rng.uniform(0.85, 0.95)
                a -= side * rng.uniform(0.05, 0.2)  # parent bends away from its branch
                seg_id += 1
        seg_id += 1
    return VesselTree(
        shape=(h, w),
        points=np.asarray(pts, np.float32).reshape(-1, 2),
        radius=np.asarray(rads, np.float32),
        segment=np.asarray(segs, np.int32),
        n_segments=seg_id,
    )


def _fundus_layout(shape: tuple[int, int], rng: np.random.Generator) -> dict:
    h, w = shape
    right_eye = bool(rng.integers(0, 2))
    cx = w * (0.5 + (0.19 if right_eye else -0.19)) + rng.normal(0, 0.01 * w)
    cy = h * 0.5 + rng.normal(0, 0.03 * h)
    mx = w * (0.5 - (0.1 if right_eye else -0.1)) + rng.normal(0, 0.01 * w)
    my = h * 0.5 + rng.normal(0, 0.02 * h)
    return {
        "disc": (cy, cx),
        "disc_r": 0.075 * min(h, w) * rng.uniform(0.9, 1.1),
        "macula": (my, mx),
        "temporal": -1.0 if right_eye else 1.0,  # +1: temporal side is toward +x
        "fov_r": 0.47 * min(h, w),
        "center": (h / 2.0, w / 2.0),
    }


def _fundus_tree(shape: tuple[int, int], rng: np.random.Generator, layout: dict) -> VesselTree:
    h, w = shape
    s = min(h, w) / 512.0
    dy, dx = layout["disc"]
    my, mx = layout["macula"]
    t = layout["temporal"]
    cy, cx = layout["center"]
    fr = layout["fov_r"]
    fovea_r = 0.07 * min(h, w)
    toward_macula = math.atan2(my - dy, mx - dx)

    def inside(y: float, x: float) -> bool:
        return (y - cy) ** 2 + (x - cx) ** 2 < (fr * 1.02) ** 2 and 0 <= y < h and 0 <= x < w

    arcade_r = 0.30 * min(h, w)

    def guide(y: float, x: float, a: float, depth: int) -> float | None:
        ry, rx = y - my, x - mx
        d = math.hypot(ry, rx)
        if d < 2.0 * fovea_r:  # vessels avoid the fovea
            return math.atan2(ry, rx)
        if depth == 0 and (x - dx) * t > -0.5 * layout["disc_r"]:
            # temporal arcades sweep around the macula at about arcade_r
            radial = math.atan2(ry, rx)
            t1, t2 = radial + math.pi / 2, radial - math.pi / 2
            tangent = t1 if abs(_wrap(t1 - a)) < abs(_wrap(t2 - a)) else t2
            pull = max(-0.6, min(0.6, (d - arcade_r) / arcade_r))
            inward = radial + math.pi
            return tangent + pull * _wrap(inward - tangent)
        return None

    roots = []
    base = 4.6 * s  # radius of the largest vein: about 9 px wide at 512
    # superior and inferior temporal arcades and nasal trunks, each an artery/vein pair
    for vert in (-1.0, 1.0):
        for rad in (base, base * 0.78):
            th = rng.uniform(0.55, 0.95)
            ang_temporal = math.atan2(vert * math.sin(th), t * math.cos(th)) + rng.normal(0, 0.06)
            th = rng.uniform(0.5, 1.1)
            ang_nasal = math.atan2(vert * math.sin(th), -t * math.cos(th))
            jitter = layout["disc_r"] * 0.3
            oy, ox = dy + vert * 0.3 * layout["disc_r"] + rng.normal(0, jitter), dx + rng.normal(0, jitter)
            roots.append((oy, ox, ang_temporal, rad * rng.uniform(0.92, 1.05)))
            roots.append((oy, ox, ang_nasal, rad * 0.72 * rng.uniform(0.9, 1.05)))
    # a couple of small vessels toward the macula
    for _ in range(2):
        roots.append((dy + rng.normal(0, 3 * s), dx, toward_macula + rng.normal(0, 0.35), 1.6 * s))
    return grow_vessel_tree(shape, roots, seed=rng, guide=guide, inside=inside)


def make_vessel_tree(shape: tuple[int, int] = (512, 512), *, seed: int = 0) -> np.ndarray:
    """A boolean H×W mask of a fundus-like vessel tree (disc, four arcades, branches)."""
    shape = _check_shape(shape)
    rng = np.random.default_rng(seed)
    layout = _fundus_layout(shape, rng)
    return _fundus_tree(shape, rng, layout).mask()


def _check_shape(shape) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"shape must be (rows, cols), got {shape!r}") from exc
    if h < 32 or w < 32:
        raise ValueError(f"shape must be at least 32×32, got {shape!r}")
    return h, w


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    n = gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), sigma)
    return n / (n.std() + 1e-6)


# --------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------


def synthetic_fundus(
    shape: tuple[int, int] = (512, 512), *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic colour fundus photograph: ``(rgb uint8 H×W×3, vessel mask bool, fov bool)``.

    Orange-red background with choroidal texture, dark vessels (deepest in green), a bright
    optic disc with cup, a darker macula, vignetting, uneven illumination and sensor noise,
    black outside a circular field of view. The mask is exactly what was painted (inside the FOV).
    """
    from scipy.ndimage import gaussian_filter

    h, w = _check_shape(shape)
    rng = np.random.default_rng(seed)
    layout = _fundus_layout((h, w), rng)
    tree = _fundus_tree((h, w), rng, layout)
    mask, prof = tree.render()
    s = min(h, w) / 512.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = layout["center"]
    rr = np.hypot(yy - cy, xx - cx) / layout["fov_r"]
    fov = rr < 1.0
    mask &= fov

    tint = rng.uniform(0.9, 1.1, 3)
    base = np.array([205.0, 92.0, 42.0]) * tint
    texture = _smooth_noise((h, w), rng, 6 * s) * 0.05 + _smooth_noise((h, w), rng, 1.5 * s) * 0.02
    vignette = np.clip(1.0 - 0.45 * rr**2.2, 0.0, 1.0)
    grad_a = rng.uniform(0, 2 * math.pi)
    illum = 1.0 + 0.12 * ((xx - cx) * math.cos(grad_a) + (yy - cy) * math.sin(grad_a)) / layout["fov_r"]
    light = vignette * illum * (1.0 + texture)

    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = base[c] * light

    # macula: darker, slightly more red-brown
    my, mx = layout["macula"]
    mac = np.exp(-(((yy - my) ** 2 + (xx - mx) ** 2) / (2 * (0.09 * min(h, w)) ** 2)))
    img *= (1.0 - 0.32 * mac)[..., None]

    # optic disc: bright yellow-white with a paler cup
    dy, dx = layout["disc"]
    dr = layout["disc_r"]
    dd = np.hypot(yy - dy, (xx - dx) * 0.92)
    disc = 1.0 / (1.0 + np.exp(np.clip((dd - dr) / (0.12 * dr), -50, 50)))
    cup = np.exp(-((dd / (0.45 * dr)) ** 2))
    disc_col = np.array([250.0, 205.0, 120.0])
    for c in range(3):
        img[..., c] = img[..., c] * (1 - disc) + disc_col[c] * (0.85 + 0.15 * cup) * disc * illum

    # vessels: darker in green and blue than in red; smooth edges from the blurred profile
    prof_s = gaussian_filter(prof, 0.6 * max(s, 0.4))
    absorb = np.array([0.30, 0.55, 0.45]) * rng.uniform(0.9, 1.1)
    for c in range(3):
        img[..., c] *= 1.0 - absorb[c] * np.clip(prof_s * 1.25, 0, 1)

    img += rng.normal(0, 3.0, img.shape).astype(np.float32)
    img *= fov[..., None]
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    return rgb, mask, fov


def synthetic_octa(shape: tuple[int, int] = (304, 304), *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic OCT-angiography en-face image: ``(gray uint8 H×W, large-vessel mask bool)``.

    Bright large vessels entering from the borders and branching toward a dark foveal avascular
    zone, a bright capillary mesh (not in the mask, as in OCTA-500's large-vessel labels), dark
    background, multiplicative speckle and projection noise.
    """
    from scipy.ndimage import gaussian_filter

    h, w = _check_shape(shape)
    rng = np.random.default_rng(seed)
    s = min(h, w) / 304.0
    cy, cx = h / 2 + rng.normal(0, 0.03 * h), w / 2 + rng.normal(0, 0.03 * w)
    faz_r = 0.085 * min(h, w) * rng.uniform(0.8, 1.2)

    def inside(y: float, x: float) -> bool:
        return 0 <= y < h and 0 <= x < w and (y - cy) ** 2 + (x - cx) ** 2 > (faz_r * 1.6) ** 2

    def guide(y: float, x: float, a: float, depth: int) -> float | None:
        to_c = math.atan2(cy - y, cx - x)
        d = math.hypot(cy - y, cx - x)
        if d < 3.0 * faz_r:  # circle around the FAZ instead of running into it
            return to_c + math.copysign(math.pi / 2, _wrap(a - to_c))
        return to_c if depth == 0 else None

    roots = []
    n_roots = int(rng.integers(5, 8))
    for i in range(n_roots):
        phi = 2 * math.pi * (i + rng.uniform(-0.3, 0.3)) / n_roots
        # start on the image border along the ray from the centre
        ry, rx = math.sin(phi), math.cos(phi)
        t = min((h / 2) / max(abs(ry), 1e-6), (w / 2) / max(abs(rx), 1e-6)) * 0.995
        y0, x0 = h / 2 + ry * t, w / 2 + rx * t
        rad = 3.2 * s * rng.uniform(0.75, 1.1)
        roots.append((y0, x0, phi + math.pi + rng.normal(0, 0.15), rad))
    big = grow_vessel_tree(
        (h, w), roots, seed=rng, guide=guide, inside=inside, min_radius=1.1 * s, branch_every=45 * s, tortuosity=1.2
    )
    mask, prof = big.render()

    # capillaries: a dense random mesh of thin tortuous vessels everywhere except the FAZ
    cap_roots = []
    for _ in range(int(140 * s * s)):
        cap_roots.append((rng.uniform(0, h), rng.uniform(0, w), rng.uniform(-math.pi, math.pi), 0.9 * s))
    caps = grow_vessel_tree(
        (h, w),
        cap_roots,
        seed=rng,
        inside=lambda y, x: 0 <= y < h and 0 <= x < w and (y - cy) ** 2 + (x - cx) ** 2 > faz_r**2,
        min_radius=0.55 * s,
        branch_every=12 * s,
        tortuosity=3.0,
        max_points=int(40000 * s * s),
    )
    cap_mask, cap_prof = caps.render()

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = 28.0 + 10.0 * _smooth_noise((h, w), rng, 20 * s)
    img = bg + 70.0 * gaussian_filter(cap_prof, 0.7 * s) + 190.0 * gaussian_filter(prof, 0.6 * s) ** 0.8
    faz = np.hypot(yy - cy, xx - cx) < faz_r
    img[faz] *= 0.6
    # OCTA speckle: multiplicative gamma noise, then a little blur and additive noise
    speckle = rng.gamma(4.0, 1 / 4.0, (h, w)).astype(np.float32)
    img = gaussian_filter(img * speckle, 0.5) + rng.normal(0, 4.0, (h, w))
    # horizontal projection / motion stripes, typical of OCTA scans
    img += rng.normal(0, 3.0, (h, 1)) * rng.uniform(0.5, 1.5)
    gray = np.clip(img, 0, 255).astype(np.uint8)
    return gray, mask


# --------------------------------------------------------------------------------------------
# folders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSet:
    """What :func:`write_sample_images` / :func:`write_sample_project` wrote."""

    folder: Path
    images: list[Path]
    labels: list[Path]
    fovs: list[Path]
    modality: str


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    from vessel_studio.io.atomic import write_with

    def writer(tmp: Path) -> None:
        Image.fromarray(array).save(tmp, format="PNG")

    write_with(path, writer)


def write_sample_images(
    folder: str | Path,
    *,
    n: int = 6,
    modality: str = "fundus",
    seed: int = 0,
    shape: tuple[int, int] | None = None,
) -> SampleSet:
    """Write ``n`` synthetic images to ``folder/images/``, their vessel masks to ``folder/labels/``
    (for scoring and tests only) and, for fundus, FOV masks to ``folder/fov/``. Names are
    ``sample-00.png`` ...; label and FOV files share the image's stem."""
    if modality not in ("fundus", "octa"):
        raise ValueError(f"modality must be 'fundus' or 'octa', got {modality!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    folder = Path(folder)
    images, labels, fovs = [], [], []
    for i in range(n):
        name = f"sample-{i:02d}.png"
        if modality == "fundus":
            img, mask, fov = synthetic_fundus(shape or (512, 512), seed=seed + i)
            _write_png(folder / "fov" / name, fov.astype(np.uint8) * 255)
            fovs.append(folder / "fov" / name)
        else:
            img, mask = synthetic_octa(shape or (304, 304), seed=seed + i)
        _write_png(folder / "images" / name, img)
        _write_png(folder / "labels" / name, mask.astype(np.uint8) * 255)
        images.append(folder / "images" / name)
        labels.append(folder / "labels" / name)
    return SampleSet(folder=folder, images=images, labels=labels, fovs=fovs, modality=modality)


def write_sample_project(
    folder: str | Path,
    *,
    n: int = 6,
    modality: str = "fundus",
    seed: int = 0,
    shape: tuple[int, int] | None = None,
    project: bool = True,
) -> SampleSet:
    """Write a sample project: synthetic target images (and their masks, for tests) and, with
    ``project=True``, a Vessel Studio project in ``folder`` holding the images.

    The raw files go to ``folder/samples/{images,labels,fov}``; the labels are never added to the
    project and nothing in training reads them (they exist to score and to test).
    """
    folder = Path(folder)
    if project and (folder / "project.json").exists():
        raise ValueError(f"{folder}: already holds a project (project.json exists)")
    if project:
        from vessel_studio.store import Project

        proj = Project.create(folder, modality=modality, name=f"Sample {modality} project")
    written = write_sample_images(folder / "samples", n=n, modality=modality, seed=seed, shape=shape)
    if project:
        proj.add_images(written.images)
    return written
