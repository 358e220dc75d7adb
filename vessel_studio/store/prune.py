"""Free a project's disk: delete the probability maps of rounds nobody needs any more.

A round's full-resolution maps (``pseudo/`` and, when it delivers a merged segmenter,
``pseudo-chain/``) are most of a project's size on a high-resolution camera: ~35 MB per map for a
15-megapixel image even compressed, so 200 such images and 6 rounds take ~85 GB. The adaptation
reads only the latest round's maps (the next round's pseudo-labels and agreement) and round 0's
``synthetic/`` (``synth_replay``); the Review panel shows any round's. Pruning keeps the latest
round whole, and any round asked for (the CLI and the GUI also keep the label-free selection's
round), and of the other rounds deletes the maps and keeps everything else: the record with its
label-free signals, the models (``segment --model PROJECT --round N`` still works), the
synthetic samples. A pruned round is no longer shown in Review, exported or rolled back to
(``Project.rollback`` refuses it: the next round would have no pseudo-labels to start from) until
``adaptation.restore`` makes its maps again from its kept segmenters (``rounds --restore N``); the
manifest records which images' maps went (``RoundRecord.pruned_images``) for it.

Order, as for rollback: the manifest marks the rounds ``pruned`` first, the folders go after.
A prune killed or cancelled between the two leaves folders that no reader uses (they are marked
pruned); ``Project.clean_stale`` (run when a project is opened) deletes them. Refused while an
adaptation job holds the project.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from vessel_studio.events import Progress
from vessel_studio.io.atomic import is_temporary_name

MAP_FOLDERS = ("pseudo", "pseudo-chain")


@dataclass(frozen=True)
class PrunePlan:
    """The rounds whose maps go (``rounds``), the rounds kept whole (``kept``: the latest and those
    asked for; rounds pruned earlier are in neither) and the bytes their map folders hold now (None: not
    measured, ``plan_prune(measure=False)``)."""

    rounds: tuple[int, ...]
    kept: tuple[int, ...]
    bytes: int | None


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (0 when it is absent)."""
    if not folder.is_dir():
        return 0
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:  # removed meanwhile
            pass
    return total


def map_folders(project, index: int) -> list[Path]:
    """Round ``index``'s probability map folders that exist on disk."""
    base = project.folder / project.get_round(index).folder
    return [base / name for name in MAP_FOLDERS if (base / name).is_dir()]


def plan_prune(project, *, keep: Iterable[int] = (), measure: bool = True) -> PrunePlan:
    """What :func:`prune_job` would delete. ``keep``: round indices to keep whole besides the latest;
    an index the project does not have is a ValueError naming the manifest. ``measure=False``: the rounds only (the
    manifest), ``bytes`` None; the sizes stat every map file of those rounds (the 7,560 maps of a 945-image project's 8
    rounds: 0.14 s, session 46), which the GUI adds up in a worker."""
    rounds = project.rounds
    known = [r.index for r in rounds]
    keep = {int(k) for k in keep}
    unknown = sorted(keep - set(known))
    if unknown:
        raise ValueError(f"{project.manifest_path}: no round {', '.join(map(str, unknown))} to keep "
                         f"(rounds: {known or 'none'})")
    if not rounds:
        return PrunePlan((), (), 0)
    keep.add(known[-1])
    todo = tuple(r.index for r in rounds if r.index not in keep and r.pruned is None)
    size = sum(folder_bytes(f) for i in todo for f in map_folders(project, i)) if measure else None
    return PrunePlan(todo, tuple(sorted(keep)), size)


def prune_job(project, *, keep: Iterable[int] = ()):
    """Delete the maps of every round but the latest and ``keep`` (see the module) of ``project`` (a
    ``Project`` or its folder); a generator of
    ``Progress("prune", ...)`` events (one per round) that returns the :class:`PrunePlan` it carried
    out. Closing it before its first event changes nothing; after, the rounds are pruned and the
    folders not yet deleted go when the project is next opened."""
    from vessel_studio.store.project import Project, ProjectBusyError, now_iso

    project = Project.given(project)  # a folder too, as adapt takes it (session 33 API QA: an AttributeError)
    if project.job_running():
        raise ProjectBusyError(f"{project.folder}: {project.job_holder()} holds this project; prune its rounds after "
                               "it ends")
    plan = plan_prune(project, keep=keep)
    if not plan.rounds:
        return plan
    yield Progress("prune", 0, len(plan.rounds), "marking rounds")
    when = now_iso()
    todo = set(plan.rounds)

    def fn(d):
        for x in d["rounds"]:
            if int(x["index"]) in todo and not x.get("pruned"):
                x["pruned"] = when
                # which images had maps: what ``adaptation.restore`` makes again (images added later had none)
                x["pruned_images"] = sorted(p.stem for p in (project.folder / x["folder"] / "pseudo").glob("*.tif")
                                            if not is_temporary_name(p.name))

    project._update(fn)
    project.log("pruned probability maps", rounds=list(plan.rounds), kept=list(plan.kept), bytes=plan.bytes)
    for n, index in enumerate(plan.rounds):
        remove_maps(project, index)
        yield Progress("prune", n + 1, len(plan.rounds), f"round {index}")
    return plan


def prune(project, *, keep: Iterable[int] = ()) -> PrunePlan:
    """:func:`prune_job` run to its end."""
    from vessel_studio.events import run

    return run(prune_job(project, keep=keep))


def remove_maps(project, index: int) -> None:
    """Delete round ``index``'s map folders (the round must be marked pruned already)."""
    for folder in map_folders(project, index):
        shutil.rmtree(folder, ignore_errors=True)


def remove_leftovers(project) -> list[Path]:
    """Map folders of rounds marked pruned that a killed prune left; removed, and returned."""
    left = []
    for r in project.rounds:
        if r.pruned is not None:
            for folder in map_folders(project, r.index):
                shutil.rmtree(folder, ignore_errors=True)
                left.append(folder)
    return left
