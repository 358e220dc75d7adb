"""``vessel-studio segment``: segment image files or folders with a model or an adapted project.

Writes ``<stem>.png`` (0/255 mask) and, with ``--save-prob``, ``<stem>_prob.tif`` (float32 0–1)
into ``--out``. A file that cannot be read or segmented is reported and skipped; the exit status
is 1 when any input failed. ``--model`` is a model folder, the name of a bundled model
(default ``fundus-segmenter``), or an adaptation project folder (one holding ``project.json``;
its latest round's segmenter, or ``--round N``); when the label-free guard flagged that round's
pseudo-labels (collapse or flood), a warning naming the round goes to stderr and the round is used.
``--modality`` prepares the images for their modality when it is not the model's (a fundus model
on OCT-A images). ``--mirror`` averages the probabilities over the image and its flips (test-time mirroring, 4x the
time; off by default, so that the masks equal the benchmark's).

An image with an output name longer than --out's disk takes or that is an input image, or whose name repeats an
earlier image's as a case-insensitive disk or a Mac's compares names (``UPPER.png`` after ``upper.png``), is skipped
with an error before any work, and none of its outputs is written or recorded (:func:`plan_outputs`).

Files already in ``--out`` are replaced only when a segment run wrote them there: each run records the names it
writes, with the model that made them, in ``OUT/segment.json`` (:data:`RECORD`), and a file of an output's name that no run
recorded (a lab's own labels, ``eye1.png`` beside ``images/eye1.png``) stops the run before the model loads,
naming it, unless ``--overwrite`` is given (session 32 QA: such a label was replaced by the prediction, exit 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vessel_studio.wording import shell_word, shown_names

#: the names of the files segment runs wrote into an --out folder: those may be replaced by the next run
RECORD = "segment.json"


def threshold_arg(text: str) -> float:
    """``--threshold``: a probability in [0, 1] (NaN, inf or 1.5 would draw empty or full masks)."""
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= t <= 1.0:  # False for NaN too
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return t


def spacing_arg(text: str) -> tuple[float, float]:
    """``--spacing``: mm per pixel (``0.00987``), a field of view over its pixels (``3/304``) or a pixel's height and
    width (``0.02,0.01``): ``store.manifest.spacing_from_text``."""
    from vessel_studio.store.manifest import spacing_from_text

    try:
        return spacing_from_text(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    p.add_argument("--model", default=None,
                   help="model folder, bundled model name, or project folder (default: fundus-segmenter)")
    p.add_argument("--round", type=int, default=None, help="with a project as --model: which round (default latest)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--save-prob", action="store_true", help="also write <stem>_prob.tif (float32 probabilities)")
    p.add_argument("--fov-dir", default=None, help="folder of FOV masks paired by stem (else estimated)")
    p.add_argument("--threshold", type=threshold_arg, default=None, help="probability threshold (default: the model's, 0.5)")
    p.add_argument("--modality", choices=["fundus", "octa"], default=None,
                   help="the images' modality, when it is not the model's: prepares them for it (a fundus model "
                        "on OCT-A images: --modality octa; see also `vessel-studio renormalize`)")
    p.add_argument("--calibrate", action="store_true",
                   help="with a project as --model: fit the masks' boundary (a threshold and a thinning that keeps "
                        "centre lines) to the project's corrected masks, and draw every mask with it "
                        "(vessel_studio.calibration); writes OUT/calibration.json")
    p.add_argument("--spacing", type=spacing_arg, default=None, metavar="MM",
                   help="the pixel spacing recorded as the masks' and maps' resolution, in mm per pixel (0.00987), a "
                        "field of view over its pixels (3/304: a 3 mm scan of 304 px) or height,width; it wins over "
                        "the one a file records (default: the file's, none when it records none); the segmentation "
                        "itself does not use it")
    p.add_argument("--mirror", action="store_true",
                   help="test-time mirroring: average the probabilities over the image and its flips "
                        "(4x the time; off by default, as in the benchmark)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files in --out of the outputs' names that no segment run wrote there (by default "
                        "such files, e.g. a lab's own labels, stop the run before any work, named)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    p.add_argument("--device", default=None,
                   help="cpu, cuda or cuda:N (default: a CUDA GPU when there is one, else the CPU; "
                        "$VESSEL_STUDIO_DEVICE overrides the default)")


def resolve_segmenter_path(model: str | None, round_: int | None = None) -> Path:
    """A model folder for ``--model``: project folder -> its round's segmenter; else resolve_model."""
    from vessel_studio.resources import DEFAULT_SEGMENTER, resolve_model

    if model is not None and (Path(model) / "project.json").is_file():
        try:
            from vessel_studio.store import Project
        except ImportError as exc:  # pragma: no cover - the store ships with the package
            raise ValueError(f"{model}: is a project folder, but the project store is unavailable ({exc})") from exc
        path = Project.open(model).segmenter_path(round_)
        if path is None:
            raise ValueError(f"{model}: project has no segmenter" + (f" for round {round_}" if round_ is not None else ""))
        if not Path(path).is_dir():  # the manifest names it, the disk does not have it
            raise ValueError(f"{path}: the project's segmenter folder is missing (deleted by hand?); "
                             f"'vessel-studio rounds {shell_word(model)} --rollback N' keeps the rounds before it")
        return Path(path)
    if round_ is not None:
        raise ValueError(f"--round needs a project folder as --model (got {model or DEFAULT_SEGMENTER!r})")
    return resolve_model(model or DEFAULT_SEGMENTER)


