"""One adaptation round, stage by stage, each stage resumable from the job's ``work/`` folder.

Round 0 (latent similarity mining)::

    target generator  <- train on the unlabelled target images (mask channel empty)
    synthetic pairs   <- translate(source generator, target generator, source crops, source masks)
    segmenter         <- fine-tune the source segmenter on the synthetic pairs
                         (+ the target images a person corrected, weighted: trusted labels)
    pseudo-labels     <- the new segmenter on every real target image

Round r >= 1 (co-optimization)::

    target generator  <- fine-tune on the target images conditioned on round r-1's pseudo-labels
                         (corrected masks replace them and are oversampled: trusted labels)
    synthetic pairs   <- translate(..., target_masks=True): the target model now sees the source mask
    segmenter         <- fine-tune round r-1's segmenter on the synthetic pairs + confidently
                         pseudo-labelled real images (+ corrected images, weighted)
    pseudo-labels     <- the new segmenter on every real target image

With ``source_weight > 0`` a round then builds the segmenter it DELIVERS: the weight interpolation
of the source segmenter and the new one (``models.segmenter.interpolate_weights``) with its
probability maps; those are the round's ``segmenter/`` and ``pseudo/`` (what a lab segments with,
reviews and corrects), and the unmerged chain goes on from ``segmenter-chain/`` and ``pseudo-chain/``.

Each stage writes its output into ``work/round-NNN/<stage>`` (model folders, ``.npy`` arrays,
float32 TIFFs), atomically; a stage whose output exists is loaded instead of run, and the
trainers resume from their own per-step checkpoints. Every stage reads its inputs from disk,
so an uninterrupted job and a killed-and-resumed job compute the same numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vessel_studio.adaptation.targets import MapsOnDisk, TargetImage  # noqa: F401 (TargetImage re-exported)
from vessel_studio.events import Artifact, Job, Metric, Preview, Progress

STAGES = ("target-generator", "synthesize", "segmenter", "pseudo-label", "deliver")


def derive_seed(seed: int, *parts: Any) -> int:
    """A stable 31-bit seed from the job seed and a stage name / round index."""
    h = hashlib.sha256(repr((int(seed),) + tuple(parts)).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


# --- data ----------------------------------------------------------------------------------


@dataclass
class SourceCrops:
    """Source crops (unit range, the source generator's preprocessing) and their vessel masks."""

    images: list[np.ndarray]  # full prepared source images, unit range
    masks: list[np.ndarray]  # float32 0/1, prepared scale
    fovs: list[np.ndarray]
    procedural: bool = False


@dataclass
class RoundContext:
    """Everything a round needs; built once per job by ``adaptation.job``."""

    cfg: Any  # AdaptConfig
    device: Any
    work: Path  # work/round-NNN
    index: int
    targets: list[TargetImage]
    target_prep: Any
    source_generator: Any
    source_segmenter: Any
    source: SourceCrops
    render: Callable[[int], Job] | None = None  # procedural source crops: (round) -> Job[(imgs, masks)]
    prev_generator: Path | None = None  # model folder of round r-1's target generator
    prev_segmenter: Path | None = None
    prev_probs: dict[str, np.ndarray] | None = None  # original-resolution probabilities of round r-1
    prev_probs_model: dict[str, np.ndarray] | None = None  # model-scale probabilities of round r-1
    corrections: dict[str, np.ndarray] = field(default_factory=dict)  # id -> bool mask (original or model scale)
    replay: Path | None = None  # rounds >= 1 with cfg.synth_replay: the project's round-0 folder
    replay_cfg: Any = None  # the AdaptConfig round 0 ran with (as its manifest record says)


@dataclass
class RoundOutput:
    index: int
    folder: Path  # work/round-NNN/final
    metrics: dict[str, float]
    models: dict[str, str]
    seconds: float


# --- small helpers --------------------------------------------------------------------------


def _forward(job: Job, stage: str, r: int, losses: _StageLosses | None = None, scale=None):
    """Re-tag a sub-job's Progress with our stage and round; keep its losses; return its result.

    ``scale(step, total) -> (step, total)`` maps a sub-job's progress into a larger total.
    Closing this generator closes the sub-job (GeneratorExit reaches it at its yield).
    """
    try:
        while True:
            try:
                ev = next(job)
            except StopIteration as stop:
                return stop.value
            if isinstance(ev, Progress):
                step, total = (ev.step, ev.total) if scale is None else scale(ev.step, ev.total)
                yield Progress(stage, step, total, ev.message, round=r)
            elif isinstance(ev, Metric):
                if losses is not None and ev.name == "loss":
                    losses.add(ev.step, float(ev.value))
            elif isinstance(ev, Preview):
                yield dataclasses.replace(ev, stage=stage, round=r)
    finally:
        job.close()


def _save_npy(path: Path, arr: np.ndarray) -> None:
    from vessel_studio.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)


