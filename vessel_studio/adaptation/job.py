"""``adapt(project, cfg, *, source)``: the whole adaptation as one cancellable, resumable job.

The job

1. takes the project's job lock (one job per project);
2. loads the source bundle (segmenter, generator, labelled source images; or procedural source
   masks when a lab has none, see :func:`procedural_renderer`) and the project's target images
   (never any label of them: only ``project.images`` and ``project.corrections()`` are read);
3. runs round 0 (latent similarity mining) when the project has no round yet, then
   co-optimization rounds, each resumable stage by stage from ``PROJECT/work/`` (see
   ``adaptation.rounds``), and commits every finished round to the project (copy the folder,
   then name it in the manifest); with ``cfg.guard_retries`` > 0 a round whose pseudo-labels the
   label-free guard flags (collapse / flood, ``selection.round_warnings``) is run again with a
   derived seed in its own ``work/round-NNN-retry-K`` folder, so a resumed job repeats the same
   attempts; the kept attempt's seed and count go into the round's record;
4. stops early when the label-free agreement between successive rounds' pseudo-labels reaches
   ``cfg.stop_agreement`` (``adaptation.selection``), or when ``stop_requested()`` (a person's "Stop
   after this round") is true once a round has been committed: the job then ends as a finished one
   (its rounds kept, ``AdaptResult.stopped_early``), and running ``adapt`` again adds ``cfg.rounds``
   rounds after the last one kept (not the rounds it left out: ``cfg.rounds`` set to their number
   finishes it), the same as one longer job with the same config and seed (``config.recorded_config``).

Cancel (the consumer closes the generator, or Ctrl-C raises KeyboardInterrupt inside it): rounds
this call committed are rolled back and ``work/`` is removed, so the project is as it was before
the call. A crash or ``kill -9`` leaves ``work/``: calling ``adapt`` again with the same config,
seed, source and images resumes from the last completed training step (the trainers' checkpoints)
or stage, unless a rollback removed the round it started from: that roll back deletes the work then
(``Project.discard_given_up_work``). Any other call discards a stale ``work/`` and starts afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vessel_studio.events import Job, Metric, Progress
from vessel_studio.adaptation.config import AdaptConfig
from vessel_studio.adaptation.rounds import (
    RoundContext,
    SourceCrops,
    TargetImage,
    _forward,
    _load_npy,
    artifacts_of,
    derive_seed,
    run_round,
)
from vessel_studio.adaptation.selection import flagged_rounds, history_warnings, round_rows, should_stop
from vessel_studio.adaptation.source import SourceBundle, images_hash  # noqa: F401 (re-exported)
from vessel_studio.store import Project, RoundRecord
from vessel_studio.store.project import JOB_FILE, now_iso  # noqa: F401 (JOB_FILE re-exported)


@dataclass
class AdaptResult:
    project: Path
    rounds: list[RoundRecord]  # rounds committed by this call, in order
    stopped_early: bool
    reason: str
    segmenter: Path | None  # the adapted segmenter (latest round)
    seconds: float
    resumed: bool = False
    #: the label-free guard's warnings per flagged round of the project, as shown everywhere
    #: (``selection.shown_warnings``: the pseudo-labels', and the delivered maps' where a merge is delivered)
    warnings: dict[int, list[str]] = field(default_factory=dict)


# --- loading --------------------------------------------------------------------------------


def load_targets(project: Project, prep, records=None) -> list[TargetImage]:
    """The project's target images (``records``: those of them, default all), prepared with the target modality's
    preprocessing. One image is read at a time and only its prepared arrays and packed FOV are kept
    (``targets.TargetImage``): a 15-megapixel image costs ~3 MB here instead of ~60 MB."""
    out = [load_target(project, rec, prep) for rec in (project.images if records is None else records)]
    if not out:
        raise ValueError(f"{project.manifest_path}: the project has no target images; add some first")
    return out


def load_target(project: Project, rec, prep) -> TargetImage:
    """One target image (an ``ImageRecord`` of ``project``) read, its FOV estimated and prepared with
    ``prep``, as every round sees it (``load_targets``; ``restore.restore_round_job`` too)."""
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.preprocess import prepare

    image = project.read_image(rec.id)
    fov = estimate_fov(image, modality=prep.modality)
    return TargetImage(id=rec.id, name=rec.name, fov=fov, prepared=prepare(image, fov=fov, prep=prep))


def target_preprocessing(project: Project):
    """The preprocessing of the project's target images: the project's recorded one, else its modality's."""
    from vessel_studio.preprocess import Preprocessing

    return Preprocessing.from_dict(project.preprocessing) if "channel" in project.preprocessing \
        else Preprocessing.for_modality(project.modality)