def project_round_warnings(model: str | None, round_: int | None = None) -> list[str]:
    """The label-free guard's warnings (``selection.history_warnings``) for the round of a project
    that ``--model PROJECT [--round N]`` segments with; none for a model folder or bundled name."""
    if model is None or not (Path(model) / "project.json").is_file():
        return []
    from vessel_studio.adaptation.selection import history_warnings, round_rows
    from vessel_studio.store import Project

    project = Project.open(model)
    used = project.get_round(round_).index
    flags = history_warnings(round_rows(project.rounds)).get(used, [])
    return [f"{model}: round {used}: {flag} (compare the rounds with `vessel-studio rounds {shell_word(model)}`, "
            f"choose one with --round N)" for flag in flags]


def project_calibration(model: str | None, seg, *, mirror: bool | None = None):
    """``--calibrate``: the boundary fitted to the corrected masks of the project ``model``, from the
    probabilities ``seg`` (that round's segmenter) gives its corrected images."""
    from vessel_studio.calibration import fit_to_corrections

    if model is None or not (Path(model) / "project.json").is_file():
        raise ValueError(f"--calibrate needs a project folder as --model (got {model!r})")
    from vessel_studio.store import Project

    project = Project.open(model)

    def prob_of(image_id):
        pred = seg.predict(project.read_image(image_id), mirror=mirror)
        return pred.prob, pred.fov

    return fit_to_corrections(project, prob_of)


def outputs_of(stem: str, *, save_prob: bool) -> list[str]:
    """The names of the files a run writes into --out for an image of ``stem``."""
    return [f"{stem}.png", *([f"{stem}_prob.tif"] if save_prob else [])]


def output_names(files: list[Path], *, save_prob: bool, calibrate: bool) -> list[str]:
    """The names of the files a run on ``files`` writes into --out."""
    names = []
    for f in files:
        names += outputs_of(f.name[: -len(f.suffix)], save_prob=save_prob)
    return names + (["calibration.json"] if calibrate else [])


def _how_same(stem: str, other: Path) -> str:
    """How ``stem``'s name is the same as the image ``other``'s (one of :func:`plan_outputs`' problems)."""
    import unicodedata

    theirs = other.name[: -len(other.suffix)]
    if theirs == stem:
        return f"same name as {other}"
    if unicodedata.normalize("NFC", theirs) == unicodedata.normalize("NFC", stem):
        return (f"same name as {other}, its letters written otherwise (a composed and a decomposed accent, as a Mac's "
                "copy makes; one file on a Mac's disk)")
    return (f"same name as {other} but for upper and lower case (one file on a disk that ignores case: macOS, "
            "Windows, exFAT, most network shares)")


