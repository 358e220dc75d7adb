"""Readable text for the adaptation's source: the bundle chosen in the GUI and the project's record.

The project's manifest records the source of its rounds as ``SourceBundle.identity()`` (``kind``,
``modality``, ``segmenter`` / ``generator`` ``{path, hash}``, ``images``, ``images_hash``, and for
labelled images paired from folders ``folders``: ``{images, masks, fovs}``); these
functions turn that, and a :class:`~vessel_studio.adaptation.SourceBundle`, into one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _model_text(path: Any, default: str, role: str = "generator") -> str:
    """"bundled fundus-generator" for a shipped model (``resources.is_bundled``), else "generator NAME"
    (``role`` and the model folder's name)."""
    from vessel_studio.resources import is_bundled

    if not path:
        return f"bundled {default}"
    name = Path(str(path)).name
    return f"bundled {name}" if is_bundled(str(path)) else f"{role} {name}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_record(record: dict[str, Any] | None) -> str:
    """One line from a manifest ``source`` record, e.g. "bundled fundus-generator, procedural vessel
    masks" or "20 labelled fundus images (hash 4f53cda1…)"."""
    from vessel_studio.resources import DEFAULT_GENERATOR

    if not record:
        return "none recorded"
    gen = record.get("generator")
    gen_path = gen.get("path") if isinstance(gen, dict) else gen
    gen_text = _model_text(gen_path, DEFAULT_GENERATOR)
    modality = record.get("modality") or "fundus"
    if is_labelled(record):
        text = _plural(int(record.get("images") or 0), f"labelled {modality} image")
        digest = record.get("images_hash")
        if digest:
            text += f" (hash {str(digest)[:8]}…)"
        if gen_text != f"bundled {DEFAULT_GENERATOR}":
            text += f", {gen_text}"
        return text
    return f"{gen_text}, procedural vessel masks"


def source_folder(bundle) -> Path | None:
    """The folder of a bundle's labelled source images (their common parent), or None."""
    if bundle is None or not bundle.images:
        return None
    parents = {Path(entry[0]).parent for entry in bundle.images}
    return parents.pop() if len(parents) == 1 else Path(bundle.images[0][0]).parent


def describe_bundle(bundle) -> str:
    """What an adaptation started now would use: "the bundled fundus-generator with procedural
    vessel masks" or "3 labelled fundus images from FOLDER", with the FOV masks folder and the
    models that are not the bundled ones ("…, FOV masks from FOLDER (segmenter NAME and generator NAME)")."""
    from vessel_studio.resources import DEFAULT_GENERATOR, DEFAULT_SEGMENTER

    if bundle is None:
        return f"the bundled {DEFAULT_GENERATOR} with procedural vessel masks"
    gen_text = _model_text(bundle.generator, DEFAULT_GENERATOR)
    seg_text = _model_text(bundle.segmenter, DEFAULT_SEGMENTER, "segmenter")
    if not bundle.images:
        text = f"the {gen_text} with procedural vessel masks"
        return text if seg_text.startswith("bundled ") else f"{text} ({seg_text})"
    text = f"{_plural(len(bundle.images), f'labelled {bundle.modality} image')} from {source_folder(bundle)}"
    if getattr(bundle, "fovs_folder", None) is not None:
        text += f", FOV masks from {bundle.fovs_folder}"
    custom = [t for t in (seg_text, gen_text) if not t.startswith("bundled ")]
    if custom:
        text += f" ({' and '.join(custom)})"
    return text


def describe_models(bundle) -> str:
    """The source models in use and the source modality: "Source models: bundled fundus-segmenter,
    bundled fundus-generator (fundus)" or "Source models: segmenter FOLDER, generator FOLDER (octa)"."""
    from vessel_studio.resources import DEFAULT_GENERATOR, DEFAULT_SEGMENTER

    def one(path, default, role):
        text = _model_text(path, default, role)
        return text if text.startswith("bundled ") else f"{role} {Path(str(path))}"

    seg = DEFAULT_SEGMENTER if bundle is None else bundle.segmenter
    gen = DEFAULT_GENERATOR if bundle is None else bundle.generator
    modality = "fundus" if bundle is None else bundle.modality
    return (f"Source models: {one(seg, DEFAULT_SEGMENTER, 'segmenter')}, {one(gen, DEFAULT_GENERATOR, 'generator')} "
            f"({modality})")


def is_labelled(record: dict[str, Any] | None) -> bool:
    """Whether a manifest ``source`` record is of labelled source images."""
    return bool(record) and (record.get("kind") == "labelled" or int(record.get("images") or 0) > 0)


def not_restored_text(record: dict[str, Any] | None, reason: str) -> str:
    """Why the labelled source images (or source models) a project records were not restored, and what to do."""
    again = ("Choose their folders again to continue from them." if is_labelled(record) else
             "Choose its source models again (Segmenter…, Generator…) to continue from them.")
    return f"This project's rounds were adapted from {describe_record(record)}, not restored: {reason}. {again}"


def same_source(record: dict[str, Any] | None, identity: dict[str, Any] | None) -> bool:
    """Whether a recorded source and a bundle's identity are one source: kind, modality, image list
    and the models' weights (their folder paths may differ, e.g. a moved installation)."""
    if not record or not identity:
        return True  # nothing to compare with: no mixing to warn about

    def key(d):
        models = tuple((d.get(m) or {}).get("hash") if isinstance(d.get(m), dict) else d.get(m)
                       for m in ("segmenter", "generator"))
        return (d.get("kind"), d.get("modality"), int(d.get("images") or 0), d.get("images_hash"), models)

    return key(record) == key(identity)