def load_sources(images: Sequence[tuple], prep) -> SourceCrops:
    """Labelled source images, prepared with the source generator's preprocessing (unit range)."""
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.io.images import read_image, read_mask
    from vessel_studio.preprocess import prepare, resize_mask, to_unit

    imgs, masks, fovs = [], [], []
    for entry in images:
        img_path, mask_path = Path(entry[0]), Path(entry[1])
        fov_path = entry[2] if len(entry) > 2 else None
        image, _ = read_image(img_path)
        mask = read_mask(mask_path, shape=image.shape)
        fov = read_mask(fov_path, shape=image.shape) if fov_path else estimate_fov(image, modality=prep.modality)
        p = prepare(image, fov=fov, prep=prep)
        imgs.append(to_unit(p.x))
        masks.append(resize_mask(mask, p.x.shape).astype(np.float32))
        fovs.append(p.fov)
    return SourceCrops(imgs, masks, fovs, procedural=False)


def procedural_renderer(source_gen, cfg: AdaptConfig):
    """Source crops for a lab without labelled source images.

    Vessel masks come from ``samples.make_vessel_tree`` (``cfg.procedural_images`` trees of
    ``cfg.procedural_size`` px); ``cfg.n_synthetic`` crops of them are rendered into source-style
    images by the mask-conditioned source generator (DDIM from pure noise, t0 = 1). Those images
    then go through the same inversion / target decoding as real source images would.
    """

    def render(r: int) -> Job:
        from vessel_studio.adaptation.crops import sample_crops
        from vessel_studio.adaptation.synthesis import denoise
        from vessel_studio.samples import make_vessel_tree

        size = int(cfg.procedural_size)
        trees = [make_vessel_tree((size, size), seed=derive_seed(cfg.seed, "tree", r, i)).astype(np.float32)
                 for i in range(cfg.procedural_images)]
        _, masks, _ = sample_crops(trees, trees, None, size=cfg.gen_crop, count=cfg.n_synthetic,
                                   seed=derive_seed(cfg.seed, "tree-crops", r), vessel_min=cfg.vessel_min)
        rng = np.random.default_rng(derive_seed(cfg.seed, "render-noise", r))
        latents = rng.standard_normal((len(masks), 1, cfg.gen_crop, cfg.gen_crop)).astype(np.float32)
        job = denoise(source_gen, latents, t0=1.0, steps=cfg.steps, masks=masks, mode="ddim",
                      seed=derive_seed(cfg.seed, "render", r))
        images = yield from _forward(job, "render-source", r)
        return np.asarray(images, np.float32).reshape(len(masks), cfg.gen_crop, cfg.gen_crop), masks

    return render


# --- the job --------------------------------------------------------------------------------