def plan_outputs(files: list[Path], out: Path, *, save_prob: bool) -> tuple[list[Path], list[tuple[str, str]]]:
    """The images of ``files`` to segment into ``out``, and ``(input, problem)`` for those skipped before any work
    (their outputs are neither written nor recorded):

    - an output name longer than ``out``'s disk takes (a 248-character stem: ``<stem>.png`` fits 255 bytes,
      ``<stem>_prob.tif`` not; its mask was written, then the image failed at its map, mask left in --out);
    - an output that is an input image (--out is the images' folder: the mask would replace the photograph);
    - the same name as an earlier image's, compared as a case-insensitive disk and a Mac's compare names
      (:func:`~vessel_studio.io.folders.same_name_key`: ``UPPER.png`` and ``upper.png``, a composed and a decomposed
      "é"), whatever ``out``'s disk: there the second mask replaced the first, silently, and a folder of both
      copied onto such a disk would lose one. A name skipped for another reason does not skip a later image's.
    The temporary names of the atomic writes fit whatever the stem (``io.atomic._temp_stem`` cuts them short)."""
    import os

    from vessel_studio.io.folders import longest_name, same_name_key

    name_max = longest_name(out)
    inputs = {f.resolve() for f in files}
    seen: dict[str, Path] = {}
    kept: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for f in files:
        stem = f.name[: -len(f.suffix)]
        outputs = outputs_of(stem, save_prob=save_prob)
        long = [(n, size) for n in outputs if (size := len(os.fsencode(n))) > name_max]
        if long:
            name, size = long[0]
            skipped.append((str(f), f"its output's name {name} is {size} bytes long, {size - name_max} more than "
                                    f"{out}'s disk takes ({name_max}); give the image a shorter name, skipped"))
            continue
        clash = [out / n for n in outputs if (out / n).resolve() in inputs]
        if clash:
            skipped.append((str(f), f"its output would overwrite the input image {clash[0]}; choose another --out, "
                                    "skipped"))
            continue
        key = same_name_key(stem)
        if key in seen:
            skipped.append((str(f), f"{_how_same(stem, seen[key])}: its outputs would overwrite that image's, skipped"))
            continue
        seen[key] = f
        kept.append(f)
    return kept, skipped


def recorded_outputs(out: Path, *, strict: bool = True) -> set[str]:
    """The names that segment runs recorded writing into ``out`` (:data:`RECORD`); none when there is no record.
    An unreadable record is an error naming it (it is what lets a run replace the files); not ``strict``
    (``--overwrite``), it counts as none and is written again."""
    import json

    path = out / RECORD
    if not path.is_file():
        return set()
    try:
        files = json.loads(path.read_text())["files"]
        if not isinstance(files, list) or not all(isinstance(n, str) for n in files):
            raise ValueError("its 'files' is not a list of names")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if not strict:
            return set()
        raise ValueError(f"{path}: unreadable record of the files segment wrote here ({exc}); delete it, or give "
                         "--overwrite (nothing was written)") from exc
    return set(files)


def _same_file(a: Path, b: Path) -> bool:
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_others_files(out: Path, names: list[str], recorded: set[str]) -> None:
    """A ValueError naming the files in ``out`` that a run writing ``names`` would replace and that no segment run
    wrote there (a lab's own labels, a mask drawn by hand), before any work. A file is known by its name(s) on the
    disk: on a case-insensitive one, ``upper.png`` opens the lab's ``Upper.png`` there, which is refused even when an
    earlier run recorded writing an ``upper.png``."""
    import os

    from vessel_studio.io.folders import same_name_key

    if not out.is_dir():
        return
    on_disk: dict[str, list[str]] = {}
    for entry in os.listdir(out):
        on_disk.setdefault(same_name_key(entry), []).append(entry)
    others: list[str] = []
    for n in dict.fromkeys(names):
        if not (out / n).exists():
            continue
        real = [e for e in on_disk.get(same_name_key(n), []) if e == n or _same_file(out / e, out / n)] or [n]
        others += [e for e in real if e not in recorded and e not in others]
    if others:
        raise ValueError(f"{out}: holds {len(others)} file(s) that this run would replace and that no segment run "
                         f"wrote there: {shown_names(others, 5)} (nothing was written). Choose another --out, or add --overwrite to "
                         "replace them")


