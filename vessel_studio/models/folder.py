"""Model folders: ``config.json`` + ``model.safetensors``; training checkpoints likewise.

Layout of a model folder (diffusers' ``save_pretrained`` habit)::

    my-model/
      config.json          {"format": "vessel-studio-model", "format_version": 1, "kind": ...,
                            "architecture": {...}, "preprocessing": {...}, "training": {...}, ...}
      model.safetensors    weights (float32 or float16 for shipping)
      README.md            optional model card

A training checkpoint (for resuming) is a folder with ``checkpoint.json`` (config, step, RNG
seeds, optimizer hyper-parameters) and ``state.safetensors`` (model, EMA and optimizer tensors).
Nothing is ever pickled; everything is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

FORMAT = "vessel-studio-model"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ModelFolderError(ValueError):
    """A model folder is missing, incomplete, or does not match what the caller expects."""


def save_model_folder(
    folder: str | Path,
    *,
    kind: str,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any],
    half: bool = False,
    card: str | None = None,
) -> Path:
    """Write a complete model folder atomically (the old folder stays until the new is whole). ``folder`` may
    be absent, an empty folder or a model folder (``config.json``, ``model.safetensors``, ``README.md``), which
    is replaced; a file or a folder holding anything else (a lab's images) is a ``ValueError`` naming it,
    before anything is written (session 33 API
    QA: ``Segmenter.save`` onto a folder of images replaced it, the images deleted, and onto a file replaced
    it too; the commands checked ``--out`` themselves)."""
    import torch
    from safetensors.torch import save_file

    from vessel_studio.io.atomic import atomic_dir
    from vessel_studio.io.folders import check_out_folder

    model_files = {CONFIG_NAME, WEIGHTS_NAME, "README.md"}  # a model folder's, its config broken or another kind's
    check_out_folder(folder, kind=kind, of_kind=lambda f: is_model_folder(f, kind), name=f"the {kind} folder",
                     foreign=lambda f: [p.name for p in f.iterdir() if p.name not in model_files])
    tensors = {}
    for name, value in state_dict.items():
        t = value.detach().to("cpu").contiguous()
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[name] = t
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, **dict(config)}
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        # one metadata key: safetensors writes its metadata map in no fixed order, so with two keys the
        # same weights gave two different files (the kind is in config.json, where loading checks it)
        save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n",
                                       encoding="utf-8")
        if card:
            # UTF-8 whatever the locale (a Markdown file read as such), a path's undecodable bytes as they came: under
            # LC_ALL=C PYTHONUTF8=0 a card naming "models/Modèle" failed after the whole renormalize (session 49 QA)
            (tmp / "README.md").write_text(card, encoding="utf-8", errors="surrogateescape")
    return folder


def read_config(folder: str | Path, *, kind: str | None = None) -> dict[str, Any]:
    """Read and validate ``config.json`` of a model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: not a model folder (no such directory)")
    cfg_path = folder / CONFIG_NAME
    if not cfg_path.is_file():
        hint = ""
        if (folder / "project.json").is_file():  # ``Segmenter.load(project)``: the CLI's --model takes one
            hint = (" (it is an adaptation project: its rounds' models are the folders rounds/round-NNN/segmenter "
                    "and generator, Project.segmenter_path(round) and generator_path(round))")
        raise ModelFolderError(f"{folder}: model folder has no {CONFIG_NAME}{hint}")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))  # JSON is UTF-8 (a config edited by hand)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{cfg_path}: invalid JSON ({exc})") from exc
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ModelFolderError(f"{cfg_path}: not a Vessel Studio model config (format field missing)")
    if int(cfg.get("format_version", -1)) > FORMAT_VERSION:
        raise ModelFolderError(
            f"{cfg_path}: format_version {cfg.get('format_version')} is newer than this Vessel Studio supports"
        )
    if kind is not None and cfg.get("kind") != kind:
        raise ModelFolderError(f"{folder}: expected a {kind} model, found kind={cfg.get('kind')!r}")
    return cfg