def _job_key(cfg: AdaptConfig, source_id: dict, image_ids: list[str]) -> str:
    """What a killed job must share with the one that resumes it: the config except ``threads``
    (the CPU thread count changes the speed, not the job; session 18's second device call used 8
    threads where the first used 4, and the key made it discard round 0's generator checkpoint),
    the source models and the images."""
    settings = {k: v for k, v in cfg.to_dict().items() if k != "threads"}
    # the source's recorded folders are left out: its images are in ``images_hash`` already, so the
    # key is the one the same job had before the folders were recorded
    blob = json.dumps({"cfg": settings, "source": {k: v for k, v in source_id.items() if k != "folders"},
                       "images": image_ids}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _read_job(work: Path) -> dict[str, Any] | None:
    try:
        return json.loads((work / JOB_FILE).read_text())
    except (OSError, ValueError):
        return None


@dataclass
class InterruptedJob:
    """An adaptation that was killed or failed before its end (its ``work/job.json`` is left): ``adapt`` with the
    same configuration, source and images resumes it from its last completed step (``interrupted_job``)."""

    #: its configuration (``AdaptConfig.to_dict()``, "auto" fields resolved), as ``work/job.json`` records it
    config: dict[str, Any]
    #: the project's latest round when it started (None: it started round 0)
    base_round: int | None
    #: the first of its rounds not committed: the round it was in
    round: int
    #: its last round (the rounds it was to make end there)
    last: int
    #: what ``would_resume`` compares
    key: str
    #: its configuration as ``config.recorded_config`` gives a round's: ``{"round", "preset", "fields"}``
    record: dict[str, Any] = field(default_factory=dict)


def interrupted_job(project: Project) -> InterruptedJob | None:
    """The project's adaptation that was killed or failed and would be resumed, else None: none left a
    ``work/job.json``, a job holds the project now (it is running, not interrupted), a roll back removed the round it
    started from (``adapt`` starts afresh then), it had committed all its rounds (killed while cleaning up), or it
    had begun no round (it failed loading its source models or images: there is nothing to go on from)."""
    if project.job_running():
        return None
    job = _read_job(project.work_dir)
    if not isinstance(job, dict) or not isinstance(job.get("config"), dict) or not job.get("key"):
        return None
    committed = {r.index for r in project.rounds}
    base = job.get("base_round")
    if base is not None and base not in committed:
        return None
    try:
        rounds = int(job["config"]["rounds"])
    except (KeyError, TypeError, ValueError):
        return None
    first, last = (0, rounds) if base is None else (base + 1, base + rounds)
    left = [r for r in range(first, last + 1) if r not in committed]
    if not left or not any(project.work_dir.glob("round-*")):  # no step finished (it failed loading): nothing kept
        return None
    from vessel_studio.adaptation.config import config_record

    source_modality = (job.get("source") or {}).get("modality") or "fundus"
    try:
        record = config_record(job["config"], left[0], source_modality, project.modality)
    except (KeyError, TypeError, ValueError):  # a preset name this version does not know
        return None
    return InterruptedJob(config=dict(job["config"]), base_round=base, round=left[0], last=last, key=str(job["key"]),
                          record=record)


def rounds_in_progress(project: Project, job: dict | None = None) -> tuple[int, int] | None:
    """(the round in progress, the last round) of the adaptation that ``work/job.json`` records (its base round and
    rounds) given the rounds committed, else None: no record, "auto" rounds, or all its rounds committed. Asked while
    a job holds the project (a terminal's ``adapt``): a mask saved now reaches that run's rounds after the one in
    progress once that round has read the saved masks (its work folder, ``round_started``), so none of them when
    that round is its last. ``job``: that record as already read (else it is read here)."""
    if job is None:
        job = _read_job(project.work_dir)
    if not isinstance(job, dict) or not isinstance(job.get("config"), dict):
        return None
    base = job.get("base_round")
    try:
        rounds = int(job["config"]["rounds"])
        first, last = (0, rounds) if base is None else (int(base) + 1, int(base) + rounds)
    except (KeyError, TypeError, ValueError):
        return None
    committed = {r.index for r in project.rounds}
    left = [r for r in range(first, last + 1) if r not in committed]
    return (left[0], last) if left else None


def round_started(project: Project, index: int) -> bool:
    """Whether round ``index`` of the adaptation holding the project has begun (its work folder is there): it read
    the saved masks just before (``adapt`` builds its ``RoundContext``, then ``run_round`` makes the folder). Before
    that (the previous round's maps being read or computed, at a run's start minutes on a large project) a mask saved
    now is read by it. A resumed round's folder is there from the killed run before it reads them again."""
    work = project.work_dir
    return (work / f"round-{index:03d}").is_dir() or any(work.glob(f"round-{index:03d}-retry-*"))


@dataclass(frozen=True)
class SavedMaskReach:
    """Which rounds of the adaptation holding the project (``work/job.json``) read a mask saved now
    (``saved_mask_reach``). Each round, and each re-run of a round by the label-free guard (``cfg.guard_retries``),
    reads the saved masks when it starts (``adapt`` builds its ``RoundContext`` before the attempt's work folder)."""

    #: the round in progress and the run's last round (``rounds_in_progress``)
    round: int
    last: int
    #: the round in progress has begun (its work folder, ``round_started``): it read the saved masks before now
    started: bool
    #: the label-free guard may run the round in progress again, which reads the saved masks again: the attempt
    #: running is not its last (``guard_retries`` of the run's config); whether it will cannot be known now
    retry_left: bool
    #: the label-free stopping rule (``selection.should_stop``: ``stop_agreement`` <= 1 and ``min_rounds`` done) may
    #: end the run after the round in progress, before its last; whether it will cannot be known now
    may_stop: bool

    @property
    def in_last_round(self) -> bool:
        return self.round >= self.last


def saved_mask_reach(project: Project, *, stop_requested: bool = False) -> SavedMaskReach | None:
    """What the adaptation holding ``project`` (a terminal's ``adapt``, a window's) does with a mask saved now, from
    its ``work/job.json`` and work folders; None when that cannot be read (no record yet, or one this version cannot
    read). ``stop_requested``: "Stop after this round" was asked of it (``adapt``'s ``stop_requested``): the round in
    progress is its last. Session 39: the Review panel's note said a mask saved in the last round is not trained on,
    though a re-run of that round by the label-free guard reads it, and "from its next round" though the stopping rule
    may end the run after the round in progress."""
    job = _read_job(project.work_dir)  # read once: the round in progress and the config are of the same record
    now = rounds_in_progress(project, job)
    if now is None:
        return None
    r, last = now
    cfg = job["config"]
    try:
        retries = int(cfg.get("guard_retries", 0) or 0)
        stop_agreement = float(cfg.get("stop_agreement", 0.97))
        min_rounds = int(cfg.get("min_rounds", 1))
        base = job.get("base_round")
        start = 0 if base is None else int(base)
    except (TypeError, ValueError):
        return None
    work = project.work_dir
    attempts = [int(p.name.rsplit("-", 1)[1]) for p in work.glob(f"round-{r:03d}-retry-*")
                if p.name.rsplit("-", 1)[1].isdigit()]
    attempt = max(attempts, default=0)
    started = round_started(project, r)
    if stop_requested:
        last = min(last, r)
    may_stop = r < last and stop_agreement <= 1.0 and r - start >= max(1, min_rounds)
    return SavedMaskReach(round=r, last=last, started=started, retry_left=attempt < retries, may_stop=may_stop)


def would_resume(job: InterruptedJob, project: Project, cfg: AdaptConfig, source_id: dict, source_modality: str) -> bool:
    """Whether ``adapt(project, cfg, source=...)`` would resume ``job`` (the same key: configuration but threads,
    source models and images, the project's images) rather than discard its work and start afresh. ``source_id``:
    the source's ``SourceBundle.identity()``."""
    resolved = cfg.resolve_auto(source_modality, project.modality)
    return _job_key(resolved, source_id, [r.id for r in project.images]) == job.key


#: ``AdaptResult.reason`` when ``stop_requested`` ended the job
STOPPED_BY_USER = "stopped after this round on request"


def _check_seg_crop(cfg: AdaptConfig, seg) -> None:
    """The segmenter's training crop is a multiple of its levels' strides, checked before any work: a seg_crop of
    33 (AdaptConfig takes any crop >= 1) failed in the segmenter's first step, after the target generator had
    trained and the synthesis had run (session 33). The generator's crop and model need no check here:
    ``GeneratorTrainConfig`` and ``GeneratorConfig.preset`` refuse them as its first stage starts."""
    multiple = seg.config.multiple
    if int(cfg.seg_crop) % multiple:
        raise ValueError(f"AdaptConfig: seg_crop must be a multiple of {multiple} (the source segmenter's levels), "
                         f"got {cfg.seg_crop} (nothing was changed)")


def adapt(project: Project | str | os.PathLike, cfg: AdaptConfig | None = None, *,
          source: SourceBundle | None = None, device=None, stop_requested=None) -> Job[AdaptResult]:
    """Adapt the source bundle to the project's target images; see the module docstring.
    ``stop_requested``: a no-argument callable (e.g. ``threading.Event().is_set``, asked from the job's
    thread) that ends the job after the round being run is committed, keeping it."""
    import torch

    from vessel_studio.adaptation.disk import check_disk
    from vessel_studio.device import pick_device
    from vessel_studio.io.atomic import write_json
    from vessel_studio.models.generator import Generator
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.preprocess import Preprocessing

    t_job = time.perf_counter()
    project = Project.given(project)
    cfg = cfg or AdaptConfig.preset("cpu")
    source = source or SourceBundle()
    cfg = cfg.resolve_auto(source.modality, project.modality)
    if cfg.synth_replay and str(source.modality) != str(project.modality):
        import warnings

        warnings.warn(f"{project.folder}: synth_replay across modalities ({source.modality} -> {project.modality}): "
                      "it made DRIVE -> OCTA-500 collapse from round 4 (benchmarks/results/synth-replay/); "
                      "watch the label-free guard", UserWarning, stacklevel=2)
    device = pick_device(device) if not hasattr(device, "type") else device
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))

    project.acquire_job_lock("adapt")
    rounds_before = [r.index for r in project.rounds]
    source_before = project.source
    committed: list[RoundRecord] = []
    work = project.work_dir
    cancelled = False
    try:
        yield Progress("load", 0, 3, "source models", round=None)
        source_id = source.identity()
        # the images this run adapts to, read once: the job key's and the targets' (session 38 QA: the targets
        # were read again after the source models loaded, so an image added meanwhile, by ``images --add`` in
        # another terminal or the window's Add, was in the rounds but not in the key). One added later is for the
        # next run (removing one waits for the job lock)
        records = project.images
        image_ids = [r.id for r in records]
        key = _job_key(cfg, source_id, image_ids)
        job = _read_job(work)
        # a killed job resumes only while the round it started from is still committed: a rollback
        # below it (``rounds --rollback``) makes its work stale, else every rerun fails on that round
        resumed = bool(job and job.get("key") == key
                       and (job.get("base_round") is None or job["base_round"] in {r.index for r in project.rounds}))
        if not resumed:
            for p in work.iterdir() if work.is_dir() else []:
                if p.name != ".job.lock":
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
            base = project.latest_round.index if project.latest_round is not None else None
            job = {"key": key, "base_round": base, "config": cfg.to_dict(), "seed": cfg.seed,
                   "source": source_id, "images": image_ids}
            write_json(work / JOB_FILE, job)
        else:
            project.log("adaptation resumed", key=key)
            _remove_dead_writes(work)
        base = job["base_round"]
        first = 0 if base is None else base + 1
        last = (cfg.rounds if base is None else base + cfg.rounds)
        if first > last:
            raise ValueError(f"{project.folder}: nothing to do (rounds={cfg.rounds})")

        target_prep = target_preprocessing(project)
        source_seg = Segmenter.load(source.segmenter, device=device)
        source_gen = Generator.load(source.generator, device=device).use_channels_last(cfg.gen_channels_last)
        _check_seg_crop(cfg, source_seg)
        source_gen.unet.eval()
        if source_gen.preprocessing is None or not hasattr(source_gen.preprocessing, "modality"):
            source_gen.preprocessing = Preprocessing.for_modality(source.modality)
        yield Progress("load", 1, 3, "source images", round=None)
        if source.images:
            src = load_sources(source.images, source_gen.preprocessing)
            render = None
        else:
            src = SourceCrops([], [], [], procedural=True)
            render = procedural_renderer(source_gen, cfg)
        yield Progress("load", 2, 3, "target images", round=None)
        targets = load_targets(project, target_prep, records)
        yield Progress("load", 3, 3, "ready", round=None)

        stopped, reason = False, ""
        hist_start = 0 if base is None else base
        for r in range(first, last + 1):
            if r not in {x.index for x in project.rounds}:  # else: committed before a kill
                prev = project.get_round(r - 1) if r > 0 else None
                check_disk(project, targets, cfg, r, prev.index if prev else None)  # before, not hours into it
                prev_probs = prev_model = None
                if prev is not None:
                    prev_probs, prev_model = _previous_probs(project, prev.index, work, targets, device,
                                                               mirror=cfg.pseudo_mirror)
                attempt = 0
                while True:  # attempt 0, then cfg.guard_retries re-runs of a flagged round
                    rcfg = cfg if attempt == 0 else cfg.replace(seed=derive_seed(cfg.seed, "guard-retry", r, attempt))
                    replay = r > 0 and rcfg.synth_replay  # round 0's folder and the config it ran with
                    ctx = RoundContext(
                        cfg=rcfg, device=device, work=_round_work(work, r, attempt), index=r, targets=targets,
                        target_prep=target_prep, source_generator=source_gen, source_segmenter=source_seg,
                        source=src, render=render,
                        prev_generator=project.generator_path(prev.index) if prev else None,
                        prev_segmenter=project.chain_segmenter_path(prev.index) if prev else None,
                        prev_probs=prev_probs, prev_probs_model=prev_model,
                        corrections=_model_scale_corrections(project, targets),
                        replay=project.round_dir(0) if replay else None,
                        replay_cfg=AdaptConfig.from_dict(project.get_round(0).config) if replay else None,
                    )
                    out = yield from run_round(ctx)
                    rows = [row for row in round_rows(project.rounds) if row["round"] < r]
                    flags = history_warnings(rows + [{"round": r, **out.metrics}]).get(r)
                    if not flags or attempt >= cfg.guard_retries:
                        break
                    attempt += 1
                    project.log("round flagged by the label-free guard; running it again with another seed",
                                round=r, attempt=attempt, warnings=flags)
                    yield Metric("guard", "retry", float(attempt), round=r)
                record = RoundRecord(
                    index=r, folder="", stage="lsm" if r == 0 else "co-opt", config=rcfg.to_dict(), seed=rcfg.seed,
                    models=out.models, metrics={**out.metrics, "guard_retries": float(attempt)},
                    created=now_iso(), seconds=out.seconds, job_seed=cfg.seed if rcfg.seed != cfg.seed else None,
                )
                if project.source != source_id:  # written with the first commit (cancel leaves no trace)
                    project.set_source(source_id)
                rec = project.commit_round(out.folder, record, link=True)
                committed.append(rec)
                _drop_committed_maps(work, r)
                for a in artifacts_of(project.folder / rec.folder, r):
                    yield a
                if ctx.corrections:  # which of a person's masks this round trusted (the record counts them)
                    project.log("round trained on corrected masks", round=r,
                                images=sorted(project.image(i).name for i in ctx.corrections))
                if flags:  # the kept attempt's guard warnings, computed above
                    project.log("round flagged by the label-free guard", round=r, warnings=flags)
            hist = [dict(x.metrics) for x in project.rounds if hist_start <= x.index <= r]
            stop, why = should_stop(hist, stop_agreement=cfg.stop_agreement, min_rounds=cfg.min_rounds)
            if not stop and stop_requested is not None and stop_requested():
                stop, why = True, STOPPED_BY_USER
            if stop and r < last:
                stopped, reason = True, why
                project.log("adaptation stopped early", round=r, reason=why)
                break
        latest = project.latest_round
        result = AdaptResult(
            project=project.folder, rounds=committed, stopped_early=stopped, reason=reason,
            segmenter=project.segmenter_path(latest.index) if latest else None,
            seconds=time.perf_counter() - t_job, resumed=resumed,
            # as `vessel-studio rounds`, the window and export.json show them (the delivered maps too: session 41,
            # `adapt`'s closing lines left out a round whose delivered maps marked nothing, which `rounds` flagged)
            warnings=flagged_rounds(project.rounds),
        )
        project.log("adaptation finished", rounds=[x.index for x in committed], stopped_early=stopped,
                    reason=reason, seconds=round(result.seconds, 1))
        yield Metric("adapt", "seconds", float(result.seconds))
        # success: the work folder is no longer needed. Its record (job.json) goes last: killed in between, the record
        # names what is left, and the same command again ends the job (every round committed) and removes it; before
        # session 43, in the file system's order, the rest could stay with no record naming it
        for p in sorted(work.iterdir(), key=lambda p: p.name == JOB_FILE):
            if p.name != ".job.lock":
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
        return result
    except (GeneratorExit, KeyboardInterrupt):  # Ctrl-C raises inside the running job: a cancel too
        cancelled = True
        raise
    finally:
        if cancelled:
            _undo(project, rounds_before, committed, source_before)
        project.release_job_lock()
        if cancelled:
            shutil.rmtree(work, ignore_errors=True)


