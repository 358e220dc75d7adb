"""Bring a pruned round back: make its probability maps again from the segmenters it kept (session 27).

``rounds --prune`` (``store.prune``) deletes a round's ``pseudo/`` and ``pseudo-chain/`` maps and
keeps its models. The maps are a pure function of those models and the target images, so they can
be computed again exactly as the adaptation computed them (``rounds.stage_pseudo_label``, through
the same ``rounds.write_maps``):

- ``pseudo/`` from ``segmenter/``; ``pseudo-chain/`` from ``segmenter-chain/`` where the round has
  one (it delivered a weight-interpolated segmenter, ``AdaptConfig.source_weight``);
- the target images read, their FOV estimated and prepared with the project's preprocessing
  (``job.load_target``, ``job.target_preprocessing``), at the original resolution inside the FOV;
- mirrored (``AdaptConfig.pseudo_mirror`` of the round's recorded config) for the maps of the chain
  segmenter, i.e. ``pseudo-chain/``, or ``pseudo/`` when the round has no chain folder; the
  delivered merge's maps never were;
- on ``device.pick_device()``'s device as the job was (a CUDA GPU where there is one), with the round's
  recorded ``threads`` (torch's CPU threads) when it has them.

Made on the machine and device that made the round, the maps are the same values (measured in
``benchmarks/results/prune/``); another device or CPU may differ in the last bits.
Only the images whose maps the prune deleted are made again (``RoundRecord.pruned_images``, less any
image removed from the project since). A round pruned before session 27 has no such record: every
image the project has now gets a map, an image added after the round included (it had none).

Order: the maps are written into ``rounds/.round-NNN.tmp-restore-PID/``, moved into the round folder
when all are there, and only then does the manifest clear the round's ``pruned`` mark. Closing the
job (cancel) removes the temporary folder; a kill before the manifest change leaves map folders in a
round still marked pruned, which ``Project.clean_stale`` deletes when the project is next opened (and
the temporary folder, once older than ``STALE_TEMP_S``). The job holds the project's job lock, so
no adaptation, prune or rollback runs meanwhile.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from vessel_studio.events import Job, Progress


@dataclass(frozen=True)
class RestoreResult:
    """What :func:`restore_round_job` made: the round, the map folders (``pseudo``, ``pseudo-chain``),
    the image ids whose maps were made and the seconds it took. ``folders == ()`` when the round was
    not pruned (nothing to do)."""

    round: int
    folders: tuple[str, ...]
    images: tuple[str, ...]
    seconds: float


def restore_plan(project, index: int) -> tuple[list[tuple[str, Path, bool]], list[str]]:
    """Round ``index``'s map folders to make again as ``[(folder name, segmenter folder, mirrored)]``
    and the image ids to make them for (see the module). A segmenter folder that is not there is a
    ValueError naming it."""
    from vessel_studio.adaptation.rounds import _model_done

    rec = project.get_round(index)
    base = project.folder / rec.folder
    mirror = bool(rec.config.get("pseudo_mirror", False))
    chain = base / "segmenter-chain"
    plan = [("pseudo", base / "segmenter", mirror and not chain.is_dir())]
    if chain.is_dir():
        plan.append(("pseudo-chain", chain, mirror))
    for _name, folder, _m in plan:
        if not _model_done(folder):
            raise ValueError(f"{folder}: round {index}'s segmenter is missing or incomplete "
                             "(config.json and model.safetensors); its maps cannot be made again")
    have = [r.id for r in project.images]
    if rec.pruned_images is not None:  # an image removed from the project since: nothing to read
        kept = set(have)
        have = [i for i in rec.pruned_images if i in kept]
    return plan, have


def restore_round_job(project, index: int, *, device=None) -> Job[RestoreResult]:
    """Make the probability maps of pruned round ``index`` again and clear its ``pruned`` mark (see
    the module); a generator of ``Progress("restore", step, total, image name, round=index)`` events,
    one per image, returning a :class:`RestoreResult`. A round that is not pruned: nothing to do.
    Refused (``ProjectBusyError``) while a job holds the project."""
    import torch

    from vessel_studio.adaptation.job import load_target, target_preprocessing
    from vessel_studio.adaptation.rounds import write_maps
    from vessel_studio.device import pick_device
    from vessel_studio.io.atomic import _fsync_dir
    from vessel_studio.models.segmenter import Segmenter
    from vessel_studio.store.project import Project, ProjectBusyError, round_name

    t0 = time.perf_counter()
    project = Project.given(project)
    index = int(index)
    if project.job_running():
        raise ProjectBusyError(f"{project.folder}: {project.job_holder()} holds this project; restore round {index} "
                               "after it ends")
    rec = project.get_round(index)  # an unknown round: ValueError naming the manifest
    if rec.pruned is None:
        return RestoreResult(index, (), (), time.perf_counter() - t0)
    plan, ids = restore_plan(project, index)
    device = pick_device(device) if not hasattr(device, "type") else device
    threads = rec.config.get("threads")
    old_threads = torch.get_num_threads()
    project.acquire_job_lock("restore")
    tmp = project.folder / "rounds" / f".{round_name(index)}.tmp-restore-{os.getpid()}"
    try:
        if threads:
            torch.set_num_threads(int(threads))
        shutil.rmtree(tmp, ignore_errors=True)
        for name, _folder, _m in plan:
            (tmp / name).mkdir(parents=True)
        segs = [(name, Segmenter.load(folder, device=device), mirror) for name, folder, mirror in plan]
        prep = target_preprocessing(project)
        yield Progress("restore", 0, len(ids), "segmenters loaded", round=index)
        for k, image_id in enumerate(ids):
            image = project.image(image_id)
            t = load_target(project, image, prep)
            for name, seg, mirror in segs:
                write_maps(seg, t, tmp / name / f"{image_id}.tif", mirror=mirror)
            del t
            yield Progress("restore", k + 1, len(ids), image.name, round=index)
        # every map is written (each file fsynced): move the folders in, then clear the mark
        base = project.folder / rec.folder
        for name, _folder, _m in plan:
            shutil.rmtree(base / name, ignore_errors=True)  # a killed restore's or prune's leftover
            os.replace(tmp / name, base / name)
        _fsync_dir(base)

        def fn(d):
            for x in d["rounds"]:
                if int(x["index"]) == index:
                    x.pop("pruned", None)
                    x.pop("pruned_images", None)

        project._update(fn)
        result = RestoreResult(index, tuple(n for n, _f, _m in plan), tuple(ids), time.perf_counter() - t0)
        project.log("restored probability maps", round=index, folders=list(result.folders), images=len(ids),
                    seconds=round(result.seconds, 1))
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        project.release_job_lock()
        if threads:
            torch.set_num_threads(old_threads)


def restore_round(project, index: int, *, device=None) -> RestoreResult:
    """:func:`restore_round_job` run to its end."""
    from vessel_studio.events import run

    return run(restore_round_job(project, index, device=device))
