"""The source of an adaptation: the lab's labelled images (or procedural vessel masks) and the
source segmenter and generator (``SourceBundle``), with the record a project keeps of it
(``SourceBundle.identity``) and the way back from that record (``SourceBundle.from_record``).
Split out of ``adaptation.job`` (which re-exports it); no torch is imported here."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


@dataclass
class SourceBundle:
    """What the adaptation starts from.

    ``segmenter`` / ``generator``: model folders or bundled names (default: the shipped
    ``fundus-segmenter`` and ``fundus-generator``). ``images``: labelled source images as
    ``(image path, mask path, fov path or None)``; empty means *procedural*: vessel masks drawn by
    ``vessel_studio.samples.make_vessel_tree`` and rendered into source images by the source
    generator (mask -> image), for labs with no labelled images of their own.
    ``images_folder`` / ``masks_folder`` / ``fovs_folder``: the folders :meth:`from_folders` paired
    (absolute), recorded by :meth:`identity` so that a project's source can be paired again
    (:meth:`from_record`); None for a bundle made from a list of images.
    """

    segmenter: str | os.PathLike = "fundus-segmenter"
    generator: str | os.PathLike = "fundus-generator"
    images: list[tuple[Path, Path, Path | None]] = field(default_factory=list)
    modality: str = "fundus"
    images_folder: Path | None = None
    masks_folder: Path | None = None
    fovs_folder: Path | None = None

    @classmethod
    def from_folders(cls, images: str | os.PathLike, masks: str | os.PathLike, *, fovs=None,
                     segmenter="fundus-segmenter", generator="fundus-generator", modality="fundus") -> "SourceBundle":
        """Pair a folder of labelled source images with its masks (``io.datasets.discover``).

        The folders are made absolute first, so the pairs' paths (and ``identity()["images_hash"]``)
        do not depend on the working directory."""
        from vessel_studio.io.datasets import discover

        images, masks = Path(images).absolute(), Path(masks).absolute()
        fovs = Path(fovs).absolute() if fovs else None
        samples = discover(images, labels=masks, fovs=fovs, require_labels=True)
        if not samples:
            raise ValueError(f"{images}: no source images found")
        return cls(segmenter=segmenter, generator=generator, modality=modality,
                   images=[(s.image, s.label, s.fov) for s in samples],
                   images_folder=images, masks_folder=masks, fovs_folder=fovs)

    @classmethod
    def from_record(cls, record: dict[str, Any], *, segmenter=None, generator=None,
                    modality=None) -> "SourceBundle":
        """The labelled source of a manifest ``source`` record (:meth:`identity`), paired again from
        its recorded folders.

        It never guesses: a ValueError naming the folder (or model) and what is wrong when the
        record has no folders (recorded before they were), a folder is gone, the folders no longer
        pair, or they pair other images than the recorded ``images`` / ``images_hash``. Models
        given here are used as given (an explicit choice); else each recorded model is used when
        its weights still have the recorded hash (the recorded folder, or the bundled model of that
        name, e.g. after the installation moved). A record of procedural vessel masks gives the
        procedural bundle of its recorded models (a ValueError naming a model whose weights changed).
        """
        n = int(record.get("images") or 0)
        if not (record.get("kind") == "labelled" or n > 0):
            return cls(segmenter=segmenter if segmenter is not None else _recorded_model(record, "segmenter"),
                       generator=generator if generator is not None else _recorded_model(record, "generator"),
                       modality=modality or record.get("modality") or "fundus")
        folders = record.get("folders") if isinstance(record.get("folders"), dict) else {}
        if not folders.get("images") or not folders.get("masks"):
            raise ValueError(f"the source record names no folders for its {n} labelled image(s) (it was written "
                             "by an earlier Vessel Studio)")
        images, masks = Path(folders["images"]), Path(folders["masks"])
        fovs = Path(folders["fovs"]) if folders.get("fovs") else None
        for what, folder in (("images", images), ("masks", masks), ("FOV masks", fovs)):
            if folder is not None and not folder.is_dir():
                raise ValueError(f"{folder}: the recorded source {what} folder is gone (no such folder)")
        seg = segmenter if segmenter is not None else _recorded_model(record, "segmenter")
        gen = generator if generator is not None else _recorded_model(record, "generator")
        try:
            bundle = cls.from_folders(images, masks, fovs=fovs, segmenter=seg, generator=gen,
                                      modality=modality or record.get("modality") or "fundus")
        except (ValueError, OSError) as exc:
            raise ValueError(f"{exc} (the recorded source folders {images} and {masks} no longer pair)") from exc
        if len(bundle.images) != n or images_hash(bundle.images) != record.get("images_hash"):
            what = (f"{len(bundle.images)} image(s), not the recorded {n}" if len(bundle.images) != n
                    else f"{n} image(s) as recorded, but other files")
            raise ValueError(f"{images}: the recorded source images folder (masks {masks}) now pairs {what}")
        return bundle

    def identity(self) -> dict[str, Any]:
        from vessel_studio.models.folder import hash_folder
        from vessel_studio.resources import resolve_model

        seg, gen = resolve_model(self.segmenter), resolve_model(self.generator)
        out = {
            "kind": "labelled" if self.images else "procedural",
            "modality": self.modality,
            "segmenter": {"path": str(seg), "hash": hash_folder(seg)},
            "generator": {"path": str(gen), "hash": hash_folder(gen)},
            "images": len(self.images),
            "images_hash": images_hash(self.images),
        }
        if self.images and self.images_folder is not None and self.masks_folder is not None:
            out["folders"] = {"images": str(self.images_folder), "masks": str(self.masks_folder),
                              "fovs": str(self.fovs_folder) if self.fovs_folder is not None else None}
        return out


#: a vessel mask marking more of its image than this is taken for a FOV mask, a FOV mask marking less for a vessel mask
#: (the guard's flood share). Measured on the shared data (session 42): vessel labels mark 4.6-11.6 % of their image
#: (DRIVE 1st_manual, CHASE_DB1 1stHO, STARE ah, OCTA-500 3 mm), FOV masks 68-82 % (DRIVE, CHASE_DB1, STARE mask/)
MASK_SHARE_LIMIT = 0.35


def masks_mixed_up(bundle: "SourceBundle | None") -> list[str]:
    """Warnings when the first labelled source pair's vessel mask looks like a FOV mask (it marks more than
    ``MASK_SHARE_LIMIT`` of its image: DRIVE's ``mask/`` folder given as the vessel masks instead of
    ``1st_manual/``), or its FOV mask like a vessel mask (less than that); none when they look right, or when a mask
    cannot be read (the adaptation says so). One mask of each is read: a folder choice should not wait for a whole
    set. Session 42 QA: DRIVE's FOV masks were taken as vessel masks without a word (the GUI's source box, which does
    not name the masks' folder, and ``adapt --source-masks``)."""
    from vessel_studio.io.images import read_mask

    if bundle is None or not bundle.images:
        return []
    _image, mask, fov = bundle.images[0]
    lines = []
    try:
        share = float(read_mask(mask).mean())
        if share > MASK_SHARE_LIMIT:
            lines.append(f"{mask}: {share:.0%} of the image is marked as vessel (vessel masks mark about 5-12 %, a "
                         "field of view mask about 70 %): is this folder the FOV masks? (DRIVE's vessel masks are in "
                         "1st_manual/, its FOV masks in mask/)")
        if fov is not None:
            share = float(read_mask(fov).mean())
            if share < MASK_SHARE_LIMIT:
                lines.append(f"{fov}: the field of view mask marks {share:.0%} of the image (a field of view mask "
                             "about 70 %, vessel masks about 5-12 %): is this folder the vessel masks?")
    except (OSError, ValueError):
        return []
    return lines