def _remove_dead_writes(work: Path) -> list[Path]:
    """Remove the temporary files and folders that writes cut by a kill left in a job's ``work/``
    (``io.atomic.is_temporary_name``: ``atomic_path``'s and ``atomic_dir``'s): called by the job that
    resumes it, which holds the project's job lock, so no live writer has any there. Before session 43 a map's
    temporary file left in ``pseudo/`` was copied into the committed round with the maps. A checkpoint moved aside
    (``.NAME.old-PID``) is kept: ``recover_dir`` puts it back. Returns the paths removed."""
    from vessel_studio.io.atomic import is_temporary_name

    removed = []
    for root, dirs, files in os.walk(work):
        for name in [*files, *dirs]:
            if is_temporary_name(name) and ".old-" not in name:
                path = Path(root) / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
                removed.append(path)
        dirs[:] = [d for d in dirs if not is_temporary_name(d)]
    return removed


def _undo(project: Project, rounds_before: list[int], committed: list[RoundRecord], source_before) -> None:
    if committed:
        # the images the bundled model segmented before the job stay "predicted", as they were (Project.rollback)
        project.rollback(max(rounds_before) if rounds_before else -1)
        if project.source != source_before:
            project.set_source(source_before)
        project.log("adaptation cancelled", rolled_back=[r.index for r in committed])


