"""Qt-free work behind the panels: source-only segmentation, review order, drafts, export.

Everything here is a plain function or a job generator (``vessel_studio.events``), so it runs in
a worker thread and is tested without a window. GUI-side files live in ``PROJECT/gui/``, a
folder the store and the adaptation engine do not read: ``source-only/<id>.tif`` (the bundled
segmenter's probabilities, a cache) and ``drafts/<id>.png`` (autosaved unsaved corrections).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vessel_studio.events import Artifact, Job, Progress
from vessel_studio.store.project import FOV_ESTIMATES, SOURCE_ONLY_MAPS
from vessel_studio.train.segmenter import NORM_BATCHES
from vessel_studio.wording import shell_word, text_name

SOURCE_ONLY = "source-only"
#: the job name of the Adaptation panel's "Free disk…" (``store.prune``), which the Review panel follows
FREE_DISK = "Free disk"
#: the job name of the Adaptation panel's "Make maps again" and of its roll back to a pruned round, which makes its maps
#: again first (``adaptation.restore``); the Review panel follows it too. The status line and the "Busy" box say it:
#: "Restore maps" until session 42, a name no button has (the OCT-A QA helper)
RESTORE_MAPS = "Make maps again"
#: the job name of the Adaptation panel's Roll back (``rollback_job``): ``Project.rollback`` in the runner (session 45:
#: on the GUI thread it froze the window for 0.2 s on a 1,000-image project, longer on a network drive or with 15-MP
#: maps); the Review panel follows it through the panel's ``Studio.rounds_changed_here`` at its end
ROLL_BACK = "Roll back"


def gui_dir(project) -> Path:
    return Path(project.folder) / "gui"


def source_only_path(project, image_id: str) -> Path:
    """Where an image's source-only map is (``store.project.SOURCE_ONLY_MAPS``: ``Project.rollback`` reads it too)."""
    return Path(project.folder) / SOURCE_ONLY_MAPS / f"{image_id}.tif"


def draft_path(project, image_id: str) -> Path:
    return gui_dir(project) / "drafts" / f"{image_id}.png"


def draft_lock_path(project, image_id: str) -> Path:
    return gui_dir(project) / "drafts" / f"{image_id}.lock"


def hold_draft(project, image_id: str) -> int | None:
    """Take the hold of the image's draft for this window: the lock of ``drafts/ID.lock`` (``io.locks.try_lock``),
    kept (the file descriptor returned) while the window's unsaved edits of the image are its draft;
    ``release_draft`` ends it, and so does the end of the process (a crash too). None when another window or process
    holds it. An image has one draft file: a window that finds it held neither restores it as its own nor autosaves
    over it (session 36: two windows wrote their edits over each other's, and the second to open the image restored
    the first's live edits and autosaved them mixed with its own). Raises OSError when the lock file cannot be
    made."""
    from vessel_studio.io.locks import try_lock

    path = draft_lock_path(project, image_id)
    # not parents=True: a project folder renamed or deleted by another program is not made again (FileNotFoundError)
    path.parent.parent.mkdir(exist_ok=True)
    path.parent.mkdir(exist_ok=True)
    return try_lock(path)


def release_draft(fd: int | None) -> None:
    """End a hold taken by :func:`hold_draft` (None: nothing)."""
    from vessel_studio.io.locks import unlock

    if fd is not None:
        unlock(fd)


def draft_held(project, image_id: str) -> bool:
    """Whether a window (a live process, or another hold of this one) holds the image's draft (:func:`hold_draft`)."""
    from vessel_studio.io.locks import is_locked

    return is_locked(draft_lock_path(project, image_id))


def rollback_job(project, keep: int) -> Job:
    """``project.rollback(keep)`` (keep the rounds up to ``keep``, -1: none) as a job of the window's runner; returns
    what it returns (``store.project.RolledBack``). One ``Progress`` before it: closed there (the window closed
    meanwhile), nothing is changed. None after it: a roll back cannot be stopped halfway, and need not be:
    ``Project.rollback`` writes the manifest first and deletes the rounds' folders after, so a kill or an error between
    the two leaves folders that no reader uses, which ``Project.clean_stale`` deletes when the project is next opened. A
    cancel asked during it ends the job "done" (``JobOutcome.cancel_asked``), the rounds rolled back."""
    drop = [r.index for r in project.rounds if r.index > int(keep)]
    yield Progress("roll back", 0, 1, f"deleting round(s) {', '.join(map(str, drop))} (a roll back cannot be "
                   "stopped halfway)")
    return project.rollback(keep)


def find_images(project, names: list[str]) -> list[str]:
    """The ids of the images named by ``names`` (each an image id or name, as ``vessel-studio images``
    lists them); a name no image has, or one that two images share, is a ValueError saying which. A name
    matches in either Unicode form of its accented letters when none matches as typed: a file copied from a
    Mac is named in decomposed form ("u" + "\u0308" for "ü"), which a terminal prints as the "ü" a person
    types, and "no image named 'Müller'" named what the list showed (session 49 QA)."""
    import unicodedata

    images = project.images
    ids = {rec.id for rec in images}
    out = []
    for name in names:
        if name in ids:
            out.append(name)
            continue
        hits = [rec.id for rec in images if rec.name == name]
        if not hits:
            nfc = unicodedata.normalize("NFC", name)
            hits = [rec.id for rec in images if unicodedata.normalize("NFC", rec.name) == nfc]
        if not hits:
            raise ValueError(f"{project.manifest_path}: no image named {name!r} (an image's name or id; "
                             "`vessel-studio images PROJECT` lists them)")
        if len(hits) > 1:
            raise ValueError(f"{project.manifest_path}: {len(hits)} images are named {name!r}; give one of their "
                             f"ids: {', '.join(hits)}")
        out.append(hits[0])
    return list(dict.fromkeys(out))


def remove_images(project, image_ids: Iterable[str] | str) -> list:
    """Take images out of the project (``Project.remove_images``: their copies and saved corrections),
    and what the GUI keeps of them: autosaved edits, source-only maps, estimated FOVs. The files they
    were added from are not touched; the rounds keep their maps. Returns the removed records. The autosaved
    edits are deleted first, once the ids are known and no job holds the project (a kill inside the store's
    removal then leaves none for the image added again)."""
    from vessel_studio.store.project import ProjectBusyError

    # read once (a generator of ids was used up by the check below: nothing was removed, and [] returned), one id
    # as it is (session 33 API QA)
    image_ids = [image_ids] if isinstance(image_ids, str) else list(image_ids)
    for image_id in image_ids:
        project.image(image_id)  # an unknown id: nothing changed
    if project.job_running():
        raise ProjectBusyError(f"{project.folder}: {project.job_holder()} holds this project; remove images after it "
                               "ends")
    # the unsaved edits first (session 28 QA: deleted after the store's removal, a kill inside it left them, and
    # the same file added again, its id back, showed them as its own): the removal was asked for, they go
    for image_id in image_ids:
        draft_path(project, image_id).unlink(missing_ok=True)
        for path in ended_draft_paths(project, image_id):  # drafts of windows that ended, set aside
            path.unlink(missing_ok=True)
        draft_lock_path(project, image_id).unlink(missing_ok=True)
    records = project.remove_images(image_ids)
    for rec in records:
        for path in (source_only_path(project, rec.id), gui_dir(project) / FOV_CACHE / f"{rec.id}.png"):
            path.unlink(missing_ok=True)
    return records