def collect_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to segment (folders expanded, sorted) and ``(input, problem)`` for inputs that are not."""
    from vessel_studio.io.datasets import list_images
    from vessel_studio.io.images import IMAGE_EXTENSIONS
    from vessel_studio.store.project import no_images_reason

    files: list[Path] = []
    bad: list[tuple[str, str]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = list_images(p)
            if not found:
                bad.append((item, no_images_reason(p, None)))
            files += found
        elif p.is_file():
            if p.suffix.lower() not in IMAGE_EXTENSIONS:
                bad.append((item, f"unknown image extension {p.suffix!r}"))
            else:
                files.append(p)
        else:
            bad.append((item, "no such file or folder"))
    return files, bad


def fov_files_in(fov_dir: str) -> dict[str, Path]:
    """``--fov-dir``: its mask files by stem; a clear error when it is not a folder."""
    from vessel_studio.io.datasets import list_images

    if not Path(fov_dir).is_dir():
        raise ValueError(f"{fov_dir}: --fov-dir is not a folder")
    return {f.name[: -len(f.suffix)]: f for f in list_images(fov_dir)}


def read_fov_for(image_path: Path, image, fov_files: dict[str, Path], fov_dir: str):
    """The FOV mask of ``image_path`` from ``--fov-dir`` (see :func:`find_fov`), at the image's shape."""
    from vessel_studio.io.images import read_mask

    fp = find_fov(image_path.name[: -len(image_path.suffix)], fov_files)
    if fp is None:
        raise ValueError(f"{image_path}: no FOV mask for it in {fov_dir}")
    fov = read_mask(fp, shape=image.shape)
    if not fov.any():  # said by prepare as "the FOV mask is empty", naming no FOV file (session 32 QA)
        raise ValueError(f"{image_path}: its FOV mask {fp} is empty (no pixel > 0)")
    return fov


def find_fov(stem: str, fov_files: dict[str, Path]) -> Path | None:
    """FOV file for an image stem: same stem, or stem + ``_mask`` / ``_fov`` / ... (case-insensitive)."""
    from vessel_studio.io.datasets import FOV_SUFFIXES

    low = {k.lower(): v for k, v in fov_files.items()}
    for cand in (stem, *(stem + s for s in FOV_SUFFIXES)):
        if cand.lower() in low:
            return low[cand.lower()]
    return None


def _write_record(out: Path, args: argparse.Namespace, files: set[str]) -> None:
    """``out``'s :data:`RECORD` of the files segment runs wrote there (``files``), with this run's model."""
    from vessel_studio import __version__
    from vessel_studio.io.atomic import write_json
    from vessel_studio.resources import DEFAULT_SEGMENTER

    write_json(out / RECORD, {"written_by": "vessel-studio segment", "version": __version__,
                              "model": str(args.model) if args.model else DEFAULT_SEGMENTER,
                              "round": args.round, "files": sorted(files)})