def _model_scale_corrections(project: Project, targets) -> dict[str, np.ndarray]:
    """``project.corrections()`` read one mask at a time and resized to its image's prepared (model)
    scale at once, as ``rounds.round_labels`` resizes them (nearest neighbour; resizing again to the
    same shape copies), so the round gets the same labels while holding ~0.3 MB per corrected
    15-megapixel image instead of 15 MB."""
    from vessel_studio.preprocess import resize_mask

    shapes = {t.id: t.prepared.x.shape for t in targets}
    out = {}
    for image_id in project.correction_ids():
        if image_id not in shapes:  # an image added while the job runs, corrected: not this run's (nor counted)
            continue
        m = project.correction(image_id)
        if m is not None:
            out[image_id] = resize_mask(m, shapes[image_id])
    return out


#: what a committed round's work folders hold that nothing reads again: its full-resolution maps (the
#: project has them; the next round reads the project's) and the assembled round folder
COMMITTED_WORK_DROPS = ("pseudo", "pseudo-delivered", "final")


def _drop_committed_maps(work: Path, index: int) -> None:
    """Free the disk a committed round's work folders (every guard attempt) hold in full-resolution maps:
    a resumed job never runs a committed round again, and reads only its model-scale ``pseudo-model/``.
    Before, a job's ``work/`` kept every round's maps twice more until the job's end."""
    for folder in [work / f"round-{index:03d}", *work.glob(f"round-{index:03d}-retry-*")]:
        for name in COMMITTED_WORK_DROPS:
            shutil.rmtree(folder / name, ignore_errors=True)


