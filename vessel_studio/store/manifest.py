"""The project manifest (``project.json``): schema, validation, records.

The manifest is the commit point of a project: a file or round folder exists on disk before the
manifest names it, and a reader trusts only what the manifest names. Schema (version 1)::

    {
      "format": "vessel-studio-project", "schema_version": 1,
      "name": str, "modality": "fundus" | "octa", "created": ISO time,
      "preprocessing": {...},                      # Preprocessing.to_dict() of the modality
      "source": null | {"kind": "labelled" | "procedural", "modality", "segmenter": {"path", "hash"},
                         "generator": {"path", "hash"}, "images": int, "images_hash": str,
                         "folders": {"images", "masks", "fovs"}},  # folders: optional (see below)
      "images": [{"id", "name", "file", "sha256", "spacing", "state", "shape", "origin", "set_spacing"?}],
      "rounds": [{"index", "folder", "status", "stage", "config", "seed", "models": {name: hash},
                  "metrics": {name: value}, "created", "seconds", "pruned"?, "pruned_images"?}]
    }

``pruned`` (optional): when ``store.prune`` deleted the round's probability maps; ``pruned_images``
(optional, since session 27): the image ids whose maps it deleted, what ``adaptation.restore`` makes again.

``spacing`` (row_mm, col_mm) is the pixel spacing the image's file records (null when it records none); it
never changes. ``set_spacing`` (optional, since session 47; absent when none is set) is one a person set
(``Project.set_spacing``: the Project panel's "Set pixel spacing…", ``vessel-studio images --set-spacing``): it wins
over the file's (``ImageRecord.pixel_spacing``) in the vessel measures, the exported files' resolution and the Review
title, never in segmentation. It is optional, as ``pruned_images`` is, so the schema version stays 1: a manifest
without it (older ones, and new ones where no spacing was set, which are written byte for byte as before) loads as
before, and an older Vessel Studio opens one with it, ignoring the set spacing (measures in px as it always did)
and keeping it through its own edits, which change the images' entries in place (checked with session 46's code:
``set_state`` and ``save_correction`` left it as it was).

``source`` is ``SourceBundle.identity()`` of the rounds' source. ``folders`` (absolute paths; ``fovs``
may be null) is there for labelled images paired from folders (``SourceBundle.from_folders``); older
manifests and bundles made from a list of images have none. ``SourceBundle.from_record`` pairs the
recorded folders again (the GUI when a project opens, ``adapt`` continuing without
``--source-images``).
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "vessel-studio-project"
SCHEMA_VERSION = 1
MANIFEST_NAME = "project.json"
MODALITIES = ("fundus", "octa")
STATES = ("new", "predicted", "reviewed", "corrected")
#: ``ImageRecord.spacing_origin``: where ``pixel_spacing`` comes from
SPACING_SET, SPACING_FILE = "set", "from the file"


def spacing_pair(value: Any) -> tuple[float, float]:
    """A pixel spacing as (row_mm, col_mm): one number (square pixels) or two (row = pixel height, col = pixel
    width), each a positive finite number of mm per pixel; else a ValueError saying what was given."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        vals = [value]
    elif isinstance(value, (list, tuple)):
        vals = list(value)
    else:
        vals = []
    pair = None
    if len(vals) in (1, 2) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals):
        pair = (float(vals[0]), float(vals[-1]))
    if pair is None or not all(math.isfinite(v) and v > 0 for v in pair):
        raise ValueError(f"pixel spacing must be one or two positive finite numbers of mm per pixel "
                         f"(row, column), got {value!r}")
    return pair


