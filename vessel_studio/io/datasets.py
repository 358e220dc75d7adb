"""Pairing images with their labels and FOV masks: the four reference datasets and a lab's folders.

``dataset(root, name, split)`` knows the layouts in ``../shared/data`` (see its README):

=========  ==============================  ===================================  ===========================
dataset    image                           label                                FOV
=========  ==============================  ===================================  ===========================
DRIVE      ``images/21_training.png``      ``1st_manual/21_manual1.png``        ``mask/21_training_mask.png``
CHASE_DB1  ``images/Image_01L.jpg``        ``1st_manual/Image_01L_1stHO.png``   ``mask/Image_01L.png``
STARE      ``images/im0001.png``           ``1st_manual/im0001.ah.png``         ``mask/im0001.png``
OCTA-500   ``OCTA500_3M_train_images/X``   ``OCTA500_3M_train_labels/X``        none (whole image)
=========  ==============================  ===================================  ===========================

OCTA-500 image 10388 is pixel-identical to 10333 with a slightly different label; the data
README says to leave it out of evaluation, so it is dropped from the ``test`` and ``val`` splits
wherever it appears (in the copy in ``../shared/data`` it is in ``Training``, so those splits
hold 50 and 10 images and ``train`` keeps all 140).

``discover(folder, labels=..., fovs=...)`` pairs a lab's own files by stem: a label or FOV file
matches an image when its stem is the image's stem, optionally followed by one of the known
suffixes (``_mask``, ``_label``, ``_labels``, ``_manual1``, ``_1stHO``, ``.ah``, the second
observers' ``_manual2``, ``_2ndHO``, ``.vk``, ``_seg``, ``_gt`` ...), or, for DRIVE-style names,
when both share the leading number (``21_training`` <-> ``21_manual1``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vessel_studio.io.images import IMAGE_EXTENSIONS, ImageMeta, read_image, read_mask

if TYPE_CHECKING:  # pragma: no cover
    from vessel_studio.preprocess import Prepared, Preprocessing

__all__ = [
    "Sample",
    "LoadedSample",
    "DATASETS",
    "SPLITS",
    "dataset",
    "discover",
    "modality_of",
    "load_sample",
    "list_images",
]

DATASETS = ("DRIVE", "CHASE_DB1", "STARE", "OCTA-500")
SPLITS = ("train", "test", "val")
#: Files left out of evaluation splits (see the data README).
EXCLUDED = {"OCTA-500": {"10388"}}

#: Suffixes that turn an image stem into a label / FOV stem in a lab's own folders.
#: ``_manual2``, ``_2ndHO`` and ``.vk`` are the second observers' labels of DRIVE, CHASE_DB1 and STARE.
LABEL_SUFFIXES = ("_manual1", "_1stHO", ".ah", "_manual2", "_2ndHO", ".vk", "_label", "_labels", "_seg", "_gt", "_vessels", "_mask", "-label", "-mask")
FOV_SUFFIXES = ("_mask", "_fov", "_FOV", "-mask", "_roi")


@dataclasses.dataclass(frozen=True)
class Sample:
    """One image with its (optional) label and FOV files."""

    name: str
    image: Path
    label: Path | None = None
    fov: Path | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class LoadedSample:
    """A sample read and prepared for a model (see :func:`load_sample`)."""

    name: str
    prepared: "Prepared"
    label: np.ndarray | None  # bool, at the model's scale (prepared.x.shape), nearest neighbour
    label_original: np.ndarray | None  # bool, at the file's resolution
    fov_original: np.ndarray  # bool, at the file's resolution (given or estimated)
    image_meta: ImageMeta


def modality_of(name: str) -> str:
    """``"octa"`` for OCTA-500 (or any name mentioning OCTA), ``"fundus"`` otherwise."""
    return "octa" if "octa" in str(name).lower() else "fundus"


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The readable image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _stem(p: Path) -> str:
    return p.name[: -len(p.suffix)] if p.suffix else p.name


# ------------------------------------------------------------------------------ known datasets


def _dataset_folder(root: Path, name: str) -> Path:
    if (root / name).is_dir():
        return root / name
    if root.name == name and root.is_dir():
        return root
    raise ValueError(f"{root}: no {name} folder here (expected {root / name})")


def dataset(root: str | os.PathLike, name: str, split: str) -> list[Sample]:
    """The samples of one split of a reference dataset under ``root`` (e.g. ``../shared/data``).

    ``name`` in DRIVE, CHASE_DB1, STARE, OCTA-500; ``split`` in train, test, val (only OCTA-500
    has a val split). Every image must have its label (and, for fundus sets, its FOV mask):
    a missing partner raises ``ValueError`` naming the files.
    """
    root = Path(root)
    canonical = {n.lower().replace("-", "").replace("_", ""): n for n in DATASETS}
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in canonical:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    name = canonical[key]
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    base = _dataset_folder(root, name)
    if name == "OCTA-500":
        sub = {"train": "Training", "val": "Validation", "test": "Testing"}[split]
        folder = base / sub
        images = folder / f"OCTA500_3M_{split}_images"
        labels = folder / f"OCTA500_3M_{split}_labels"
        samples = discover(images, labels=labels, require_labels=True)
        if split in ("test", "val"):
            samples = [s for s in samples if s.name not in EXCLUDED[name]]
        return samples
    if split == "val":
        raise ValueError(f"{name} has no val split (splits: train, test)")
    folder = base / ("training" if split == "train" else "test")
    if not folder.is_dir():
        raise ValueError(f"{folder}: missing {name} {split} folder")
    out = []
    missing = []
    for img in list_images(folder / "images"):
        stem = _stem(img)
        if name == "DRIVE":
            num = stem.split("_")[0]
            label = folder / "1st_manual" / f"{num}_manual1.png"
            fov = folder / "mask" / f"{stem}_mask.png"
        elif name == "CHASE_DB1":
            label = folder / "1st_manual" / f"{stem}_1stHO.png"
            fov = folder / "mask" / f"{stem}.png"
        else:  # STARE
            label = folder / "1st_manual" / f"{stem}.ah.png"
            fov = folder / "mask" / f"{stem}.png"
        for p in (label, fov):
            if not p.is_file():
                missing.append(f"{img.name} -> {p}")
        out.append(Sample(stem, img, label, fov))
    if missing:
        raise ValueError(f"{folder}: {len(missing)} partner file(s) missing: " + "; ".join(missing))
    if not out:
        raise ValueError(f"{folder / 'images'}: no images found")
    return out


# ------------------------------------------------------------------------------ generic folders


def _leading_number(stem: str) -> int | None:
    m = re.match(r"^(\d+)_", stem)
    return int(m.group(1)) if m else None


def _match(
    stem: str, candidates: dict[str, Path], suffixes: tuple[str, ...], unique_numbers: set[int] | None = None
) -> Path | None:
    """Find the candidate whose stem is ``stem`` or ``stem + suffix`` (case-insensitive); failing
    that, DRIVE style (``21_training`` <-> ``21_manual1``), the one candidate with the same leading
    number, provided no other image carries that number (``unique_numbers``)."""
    low = {k.lower(): v for k, v in candidates.items()}
    s = stem.lower()
    if s in low:
        return low[s]
    for suf in suffixes:
        if s + suf.lower() in low:
            return low[s + suf.lower()]
    num = _leading_number(stem)
    if num is not None and (unique_numbers is None or num in unique_numbers):
        hits = [v for k, v in low.items() if _leading_number(k) == num]
        if len(hits) == 1:
            return hits[0]
    return None


def discover(
    folder: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    fovs: str | os.PathLike | None = None,
    require_labels: bool = False,
) -> list[Sample]:
    """Pair the images in ``folder`` with labels in ``labels`` and FOV masks in ``fovs`` by stem.

    ``labels`` / ``fovs`` may be the image folder itself: then only files whose stem is an
    image's stem plus a label (FOV) suffix are partners, and they are not taken as images.
    ``_mask`` means an FOV mask when ``fovs`` is given and a label otherwise. With
    ``require_labels=True`` every image must find a label and every label file must be used; a
    ``fovs`` folder of its own (not the image or label folder) must hold every image's FOV mask;
    otherwise a ``ValueError`` lists what could not be paired.
    """
    folder = Path(folder)
    files = list_images(folder)
    label_dir = None if labels is None else Path(labels)
    fov_dir = None if fovs is None else Path(fovs)
    fov_sfx = FOV_SUFFIXES
    label_sfx = LABEL_SUFFIXES if fov_dir is None else tuple(s for s in LABEL_SUFFIXES if s not in FOV_SUFFIXES)
    here = folder.resolve()
    label_here = label_dir is not None and label_dir.resolve() == here
    fov_here = fov_dir is not None and fov_dir.resolve() == here

    def partner_of(stem: str, stems: set[str], suffixes: tuple[str, ...]) -> bool:
        s = stem.lower()
        return any(s.endswith(x.lower()) and s[: -len(x)] in stems for x in suffixes)

    all_stems = {_stem(p).lower() for p in files}
    images = [
        p
        for p in files
        if not (label_here and partner_of(_stem(p), all_stems, label_sfx))
        and not (fov_here and partner_of(_stem(p), all_stems, fov_sfx))
    ]
    if not images:
        raise ValueError(f"{folder}: no image files found (readable: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    image_stems = {_stem(p).lower() for p in images}

    def candidates(d: Path | None, same: bool, suffixes: tuple[str, ...]) -> dict[str, Path]:
        if d is None:
            return {}
        found = {_stem(p): p for p in list_images(d)}
        if same:
            found = {k: v for k, v in found.items() if partner_of(k, image_stems, suffixes)}
        return found

    label_files = candidates(label_dir, label_here, label_sfx)
    fov_files = candidates(fov_dir, fov_here, fov_sfx)
    if label_dir is not None and fov_dir is not None and label_dir.resolve() == fov_dir.resolve():
        # one folder for both: FOV-suffixed files are FOV masks, not labels
        label_files = {k: v for k, v in label_files.items() if not any(k.lower().endswith(x.lower()) for x in fov_sfx)}

    # a FOV folder of its own was asked for: an image without its FOV mask there is an error (a naming
    # scheme that pairs nothing must not fall back to estimated FOVs silently)
    fov_required = fov_dir is not None and not fov_here and (
        label_dir is None or label_dir.resolve() != fov_dir.resolve())
    numbers = [_leading_number(_stem(p)) for p in images]
    unique_numbers = {n for n in numbers if n is not None and numbers.count(n) == 1}
    out: list[Sample] = []
    unpaired: list[str] = []
    used_labels: set[Path] = set()
    for img in images:
        stem = _stem(img)
        label = _match(stem, label_files, label_sfx, unique_numbers) if label_files else None
        fov = _match(stem, fov_files, fov_sfx, unique_numbers) if fov_files else None
        if label is None and require_labels:
            unpaired.append(f"image {img.name} has no label in {label_dir}")
        if fov is None and fov_required:
            unpaired.append(f"image {img.name} has no FOV mask in {fov_dir}")
        if label is not None:
            used_labels.add(label)
        out.append(Sample(stem, img, label, fov))
    for kind, attr in (("label", "label"), ("FOV mask", "fov")):
        users: dict[Path, list[str]] = {}
        for smp in out:
            p = getattr(smp, attr)
            if p is not None:
                users.setdefault(p, []).append(smp.image.name)
        shared = {p: names for p, names in users.items() if len(names) > 1}
        if shared:
            detail = "; ".join(f"{p.name} <- {', '.join(n)}" for p, n in sorted(shared.items()))
            raise ValueError(f"{folder}: ambiguous pairing, one {kind} matches several images: {detail}")
    if require_labels:
        if label_dir is None:
            raise ValueError(f"{folder}: labels are required but no label folder was given")
        for _, p in sorted(label_files.items()):
            if p not in used_labels:
                unpaired.append(f"label {p.name} matches no image in {folder}")
    if unpaired:
        raise ValueError(f"{folder}: {len(unpaired)} file(s) could not be paired: " + "; ".join(unpaired))
    return out


# ------------------------------------------------------------------------------ loading


def load_sample(sample: Sample, prep: "Preprocessing", *, spacing_mm: float | None = None) -> LoadedSample:
    """Read a sample's image, FOV (given, or estimated for fundus) and label, and prepare it.

    The label comes back twice: at the file's resolution and resized to the model's scale
    (nearest neighbour, bool) so that it lines up with ``prepared.x``. A label or FOV of another
    size than its image raises ``ValueError`` naming the file.
    """
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.preprocess import prepare, resize_mask

    image, meta = read_image(sample.image)
    if sample.fov is not None:
        fov = read_mask(sample.fov, shape=image.shape)
    else:
        fov = estimate_fov(image, modality=prep.modality)
    label = read_mask(sample.label, shape=image.shape) if sample.label is not None else None
    spacing = spacing_mm
    if spacing is None and meta.pixel_spacing_mm is not None:
        spacing = float(np.mean(meta.pixel_spacing_mm))
    prepared = prepare(image, fov=fov, prep=prep, spacing_mm=spacing)
    label_model = None if label is None else resize_mask(label, prepared.x.shape)
    return LoadedSample(sample.name, prepared, label_model, label, fov, meta)
