"""The source segmenter and source generator an adaptation starts from, checked before any work.

One rule for the CLI (``vessel-studio adapt --source-segmenter/--source-generator``) and the GUI
(the Adaptation panel's source models): only ``config.json`` is read (no weights are loaded, no
torch import), so the check runs at once, on the GUI thread too. A ``ValueError`` names the model
folder and what is wrong:

- not a model folder (no such folder and not a bundled name, no ``config.json``, not a Vessel
  Studio config, no ``model.safetensors``);
- the wrong kind: a generator given as the segmenter, or a segmenter as the generator;
- a generator without a mask-conditioning channel (trained without ``--masks``: ``conditioned``
  false in its config) when the source is procedural: procedural vessel masks are rendered into
  source images by the source generator (mask -> image, ``job.procedural_renderer``), which such a
  generator ignores (it draws images unrelated to the masks). With labelled source images it only
  inverts them, and an unconditioned generator can do that;
- the two models record different modalities (``preprocessing.modality``).

:func:`check_source_models` returns the modality the models record (None when neither does), which
is the source modality when none is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class ModalityMismatchError(ValueError):
    """The source segmenter and generator record different modalities (each is otherwise usable)."""


@dataclass(frozen=True)
class SourceModel:
    """What a model folder's ``config.json`` says about it."""

    folder: Path
    kind: str
    modality: str | None
    conditioned: bool  # a generator with a mask channel, trained with masks (False for a segmenter)


def read_source_model(name_or_path: str | os.PathLike, role: str) -> SourceModel:
    """The model folder (or bundled name) ``name_or_path`` as the source ``role`` ("segmenter" or
    "generator"); a ``ValueError`` naming the folder when it is not a model folder of that kind."""
    from vessel_studio.models.folder import WEIGHTS_NAME, ModelFolderError, read_config
    from vessel_studio.resources import resolve_model

    try:
        folder = resolve_model(name_or_path)
    except FileNotFoundError as exc:
        raise ValueError(f"{exc}; the source {role} must be a model folder") from None
    try:
        cfg = read_config(folder)
    except ModelFolderError as exc:
        raise ValueError(f"{exc}; the source {role} must be a model folder (made by vessel-studio "
                         f"train-{role})") from None
    if not (folder / WEIGHTS_NAME).is_file():
        raise ValueError(f"{folder}: model folder has no {WEIGHTS_NAME}; the source {role} must be a complete "
                         "model folder")
    kind = cfg.get("kind")
    if kind != role:
        other = f"a {kind} model" if kind in ("segmenter", "generator") else f"a model of kind {kind!r}"
        raise ValueError(f"{folder}: is {other} (config.json kind {kind!r}), not a {role}; the source {role} "
                         f"must be made by vessel-studio train-{role}")
    prep = cfg.get("preprocessing")
    modality = prep.get("modality") if isinstance(prep, dict) else None
    arch = cfg.get("architecture") if isinstance(cfg.get("architecture"), dict) else {}
    conditioned = (role == "generator" and bool(cfg.get("conditioned", False))
                   and int(arch.get("in_channels", 2) or 0) >= 2)
    return SourceModel(folder=folder, kind=kind, modality=str(modality) if modality else None,
                       conditioned=conditioned)


def check_source_models(segmenter: str | os.PathLike, generator: str | os.PathLike, *,
                        procedural: bool) -> str | None:
    """Check the source segmenter and generator (module docstring); ``procedural``: the source has
    no labelled images, so the generator must render vessel masks into images. Returns the
    modality the models record (None when neither records one)."""
    seg = read_source_model(segmenter, "segmenter")
    gen = read_source_model(generator, "generator")
    if procedural and not gen.conditioned:
        raise ValueError(f"{gen.folder}: this generator has no mask-conditioning channel (trained without "
                         "--masks), and procedural vessel masks need one: they are rendered into source images "
                         "by the source generator (mask -> image). Use it with labelled source images, or choose "
                         "a generator trained with vessel-studio train-generator --masks")
    if seg.modality and gen.modality and seg.modality != gen.modality:
        raise ModalityMismatchError(f"{gen.folder}: this generator is for {gen.modality} images and the segmenter "
                         f"{seg.folder} for {seg.modality} images; the source segmenter and generator must be "
                         "of one modality")
    return seg.modality or gen.modality