def spacing_from_text(text: str) -> tuple[float, float]:
    """A pixel spacing typed by a person (``vessel-studio images --set-spacing``): mm per pixel, ``0.00987``; a field
    of view in mm over its pixels, ``3/304`` (a 3 mm OCT-A scan of 304 px); or a pixel's height and width,
    ``0.02,0.01`` (each may be such a fraction). A ValueError saying what was given otherwise."""
    def number(part: str) -> float:
        top, slash, bottom = part.partition("/")
        return float(top) / float(bottom) if slash else float(top)

    try:
        vals = [number(p.strip()) for p in str(text).split(",")]
    except (ValueError, ZeroDivisionError):
        vals = None
    try:
        return spacing_pair(vals if vals is not None else text)
    except ValueError:
        raise ValueError(f"pixel spacing must be a positive number of mm per pixel (0.00987), a field of view in "
                         f"mm over its pixels (3/304) or a pixel's height and width (0.02,0.01), got {text!r}") from None


@dataclass(frozen=True)
class ImageRecord:
    """One target image of a project. ``file`` is relative to the project folder."""

    id: str
    name: str
    file: str
    sha256: str
    spacing: tuple[float, float] | None
    state: str
    shape: tuple[int, ...] | None = None
    origin: str | None = None  # where it was added from (informational only)
    #: (row_mm, col_mm) a person set (``Project.set_spacing``); None: none set. ``spacing`` is the file's
    set_spacing: tuple[float, float] | None = None

    @property
    def pixel_spacing(self) -> tuple[float, float] | None:
        """The (row_mm, col_mm) the measures and exports use: the one set by a person, else the file's, else None."""
        return self.set_spacing if self.set_spacing is not None else self.spacing

    @property
    def spacing_origin(self) -> str | None:
        """Where :attr:`pixel_spacing` comes from: ``SPACING_SET``, ``SPACING_FILE``, or None when unknown."""
        return SPACING_SET if self.set_spacing is not None else SPACING_FILE if self.spacing else None

    def to_dict(self) -> dict[str, Any]:
        # "set_spacing" only when set: a manifest with none is written as before session 47
        extra = {} if self.set_spacing is None else {"set_spacing": list(self.set_spacing)}
        return {
            "id": self.id,
            "name": self.name,
            "file": self.file,
            "sha256": self.sha256,
            "spacing": list(self.spacing) if self.spacing is not None else None,
            "state": self.state,
            "shape": list(self.shape) if self.shape is not None else None,
            "origin": self.origin,
            **extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImageRecord":
        spacing = d.get("spacing")
        shape = d.get("shape")
        chosen = d.get("set_spacing")
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            file=str(d["file"]),
            sha256=str(d["sha256"]),
            spacing=tuple(float(s) for s in spacing) if spacing else None,
            state=str(d.get("state", "new")),
            shape=tuple(int(s) for s in shape) if shape else None,
            origin=d.get("origin"),
            set_spacing=None if chosen is None else spacing_pair(chosen),
        )


