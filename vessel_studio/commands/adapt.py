"""``vessel-studio adapt PROJECT --target DIR``: create or continue an adaptation project.

A new project is made in a new or empty folder; a folder that holds other files and no project.json (a
folder of images given as PROJECT) is refused, naming it. Adds the images of ``--target`` to the project
(duplicates by content are skipped), then runs
the adaptation job (round 0 = latent similarity mining when the project has no round yet,
then ``--rounds`` co-optimization rounds) with tqdm progress bars. Source: the bundled fundus
models, or ``--source-segmenter`` / ``--source-generator``; labelled source images with
``--source-images`` + ``--source-masks``; without them, procedural vessel masks rendered by the
source generator, except on a project whose rounds were adapted from labelled source images: then
the folders its manifest records are paired again and used when they pair the same images as
recorded (with the recorded models unless ``--source-segmenter`` / ``--source-generator`` are
given), and the command stops with an error naming the folder when they do not (no silent switch
to procedural masks). A project whose rounds were adapted from procedural masks with the lab's own
source models continues with those models (checked by their recorded hashes), unless
``--source-segmenter`` and ``--source-generator`` are both given; the command stops with an error naming
the folder when they are gone or changed. The configuration follows the same rule: on a project with rounds,
``--preset``, ``--seed``, ``--t0``, ``--steps``, ``--count`` and ``--set`` not given are the ones its latest round
records (``adaptation.config.recorded_config``, which the GUI's Adaptation panel follows too; a line says so),
given ones win, and ``--rounds`` is the rounds to add (default: the preset's); a new project defaults to the
``cpu`` preset and seed 0. Ctrl-C cancels (the project stays as it was); a killed run (``kill -9``, power cut)
resumes when the same command is run again. The source models are checked from their config.json before any
work (``adaptation.source_models.check_source_models``: model folders of the right kind, a mask-conditioned
generator for procedural masks, one modality); without ``--source-modality`` the source modality is the one the
models record (else fundus).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _rounds_arg(text: str):
    """``--rounds``: an integer >= 0 or ``auto``."""
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 or 'auto', got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 or 'auto', got {text!r}")
    return n


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="project folder (created when it does not exist or is empty; a folder "
                                   "holding other files is refused)")
    p.add_argument("--target", action="append", default=[], metavar="DIR",
                   help="folder (or file) of unlabelled target images to add; repeatable")
    p.add_argument("--modality", choices=["octa", "fundus"], default=None,
                   help="target modality (needed when creating a project)")
    p.add_argument("--source-images", default=None, help="labelled source images (folder)")
    p.add_argument("--source-masks", default=None, help="their vessel masks (folder, paired by name)")
    p.add_argument("--source-fovs", default=None, help="their FOV masks (folder; optional)")
    p.add_argument("--source-segmenter", default=None,
                   help="model folder or bundled name (default: fundus-segmenter, or the one the project records)")
    p.add_argument("--source-generator", default=None,
                   help="model folder or bundled name (default: fundus-generator, or the one the project records)")
    p.add_argument("--source-modality", choices=["octa", "fundus"], default=None,
                   help="modality of the source images (default: the source models' (config.json), else fundus, "
                        "or the one the project records)")
    # None: not given, so a project with rounds continues with the configuration they record (recorded_config)
    p.add_argument("--preset", choices=["tiny", "cpu", "gpu"], default=None,
                   help="default: cpu, or the one the project records")
    p.add_argument("--rounds", type=_rounds_arg, default=None, metavar="N|auto",
                   help="co-optimization rounds to add (default: the preset's; 'auto': by modality)")
    p.add_argument("--seed", type=int, default=None, help="default: 0, or the one the project records")
    p.add_argument("--t0", type=float, default=None,
                   help="inversion depth as a fraction of T (default 0.3, or the one the project records)")
    p.add_argument("--steps", type=int, default=None,
                   help="DDIM steps over the whole schedule (default 50, or the one the project records)")
    p.add_argument("--count", type=int, default=None,
                   help="synthetic pairs per round (default: the preset's, or the one the project records)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="any AdaptConfig field, e.g. --set gen_steps=300 cond_dropout=0.3 (on a project with "
                        "rounds, the ones its rounds record are kept unless set again)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _config(args: argparse.Namespace, recorded: dict | None = None):
    """The AdaptConfig of ``--preset`` with the options and ``--set KEY=VALUE`` overrides. ``recorded``: the
    project's (``adaptation.config.recorded_config``), whose preset and fields stand for the options not given (a
    new project: the ``cpu`` preset, seed 0)."""
    from vessel_studio.adaptation import AdaptConfig
    from vessel_studio.commands.checks import parse_set

    recorded = recorded or {}
    overrides = {**recorded.get("fields", {})}
    if args.seed is not None:
        overrides["seed"] = args.seed
    for key, name in (("rounds", "rounds"), ("t0", "t0"), ("steps", "steps"), ("count", "n_synthetic"),
                      ("threads", "threads")):
        if getattr(args, key) is not None:
            overrides[name] = getattr(args, key)
    # preset_name: a TypeError traceback before (session 29 QA)
    overrides.update(parse_set(args.set, chosen_elsewhere={"preset_name": "the preset is chosen with --preset"}))
    return AdaptConfig.preset(args.preset or recorded.get("preset") or "cpu", **overrides)


def _recorded_config_line(recorded: dict, args: argparse.Namespace) -> str | None:
    """The line that says which of the configuration comes from the project's record (None: none of it)."""
    given = set()
    for key, name in (("preset", "preset_name"), ("seed", "seed"), ("t0", "t0"), ("steps", "steps"),
                      ("count", "n_synthetic")):
        if getattr(args, key) is not None:
            given.add(name)
    given |= {item.split("=", 1)[0] for item in args.set}
    from vessel_studio.adaptation.config import recorded_config_items

    taken = recorded_config_items(recorded, given)
    if not taken:
        return None
    return (f"continuing with the project's configuration: {', '.join(taken)} (round {recorded['round']}'s "
            "record; options given win)")