def images_hash(images: Sequence[tuple]) -> str:
    """16 hex of the sha256 of the labelled source images' path list (``identity()["images_hash"]``)."""
    return hashlib.sha256(
        json.dumps([[str(p) if p else None for p in t] for t in images]).encode()).hexdigest()[:16]


def _recorded_model(record: dict[str, Any], name: str) -> str:
    """The recorded ``segmenter`` / ``generator`` of a source record when its weights are unchanged:
    the bundled name when the record names a bundled model (or one with the same weights), else
    the recorded folder; a ValueError naming the folder otherwise."""
    from vessel_studio.models.folder import hash_folder
    from vessel_studio.resources import models_dir

    entry = record.get(name)
    path, digest = (entry.get("path"), entry.get("hash")) if isinstance(entry, dict) else (entry, None)
    if not path or not digest:
        raise ValueError(f"the source record of this project names no {name} with its hash")
    recorded, bundled = Path(str(path)), models_dir() / Path(str(path)).name
    if bundled.is_dir() and hash_folder(bundled) == digest:
        return bundled.name
    if recorded.is_dir() and hash_folder(recorded) == digest:
        return str(recorded)
    problem = "its weights changed" if recorded.is_dir() else "no such folder"
    raise ValueError(f"{recorded}: the source {name} of this project's rounds is gone or changed ({problem}; "
                     f"recorded hash {digest})")