@dataclass(frozen=True)
class RoundRecord:
    """A committed round: its folder holds ``segmenter/``, ``generator/``, ``pseudo/``, ``synthetic/``."""

    index: int
    folder: str
    status: str = "complete"
    stage: str = "co-opt"  # "lsm" for round 0 (latent similarity mining), "co-opt" after
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    models: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    created: str | None = None
    seconds: float | None = None
    pruned: str | None = None  # when its probability maps were deleted to free disk (``store.prune``)
    #: the image ids whose maps that prune deleted (None: not pruned, or pruned before session 27)
    pruned_images: tuple[str, ...] | None = None
    #: the job's seed where it is not the round's: a round the label-free guard ran again records the seed it
    #: derived for that run (``seed``, ``config["seed"]``), and a project continued takes this one (session 29)
    job_seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.pruned is None else {"pruned": self.pruned}
        if self.job_seed is not None:
            extra["job_seed"] = self.job_seed
        if self.pruned_images is not None:
            extra["pruned_images"] = list(self.pruned_images)
        return {
            "index": self.index,
            "folder": self.folder,
            "status": self.status,
            "stage": self.stage,
            "config": self.config,
            "seed": self.seed,
            "models": self.models,
            "metrics": self.metrics,
            "created": self.created,
            "seconds": self.seconds,
            **extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RoundRecord":
        return cls(
            index=int(d["index"]),
            folder=str(d["folder"]),
            status=str(d.get("status", "complete")),
            stage=str(d.get("stage", "co-opt")),
            config=dict(d.get("config") or {}),
            seed=None if d.get("seed") is None else int(d["seed"]),
            models=dict(d.get("models") or {}),
            metrics={k: float(v) for k, v in (d.get("metrics") or {}).items() if v is not None},
            created=d.get("created"),
            seconds=None if d.get("seconds") is None else float(d["seconds"]),
            pruned=d.get("pruned"),
            pruned_images=None if d.get("pruned_images") is None else tuple(d["pruned_images"]),
            job_seed=None if d.get("job_seed") is None else int(d["job_seed"]),
        )


def new_manifest(*, name: str, modality: str, preprocessing: dict[str, Any], created: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "modality": modality,
        "created": created,
        "preprocessing": preprocessing,
        "source": None,
        "images": [],
        "rounds": [],
    }


def load_manifest(path: Path) -> dict[str, Any]:
    """Read and validate ``project.json``; any problem is a ValueError naming the file."""
    if not path.is_file():
        raise ValueError(f"{path}: no project manifest (not a Vessel Studio project folder)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: corrupt project manifest (invalid JSON: {exc})") from exc
    except OSError as exc:
        raise ValueError(f"{path}: cannot read project manifest ({exc})") from exc
    validate_manifest(data, path)
    return data


def validate_manifest(data: Any, path: Path) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: corrupt project manifest (top level is not an object)")
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a Vessel Studio project manifest (format={data.get('format')!r})")
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise ValueError(f"{path}: corrupt project manifest (schema_version missing or not an integer)")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"{path}: project schema_version {version} is newer than this Vessel Studio supports ({SCHEMA_VERSION})"
        )
    if data.get("modality") not in MODALITIES:
        raise ValueError(f"{path}: corrupt project manifest (modality {data.get('modality')!r} not in {MODALITIES})")
    for key, kind in (("images", list), ("rounds", list), ("name", str)):
        if not isinstance(data.get(key), kind):
            raise ValueError(f"{path}: corrupt project manifest ({key!r} missing or not a {kind.__name__})")
    try:
        images = [ImageRecord.from_dict(d) for d in data["images"]]
        rounds = [RoundRecord.from_dict(d) for d in data["rounds"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: corrupt project manifest (bad image or round entry: {exc!r})") from exc
    ids = [r.id for r in images]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: corrupt project manifest (duplicate image ids)")
    for r in images:
        if r.state not in STATES:
            raise ValueError(f"{path}: corrupt project manifest (image {r.id} has unknown state {r.state!r})")
        if Path(r.file).is_absolute() or ".." in Path(r.file).parts:
            raise ValueError(f"{path}: corrupt project manifest (image file {r.file!r} is outside the project)")
    for r in rounds:  # rollback deletes a round's folder: never one outside rounds/ (nor another round's)
        if r.folder != f"rounds/round-{r.index:03d}":
            raise ValueError(
                f"{path}: corrupt project manifest (round {r.index}'s folder {r.folder!r} is not "
                f"'rounds/round-{r.index:03d}')"
            )
    for r in rounds:
        if r.pruned is not None and not isinstance(r.pruned, str):
            raise ValueError(f"{path}: corrupt project manifest (round {r.index}'s 'pruned' is not a time)")
    for r, d in zip(rounds, data["rounds"]):
        ids = d.get("pruned_images")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise ValueError(f"{path}: corrupt project manifest (round {r.index}'s 'pruned_images' are not image ids)")
    idx = [r.index for r in rounds]
    if idx != sorted(set(idx)):
        raise ValueError(f"{path}: corrupt project manifest (round indices not strictly increasing: {idx})")