def _round_work(work: Path, index: int, attempt: int) -> Path:
    """This job's work folder of round ``index`` (``attempt`` > 0: a guard re-run, own folder and seed)."""
    return work / (f"round-{index:03d}" if attempt == 0 else f"round-{index:03d}-retry-{attempt}")


def _accepted_round_work(work: Path, index: int) -> Path:
    """The work folder of the attempt that was kept: re-runs stop at the first unflagged one, so the
    highest-numbered attempt that exists."""
    tails = (p.name.rsplit("-", 1)[1] for p in work.glob(f"round-{index:03d}-retry-*"))
    return _round_work(work, index, max((int(t) for t in tails if t.isdigit()), default=0))


def _previous_probs(project: Project, index: int, work: Path, targets, device=None, *, mirror: bool = False):
    """Round ``index``'s probabilities: original resolution (from the project, ``targets.MapsOnDisk``:
    read when asked for, one image at a time) and model scale.

    The model-scale maps are the ones the round's chain segmenter wrote to this job's work folder
    when they are there (the round ran in this job, or in the killed job it resumes). A finished job
    removes ``work/``, so when rounds are added to a finished project they are computed again with
    that round's chain segmenter on the target images prepared as now (``predict_target``, mirrored
    when the config's ``pseudo_mirror`` is): the same
    maps the round computed, where resizing the saved full-resolution TIFFs would not be, so a
    project continued by ``adapt`` ends where one longer job ends. Images added after that round
    get zeros."""
    from vessel_studio.adaptation.rounds import predict_target
    from vessel_studio.adaptation.targets import MapsOnDisk

    paths, model = {}, {}
    wdir = _accepted_round_work(work, index) / "pseudo-model"
    seg = None
    for t in targets:
        path = project.prediction_path(t.id, round=index, chain=True)
        if not path.is_file():  # an image added after that round: predict nothing, use zeros
            paths[t.id] = None
            model[t.id] = np.zeros(t.prepared.x.shape, np.float32)
            continue
        paths[t.id] = path
        npy = wdir / f"{t.id}.npy"
        if npy.is_file():
            model[t.id] = _load_npy(npy)
        else:
            if seg is None:
                from vessel_studio.models.segmenter import Segmenter

                seg = Segmenter.load(project.chain_segmenter_path(index), device=device)
            model[t.id] = predict_target(seg, t, mirror=mirror)[0]
    return MapsOnDisk(paths, {t.id: t.shape for t in targets}), model