def _recorded_source(project, args: argparse.Namespace):
    """The source an existing project's rounds were adapted from, again (``SourceBundle.from_record``):
    labelled source images paired again from the folders its manifest records, or, for procedural
    vessel masks, the recorded source models (checked by their weights' hashes; the bundled names when
    they are the bundled models). None when the project has no round or no source record, or when a
    procedural project is given both ``--source-segmenter`` and ``--source-generator`` (nothing recorded
    is used). A ValueError naming the folder when they cannot be used as recorded: continuing from
    another source instead would mix two sources in the project's rounds without a word. Models given
    as options win over the recorded ones."""
    from vessel_studio.adaptation import SourceBundle

    record = project.source
    if not project.rounds or not record:
        return None
    labelled = record.get("kind") == "labelled" or bool(int(record.get("images") or 0))
    if not labelled and args.source_segmenter and args.source_generator:
        return None
    try:
        return SourceBundle.from_record(record, segmenter=args.source_segmenter, generator=args.source_generator,
                                        modality=args.source_modality)
    except ValueError as exc:
        if not labelled:
            raise ValueError(
                f"{exc}. {project.manifest_path}: this project's rounds were adapted from procedural vessel masks "
                "with these source models and they cannot be used again as recorded: pass --source-segmenter and "
                "--source-generator (e.g. fundus-segmenter and fundus-generator, the bundled ones) to continue with "
                "other models, or start a new project") from exc
        raise ValueError(
            f"{exc}. {project.manifest_path}: this project's rounds were adapted from labelled source images and "
            "their folders cannot be used again as recorded: pass --source-images and --source-masks (and "
            "--source-fovs if they had FOV masks) to continue with them, or start a new project to adapt from "
            "procedural vessel masks") from exc


def _recorded_models(reused, args: argparse.Namespace) -> list[str]:
    """'segmenter PATH' / 'generator PATH' for each of the lab's own models (not a bundled one) that
    ``reused`` takes from the project's record (not given as an option)."""
    from vessel_studio.resources import is_bundled

    out = []
    for name in ("segmenter", "generator"):
        model = str(getattr(reused, name))
        if getattr(args, f"source_{name}") is None and not is_bundled(model):
            out.append(f"{name} {model}")
    return out