def run(args: argparse.Namespace) -> int:
    import os

    # threads sleep instead of spinning while they wait: on a busy shared CPU, spinning OpenMP
    # threads made 2-thread inference 2-3x slower (benchmarks/results/segmenter/segment_speed.md)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    from tqdm.auto import tqdm

    from vessel_studio.io.images import orientation_note, read_image, write_mask, write_prob
    from vessel_studio.device import pick_device
    from vessel_studio.models.segmenter import Segmenter

    out = Path(args.out)
    if out.exists() and not out.is_dir():  # before loading: reported without any work done
        raise ValueError(f"{out}: --out exists and is not a folder")
    from vessel_studio.io.folders import check_writable

    for item in args.inputs:  # masks among the images: the next segment of that folder takes them for images
        if Path(item).is_dir() and out.resolve() == Path(item).resolve():
            raise ValueError(f"{out}: --out is the input folder {item}: the masks would be written among its "
                             "images, and a later run on the folder would segment them too; choose another "
                             "--out (nothing was written)")
    check_writable(out)  # a read-only --out fails here, not once per image after segmenting it
    files, failed = collect_inputs(args.inputs)
    files, skipped = plan_outputs(files, out, save_prob=args.save_prob)
    failed += skipped
    if not files:  # nothing to segment: no --out folder made (session 28 QA: an empty one was left), no model loaded
        raise ValueError("nothing to segment (nothing was written): "
                         + "; ".join(f"{item}: {problem}" for item, problem in failed))
    names = output_names(files, save_prob=args.save_prob, calibrate=args.calibrate)
    written_before = recorded_outputs(out, strict=not args.overwrite)
    if not args.overwrite:
        refuse_others_files(out, names, written_before)
    torch.set_num_threads(max(1, args.threads))
    device = pick_device(args.device)  # before loading: a wrong --device is reported without any work done
    seg = Segmenter.load(resolve_segmenter_path(args.model, args.round), device=device).use_modality(args.modality)
    for warning in project_round_warnings(args.model, args.round):
        print(f"warning: {warning}", file=sys.stderr)
    calibration = None
    if args.calibrate:
        if args.threshold is not None:
            raise ValueError("--calibrate fits the threshold itself: leave out --threshold")
        calibration = project_calibration(args.model, seg, mirror=args.mirror)
        print(f"calibrated on {calibration.images} corrected image(s): threshold {calibration.threshold:.2f}, "
              f"thinning {calibration.thin} px; their mean Dice {calibration.dice_plain:.3f} -> "
              f"{calibration.dice_fitted:.3f}")
    for item, problem in failed:
        print(f"error: {item}: {problem}", file=sys.stderr)
    fov_files = fov_files_in(args.fov_dir) if args.fov_dir is not None else {}
    out.mkdir(parents=True, exist_ok=True)
    from vessel_studio.io.atomic import remove_stale_temporaries, write_json

    remove_stale_temporaries([out / n for n in [RECORD, *names]])  # of an earlier run killed mid-write

    recorded = []

    def record() -> None:
        """Before the first output is written (a run cut short leaves no file of its own that the next run would
        refuse; a run whose every image failed leaves no record either)."""
        if not recorded:
            _write_record(out, args, written_before | set(names))
            recorded.append(True)

    written: set[str] = set()
    if calibration is not None:
        record()
        write_json(out / "calibration.json", {"model": str(args.model), "round": args.round, **calibration.to_dict()})
        written.add("calibration.json")
    ok = 0
    for f in tqdm(files, desc="segment", unit="image", disable=len(files) < 2):
        mask_name, *prob_name = outputs_of(f.name[: -len(f.suffix)], save_prob=args.save_prob)
        try:
            image, meta = read_image(f)
            note = orientation_note(meta)
            if note is not None:
                tqdm.write(f"warning: {note}", file=sys.stderr)
            fov = read_fov_for(f, image, fov_files, args.fov_dir) if args.fov_dir is not None else None
            pred = seg.predict(image, fov=fov, threshold=args.threshold, mirror=args.mirror)
            record()
            # the scan's, recorded in its mask and map (session 42); --spacing wins (session 47: OCTA-500's PNGs record
            # none)
            spacing = args.spacing if args.spacing is not None else meta.pixel_spacing_mm
            write_mask(out / mask_name, pred.mask if calibration is None else calibration.apply(pred.prob, pred.fov),
                       spacing_mm=spacing)
            written.add(mask_name)
            for name in prob_name:  # with --save-prob
                write_prob(out / name, pred.prob, spacing_mm=spacing)
                written.add(name)
            ok += 1
        except (ValueError, OSError) as exc:
            msg = str(exc)
            if str(f) not in msg:
                msg = f"{f}: {msg}"
            failed.append((str(f), msg))
            tqdm.write(f"error: {msg}", file=sys.stderr)  # on a line of its own, under the progress bar
    if recorded and not set(names) <= written:
        # the record names what was written: an image that failed (unreadable, a write refused) left no file, and a
        # file of its name put there later (a lab's own label) is refused by the next run, not replaced (session 50;
        # recorded before the first write, it listed every name the run meant to write). A run cut short keeps that
        # first record.
        _write_record(out, args, written_before | written)
    print(f"segmented {ok} image(s) into {out}" + (f"; {len(failed)} failed" if failed else ""))
    return 1 if failed else 0