def load_model_folder(folder: str | Path, *, kind: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(config, state_dict)``; weights are float32 on the CPU."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cfg = read_config(folder, kind=kind)
    weights = Path(folder) / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelFolderError(f"{folder}: model folder has no {WEIGHTS_NAME}")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFolderError(f"{weights}: cannot read weights ({exc})") from exc
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    return cfg, state


def build_loaded(build, state: Mapping[str, Any], *, source: str | Path):
    """``build()`` with ``state`` loaded into it. The shapes are compared on torch's meta device
    first, so a config.json that does not match its weights (say, absurd channel counts) is a
    named error before any memory is allocated for it."""
    import torch

    with torch.device("meta"):
        _check_state(build().state_dict(), state, source=source)
    module = build()
    module.load_state_dict(state)
    return module


def load_state_into(module, state: Mapping[str, Any], *, source: str | Path) -> None:
    """``module.load_state_dict`` with an error that names the folder and the mismatch."""
    _check_state(module.state_dict(), state, source=source)
    module.load_state_dict(state)


def _check_state(own: Mapping[str, Any], state: Mapping[str, Any], *, source: str | Path) -> None:
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(
                f"{len(wrong)} tensors of the wrong shape (e.g. {k}: file {tuple(state[k].shape)}, "
                f"config expects {tuple(own[k].shape)})"
            )
        raise ModelFolderError(f"{source}: weights do not match the config: " + "; ".join(parts))


# --- training checkpoints (resumable) ---------------------------------------------------------

CKPT_JSON = "checkpoint.json"
CKPT_TENSORS = "state.safetensors"


def save_checkpoint(
    folder: str | Path,
    *,
    step: int,
    config: Mapping[str, Any],
    modules: Mapping[str, Any],
    optimizer=None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save modules (name -> nn.Module), an optimizer and JSON-able ``extra`` atomically."""
    from safetensors.torch import save_file

    from vessel_studio.io.atomic import atomic_dir

    tensors: dict[str, Any] = {}
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            tensors[f"{name}/{k}"] = v.detach().to("cpu").contiguous()
    opt_meta = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        opt_meta = {"param_groups": sd["param_groups"], "state_scalars": {}}
        for pid, st in sd["state"].items():
            for k, v in st.items():
                if hasattr(v, "detach"):
                    tensors[f"optimizer/{pid}/{k}"] = v.detach().to("cpu").contiguous()
                else:
                    opt_meta["state_scalars"][f"{pid}/{k}"] = v
    meta = {"step": int(step), "config": dict(config), "optimizer": opt_meta, "extra": dict(extra or {})}
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        save_file(tensors, str(tmp / CKPT_TENSORS))
        (tmp / CKPT_JSON).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return folder


def load_checkpoint(folder: str | Path, *, modules: Mapping[str, Any], optimizer=None) -> dict[str, Any]:
    """Restore modules and optimizer in place; return the JSON metadata (step, config, extra)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        meta = json.loads((folder / CKPT_JSON).read_text(encoding="utf-8"))
        tensors = load_file(str(folder / CKPT_TENSORS), device="cpu")
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{folder}: unreadable training checkpoint ({exc})") from exc
    for name, module in modules.items():
        prefix = f"{name}/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        load_state_into(module, state, source=folder)
    if optimizer is not None and meta.get("optimizer") is not None:
        opt = meta["optimizer"]
        state: dict[int, dict[str, Any]] = {}
        for k, v in tensors.items():
            if k.startswith("optimizer/"):
                _, pid, key = k.split("/", 2)
                state.setdefault(int(pid), {})[key] = v
        for k, v in opt["state_scalars"].items():
            pid, key = k.split("/", 1)
            state.setdefault(int(pid), {})[key] = v
        optimizer.load_state_dict({"state": state, "param_groups": opt["param_groups"]})
    return meta


def is_model_folder(folder: str | Path, kind: str) -> bool:
    """Whether ``folder`` holds a model folder of ``kind`` whose ``config.json`` reads (:func:`read_config`)."""
    try:
        read_config(folder, kind=kind)
        return True
    except ModelFolderError:
        return False


def hash_folder(folder: str | Path) -> str:
    """sha256 (first 16 hex) of a model folder's weights and config, for manifests."""
    import hashlib

    h = hashlib.sha256()
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        p = Path(folder) / name
        if p.is_file():
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]