def _check_new_project_folder(folder: Path, args: argparse.Namespace) -> None:
    """A project is made in a new folder or an empty one (or one a killed creation left with only its empty
    subfolders). Before session 36 ``adapt FOLDER`` on a folder of images (or anything else that is not a project)
    made the project inside it, among the lab's files; a ``ValueError`` naming the folder now, before any work
    (``Project.create`` refuses it too; this says how to make one from the command line)."""
    from vessel_studio.store.project import files_in_the_way
    from vessel_studio.wording import shown_names

    if not folder.exists():  # new (a link to nothing: Project.create's mkdir says "File exists", naming it)
        return
    if not folder.is_dir():
        raise ValueError(f"{folder}: is a file, not a Vessel Studio project folder (nothing was changed)")
    entries = files_in_the_way(folder)
    if not entries:
        return
    modality = args.modality or "octa|fundus"
    raise ValueError(
        f"{folder}: not a Vessel Studio project (no project.json), and not empty (it holds {shown_names(entries)}); "
        f"a new project is made in a new or empty folder, e.g. vessel-studio adapt NEW_FOLDER --modality {modality} "
        f"--target {folder} (nothing was changed)")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import shutil

    from vessel_studio.adaptation import SourceBundle, adapt
    from vessel_studio.adaptation.selection import round_rows, summarize
    from vessel_studio.events import progress_bar
    from vessel_studio.store import Project
    from vessel_studio.store.project import expand_image_paths

    folder = Path(args.project)
    if bool(args.source_images) != bool(args.source_masks):
        raise ValueError("--source-images and --source-masks go together")
    # every argument is checked before the project is created or images are copied into it
    project = Project.open(folder) if (folder / "project.json").exists() else None
    if project is None:
        _check_new_project_folder(folder, args)
    from vessel_studio.adaptation.config import recorded_config

    settings = recorded_config(project) if project is not None else None
    cfg = _config(args, settings)
    for target in args.target:
        if not expand_image_paths([target]):
            from vessel_studio.store.project import no_images_message

            raise ValueError(no_images_message(target, None, what="--target folder"))
    from vessel_studio.adaptation.source_models import check_source_models

    models = {"segmenter": args.source_segmenter or "fundus-segmenter",
              "generator": args.source_generator or "fundus-generator",
              "modality": args.source_modality or "fundus"}
    if args.source_images:
        source = SourceBundle.from_folders(args.source_images, args.source_masks, fovs=args.source_fovs, **models)
        from vessel_studio.adaptation.source import masks_mixed_up

        for line in masks_mixed_up(source):  # FOV masks given as the vessel masks, or the other way round
            print(f"warning: {line}", file=sys.stderr)
    else:
        source = SourceBundle(**models)
    created_here = False
    reused = None
    if project is not None:
        if args.modality and args.modality != project.modality:
            raise ValueError(f"{project.manifest_path}: project modality is {project.modality!r}, not {args.modality!r}")
        if not args.source_images:
            reused = _recorded_source(project, args)
            source = reused or source
    # the source models in use now, checked once from their config.json (kind, one modality, a
    # mask-conditioned generator for procedural vessel masks): the options' (or the bundled ones), or the
    # models restored from the manifest, checked as given ones are. The models given as options are
    # always among them (from_record uses them as given), so no option goes unchecked; a bundled default
    # that a restored model replaces is not checked (it is not used). Without --source-modality, a source
    # made from the options takes the models' modality (a restored one keeps its recorded modality)
    models_modality = check_source_models(source.segmenter, source.generator, procedural=not source.images)
    if reused is None and not args.source_modality and models_modality:
        source = dataclasses.replace(source, modality=models_modality)
    if project is None:
        if not args.modality:
            raise ValueError(f"{folder}: new project: pass --modality octa|fundus")
        if not args.target:
            raise ValueError(f"{folder}: new project: pass --target DIR with the target images")
        created_here = not folder.exists()
        project = Project.create(folder, modality=args.modality)
    if args.target:
        try:
            added = project.add_images(args.target)  # reads every image before copying any
        except BaseException:
            if created_here:  # an unreadable target image: leave no empty new project behind
                shutil.rmtree(folder, ignore_errors=True)
            raise
        print(f"{len(added)} new target image(s); {len(project.images)} in the project")
        if getattr(added, "orientation_note", None):
            print(f"warning: {added.orientation_note}", file=sys.stderr)
        if getattr(added, "modality_note", None):
            print(f"warning: {added.modality_note}", file=sys.stderr)
    if reused is not None and reused.images:
        fovs = f", FOV masks {reused.fovs_folder}" if reused.fovs_folder is not None else ""
        print(f"no labelled source images given: using the {len(reused.images)} labelled source image(s) this "
              f"project's rounds were adapted from, {reused.images_folder} (masks {reused.masks_folder}{fovs})")
    elif not args.source_images:
        recorded = _recorded_models(reused, args) if reused is not None else []
        models_used = (f", with the source models this project's rounds were adapted from: {', '.join(recorded)}"
                       if recorded else "")
        print(f"no labelled source images given: using procedural vessel masks rendered by the source generator"
              f"{models_used}")
    line = _recorded_config_line(settings, args) if settings is not None else None
    if line:
        print(line)

    from vessel_studio.gui.tasks import draft_names  # Qt-free

    drafts = draft_names(project)
    if drafts:  # as the GUI's Run adaptation and the export command say (session 28: this command did not)
        names = ", ".join(drafts)
        print(f"warning: unsaved edits of {len(drafts)} image(s) are not used (the adaptation trusts saved "
              f"corrections only): {names}; open them in the Review panel and save their corrections",
              file=sys.stderr)
    job = adapt(project, cfg, source=source, device=args.device)
    bar = None if args.quiet else progress_bar()
    try:
        while True:
            try:
                ev = next(job)
            except StopIteration as stop:
                result = stop.value
                break
            if bar is not None:
                bar(ev)
    except KeyboardInterrupt:
        job.close()  # cancel: rounds of this run are rolled back, work/ removed
        kept = f" ({len(added)} target image(s) it added stay in the project)" if args.target and added else ""
        print(f"cancelled: the project's rounds are as they were before this run{kept}")
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(summarize(round_rows(Project.open(folder).rounds)))
    for index, flags in sorted(result.warnings.items()):
        for flag in flags:
            print(f"warning: round {index}: {flag} (label-free guard; 'vessel-studio rounds PROJECT --rollback N' removes rounds)")
    if result.stopped_early:
        print(f"stopped early: {result.reason}")
    print(f"adapted segmenter: {result.segmenter}")
    print(f"({result.seconds:.0f} s{', resumed' if result.resumed else ''})")
    return 0