def _load_npy(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def _to_uint8(unit: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(unit, np.float32) + 1.0) * 127.5, 0, 255).astype(np.uint8)


def _thumb(a: np.ndarray, size: int = 128) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(a)
    im.thumbnail((size, size))
    return np.asarray(im)


def montage(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """uint8 grid: one row per sample, columns (synthetic image | its source mask)."""
    rows = []
    for img, m in zip(images, masks):
        rows.append(np.concatenate([_to_uint8(img), np.full((img.shape[0], 2), 255, np.uint8),
                                    np.where(np.asarray(m) >= 0.5, 255, 0).astype(np.uint8)], axis=1))
    if not rows:
        return np.zeros((1, 1), np.uint8)
    sep = np.full((2, rows[0].shape[1]), 255, np.uint8)
    out = [rows[0]]
    for r in rows[1:]:
        out += [sep, r]
    return np.concatenate(out, axis=0)


def _model_done(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


class _StageLosses:
    """A training stage's loss per step, saved beside the stage's model in the round's work folder
    (``generator-losses.json``, ``segmenter-losses.json``) at each of the trainer's checkpoints and
    before the model is written, so that a round resumed by another process reports the losses of
    the whole training (``generator_loss`` / ``segmenter_loss``) as an uninterrupted round does: a stage
    an earlier run finished is found done and not run (it reported no loss before: QA, session 29),
    and one resumed from its checkpoint runs only the steps after it. Keyed by step, so steps run
    again after a kill replace their (equal) losses instead of being counted twice. Both trainers report a
    step's loss before they write its checkpoint (the segmenter trainer did it the other way round until
    session 30: a kill between the two left the steps since the checkpoint before out of the resumed round's
    mean). A work folder without the file (older, or unreadable) resumes as before: no loss for a stage found
    done."""

    def __init__(self, path: Path, every: int = 1):
        import json

        self.path, self.every = path, max(1, int(every))
        try:
            saved = json.loads(path.read_text()) if path.is_file() else {}
            self.by_step = {int(k): float(v) for k, v in saved.items()}
        except (ValueError, TypeError, AttributeError):  # unreadable or not {step: loss}: start afresh
            self.by_step = {}

    def add(self, step: int | None, value: float) -> None:
        step = len(self.by_step) + 1 if step is None else int(step)
        self.by_step[step] = float(value)
        if step % self.every == 0:  # the trainers checkpoint at these steps (and at the last one)
            self.save()

    def save(self) -> None:
        from vessel_studio.io.atomic import write_json

        write_json(self.path, {str(k): v for k, v in sorted(self.by_step.items())})

    def values(self) -> list[float]:
        return [self.by_step[k] for k in sorted(self.by_step)]


# --- stages -------------------------------------------------------------------------------


def stage_target_generator(ctx: RoundContext, *, masks: list[np.ndarray] | None, steps: int, losses: list[float]):
    """Train (round 0) or fine-tune (round r) the target generator; return the loaded Generator."""
    from vessel_studio.models.generator import Generator, GeneratorConfig
    from vessel_studio.train.generator import GeneratorTrainConfig, train_generator

    cfg, r = ctx.cfg, ctx.index
    out = ctx.work / "generator"
    record = _StageLosses(ctx.work / "generator-losses.json")
    if not _model_done(out):
        if r == 0:
            init = ctx.source_generator if cfg.target_init == "source" else None
        else:
            init = Generator.load(ctx.prev_generator)
        model = GeneratorConfig.preset(cfg.gen_model, cond_dropout=cfg.cond_dropout)
        if init is not None:
            init = init.with_cond_dropout(cfg.cond_dropout)
        train_cfg = GeneratorTrainConfig.preset(
            cfg.gen_model, model=init.config if init is not None else model, steps=int(steps),
            batch_size=cfg.gen_batch, crop_size=cfg.gen_crop, lr=cfg.gen_lr,
            warmup=min(100, max(1, int(steps) // 10)), seed=derive_seed(cfg.seed, "generator", r),
            checkpoint_every=max(1, min(200, int(steps) // 4 or 1)),
        )
        images = [t.unit for t in ctx.targets]
        fovs = [t.prepared.fov for t in ctx.targets]
        if masks is not None:
            # corrected images are trusted: oversample them
            rep = max(1, int(round(cfg.correction_weight)))
            extra_i, extra_m, extra_f = [], [], []
            for t, m in zip(ctx.targets, masks):
                if t.id in ctx.corrections:
                    extra_i += [t.unit] * (rep - 1)
                    extra_m += [m] * (rep - 1)
                    extra_f += [t.prepared.fov] * (rep - 1)
            images, masks, fovs = images + extra_i, list(masks) + extra_m, fovs + extra_f
        job = train_generator(images, masks, train_cfg, fovs=fovs, init=init, preprocessing=ctx.target_prep,
                              checkpoint_dir=ctx.work / "generator-ckpt", device=ctx.device,
                              description={"round": r, "role": "target generator"})
        record.every = train_cfg.checkpoint_every
        gen = yield from _forward(job, "target-generator", r, record)
        record.save()  # before the model: a generator found done has its losses
        gen.save(out)
        shutil.rmtree(ctx.work / "generator-ckpt", ignore_errors=True)
    losses.extend(record.values())
    return Generator.load(out, device=ctx.device).use_channels_last(cfg.gen_channels_last)


def stage_source_crops(ctx: RoundContext):
    """The round's source crops and masks (sampled from labelled images, or rendered procedurally)."""
    from vessel_studio.adaptation.crops import sample_crops

    cfg, r = ctx.cfg, ctx.index
    folder = ctx.work / "source-crops"
    ip, mp = folder / "images.npy", folder / "masks.npy"
    if not (ip.is_file() and mp.is_file()):
        if ctx.render is not None:
            imgs, msks = yield from ctx.render(r)
        else:
            imgs, msks, _where = sample_crops(
                ctx.source.images, ctx.source.masks, ctx.source.fovs, size=cfg.gen_crop, count=cfg.n_synthetic,
                seed=derive_seed(cfg.seed, "crops", r), vessel_min=cfg.vessel_min,
            )
        _save_npy(mp, np.asarray(msks, np.float32))
        _save_npy(ip, np.asarray(imgs, np.float32))
    return _load_npy(ip), _load_npy(mp)


def _decodes_with_masks(cfg, r: int, gen) -> bool:
    """Whether round ``r`` decodes with the target generator conditioned on the source masks: rounds >= 1
    (the generator was fine-tuned on pseudo-labels); round 0 with ``cfg.lsm_masks`` (the source
    generator's mask pathway, inherited by a target generator initialised from it)."""
    return r > 0 or bool(cfg.lsm_masks and cfg.target_init == "source" and gen.conditioned)


def stage_synthesize(ctx: RoundContext, target_gen, crops: np.ndarray, masks: np.ndarray, *, target_masks: bool):
    """Latent similarity mining in chunks of ``synth_batch`` (each chunk saved: resumable)."""
    from vessel_studio.adaptation.synthesis import translate

    cfg, r = ctx.cfg, ctx.index
    folder = ctx.work / "synth"
    n = len(crops)
    chunk = max(1, cfg.synth_batch)
    starts = list(range(0, n, chunk))
    for k, s in enumerate(starts):
        path = folder / f"images-{k:04d}.npy"
        if path.is_file():
            continue

        def scale(step, total, k=k):
            return k * total + step, len(starts) * total

        job = translate(ctx.source_generator, target_gen, crops[s:s + chunk], masks[s:s + chunk], t0=cfg.t0,
                        steps=cfg.steps, mode=cfg.synth_mode, seed=derive_seed(cfg.seed, "synth", r, k),
                        target_masks=target_masks, batch_size=chunk)
        res = yield from _forward(job, "synthesize", r, scale=scale)
        _save_npy(path, np.asarray(res.images, np.float32))
    images = np.concatenate([_load_npy(folder / f"images-{k:04d}.npy") for k in range(len(starts))], axis=0)
    return images, masks


def stage_segmenter(ctx: RoundContext, pairs, *, init, steps: int, lr: float, losses: list[float]):
    from vessel_studio.adaptation.config import SEG_AUGMENT
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.train.segmenter import SegmenterTrainConfig, train_segmenter

    cfg, r = ctx.cfg, ctx.index
    out = ctx.work / "segmenter"
    record = _StageLosses(ctx.work / "segmenter-losses.json")
    if not _model_done(out):
        train_cfg = SegmenterTrainConfig.preset(
            cfg.preset_name, steps=int(steps), batch_size=cfg.seg_batch, crop=cfg.seg_crop, lr=lr,
            warmup=min(100, max(0, int(steps) // 10)), seed=derive_seed(cfg.seed, "segmenter", r),
            checkpoint_every=max(1, min(250, int(steps) // 4 or 1)), **SEG_AUGMENT[cfg.seg_augment],
        )
        job = train_segmenter(pairs, train_cfg, init=init, preprocessing=ctx.target_prep,
                              checkpoint_dir=ctx.work / "segmenter-ckpt", device=ctx.device,
                              description={"round": r, "pairs": len(pairs), "adaptation": True})
        record.every = train_cfg.checkpoint_every
        seg = yield from _forward(job, "segmenter", r, record)
        record.save()  # before the model: a segmenter found done has its losses
        if cfg.seg_norm == "target":
            seg = yield from stage_target_norm(ctx, seg)
        seg.save(out)
        shutil.rmtree(ctx.work / "segmenter-ckpt", ignore_errors=True)
    losses.extend(record.values())
    seg = Segmenter.load(out)
    seg.to(ctx.device)
    return seg


def stage_target_norm(ctx: RoundContext, seg):
    """``AdaptConfig.seg_norm == "target"``: ``seg``'s BatchNorm statistics re-estimated on crops of
    the real target images (prepared, FOV-biased; the round's segmenter crop and batch size), weights
    unchanged; noted in its training record. Deterministic for the job's seed and the round."""
    from vessel_studio.train.segmenter import NORM_BATCHES, reestimate_norm_statistics_job

    cfg, r = ctx.cfg, ctx.index
    job = reestimate_norm_statistics_job(seg, [t.prepared.x for t in ctx.targets], [t.prepared.fov for t in ctx.targets],
                                         crop=cfg.seg_crop, batch_size=cfg.seg_batch,
                                         seed=derive_seed(cfg.seed, "seg-norm", r))
    seg = yield from _forward(job, "renormalize", r)
    seg.training = {**(seg.training or {}), "batchnorm_statistics": {
        "images": "the project's target images", "batches": NORM_BATCHES, "crop": cfg.seg_crop,
        "batch_size": cfg.seg_batch}}
    return seg


def predict_target(seg, t, *, mirror: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``seg``'s probabilities of target image ``t`` with the TARGET's preprocessing (``t.prepared``),
    whatever preprocessing ``seg`` was trained with: (model scale, original resolution in the FOV).
    ``mirror``: averaged over the image and its flips (``AdaptConfig.pseudo_mirror``)."""
    from vessel_studio.preprocess import restore

    pm = seg.predict_prepared(t.prepared.x, t.prepared.fov, mirror=mirror).astype(np.float32)
    po = np.clip(np.asarray(restore(pm, t.prepared), np.float32), 0.0, 1.0)
    return pm, np.where(t.fov, po, np.float32(0)).astype(np.float32)


def write_maps(seg, t, tif: Path, *, npy: Path | None = None, mirror: bool = False) -> None:
    """``seg``'s map of target image ``t`` (``predict_target``) written as a round keeps it: the
    original-resolution TIFF ``tif`` (lossless zlib: the same values on reading) and, with ``npy``,
    the model-scale ``.npy``. Used by ``stage_pseudo_label`` and by ``restore`` (a pruned round's maps
    made again)."""
    from vessel_studio.io.images import write_prob

    pm, po = predict_target(seg, t, mirror=mirror)
    if npy is not None:
        _save_npy(npy, pm)
    write_prob(tif, po, compress=True)


def stage_pseudo_label(ctx: RoundContext, seg, *, name: str = "pseudo", stage: str = "pseudo-label",
                       model_scale: bool = True, mirror: bool = False):
    """Probabilities of every real target image: original resolution (TIFF, for the project and
    the GUI's uncertainty map; returned as :class:`MapsOnDisk`, read one image at a time when
    asked for) and, with ``model_scale``, model scale (``.npy``, for the next round's training;
    ``{}`` without). ``mirror``: see ``predict_target``."""
    r = ctx.index
    folder, model_folder = ctx.work / name, ctx.work / f"{name}-model"
    probs_model = {}
    n = len(ctx.targets)
    for i, t in enumerate(ctx.targets):
        tif, npy = folder / f"{t.id}.tif", model_folder / f"{t.id}.npy"
        if not (tif.is_file() and (npy.is_file() or not model_scale)):
            write_maps(seg, t, tif, npy=npy if model_scale else None, mirror=mirror)
        yield Progress(stage, i + 1, n, t.name, round=r)
    probs = MapsOnDisk({t.id: folder / f"{t.id}.tif" for t in ctx.targets})
    if model_scale:
        probs_model = {t.id: _load_npy(model_folder / f"{t.id}.npy") for t in ctx.targets}
    return probs, probs_model


def stage_merge(ctx: RoundContext, seg, stage: str = "deliver"):
    """``source_weight`` of the source segmenter interpolated with ``seg`` in weight space, written to
    ``work/segmenter-delivered`` (loaded when it exists) and returned."""
    from vessel_studio.models.segmenter import Segmenter, interpolate_weights

    out = ctx.work / "segmenter-delivered"
    if not _model_done(out):
        interpolate_weights(ctx.source_segmenter, seg, float(ctx.cfg.source_weight)).save(out)
    yield Progress(stage, 1, 1, f"source weight {float(ctx.cfg.source_weight):g}", round=ctx.index)
    merged = Segmenter.load(out)
    merged.to(ctx.device)
    return merged


def stage_deliver(ctx: RoundContext, seg):
    """The segmenter this round delivers (``stage_merge``) and its probability maps."""
    delivered = yield from stage_merge(ctx, seg)
    probs, _ = yield from stage_pseudo_label(ctx, delivered, name="pseudo-delivered", stage="deliver",
                                             model_scale=False)
    return probs


# --- labels for round r --------------------------------------------------------------------


def round_labels(ctx: RoundContext) -> list[np.ndarray]:
    """Model-scale labels of the target images for round r: corrections win, else pseudo-labels
    (round 0, which has none: None)."""
    from vessel_studio.preprocess import resize_mask

    out = []
    for t in ctx.targets:
        if t.id in ctx.corrections:
            out.append(resize_mask(ctx.corrections[t.id], t.prepared.x.shape).astype(np.float32))
            continue
        if ctx.prev_probs_model is None:  # round 0: no pseudo-labels yet, only the corrections
            out.append(None)
            continue
        p = ctx.prev_probs_model[t.id]
        out.append(p.astype(np.float32) if ctx.cfg.pseudo_mode == "soft" else (p >= 0.5).astype(np.float32))
    return out


def real_pairs(ctx: RoundContext, labels: list[np.ndarray]):
    """Confidently pseudo-labelled real images (uncertain pixels left out of the loss) and
    corrected images (whole FOV, weight ``correction_weight``); in round 0, which has no pseudo-labels
    yet, the corrected images alone."""
    from vessel_studio.train.segmenter import TrainPair

    cfg = ctx.cfg
    pairs = []
    for t, lab in zip(ctx.targets, labels):
        if t.id in ctx.corrections:
            pairs.append(TrainPair(t.prepared.x, lab, t.prepared.fov, weight=cfg.correction_weight, name=t.id))
        elif cfg.pseudo_real and ctx.prev_probs_model is not None:
            p = ctx.prev_probs_model[t.id]
            confident = t.prepared.fov & (np.abs(p - 0.5) >= cfg.confidence_margin)
            if confident.any():
                pairs.append(TrainPair(t.prepared.x, (p >= 0.5).astype(np.float32), confident,
                                       weight=cfg.real_weight, name=t.id))
    return pairs


def synthetic_agreement(pairs, seg) -> np.ndarray:
    """Dice between ``seg``'s mask (p >= 0.5) of each synthetic image and the mask it was made from
    (no target label involved: the masks are the source's)."""
    out = []
    for p in pairs:
        pred = seg.predict_prepared(p.x) >= 0.5
        m = p.label >= 0.5
        denom = pred.sum() + m.sum()
        out.append(2.0 * (pred & m).sum() / denom if denom else 1.0)
    return np.asarray(out, np.float64)


def filter_synthetic(pairs, seg, share: float):
    """Leave out the ``share`` of synthetic pairs whose image ``seg`` (the segmenter this round starts
    from) agrees least with their mask: pairs whose image does not show the vessels of its label."""
    if share <= 0 or not pairs:
        return list(pairs)
    score = synthetic_agreement(pairs, seg)
    keep = max(1, int(round(len(pairs) * (1.0 - share))))
    order = np.argsort(-score, kind="stable")[:keep]
    return [pairs[i] for i in sorted(order)]


REPLAY_IMAGES, REPLAY_MASKS = "images.npy", "masks.npy"


def replay_pairs(ctx: RoundContext):
    """Round 0's synthetic pairs (``cfg.synth_replay``), read from its committed ``synthetic/`` folder.

    A round 0 made without ``synth_replay`` (a project continued with it on) kept no pairs: they are
    made again exactly as round 0 made them (its recorded config and seed, its committed target
    generator, the same source crops and DDIM decoding), in the job's work folder, once per job."""
    from vessel_studio.preprocess import from_unit
    from vessel_studio.train.segmenter import TrainPair

    folder = ctx.replay
    if folder is None:
        raise ValueError("synth_replay: the round was given no round-0 folder to replay")
    ip, mp = folder / "synthetic" / REPLAY_IMAGES, folder / "synthetic" / REPLAY_MASKS
    if ip.is_file() and mp.is_file():
        try:
            images, masks = _load_npy(ip), _load_npy(mp)
        except (OSError, ValueError) as e:
            raise ValueError(f"{folder / 'synthetic'}: cannot read round 0's replay pairs ({e})") from e
        if images.ndim != 3 or images.shape != masks.shape:
            raise ValueError(f"{folder / 'synthetic'}: replay images {images.shape} and masks {masks.shape} "
                             "do not match")
    else:
        images, masks = yield from _remake_round0_pairs(ctx)
    return [TrainPair(from_unit(img), (m >= 0.5).astype(np.float32), None, weight=1.0, name=f"replay-{i}")
            for i, (img, m) in enumerate(zip(images, masks))]


def _remake_round0_pairs(ctx: RoundContext):
    """Round 0's synthetic pairs again, from its committed generator (see ``replay_pairs``)."""
    from vessel_studio.models.generator import Generator

    gen_folder = ctx.replay / "generator"
    if ctx.replay_cfg is None or not _model_done(gen_folder):
        raise ValueError(f"{ctx.replay}: round 0 keeps neither its synthetic pairs nor a generator and config "
                         "to make them again (synth_replay)")
    cfg0 = ctx.replay_cfg
    ctx0 = dataclasses.replace(ctx, cfg=cfg0, index=0, work=ctx.work.parent / "replay-round-000")
    # progress shows as this round's "replay" stage, not as round 0's
    crops, masks = yield from _forward(stage_source_crops(ctx0), "replay", ctx.index)
    gen0 = Generator.load(gen_folder, device=ctx.device).use_channels_last(cfg0.gen_channels_last)
    job = stage_synthesize(ctx0, gen0, crops, masks, target_masks=_decodes_with_masks(cfg0, 0, gen0))
    images, masks = yield from _forward(job, "replay", ctx.index)
    return images, masks


def source_pairs(ctx: RoundContext, n_other: int):
    """The labelled source images as segmenter pairs, repeated so that they make about
    ``cfg.source_share`` of all pairs (pairs are drawn uniformly); none with procedural sources."""
    from vessel_studio.preprocess import from_unit
    from vessel_studio.train.segmenter import TrainPair

    share = ctx.cfg.source_share
    src = ctx.source
    if share <= 0 or src is None or src.procedural or not src.images:
        return []
    copies = max(1, round(share * n_other / ((1.0 - share) * len(src.images))))
    one = [TrainPair(from_unit(x), (m >= 0.5).astype(np.float32), f, weight=1.0, name=f"source-{i}")
           for i, (x, m, f) in enumerate(zip(src.images, src.masks, src.fovs))]
    return one * copies


# --- one round ------------------------------------------------------------------------------


class _StageClock:
    """Seconds per stage of one round, saved in the round's work folder as each stage finishes, so that
    a round resumed by another process reports what its earlier runs spent on the stages they
    finished (and not the near-zero time of finding them done). A stage cut by a kill is counted from
    the run that finishes it, so the part done before its last checkpoint is left out: the stage
    times of a resumed round are lower bounds (found by session 19's device run, which was cut into
    two calls and reported 0 s for round 1's generator and synthesis)."""

    FILE = "stage-seconds.json"

    def __init__(self, work: Path):
        import json

        self.path = work / self.FILE
        try:
            before = json.loads(self.path.read_text()) if self.path.is_file() else {}
            self.before = {str(k): float(v) for k, v in before.items()}
        except (ValueError, TypeError, AttributeError):  # unreadable or not {stage: seconds}: start afresh
            self.before = {}
        self.seconds: dict[str, float] = {}

    def done(self, stage: str, elapsed: float) -> None:
        from vessel_studio.io.atomic import write_json

        # a stage an earlier run finished is found done now (a fraction of a second) or, if its output was
        # not kept, run again in full: the larger of the two times is the stage's, never their sum
        self.seconds[stage] = max(self.before.get(stage, 0.0), float(elapsed))
        write_json(self.path, {**self.before, **self.seconds})


def source_mask_fraction(source: SourceCrops, crop_masks) -> float:
    """The share of vessel in the source's masks: inside their FOVs for labelled source images
    (prepared scale), over the rendered crops for procedural ones. A label-free reference of the
    guard (``selection.round_warnings``): how much of an image vessels cover in the source domain."""
    if source.masks and not source.procedural:
        fractions = []
        for m, f in zip(source.masks, source.fovs):
            inside = np.asarray(m) >= 0.5
            if f is not None and np.any(f):
                inside = inside[np.asarray(f, bool)]
            fractions.append(float(inside.mean()))
    else:
        fractions = [float((np.asarray(m) >= 0.5).mean()) for m in crop_masks]
    return float(np.mean(fractions)) if fractions else float("nan")


def run_round(ctx: RoundContext) -> Job[RoundOutput]:
    """Run (or resume) round ``ctx.index`` in ``ctx.work``; return its finished folder and signals."""
    from vessel_studio.adaptation.selection import SignalAccumulator, confidence_stats, dice_agreement
    from vessel_studio.io.images import write_mask
    from vessel_studio.preprocess import from_unit
    from vessel_studio.train.segmenter import TrainPair

    import torch

    cfg, r = ctx.cfg, ctx.index
    ctx.work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(derive_seed(cfg.seed, "round", r))
    clock = _StageClock(ctx.work)
    seconds = clock.seconds
    gen_losses: list[float] = []
    seg_losses: list[float] = []

    t = time.perf_counter()
    if r == 0:
        labels = None
        gen = yield from stage_target_generator(ctx, masks=None, steps=cfg.gen_steps, losses=gen_losses)
    else:
        labels = round_labels(ctx)
        gen = yield from stage_target_generator(ctx, masks=labels, steps=cfg.gen_finetune_steps, losses=gen_losses)
    clock.done("generator", time.perf_counter() - t)

    t = time.perf_counter()
    crops, masks = yield from stage_source_crops(ctx)
    conditioned = _decodes_with_masks(cfg, r, gen)
    synth, synth_masks = yield from stage_synthesize(ctx, gen, crops, masks, target_masks=conditioned)
    clock.done("synthesize", time.perf_counter() - t)
    for i in range(min(cfg.n_preview, len(synth))):
        yield Preview("synthesize", f"round {r} synthetic {i}", _thumb(montage(synth[i:i + 1], synth_masks[i:i + 1])),
                      round=r)

    t = time.perf_counter()
    pairs = [TrainPair(from_unit(img), (m >= 0.5).astype(np.float32), None, weight=1.0, name=f"synthetic-{i}")
             for i, (img, m) in enumerate(zip(synth, synth_masks))]
    if r == 0:
        init = ctx.source_segmenter
        steps, lr = cfg.seg_steps, cfg.seg_lr
    else:
        from vessel_studio.models.segmenter import Segmenter

        init = Segmenter.load(ctx.prev_segmenter, device=ctx.device)  # filter_synthetic segments with it
        steps, lr = cfg.seg_finetune_steps, cfg.seg_finetune_lr
    if cfg.synth_filter > 0:
        pairs = filter_synthetic(pairs, init, cfg.synth_filter)
    if r > 0 and cfg.synth_replay:
        pairs += yield from replay_pairs(ctx)
    n_synth = len(pairs)
    if r > 0 or ctx.corrections:  # round 0: a person's corrected masks, the only real labels it has
        pairs += real_pairs(ctx, labels if r > 0 else round_labels(ctx))
    n_real = len(pairs) - n_synth
    src_pairs = source_pairs(ctx, len(pairs))
    pairs += src_pairs
    seg = yield from stage_segmenter(ctx, pairs, init=init, steps=steps, lr=lr, losses=seg_losses)
    merged_chain = float(cfg.source_weight) > 0 and cfg.merge_chain
    if merged_chain:  # the chain goes on from the merge: it is what pseudo-labels and is fine-tuned next
        seg = yield from stage_merge(ctx, seg, stage="segmenter")
    clock.done("segmenter", time.perf_counter() - t)

    t = time.perf_counter()
    probs, probs_model = yield from stage_pseudo_label(ctx, seg, mirror=cfg.pseudo_mirror)
    clock.done("pseudo_label", time.perf_counter() - t)

    # the label-free signals, one image at a time (each full-resolution map read from its TIFF)
    signals, source_signals = SignalAccumulator(), []
    for i, tg in enumerate(ctx.targets):
        fov = tg.fov
        if ctx.prev_probs is None:  # round 0: compare with the source segmenter applied as source-only
            # would be (the target's preprocessing, not the source modality's)
            previous = predict_target(ctx.source_segmenter, tg)[1]
            source_signals.append(confidence_stats(previous, fov)["vessel_fraction"])
            yield Progress("source-only", i + 1, len(ctx.targets), tg.name, round=r)
        else:
            previous = ctx.prev_probs[tg.id]
        signals.add(probs[tg.id], fov, previous)
        del previous
    metrics = signals.result()
    if ctx.prev_probs is None:  # the references of the label-free guard (selection.round_warnings)
        metrics["source_vessel_fraction"] = float(np.mean(source_signals))
        metrics["source_mask_fraction"] = source_mask_fraction(ctx.source, masks)
    if gen_losses:
        metrics["generator_loss"] = float(np.mean(gen_losses[-50:]))
    if seg_losses:
        metrics["segmenter_loss"] = float(np.mean(seg_losses[-50:]))
    deliver = float(cfg.source_weight) > 0 and not merged_chain
    if deliver:
        t = time.perf_counter()
        delivered_probs = yield from stage_deliver(ctx, seg)
        clock.done("deliver", time.perf_counter() - t)
        # two signals only (round_signals would also skeletonise every map for the fragmentation)
        fractions, agreements = [], []
        for tg in ctx.targets:
            fov, delivered = tg.fov, delivered_probs[tg.id]
            fractions.append(confidence_stats(delivered, fov)["vessel_fraction"])
            agreements.append(dice_agreement(delivered, probs[tg.id], fov))
            del delivered
        metrics["delivered_vessel_fraction"] = float(np.mean(fractions))
        metrics["delivered_agreement_with_chain"] = float(np.mean(agreements))
    metrics["synthetic_pairs"] = float(n_synth)  # with synth_replay: round 0's included
    metrics["real_pairs"] = float(n_real)
    metrics["source_pairs"] = float(len(src_pairs))
    metrics["corrected_images"] = float(len(ctx.corrections))
    for k, v in seconds.items():
        metrics[f"seconds_{k}"] = float(v)
    for name, value in metrics.items():
        yield Metric("round", name, float(value), round=r)

    # assemble the round folder (linked into the project by the job's commit): hard links where the file
    # system has them, so that a round's full-resolution maps are on disk once, not three times
    from vessel_studio.io.atomic import link_or_copy

    final = ctx.work / "final"
    shutil.rmtree(final, ignore_errors=True)
    (final / "synthetic").mkdir(parents=True)

    def put(name: str, as_name: str) -> None:
        shutil.copytree(ctx.work / name, final / as_name, copy_function=link_or_copy)

    put("generator", "generator")
    if deliver:
        put("segmenter-delivered", "segmenter")
        put("pseudo-delivered", "pseudo")
        put("segmenter", "segmenter-chain")
        put("pseudo", "pseudo-chain")
    else:
        put("segmenter-delivered" if merged_chain else "segmenter", "segmenter")
        put("pseudo", "pseudo")
    from vessel_studio.io.images import write_image

    for i in range(min(cfg.n_preview, len(synth))):
        write_image(final / "synthetic" / f"sample-{i:02d}.png", _to_uint8(synth[i]))
        write_mask(final / "synthetic" / f"sample-{i:02d}_mask.png", synth_masks[i] >= 0.5)
    write_image(final / "synthetic" / "montage.png", montage(synth[: cfg.n_preview], synth_masks[: cfg.n_preview]))
    if r == 0 and cfg.synth_replay:  # what later rounds replay (replay_pairs)
        _save_npy(final / "synthetic" / REPLAY_IMAGES, np.asarray(synth, np.float32))
        _save_npy(final / "synthetic" / REPLAY_MASKS, (np.asarray(synth_masks) >= 0.5).astype(np.uint8))
    from vessel_studio.models.folder import hash_folder

    models = {"segmenter": hash_folder(final / "segmenter"), "generator": hash_folder(final / "generator")}
    if deliver:
        models["segmenter_chain"] = hash_folder(final / "segmenter-chain")
    return RoundOutput(index=r, folder=final, metrics=metrics, models=models, seconds=float(sum(seconds.values())))


def artifacts_of(folder: Path, r: int) -> list[Artifact]:
    """One Artifact per file of a committed round folder."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            kind = p.relative_to(folder).parts[0]
            out.append(Artifact("commit", kind, str(p), round=r))
    return out