def _read_tif(path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    from vessel_studio.io.images import read_prob

    return read_prob(path)  # compressed (zlib) or not; an unreadable file: ValueError naming it


def source_only_record_path(project) -> Path:
    return Path(project.folder) / SOURCE_ONLY_MAPS / "record.json"


def source_only_record(project) -> dict:
    """What made each cached source-only map: image id -> ``{"model", "model_hash", "renormalized",
    "mirror", "made"}`` (``segment_source_only`` writes it; maps cached before session 26 have no
    entry); an unreadable record reads as empty (it is a note for the export, not a commit point)."""
    import json

    try:
        data = json.loads(source_only_record_path(project).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def source_only_prob(project, image_id: str) -> np.ndarray | None:
    return _read_tif(source_only_path(project, image_id))


def probability(project, image_id: str, which: str | int | None = None, *,
                rounds: list | None = None) -> np.ndarray | None:
    """``which``: None = latest round (else source-only), an int = that round, "source-only";
    ``rounds``: the project's round records when the caller has just read them."""
    if which == SOURCE_ONLY:
        return source_only_prob(project, image_id)
    if which is None:
        if project.rounds if rounds is None else rounds:
            p = project.prediction(image_id)
            if p is not None:
                return p
        return source_only_prob(project, image_id)
    return project.prediction(image_id, round=int(which))


def stat_key(path: Path):
    """What identifies a file's content for a cache, or a file as a window wrote or read it (the Review panel's
    draft and saved correction: another window's write of them changes it): inode, size, mtime (None when
    absent). Every write of the project and of this module replaces files (atomic rename: a new inode)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def probability_key(project, image_id: str, which: str | int | None = None) -> tuple:
    """A key that changes whenever ``probability(project, image_id, which)`` could return another
    map: the project's rounds and the files it may read."""
    rounds = tuple(r.index for r in project.rounds)
    paths = []
    if which == SOURCE_ONLY or which is None:
        paths.append(source_only_path(project, image_id))
    if which is None and rounds:
        paths.append(project.prediction_path(image_id))
    elif which not in (None, SOURCE_ONLY):
        paths.append(project.prediction_path(image_id, round=int(which)))
    return (str(project.folder), image_id, which, rounds, tuple(stat_key(p) for p in paths))


def image_key(project, image_id: str) -> tuple:
    """A key that changes whenever ``project.read_image(image_id)`` could return other pixels."""
    rec = project.image(image_id)
    return (str(project.folder), image_id, rec.file, rec.sha256, stat_key(Path(project.folder) / rec.file))


def image_fov(project, image: np.ndarray) -> np.ndarray | None:
    """The field of view of an image of ``project`` (``estimate_fov`` for the project's modality), as
    the vessel measures and the label-free statistics use it; None when it cannot be estimated."""
    from vessel_studio.io.fov import estimate_fov

    try:
        return estimate_fov(image, modality=project.modality)
    except ValueError:  # e.g. NaN pixels: the statistics then cover the whole frame
        return None


#: estimated FOVs kept per image (an image's content never changes under its id); the folder's suffix
#: changes when ``estimate_fov`` does, so older estimates are not read
FOV_CACHE = FOV_ESTIMATES.name  # gui/fov-1


def cached_fov(project, image_id: str) -> np.ndarray | None:
    """``image_fov`` of a project's image, kept in ``PROJECT/gui/fov-1/<id>.png`` after the first
    estimate (the "most uncertain first" queue estimated every fundus image's FOV again on every run:
    88 images 0.5 → 4.8 s). An unreadable or mis-shaped cache file is estimated and written again; an
    image whose FOV cannot be estimated is not cached (None)."""
    from vessel_studio.io.images import read_mask, write_mask

    path = gui_dir(project) / FOV_CACHE / f"{image_id}.png"
    shape = project.image(image_id).shape
    if path.is_file():
        try:
            return read_mask(path, shape=None if shape is None else tuple(shape[:2]))
        except (ValueError, OSError):  # unreadable, or of another size: estimate again
            pass
    fov = image_fov(project, project.read_image(image_id))
    if fov is not None:
        try:
            write_mask(path, fov)
        except OSError:  # a read-only project: the estimate is still right
            pass
    return fov


class ReadCancelled(Exception):
    """A read for the Review panel stopped early: the image is no longer wanted (``read_for_review``)."""


def read_for_review(project, image_id: str, which: list, *, fov: bool = True, image: bool = True,
                    cancelled=None, known: dict | None = None) -> dict:
    """Read ahead what the Review panel shows for an image (run in a worker thread): the image (and
    its field of view, ``image_fov``) and the probability maps ``which`` (as ``probability``) with the
    uncertainty of the first one, each with the key it was read under (taken before reading: a file
    replaced meanwhile changes the key, so the GUI thread, which compares keys again before using
    them, reads it afresh). ``fov=False``: no ``fov`` (the panel's statistics worker estimates it after
    the image is shown: the image the user waits for is on screen sooner). A map that cannot be read is left out of ``maps`` and its key and ``ValueError``
    (naming the file) kept in ``map_errors``; an image that cannot be read raises. ``cancelled()``, when
    given, is asked between the reads (a 15-megapixel image or map takes ~0.1 s; a read cannot stop
    halfway): once it says True, :class:`ReadCancelled` is raised. ``image=False``: the maps only (no ``image``,
    ``image_key`` nor ``fov``: the image on screen, whose rounds changed, ``read_maps_for_review``). ``known``: maps
    already read, ``which -> (key, prob, uncertainty or None)`` (the Review panel's ``_maps``): one whose key is
    still the file's is not read again, and the panel gets the very array it shows (not set in its layer again)."""

    def check() -> None:
        if cancelled is not None and cancelled():
            raise ReadCancelled(image_id)

    out = {"image_id": image_id, "maps": {}, "map_errors": {}}
    if image:
        out["image_key"] = image_key(project, image_id)
        check()
        out["image"] = project.read_image(image_id)
    if image and fov:
        check()
        out["fov"] = image_fov(project, out["image"])
    for i, w in enumerate(which):
        check()
        key = probability_key(project, image_id, w)
        held = (known or {}).get(w)
        if held is not None and held[0] is not None and held[0] == key and held[1] is not None:
            prob, unc = held[1], held[2]
        else:
            try:
                prob = probability(project, image_id, w)
            except ValueError as exc:  # an unreadable map: the image is still shown, the panel names the file
                out["map_errors"][w] = (key, exc)
                continue
            unc = None
        check()
        if i == 0 and prob is not None and unc is None:
            unc = uncertainty(prob)
        out["maps"][w] = (key, prob, unc if i == 0 else None)
    return out


def shown_map(project, image_id: str, which, prob, rounds: list):
    """What Show's choice ``which`` drew (``prob``, as ``probability`` read it): a round index, SOURCE_ONLY, or None
    (no map); ``rounds``: the project's round records."""
    if prob is None:
        return None
    if which is not None:
        return which
    if rounds and project.prediction_path(image_id, rounds[-1].index).is_file():
        return rounds[-1].index
    return SOURCE_ONLY  # probability(): the latest round has no map for this image


def map_before(shown, rounds: list):
    """The map before ``shown`` (``shown_map``), for "agreement with": the round before a round (the latest earlier
    one that kept its maps; the source-only prediction before the first round); None for the source-only
    prediction, which has none."""
    if shown is None or shown == SOURCE_ONLY:
        return None
    kept = [r.index for r in rounds if r.pruned is None]  # a pruned round has no maps: the one before it
    earlier = [i for i in kept if i < shown]
    return earlier[-1] if earlier else SOURCE_ONLY


def mask_baseline(project, image_id: str, origin: str, mask, prob, threshold: float, shape) -> np.ndarray:
    """What counts as "no unsaved edits" of a mask shown from ``origin`` (``current_mask``'s): the mask itself, or for
    a restored draft the saved state under it (the saved correction, else ``prob`` at ``threshold``, else an empty
    mask of ``shape``)."""
    if origin != "draft":
        return np.asarray(mask) > 0
    saved = project.correction(image_id)
    if saved is None:
        saved = prob >= threshold if prob is not None else np.zeros(shape, bool)
    return saved


def read_maps_for_review(project, image_id: str, which: list, *, threshold: float, fov=None,
                         known: dict | None = None) -> dict:
    """What the Review panel shows again of the image on screen when the project's rounds changed (a terminal's
    ``adapt`` added one, a roll back), read in a worker thread (session 37: on the GUI thread this froze the window
    for each round a terminal added): ``read_for_review``'s maps (``which``, the uncertainty of the first), and the
    mask the panel would take for it, ``"mask"``: ``(draft_key, saved_key, threshold, prob, mask, origin,
    baseline, layer_data)``, as ``current_mask(..., prob, threshold, look_up=False)`` gives it from the first map
    (``prob``, the array the panel must show for it to apply), with what counts as no unsaved edits (``baseline``,
    ``mask_baseline``) and the mask layer's data (``layer_data``, uint8 0/1, held by nothing
    else). The keys are taken before the reads: the panel uses the mask only when the draft and the saved
    correction are unchanged (``stat_key``). A mask that cannot be read is left out (the panel reads it again and
    names the file). For an image that is not large (``is_large``: its statistics are the panel's ``StatsReader``'s),
    ``"stats"``: ``(prob, before, fov, label_free_stats(prob, fov, map before))``, as the panel's ``_show_stats``
    computes them (``before``: ``map_before``; ``fov``: the image's field of view as the panel holds it). ``known``:
    ``read_for_review``'s (the maps the panel holds: a correction saved elsewhere leaves them as they were)."""
    out = read_for_review(project, image_id, which, image=False, known=known)
    got = out["maps"].get(which[0]) if which else None
    prob = got[1] if got is not None else None
    if prob is not None and pixels(np.shape(prob)[:2]) <= LARGE_IMAGE_PIXELS:
        rounds = project.rounds
        before = map_before(shown_map(project, image_id, which[0], prob, rounds), rounds)
        try:
            prev = None if before is None else (
                out["maps"][before][1] if before in out["maps"] else probability(project, image_id, before))
        except ValueError:  # an unreadable earlier map: the statistics of the shown one still stand
            prev = None
        out["stats"] = (prob, before, fov, label_free_stats(prob, fov, prev))
    draft_key, saved_key = stat_key(draft_path(project, image_id)), stat_key(project.correction_path(image_id))
    try:
        mask, origin = current_mask(project, image_id, prob, threshold=threshold, look_up=False)
        if mask is None:
            return out  # no map for the round chosen: the panel makes its empty mask (the image's shape)
        mask = mask if mask.dtype == bool else np.asarray(mask) > 0
        baseline = mask_baseline(project, image_id, origin, mask, prob, threshold, mask.shape)
    except (ValueError, OSError):
        return out
    out["mask"] = (draft_key, saved_key, threshold, prob, mask, origin, baseline, mask.astype(np.uint8))
    return out


#: images with more pixels than this (a 2000 x 2000 image; DRIVE, CHASE_DB1 and STARE have at most
#: 0.96 megapixels, a modern fundus camera 12-16) get their field of view and label-free statistics
#: from a worker thread (``review_stats``) when the Review panel shows them: on the GUI thread they took
#: 0.3-0.7 s per image at 15 megapixels (``benchmarks/results/gui/hires/``); smaller images keep them
#: on the GUI thread, where the statistics are on screen as soon as the image is
LARGE_IMAGE_PIXELS = 4_000_000


def is_large(image: np.ndarray | None) -> bool:
    return image is not None and int(np.prod(np.shape(image)[:2])) > LARGE_IMAGE_PIXELS


#: a step to an image with more pixels than this (by its record's shape) that the read-ahead has not
#: delivered reads the image and its maps in a worker (the panel says "loading…" until they arrive):
#: on the GUI thread that took ~90 ms a step at 15 megapixels, up to 600 ms
#: (``benchmarks/results/gui/hires/``). Smaller images are read on the GUI thread, where they are on
#: screen at once: 8.5 ms a step (median) for the public sets' <= 0.96 megapixels
#: (``benchmarks/results/gui/README.md``, the 88-image review before the read-ahead)
READ_IN_WORKER_PIXELS = LARGE_IMAGE_PIXELS
#: Save correction / Accept as reviewed of a mask with more pixels than this encode and write its PNG
#: in a worker (140-190 ms of the GUI thread at 15 megapixels); smaller masks are saved on the GUI
#: thread (measured in ``benchmarks/results/gui/hires/README.md``), so the file is there when the call returns
SAVE_IN_WORKER_PIXELS = LARGE_IMAGE_PIXELS


def pixels(shape) -> int:
    """Rows x columns of an image or record shape (0 for None)."""
    return 0 if shape is None else int(np.prod(tuple(shape)[:2]))


def save_correction(project, image_id: str, mask: np.ndarray, *, reviewed: bool = False) -> None:
    """Save ``mask`` as the image's corrected mask (``Project.save_correction``: the PNG written
    atomically, then the state "corrected"), then with ``reviewed`` mark the image "reviewed".
    The Review panel runs it in a worker for large masks (``SAVE_IN_WORKER_PIXELS``). Raises what the
    store raises; a failure to set "reviewed" after the mask landed raises :class:`ReviewedStateError`."""
    project.save_correction(image_id, mask)
    if reviewed:
        try:
            project.set_state(image_id, "reviewed")
        except (ValueError, OSError, KeyError) as exc:
            raise ReviewedStateError(str(exc)) from exc


class ReviewedStateError(RuntimeError):
    """The corrected mask was saved but the image could not be marked "reviewed"."""


def review_stats(project, image_id: str, prob: np.ndarray, before, image: np.ndarray,
                 fov: np.ndarray | None = None) -> dict:
    """What the Review panel says about a large image's map (run in a worker thread): its field of
    view (``image_fov``, unless ``fov`` is given), and ``label_free_stats`` of ``prob`` inside it, with
    the agreement with the map ``before`` (as ``probability``; None or unreadable: none). ``prob`` is
    returned as is, so that the panel can tell whether the map on screen is still that one, and
    ``before`` too, so that it can name the map compared with."""
    fov = image_fov(project, image) if fov is None else fov
    try:
        prev = None if before is None else probability(project, image_id, before)
    except ValueError:  # an unreadable earlier map: the statistics of the shown one still stand
        prev = None
    return {"prob": prob, "before": before, "fov": fov, "stats": label_free_stats(prob, fov, prev)}


def uncertainty(prob: np.ndarray) -> np.ndarray:
    """1 − |2p − 1|: 1 where the model is undecided (p = 0.5), 0 where it is sure (float32; ``prob`` is left as it
    is). In place in one new array: the same values as the expression's four temporaries, in about a third of the
    time at 15.6 MP (session 31, ``benchmarks/uncertainty_speed.py``; the Review panel computes it on the GUI thread
    for each map it shows)."""
    u = np.multiply(np.asarray(prob, np.float32), np.float32(2.0))
    u -= np.float32(1.0)
    np.abs(u, out=u)
    np.subtract(np.float32(1.0), u, out=u)
    return u


def label_free_stats(prob: np.ndarray, fov: np.ndarray | None = None, previous: np.ndarray | None = None) -> dict:
    """Per-image statistics that need no labels: vessel fraction, mean uncertainty, fraction of
    undecided pixels (0.2 < p < 0.8), and Dice agreement with a previous map when given, all inside
    ``fov`` (None, an empty one or one of another shape: the whole frame)."""
    p = np.asarray(prob, np.float32)
    inside = np.ones(p.shape, bool) if fov is None or np.shape(fov) != p.shape else np.asarray(fov, bool)
    if not inside.any():
        inside = np.ones(p.shape, bool)
    v = p[inside]
    out = {
        "vessel_fraction": float((v >= 0.5).mean()),
        "mean_uncertainty": float(uncertainty(v).mean()),
        "undecided_fraction": float(((v > 0.2) & (v < 0.8)).mean()),
    }
    if previous is not None and np.shape(previous) == p.shape:
        a, b = v >= 0.5, np.asarray(previous)[inside] >= 0.5
        denom = a.sum() + b.sum()
        out["agreement_previous"] = float(2 * (a & b).sum() / denom) if denom else 1.0
    return out


def review_order(project, *, fovs: dict | None = None) -> Job[list[tuple[str, float]]]:
    """Images by decreasing mean uncertainty of their current probability map (no map: last), inside
    each image's field of view, as the Review panel's label-free statistics (a fundus image's black
    border, where the model is sure, diluted the score by its share of the frame). ``fovs``: the
    fields of view already known (image id -> ``image_fov``), else ``cached_fov`` (estimated from the
    image once, then kept; an OCT-A image's is the whole frame, ``estimate_fov``: not read); an image
    that cannot be read is scored over the whole frame."""
    images = project.images
    fovs = fovs or {}
    whole_frame = project.modality != "fundus"
    scores = []
    for i, rec in enumerate(images):
        p = probability(project, rec.id)
        if p is None:
            scores.append((rec.id, -1.0))
        else:
            fov = fovs.get(rec.id)
            if fov is None and not whole_frame:
                try:
                    fov = cached_fov(project, rec.id)
                except (KeyError, ValueError, OSError):
                    fov = None
            scores.append((rec.id, label_free_stats(p, fov)["mean_uncertainty"]))
        yield Progress("review-order", i + 1, len(images), rec.name)
    scores.sort(key=lambda t: -t[1])
    return scores


#: how many batches of crops "re-normalise" averages the BatchNorm statistics over (the library's
#: default, as the benchmark's ``adabn`` row and ``vessel-studio renormalize``; tests lower it)
RENORMALIZE_BATCHES = NORM_BATCHES
#: the crop side (px) of those batches: ``reestimate_norm_statistics``' default, as ``vessel-studio
#: renormalize``'s ``--crop``; every image must be at least this large as the model sees it
RENORMALIZE_CROP = 64


def segment_source_only(project, image_ids: list[str], *, model: str = "fundus-segmenter",
                        mirror: bool = False, renormalize: bool = False) -> Job[list[str]]:
    """Segment images with the bundled (source-only) segmenter; cache the probability maps.

    The images are prepared for the project's modality (a fundus model applied to an OCT-A project
    gets OCT-A's preprocessing, as the benchmark's source-only row). ``mirror``: test-time mirroring
    (``Segmenter.predict(mirror=True)``: the probabilities averaged over the image and its three
    flips, 4x the work). ``renormalize``: first re-estimate the model's BatchNorm statistics on all
    the project's images (AdaBN, ``train.segmenter.reestimate_norm_statistics``; no labels, weights
    unchanged, about a minute on a CPU), as ``vessel-studio renormalize`` does; an image smaller than
    its crops (``RENORMALIZE_CROP``, after the model's rescaling) stops the job before the
    re-estimation with a ``ValueError`` naming the image file and both sizes (the crops would be
    mostly zero padding), which the panel shows as the job's outcome; nothing is segmented then."""
    from vessel_studio.device import pick_device
    from vessel_studio.events import forward
    from vessel_studio.io.images import write_prob
    from vessel_studio.models.segmenter import Segmenter

    yield Progress("segment", 0, len(image_ids), "loading the segmenter")
    # a CUDA GPU when there is one; images prepared for the project's modality
    seg = Segmenter.load(model, device=pick_device()).use_modality(project.modality)
    if renormalize:
        from vessel_studio.adaptation.crops import check_crop_fits
        from vessel_studio.io.fov import estimate_fov
        from vessel_studio.preprocess import prepare
        from vessel_studio.train.segmenter import reestimate_norm_statistics_job

        xs, fovs = [], []
        records = list(project.images)
        for i, rec in enumerate(records):
            image = project.read_image(rec.id)
            p = prepare(image, fov=estimate_fov(image, modality=seg.preprocessing.modality), prep=seg.preprocessing)
            xs.append(p.x)
            fovs.append(p.fov)
            yield Progress("renormalize", 0, RENORMALIZE_BATCHES, f"reading {i + 1}/{len(records)}: {rec.name}")
        # the project's copy, and the image's name as the panels show it (session 28 QA: the copy's hash name alone)
        check_crop_fits(RENORMALIZE_CROP, xs, [f"{project.image_path(r.id)} ({r.name})" for r in records], option=None,
                        prep=seg.preprocessing, role="", unchanged="nothing was segmented",
                        crop_text=f"the re-normalisation's crop of {RENORMALIZE_CROP} px",
                        remedy="untick \"Re-normalise to these images\" to segment without it")
        yield from forward(reestimate_norm_statistics_job(seg, xs, fovs, crop=RENORMALIZE_CROP,
                                                          batches=RENORMALIZE_BATCHES))
    from vessel_studio.io.atomic import write_json
    from vessel_studio.models.folder import hash_folder
    from vessel_studio.resources import resolve_model
    from vessel_studio.store.project import now_iso

    made = {"model": str(model), "model_hash": hash_folder(resolve_model(model)), "renormalized": bool(renormalize),
            "mirror": bool(mirror), "made": now_iso()}
    record = source_only_record(project)
    done = []
    for i, image_id in enumerate(image_ids):
        rec = project.image(image_id)
        pred = seg.predict(project.read_image(image_id), mirror=mirror)
        path = write_prob(source_only_path(project, image_id), pred.prob, compress=True)
        record[image_id] = made  # after the map: a cancel keeps both for the images done
        write_json(source_only_record_path(project), record)
        if rec.state == "new":
            project.set_state(image_id, "predicted")
        done.append(image_id)
        yield Artifact("segment", "source-only-prediction", str(path))
        yield Progress("segment", i + 1, len(image_ids), rec.name)
    return done


def current_mask(project, image_id: str, prob: np.ndarray | None = None,
                 threshold: float = 0.5, *, look_up: bool = True, draft: bool = True) -> tuple[np.ndarray | None, str]:
    """The mask to edit and where it came from: draft > corrected > ``prob`` ≥ ``threshold`` (the
    map on screen; when ``prob`` is None and ``look_up``: the latest round's, else the source-only
    one; ``look_up=False``: None is the map on screen, no map, and the mask is none).

    A draft comes first: it holds edits made after the last save (saving drops it), so for an image
    with a saved correction it is the newer of the two (edits after a save, then a crash or a closed
    Review panel). ``draft=False``: the draft is passed over (another window's live edits: ``draft_held``)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"mask threshold must be in (0, 1), got {threshold}")
    d = draft_path(project, image_id)
    if draft and d.is_file():
        from vessel_studio.io.images import read_mask

        return read_mask(d), "draft"
    m = project.correction(image_id)
    if m is not None:
        return m, "corrected"
    p = probability(project, image_id) if prob is None and look_up else prob
    if p is not None:
        return p >= threshold, "predicted"
    return None, "none"


def write_draft(project, image_id: str, mask: np.ndarray) -> Path:
    """Autosave ``mask`` as the image's draft: a 1-bit PNG with fast compression (read back by
    ``read_mask`` as any mask). The autosave writes it on the GUI thread every 3 s while a mask is
    being edited: the 8-bit 0/255 PNG of ``write_mask`` took ~0.25 s for a 15-megapixel camera image,
    this ~0.04 s. Drafts stay inside the project (``PROJECT/gui/drafts``), so their format is ours."""
    from PIL import Image

    from vessel_studio.io.atomic import atomic_path

    m = np.asarray(mask) > 0
    if m.ndim != 2:
        raise ValueError(f"{draft_path(project, image_id)}: a mask must be 2-D (H x W), got shape {m.shape}")
    # an image taken out of the project meanwhile (``vessel-studio images --remove`` from another program): no
    # draft, which would come back with the image if it were added again (UnknownImageError, a ValueError)
    project.image(image_id)
    path = draft_path(project, image_id)
    with atomic_path(path) as tmp:
        Image.fromarray(m).save(tmp, format="PNG", compress_level=1)
    return path


def drop_draft(project, image_id: str) -> None:
    draft_path(project, image_id).unlink(missing_ok=True)


def ended_draft_paths(project, image_id: str) -> list[Path]:
    """The image's drafts set aside (:func:`set_draft_aside`: ``drafts/ID.ended-NS.png``), oldest first."""
    folder = draft_path(project, image_id).parent
    return sorted(folder.glob(f"{image_id}.ended-*.png")) if folder.is_dir() else []


def set_draft_aside(project, image_id: str) -> Path:
    """Move the image's draft aside (``drafts/ID.ended-NS.png``): one that no window holds (``draft_held``: its
    window ended, a crash or a close with its edits unsaved) where a window with unsaved edits of the image is to
    autosave them (session 37: before, that window's edits stayed "not autosaved" until it was closed, since the
    draft was never deleted and there is one per image). It is not read nor exported: :func:`put_back_draft` makes it
    the image's draft again once that window's own draft is gone (saved, reverted), so that opening the image
    offers it as it offered it before. Call with the draft's hold taken (``hold_draft``). Returns the new path."""
    import os
    import time

    src = draft_path(project, image_id)
    dst = src.with_name(f"{image_id}.ended-{time.time_ns()}.png")
    os.replace(src, dst)  # one folder: a rename
    return dst


def put_back_draft(project, image_id: str) -> Path | None:
    """The newest draft set aside (:func:`set_draft_aside`) is the image's draft again, where the image has none
    now; no window holds it, so the next window to show the image restores it (as the draft a crash left). Returns
    its path, or None (nothing set aside, or a draft there: left as it is). Raises OSError."""
    import os

    aside = ended_draft_paths(project, image_id)
    if not aside:
        return None
    path = draft_path(project, image_id)
    try:
        os.link(aside[-1], path)  # made only where there is none: a draft another window wrote meanwhile stays
    except FileExistsError:
        return None
    except OSError:  # no hard links here (a FAT or network drive): a rename, where there is still none
        if path.exists():
            return None
        os.replace(aside[-1], path)
        return path
    aside[-1].unlink(missing_ok=True)
    return path


def draft_ids(project) -> list[str]:
    """The project's images (in project order) with an autosaved draft: unsaved edits, which
    export and adaptation do not see until they are saved."""
    return [rec.id for rec in project.images if draft_path(project, rec.id).is_file()]


def display_names(images) -> dict[str, str]:
    """Image id -> the name a person reads: the image's name, with its id where another image has the same name
    (images from two folders, ``eye.png`` and ``eye.tif``: ``eye (c052cc73ea54)``)."""
    from collections import Counter

    images = list(images)
    count = Counter(rec.name for rec in images)
    return {rec.id: rec.name if count[rec.name] == 1 else f"{rec.name} ({rec.id})" for rec in images}


def draft_names(project) -> list[str]:
    """:func:`draft_ids` as a person reads them (:func:`display_names`, as the Project panel's question names
    them). The bare name of two images from two folders did not say which one held the edits (session 34 guide
    QA)."""
    names = display_names(project.images)
    return [names[i] for i in draft_ids(project)]


MEASURE_FIELDS = (
    "density", "skeleton_length_px", "calibre_mean_px", "calibre_median_px", "tortuosity", "n_segments",
    "n_branch_points", "spacing_mm", "skeleton_length_mm", "length_density_per_mm", "calibre_mean_um",
    "calibre_median_um",
    # session 41 (appended, so that earlier columns keep their places): the length density in px (skeleton px
    # per FOV px), and the row / column spacing (``spacing_mm`` is their mean; anisotropic pixels' lengths and
    # calibres use each in its own direction)
    "length_density_per_px", "spacing_row_mm", "spacing_col_mm",
    # session 47: where the spacing comes from: "set" (by a person: ``Project.set_spacing``), "from the file", or
    # empty when unknown (the lengths in px only)
    "spacing_origin",
)


def measure_image(project, image_id: str, mask: np.ndarray, image: np.ndarray | None = None, *,
                  fov: np.ndarray | None = None, record=None, stop_requested=None) -> dict:
    """Vessel measures of a mask inside the image's field of view (``fov``, else estimated from the
    image), in mm/µm when its pixel spacing is known (``ImageRecord.pixel_spacing``: the one a person set, else the
    file's). ``record``: the image's record when already read (an export's, so that its files and its measures use
    the same spacing). ``stop_requested``: ``measure_vessels``' (``MeasureStopped`` when it says True)."""
    from vessel_studio.io.fov import estimate_fov
    from vessel_studio.measures import measure_vessels

    rec = record if record is not None else project.image(image_id)
    if fov is None:
        if image is None:
            image = project.read_image(image_id)
        fov = estimate_fov(image, modality=project.modality)
    return measure_vessels(mask, fov=fov, spacing_mm=rec.pixel_spacing, stop_requested=stop_requested).to_dict()


def boundary_from_corrections(project, which: str | int | None = None):
    """The mask boundary (``vessel_studio.calibration``) fitted to the project's corrected masks,
    from the probability maps ``which`` (as ``probability``) of the corrected images."""
    from vessel_studio.calibration import fit_to_corrections

    def prob_of(image_id):
        prob = probability(project, image_id, which)
        return None if prob is None else (prob, None)

    return fit_to_corrections(project, prob_of)


def export_stems(images) -> dict[str, str]:
    """The file name (without suffix) each image is exported under: its name, or ``name-id`` when
    another image of the project has the same name (images from two folders, ``a.png`` and
    ``a.tif``), so that no exported mask or map overwrites another image's."""
    from collections import Counter

    from vessel_studio.io.folders import same_name_key as key  # one file on a case-insensitive disk, and on a Mac's,
    # where "Müller" composed and decomposed (a Mac's copy) are one name (session 49)

    count = Counter(key(rec.name) for rec in images)
    return {rec.id: rec.name if count[key(rec.name)] == 1 else f"{rec.name}-{rec.id}" for rec in images}


def file_stem(stem: str) -> str:
    """An exported file's name from an image's: its letters as UTF-8 bytes on disk whatever the locale. Under
    ``LC_ALL=C PYTHONUTF8=0`` (file names in ASCII) the export of an image named "眼底 scan" stopped with "'ascii' codec
    can't encode characters in position 0-1", nothing exported (session 49 QA). A name that holds a file name's
    undecodable bytes (added before session 49) keeps them."""
    import os

    return os.fsdecode(stem.encode("utf-8", "surrogateescape"))


#: what an export folder holds (``export``): an earlier export is replaced whole
EXPORT_ENTRIES = {"masks", "probabilities", "measures.csv", "calibration.json", "export.json"}
#: the order an export's entries are moved in where its folder cannot be swapped (``staged_output``):
#: ``export.json`` last, so that a folder holding it holds a whole export
_EXPORT_ORDER = ("masks", "probabilities", "calibration.json", "measures.csv", "export.json")
#: the tag of an export's hidden working folders (``io.folders.staged_output``): ``.NAME.export-partial-PID-X``
#: beside the folder (or ``.export-partial-PID-X`` in it), ``.NAME.export-old-PID-X`` for the earlier export
EXPORT_TAG = "export"


#: the first columns of every export's ``measures.csv`` (``export``; "map" follows them since session 26),
#: which tell it from a lab's own table
EXPORT_TABLE_START = "image,id,state,mask"


def is_export_table(path: Path) -> bool:
    """``path`` is a ``measures.csv`` an export wrote (its first columns are ``EXPORT_TABLE_START``)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().startswith(EXPORT_TABLE_START)
    except OSError:
        return False


def is_export_record(path: Path) -> bool:
    """``path`` is an ``export.json`` an export wrote (``export_record``: it names the software and when)."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"vessel_studio", "exported"} <= data.keys()


def not_export_entries(folder: Path) -> list[str]:
    """The names of what ``folder`` holds that an export does not write (sorted): an export writes
    ``masks/`` and ``probabilities/`` folders, and as files ``calibration.json``, an ``export.json`` of its
    own (``is_export_record``) and a ``measures.csv`` with an export's columns (``is_export_table``)
    (session 27 QA: a folder holding only the lab's own ``measures.csv``, or a file named ``masks``, passed
    for an earlier export). A killed export's working folder in it (``.export-partial-PID-X``) is not named:
    the next export removes it."""
    from vessel_studio.io.folders import is_staging_leftover

    out = []
    for entry in Path(folder).iterdir():
        if is_staging_leftover(entry.name, EXPORT_TAG):
            continue
        if entry.name not in EXPORT_ENTRIES or entry.is_dir() != (entry.name in ("masks", "probabilities")):
            out.append(entry.name)
        elif entry.name == "measures.csv" and not is_export_table(entry):
            out.append(entry.name)
        elif entry.name == "export.json" and not is_export_record(entry):
            out.append(entry.name)
    return sorted(out)


def _check_not_in_store(project, folder, name: str) -> None:
    """``folder`` is not the project folder nor in one of its own folders (``Project.own_folder``): an empty
    ``corrections/`` or ``rounds/`` passed for an empty folder, and the export took its place (session 28
    QA: a correction saved meanwhile was deleted with the folder moved aside). A new folder beside them
    (``PROJECT/export``) is allowed."""
    where = project.own_folder(folder)
    if where is not None:
        import os

        what = "the project folder" if where == "" else f"in the project's own {where}/ folder"
        raise ValueError(f"{os.path.realpath(folder)}: {name} is {what} (the project's own files); choose a folder "
                         f"outside it, or a new one such as {Path(project.folder) / 'export'} (nothing was changed)")


def check_export(project, folder: str | Path, round: int | str | None = None, *, name: str = "the export folder") -> Path:
    """Before an export writes anything: ``round`` is one of the project's rounds whose maps were kept,
    and ``folder`` is absent, empty or an earlier export, which the export replaces whole, not a folder of
    anything else (a lab's images, its own ``measures.csv``, its own ``masks/``). An earlier export holds
    only what an export writes (``not_export_entries``), and an ``export.json`` of ours or an export's
    ``measures.csv`` (so an export made with ``--no-table`` before export.json was written, session 26, is
    refused). A ``ValueError`` names the problem; nothing is written. The one change it makes: an earlier
    export that a killed export left aside (``.NAME.export-old-PID-X``, the folder absent) is put back
    (``io.folders.recover_output``). ``export`` runs it first; the command and the Export panel run it
    before they start one."""
    from vessel_studio.io.folders import check_out_folder, check_writable, is_staging_leftover, recover_output

    if round is not None and round != SOURCE_ONLY:
        known = [r.index for r in project.rounds]
        if isinstance(round, (str, bool, float)):  # round="1" said "no round 1 (rounds: [0, 1])" (session 33 API QA)
            raise ValueError(f"{project.manifest_path}: round must be a round's number or {SOURCE_ONLY!r}, got "
                             f"{round!r} (rounds: {known or 'none'}; nothing was written)")
        if round not in known:
            raise ValueError(f"{project.manifest_path}: no round {round} (rounds: {known or 'none'}; "
                             "nothing was written)")
        pruned = project.get_round(round).pruned
        if pruned is not None:
            where = shell_word(project.folder)
            raise ValueError(f"{project.manifest_path}: round {round}'s probability maps were pruned ({pruned}); "
                             f"its segmenter is kept: `vessel-studio segment --model {where} --round {round}` draws "
                             f"its masks again, or `vessel-studio rounds {where} --restore {round}` makes its maps "
                             "again, then export (nothing was written)")
    _check_not_in_store(project, folder, name)
    recover_output(folder, EXPORT_TAG)
    out = check_out_folder(folder, foreign=not_export_entries, name=name, output="an earlier export")
    held = sorted(p.name for p in out.iterdir() if not is_staging_leftover(p.name, EXPORT_TAG)) if out.is_dir() else []
    if held and not (is_export_record(out / "export.json") or is_export_table(out / "measures.csv")):
        raise ValueError(f"{out}: {name} holds {', '.join(held)} but no export.json or measures.csv of an export, so "
                         "it is not an earlier export and an export would replace it; choose an empty or new folder "
                         "(nothing was changed)")
    # probed before the work (session 28 QA: an earlier export on a read-only mount was written in full beside
    # it, then the swap failed deleting its files): the folder itself where it exists (the move-in fallback
    # writes in it, and its files are deleted), else the nearest folder it would be made in
    return check_writable(out, name=name)


def export(
    project,
    folder: str | Path,
    *,
    masks: str | None = "png",
    probs: bool = True,
    table: bool = True,
    round: int | None = None,
    calibrate: bool = False,
    warn_drafts: bool = True,
) -> Job[Path]:
    """Export per-image masks (corrected when there is one, else the probability ≥ 0.5) as PNG or
    TIFF, probability maps as float32 TIFF, and a CSV of per-image vessel measures. ``project``: a
    ``Project`` or its folder. ``calibrate``:
    the predicted masks use the boundary fitted to the project's corrected masks instead of 0.5
    (``boundary_from_corrections``; written to ``calibration.json`` in the folder). Files are named
    after the image (``export_stems``: with its id when two images share a name). The folder and round
    are checked first (``check_export``): a folder holding anything but an earlier export is refused.

    The export is written whole or not at all: into a hidden folder beside ``folder``
    (``.NAME.export-partial-PID-X``), which takes ``folder``'s place at the end, an earlier export there
    being moved aside and then deleted (``io.folders.staged_output``), so nothing of an earlier export
    stays (masks of images since removed, another mask format, probability maps or ``calibration.json``
    not asked for now), and a cancelled (``close()``), failed or killed export leaves ``folder`` as it was
    (a killed one's hidden folders are removed by the next export, and an earlier export it had moved
    aside is put back by the next ``check_export``). The disk needs room for both exports: the new one is
    written in full before the earlier one is deleted. Where ``folder`` cannot be renamed (a mount point,
    the current directory or one above it, a rename refused: busy, permission), the export is written
    into ``folder/.export-partial-PID-X`` and moved in after the earlier export's entries are deleted
    (``export.json`` last; a kill during those moves leaves part of the new export). Everything in an
    earlier export is replaced, files someone added to its ``masks/`` included. ``Artifact`` paths name
    each file where it is once the job has returned (in ``folder``).

    Images with autosaved edits never saved (``draft_ids``) are exported from their saved correction or
    prediction: ``export.json`` names them (``unsaved_drafts``, as their files are named), and a
    ``UserWarning`` says so unless ``warn_drafts`` is False (the command and the Export panel, which
    name them before they start)."""
    from vessel_studio.io.atomic import write_json, write_text
    from vessel_studio.io.folders import staged_output
    from vessel_studio.io.images import write_image, write_mask, write_prob
    from vessel_studio.store import Project

    project = Project.given(project)  # a folder too, as adapt takes it (session 33 API QA: an AttributeError)
    if masks not in (None, "png", "tif"):
        raise ValueError(f"mask format must be 'png' or 'tif', got {masks!r}")
    folder = check_export(project, folder, round)
    images = project.images
    stems = export_stems(images)
    drafts = [stems[i] for i in draft_ids(project)]
    if drafts and warn_drafts:
        import warnings

        warnings.warn(f"{project.folder}: unsaved edits of {len(drafts)} image(s) are not exported (their saved "
                      f"correction or prediction is; export.json names them): {', '.join(drafts)}", UserWarning,
                      stacklevel=2)
    calibration = boundary_from_corrections(project, round) if calibrate else None
    with staged_output(folder, tag=EXPORT_TAG, entries=_EXPORT_ORDER) as work:
        if calibration is not None:
            write_json(work / "calibration.json", calibration.to_dict())
            yield Artifact("export", "calibration", str(folder / "calibration.json"))
        rounds = project.rounds
        rows, maps = [], {}
        for i, rec in enumerate(images):
            prob = probability(project, rec.id, round, rounds=rounds)
            source = maps[rec.id] = "" if prob is None else map_name(project, rec.id, round, rounds)
            mask = project.correction(rec.id)
            origin = "corrected"
            if mask is None and prob is not None:
                if calibration is None:
                    mask, origin = prob >= 0.5, "predicted"
                else:
                    mask, origin = calibration.apply(prob), "predicted (boundary fitted)"
            if mask is not None and masks:
                name = f"masks/{file_stem(stems[rec.id])}.{masks}"
                # the scan's pixel spacing, when known, is recorded in the files (session 42: it was in measures.csv
                # only; a mask opened in Fiji had no scale); the one a person set wins over the file's (session 47)
                if masks == "png":
                    write_mask(work / name, mask, spacing_mm=rec.pixel_spacing)
                else:
                    write_image(work / name, (np.asarray(mask) > 0).astype(np.uint8) * 255,
                                spacing_mm=rec.pixel_spacing)
                yield Artifact("export", "mask", str(folder / name))
            if prob is not None and probs:
                name = f"probabilities/{file_stem(stems[rec.id])}.tif"
                write_prob(work / name, prob, spacing_mm=rec.pixel_spacing)
                yield Artifact("export", "probability", str(folder / name))
            if table:
                # a name added before session 49 from a file named in another encoding than the file system's (an
                # old archive's Latin-1 "M\xfcller.png") holds the bytes UTF-8 cannot decode as escapes: "surrogates
                # not allowed" stopped the export here (session 49 QA); they are U+FFFD, as a viewer shows them
                row = {"image": text_name(rec.name), "id": rec.id, "state": rec.state,
                       "mask": origin if mask is not None else "", "map": source}
                if mask is not None:
                    row.update(measure_image(project, rec.id, mask, record=rec))
                    row["spacing_origin"] = rec.spacing_origin
                rows.append(row)
            yield Progress("export", i + 1, len(images), rec.name)
        if table:
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=["image", "id", "state", "mask", "map", *MEASURE_FIELDS],
                                    extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            write_text(work / "measures.csv", buf.getvalue())
            yield Artifact("export", "csv", str(folder / "measures.csv"))
        write_json(work / "export.json", export_record(project, round, calibration, rounds, maps, drafts))
        yield Artifact("export", "record", str(folder / "export.json"))  # a cancel here too leaves folder as it was
    return folder


def map_name(project, image_id: str, which=None, rounds: list | None = None) -> str:
    """Which map ``probability(project, image_id, which, rounds=rounds)`` returns, without reading
    it: "round N", "source-only", or "" when it finds none (``rounds``: the project's round records
    when the caller has just read them)."""
    rounds = project.rounds if rounds is None else rounds
    if which == SOURCE_ONLY:
        found = source_only_path(project, image_id).is_file()
        return SOURCE_ONLY if found else ""
    if which is not None:
        found = bool(rounds) and project.prediction_path(image_id, round=int(which)).is_file()
        return f"round {int(which)}" if found else ""
    if rounds and project.prediction_path(image_id).is_file():
        return f"round {rounds[-1].index}"
    return SOURCE_ONLY if source_only_path(project, image_id).is_file() else ""


def export_record(project, which, calibration, rounds, maps: dict[str, str], drafts: list[str] = ()) -> dict:
    """``export.json``: what made an export's masks and maps, for a lab's records: the software, the
    project, its source, each round used (its models' hashes, config, seed, label-free signals and
    the guard's warnings), what made the source-only maps used (``source_only_record``), the fitted
    boundary, and how many images got a saved, a predicted or no mask (per image: ``measures.csv``'s
    ``mask`` and ``map`` columns), and the images whose unsaved autosaved edits were not exported.
    ``maps``: image id -> ``map_name`` ("" for none); ``drafts``: those images, as their files are named."""
    from collections import Counter

    import vessel_studio
    from vessel_studio.adaptation.selection import review_hint, round_rows, shown_warnings
    from vessel_studio.store.project import now_iso

    warnings = shown_warnings(round_rows(rounds))
    used = sorted({int(m.split()[1]) for m in maps.values() if m.startswith("round ")})
    by_index = {r.index: r for r in rounds}
    so = source_only_record(project)
    so_used = [i for i, m in maps.items() if m == SOURCE_ONLY]
    return {
        "vessel_studio": vessel_studio.__version__,
        "exported": now_iso(),
        "project": {"name": project.name, "folder": str(Path(project.folder).resolve()), "modality": project.modality,
                    "images": len(maps)},
        "asked": "latest round" if which is None else (SOURCE_ONLY if which == SOURCE_ONLY else f"round {int(which)}"),
        "source": project.source,
        "rounds_used": [{"round": i, "stage": by_index[i].stage, "seed": by_index[i].seed,
                         "preset": by_index[i].config.get("preset_name"), "models": by_index[i].models,
                         "created": by_index[i].created, "label_free": by_index[i].metrics,
                         "guard_warnings": warnings.get(i, [])} for i in used],
        "rounds_in_project": [r.index for r in rounds],
        "label_free_hint": review_hint(round_rows(rounds)) if rounds else None,
        "source_only_maps": {"images": len(so_used),
                             "made_by": sorted({made_text(so[i]) for i in so_used if i in so}),
                             "unrecorded": sum(i not in so for i in so_used)} if so_used else None,
        "calibration": None if calibration is None else calibration.to_dict(),
        "maps": dict(Counter(m or "none" for m in maps.values())),
        "unsaved_drafts": list(drafts),
    }


def made_text(made: dict) -> str:
    """One line naming what made a source-only map (``source_only_record`` entry)."""
    extras = [x for x, on in (("re-normalised to the project's images", made.get("renormalized")),
                              ("mirrored", made.get("mirror"))) if on]
    return f"{made.get('model')} (weights {made.get('model_hash')}){', ' + ', '.join(extras) if extras else ''}"
