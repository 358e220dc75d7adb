"""An adaptation project on disk: target images, rounds, pseudo-labels, corrections, a log.

Layout::

    PROJECT/
      project.json              the manifest and commit point (see ``store.manifest``)
      images/<id><ext>          copies of the added target images (id = content hash prefix)
      rounds/round-NNN/         one committed round: segmenter/, generator/, pseudo/<id>.tif
                                (float32 probabilities = the uncertainty map; zlib-compressed
                                (lossless); older uncompressed ones read the same), synthetic/
                                (+ segmenter-chain/, pseudo-chain/ when it delivers a merged segmenter)
      corrections/<id>.png      masks a person corrected (0/255)
      work/                     resumable state of a running / killed adaptation job
      log.jsonl                 one JSON object per line (append-only)

Pruning (``store.prune``) deletes the maps of rounds no longer needed and marks them ``pruned``.

Rules: every file is written atomically (``vessel_studio.io.atomic``); a round folder exists in
full before the manifest names it; rollback edits the manifest first and deletes folders after;
temporary folders left by a killed job are removed when the project is opened (unless a job
holds the project's job lock; not before ``STALE_TEMP_S``, they may be another process's live
writes), and so are image copies a killed ``add_images`` left unnamed (it names its copies at its
end), and the saved corrections, source-only maps and FOV estimates of images a killed removal
left unnamed. Manifest edits take a file lock (``.lock``) and re-read the manifest, so a GUI saving
a correction and a job committing a round do not overwrite each other.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from vessel_studio.io.atomic import atomic_path, is_temporary_name, link_or_copy, write_json
from vessel_studio.io.images import IMAGE_EXTENSIONS
from vessel_studio.io.locks import is_locked, unlock
from vessel_studio.store.manifest import (
    MANIFEST_NAME,
    MODALITIES,
    STATES,
    ImageRecord,
    RoundRecord,
    load_manifest,
    new_manifest,
    spacing_pair,
    validate_manifest,
)
from vessel_studio.wording import shell_word, shown_names, text_name

#: the extensions a folder's image files are taken by: every one read_image reads (before session 34 a shorter
#: list, so that adding a folder silently left out its .pnm, .jpe, .pbm, .dicom and .dic images, which segment took)
IMAGE_SUFFIXES = tuple(sorted(IMAGE_EXTENSIONS))
ROUND_RE = re.compile(r"^round-(\d{3,})$")
#: the name add_images gives a copy: images/<first 12 hex digits of its sha256><suffix, lower case>
COPY_RE = re.compile(r"^([0-9a-f]{12})(\.[^.]*)?$")
#: temp files / folders younger than this may belong to a live writer in another process (a GUI
#: saving a correction while ``segment --model PROJECT`` opens the project): clean_stale keeps them
STALE_TEMP_S = 600.0
#: the adaptation job's record in ``work/`` (``adaptation.job``): its key, the round it went on from
#: (``base_round``) and its config; what a killed job is resumed from, with the work folders beside it
JOB_FILE = "job.json"
_THREAD_LOCK = threading.RLock()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def round_name(index: int) -> str:
    return f"round-{int(index):03d}"


#: the folders ``Project.create`` makes before it writes the manifest (a creation killed in between leaves them, empty)
CREATED_FIRST = ("images", "rounds", "corrections")


#: files a desktop leaves in any folder it shows (macOS Finder, Windows Explorer): not the lab's files
DESKTOP_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")


def files_in_the_way(folder: Path) -> list[str]:
    """The names in ``folder`` (not a project) that stop a new project being made there, sorted: anything but the
    empty subfolders a killed ``Project.create`` leaves, the manifest's temporary file a creation killed while
    writing it leaves, and a desktop's :data:`DESKTOP_FILES`. [] for a new or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []

    def left_by_create(p: Path) -> bool:
        if p.name in CREATED_FIRST:
            return p.is_dir() and not p.is_symlink() and not any(p.iterdir())
        stem, suffix = Path(MANIFEST_NAME).stem, Path(MANIFEST_NAME).suffix  # io.atomic's temporary file's name
        return p.name.startswith(f".{stem}.") and p.name.endswith(f".tmp{suffix}") and p.is_file()

    return sorted(p.name for p in folder.iterdir() if not (left_by_create(p) or p.name in DESKTOP_FILES))


class ProjectBusyError(ValueError):
    """Another adaptation job holds this project's job lock."""


#: what a script or notebook that meets ``ProjectBusyError`` usually has to do
UNFINISHED_JOB_HINT = ("an adaptation generator that was neither run to its end nor closed holds it until "
                       "it is: call its close() to cancel it (the project goes back to how it was)")


class UnknownImageError(KeyError, ValueError):
    """No image of the project has this id. A ``KeyError`` for the callers that look ids up (the GUI)
    and a ``ValueError`` for the command line's one-line errors; its text is the message itself,
    not ``KeyError``'s quoted repr."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


#: the project's own folders (the store's, and the studio's ``gui/``): no image is added from them and no
#: export goes into them (``Project.own_folder``)
OWN_FOLDERS = ("images", "corrections", "rounds", "work", "gui")

#: the source-only maps ("Segment with bundled model": ``gui.tasks.source_only_path``), one ``<image id>.tif`` each:
#: predictions outside the rounds, which keep their images "predicted" through a roll back (``Project.rollback``)
SOURCE_ONLY_MAPS = Path("gui") / "source-only"

#: the window's FOV estimates, one ``<image id>.png`` each (``gui.tasks.cached_fov``)
FOV_ESTIMATES = Path("gui") / "fov-1"

#: how many unreadable files ``add_images`` names in its error (it counts them all)
MAX_NAMED_PROBLEMS = 5


def named_problems(problems) -> str:
    """The first ``MAX_NAMED_PROBLEMS`` of ``problems`` (one per unreadable file), "; "-joined, and how many
    more there are: the one-line error of a command or job that read every file before refusing them all."""
    shown = "; ".join(str(p) for p in problems[:MAX_NAMED_PROBLEMS])
    more = len(problems) - MAX_NAMED_PROBLEMS
    return shown + (f"; and {more} more" if more > 0 else "")


class AddedImages(list):
    """The records one :meth:`Project.add_images` added (a list of :class:`ImageRecord`), and ``orientation_note``:
    one line naming those whose files carry an EXIF / TIFF orientation tag (``io.images.orientation_summary``; the
    tag is not applied, their masks are on the stored pixel grid), None when none does. ``images --add``, ``adapt
    --target`` and the window's Add images… say it (session 35: only ``segment`` did)."""

    orientation_note: str | None = None
    #: one line when the images added look like another modality than the project's (:func:`modality_note`), else None
    modality_note: str | None = None


def modality_note(modality: str, shapes, colour=None) -> str | None:
    """A line for an add of images (their array ``shapes``; ``colour``: for each, whether its red, green and blue
    differ, :func:`_probe_image`) to a project of ``modality`` when all of them look like the other modality, else
    None.

    A fundus project (the "New project…" dialog's first choice) given gray, one-channel images only, as OCT-A en-face
    scans are: it prepares them as photographs (vessels dark on a bright, round field of view) and does not
    re-normalise by default; the bundled model drew almost nothing on OCTA-500 scans so (session 40 QA: 8 test scans,
    mean Dice 0.002 with ``segment --modality fundus``, 0.130 with ``--modality octa``). Red-free fundus photographs
    are gray too, hence a note, not a refusal.

    An OCT-A project given colour images only, as fundus photographs are (session 41 QA: a DRIVE folder added to an
    OCT-A project in the window, without a word): it takes vessels as bright on a dark scan; the bundled model on
    DRIVE's 20 test photographs scored a mean Dice of 0.813 with ``segment --modality fundus`` and 0.057 with
    ``--modality octa``. A gray scan saved as RGB (three equal channels) is not colour.

    The modality of a project cannot be changed, so the note says to make a new one."""
    shapes = [tuple(s) for s in shapes]
    if not shapes:
        return None
    n = len(shapes)
    if modality == "fundus" and all(len(s) == 2 for s in shapes):
        return (f"{'all ' if n > 1 else ''}{n} image{'s are' if n > 1 else ' is'} gray (one channel), as OCT-A scans "
                "are, but this is a fundus project, which takes vessels as dark on a bright photograph: if they are "
                "OCT-A scans, make a new project of modality octa for them")
    if modality == "octa" and colour is not None and len(colour) == n and all(colour):
        return (f"{'all ' if n > 1 else ''}{n} image{'s are' if n > 1 else ' is'} in colour, as fundus photographs "
                "are, but this is an OCT-A project, which takes vessels as bright on a dark scan: if they are fundus "
                "photographs, make a new project of modality fundus for them")
    return None


def _colour(arr: np.ndarray) -> bool:
    """Whether an image array is in colour: three or four channels whose first three are not all equal (a gray scan
    saved as RGB is not)."""
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        return False
    return bool(np.any(arr[..., 0] != arr[..., 1]) or np.any(arr[..., 1] != arr[..., 2]))


def _delete(p: Path, is_dir: bool) -> None:
    """Remove ``p``, a folder's whole tree when ``is_dir`` (the caller decides how links count), else the file; best
    effort: gone already, or a read-only project, it stays."""
    if is_dir:
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def _other_form(folder: Path) -> str:
    """What to add to "no such project folder" when a folder beside it bears its name in another Unicode form: a
    folder copied from a Mac is named in decomposed form ("Mu" + U+0308 "ller"), which ``ls`` shows as the "Müller" a
    person types, and "Projet Müller: no such project folder" named what ``ls`` listed (session 49 QA)."""
    import unicodedata

    want = unicodedata.normalize("NFC", folder.name)
    try:
        same = [p for p in folder.parent.iterdir() if p.is_dir() and unicodedata.normalize("NFC", p.name) == want]
    except OSError:
        return ""
    return (f"; {same[0]} is a folder of that name in another Unicode form of its accents (a copy from a Mac "
            "names them so): give that path (the shell's Tab completion types it)") if same else ""


class Project:
    """A project folder. Use :meth:`create` or :meth:`open`; all state lives on disk."""

    def __init__(self, folder: str | os.PathLike, *, _data: dict[str, Any] | None = None):
        self.folder = Path(folder).resolve()
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        #: the image records of one cached manifest (that dict, the records, the records by id): made once per
        #: manifest read, not on each ``images`` / ``image()`` call (session 32: 11 ms a call at 1,000 images, and
        #: ``image()`` is asked for each image a worker reads: thumbnails, maps)
        self._records: tuple[dict[str, Any], list[ImageRecord], dict[str, ImageRecord]] | None = None
        self._job_fd: int | None = None
        if _data is not None:
            self._remember(_data)

    # --- creation / opening --------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike,
        *,
        modality: str,
        name: str | None = None,
        preprocessing: dict[str, Any] | None = None,
    ) -> "Project":
        """Make a new empty project in a new or empty folder. A folder holding other files (a folder of images
        chosen by mistake) is a ValueError naming it: before session 36 the project was made inside it, among the
        lab's files (the window's "New project" asked for an empty folder without checking)."""
        folder = Path(folder)
        if modality not in MODALITIES:
            raise ValueError(f"{folder}: unknown modality {modality!r} (choose from {', '.join(MODALITIES)})")
        manifest = folder / MANIFEST_NAME
        if manifest.exists():
            raise ValueError(f"{manifest}: a project already exists here (use Project.open)")
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder}: exists and is not a folder")
        in_the_way = files_in_the_way(folder)
        if in_the_way:
            raise ValueError(f"{folder}: not empty (it holds {shown_names(in_the_way)}) and not a Vessel Studio "
                             "project; a new project is made in a new or empty folder (nothing was changed)")
        if preprocessing is None:
            preprocessing = _default_preprocessing(modality)
        for sub in CREATED_FIRST:
            (folder / sub).mkdir(parents=True, exist_ok=True)
        data = new_manifest(
            name=name or text_name(folder.resolve().name), modality=modality, preprocessing=preprocessing,
            created=now_iso(),
        )
        write_json(manifest, data)
        proj = cls(folder)
        proj.log("project created", modality=modality)
        return proj

    @classmethod
    def open(cls, folder: str | os.PathLike) -> "Project":
        """Open an existing project; a missing or corrupt manifest is a ValueError naming it."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"{folder}: no such project folder{_other_form(folder)}")
        data = load_manifest(folder / MANIFEST_NAME)
        proj = cls(folder)
        proj._remember(data)
        proj.clean_stale()
        return proj

    @classmethod
    def given(cls, project: "Project | str | os.PathLike") -> "Project":
        """``project`` as the library's jobs take it: a ``Project`` as it is, else its folder opened."""
        return project if isinstance(project, cls) else cls.open(project)

    @classmethod
    def open_or_create(cls, folder: str | os.PathLike, *, modality: str, name: str | None = None) -> "Project":
        if (Path(folder) / MANIFEST_NAME).exists():
            proj = cls.open(folder)
            if proj.modality != modality:
                raise ValueError(
                    f"{proj.manifest_path}: project modality is {proj.modality!r}, not {modality!r}"
                )
            return proj
        return cls.create(folder, modality=modality, name=name)

    # --- manifest access -----------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def _remember(self, data: dict[str, Any]) -> None:
        try:
            st = self.manifest_path.stat()
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = (0, 0, 0)
        self._cache = (key, data)

    def _current(self) -> dict[str, Any]:
        """The cached manifest itself (re-read when the file changed on disk): never modified, never handed out;
        what is handed out is copied (``manifest``) or made of immutable values (``images``' records)."""
        st = self.manifest_path.stat() if self.manifest_path.exists() else None
        key = (st.st_ino, st.st_mtime_ns, st.st_size) if st else (0, 0, 0)
        if self._cache is None or self._cache[0] != key:
            # cached under the key taken before the read: a file replaced while it was read (another
            # thread's write through this object) is read again next time, never kept as the new one
            self._cache = (key, load_manifest(self.manifest_path))
        return self._cache[1]

    def manifest(self) -> dict[str, Any]:
        """The current manifest (re-read when the file changed on disk); a copy the caller may change."""
        return _copied(self._current())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with _THREAD_LOCK:
            fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _update(self, fn: Callable[[dict[str, Any]], Any]) -> Any:
        """Read-modify-write the manifest under the lock; atomic replace."""
        with self._locked():
            data = load_manifest(self.manifest_path)
            result = fn(data)
            validate_manifest(data, self.manifest_path)
            write_json(self.manifest_path, data)
            self._remember(data)
            return result

    @property
    def name(self) -> str:
        return self._current()["name"]

    @property
    def modality(self) -> str:
        return self._current()["modality"]

    @property
    def preprocessing(self) -> dict[str, Any]:
        return _copied(self._current()["preprocessing"])

    @property
    def source(self) -> dict[str, Any] | None:
        return _copied(self._current().get("source"))

    def set_source(self, source: dict[str, Any]) -> None:
        def fn(d):
            d["source"] = source

        self._update(fn)

    # --- images --------------------------------------------------------------------------

    def _image_records(self) -> tuple[list[ImageRecord], dict[str, ImageRecord]]:
        """The cached manifest's image records, in project order and by id, made once for each manifest read.
        The records are frozen and hold strings and tuples only: shared, never copied (the GUI asks for them many
        times a refresh: a 140-image manifest's copy took about 1 ms; session 31)."""
        current = self._current()
        cached = self._records
        if cached is None or cached[0] is not current:
            records = [ImageRecord.from_dict(d) for d in current["images"]]
            cached = (current, records, {rec.id: rec for rec in records})  # ids are unique (validate_manifest)
            self._records = cached  # one assignment: another thread sees the old triple or the new one
        return cached[1], cached[2]

    @property
    def images(self) -> list[ImageRecord]:
        return list(self._image_records()[0])  # a list of the caller's own

    def image(self, image_id: str) -> ImageRecord:
        rec = self._image_records()[1].get(image_id) if isinstance(image_id, str) else None
        if rec is None:
            raise self._unknown(image_id)
        return rec

    def _unknown(self, image_id: str) -> UnknownImageError:
        named = [rec.id for rec in self.images if rec.name == str(image_id)]  # a name given for an id
        hint = f" ({image_id!r} is the name of image {', '.join(map(repr, named))})" if named else ""
        return UnknownImageError(f"{self.manifest_path}: project {self.folder.name!r} has no image with id "
                                 f"{image_id!r}{hint}")

    def image_path(self, image_id: str) -> Path:
        return self.folder / self.image(image_id).file

    def read_image(self, image_id: str) -> np.ndarray:
        """The image's pixels; a ValueError naming the file when it is missing or no longer the
        content that was added (replaced behind the project's back: its pseudo-labels and
        corrections belong to the recorded content)."""
        from vessel_studio.io.images import read_image

        rec = self.image(image_id)
        path = self.folder / rec.file
        if path.is_file():
            digest = sha256_file(path)
            if digest != rec.sha256:
                raise ValueError(
                    f"{path}: image {rec.name!r} changed on disk since it was added (sha256 {digest[:12]}..., "
                    f"recorded {rec.sha256[:12]}...); remove it from the project and add the new file"
                )
        arr, _meta = read_image(path)
        return arr

    def own_folder(self, path: str | os.PathLike) -> str | None:
        """Which of the project's own folders (``OWN_FOLDERS``: the store's and the studio's ``gui/``)
        ``path`` is in or is, else None (the project folder itself: ""); a folder of the lab's beside them
        (``PROJECT/samples``, ``PROJECT/export``) is None."""
        home = Path(os.path.realpath(self.folder))
        p = Path(os.path.realpath(path))
        if p == home:
            return ""
        if home not in p.parents:
            return None
        top = p.relative_to(home).parts[0]
        return top if top in OWN_FOLDERS else None

    def add_images(self, paths: Iterable[str | os.PathLike]) -> AddedImages:
        """Copy images (files, or folders of images) into the project; return the new records (a list whose
        ``orientation_note`` names the ones whose files carry an EXIF / TIFF orientation tag, not applied: their masks
        are on the stored pixel grid; None when none does).

        Each image is read once (files that are not readable images raise one ValueError naming
        each, up to ``MAX_NAMED_PROBLEMS``, after all were read and before anything is written). Images whose content hash is already in the project,
        or repeated in ``paths``, are skipped. :meth:`add_images_job` is the same as a job of
        progress events (the GUI runs it in a worker).
        """
        from vessel_studio.events import run

        return run(self.add_images_job(paths))

    def add_images_job(self, paths: Iterable[str | os.PathLike]):
        """:meth:`add_images` as a generator of ``Progress("add-images", ...)`` events (one per
        file read, then one per file copied); closing it before the end adds nothing."""
        from vessel_studio.events import Progress

        paths = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
        # each folder listed once (session 40 listed each twice: once for the check below, again for the add; a folder
        # of thousands of scans on a network share was read twice, and a scan written into it in between was added
        # without having been checked)
        listed: dict[Path, list[Path]] = {}
        for p in paths:
            if p not in listed and p.is_dir():
                listed[p] = expand_image_paths([p])
        for p, found in listed.items():  # a folder with none: named, rather than "added 0 image(s)" (session 40 QA:
            # the window said only that for a scanner's export folder of one subfolder per patient, dropped or chosen
            # with Add folder…)
            if not found:
                raise ValueError(no_images_message(p))
        files = [f for p in paths for f in (listed[p] if p in listed else expand_image_paths([p]))]
        inside = [f for f in files if self.own_folder(f) is not None]
        if inside:  # its copies, corrections (masks), maps: "Add folder…" on corrections/ took masks for scans
            raise ValueError(f"{inside[0]}: a file of the project itself (in its {self.own_folder(inside[0])}/ "
                             f"folder; {len(inside)} of the {len(files)} files given): add the new scanner's images "
                             "from where they are (nothing was added)")
        existing = {r.sha256 for r in self.images}
        todo: list[tuple[Path, str, tuple[int, ...], tuple[float, float] | None]] = []
        seen: set[str] = set()
        problems: list[ValueError] = []  # every unreadable file named at once, not one per try
        oriented: list[Path] = []  # the new ones that carry an orientation tag (not applied)
        colours: list[bool] = []  # for each of todo: whether it is in colour (``modality_note``)
        for i, f in enumerate(files):
            try:
                digest = sha256_file(f)
                if digest not in existing and digest not in seen:
                    shape, spacing, tagged, colour = _probe_image(f)
                    seen.add(digest)
                    todo.append((f, digest, shape, spacing))
                    colours.append(colour)
                    if tagged:
                        oriented.append(f)
            except ValueError as exc:
                problems.append(exc)
            except OSError as exc:  # a file the hash cannot open (permissions)
                problems.append(ValueError(f"{f}: cannot read ({exc.strerror or exc})"))
            yield Progress("add-images", i + 1, len(files), f"read {text_name(f.name)}")
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise ValueError(f"{len(problems)} of the {len(files)} files cannot be added as images (nothing was "
                             f"added): {named_problems(problems)}")
        from vessel_studio.io.images import orientation_summary

        records = AddedImages()
        records.orientation_note = orientation_summary(oriented)
        records.modality_note = modality_note(self.modality, [shape for _f, _d, shape, _s in todo], colours)
        have = {r.file for r in self.images}
        try:
            for i, (f, digest, shape, spacing) in enumerate(todo):
                image_id = digest[:12]
                rel = f"images/{image_id}{f.suffix.lower()}"
                with atomic_path(self.folder / rel) as tmp:
                    shutil.copyfile(f, tmp)
                records.append(
                    ImageRecord(
                        id=image_id, name=text_name(f.stem), file=rel, sha256=digest, spacing=spacing, state="new",
                        shape=shape, origin=str(f.resolve()),
                    )
                )
                yield Progress("add-images", i + 1, len(todo), f"copied {text_name(f.name)}")
        except GeneratorExit:  # cancelled: the manifest never named these copies; remove them
            for r in records:
                if r.file not in have:
                    with contextlib.suppress(FileNotFoundError):
                        (self.folder / r.file).unlink()
            raise
        if records:
            sources = {r.id: f for r, (f, *_rest) in zip(records, todo)}

            def fn(d):
                have = {x["sha256"] for x in d["images"]}
                for r in records:
                    if r.sha256 in have:
                        continue
                    if not (self.folder / r.file).is_file():  # an add longer than STALE_TEMP_S: another
                        _copy_checked(sources[r.id], self.folder / r.file, r.sha256)  # process's open removed it
                    # a new image has no saved correction: one here is a removal killed after its manifest edit
                    # (session 28 QA: the image added again was "corrected" by the correction said deleted); nor a
                    # source-only map (the window's removal deletes it last, after the manifest edit)
                    for left in (self.correction_path(r.id), self.folder / SOURCE_ONLY_MAPS / f"{r.id}.tif"):
                        with contextlib.suppress(FileNotFoundError):
                            left.unlink()
                    d["images"].append(r.to_dict())

            self._update(fn)
            tagged = {str(f) for f in oriented}
            self.log("images added", count=len(records), ids=[r.id for r in records],
                     **({"orientation_tagged": [r.id for r, (f, *_rest) in zip(records, todo) if str(f) in tagged]}
                        if tagged else {}))
        return records

    def remove_image(self, image_id: str) -> None:
        """:meth:`remove_images` of one image."""
        self.remove_images([image_id])

    def remove_images(self, image_ids: Iterable[str] | str) -> list[ImageRecord]:
        """Take images out of the project (an image added by mistake: another camera's, a wrong folder):
        the manifest stops naming them (one atomic edit), then their copies in ``images/`` and their saved
        corrections are deleted; the files they were added from are not touched. The rounds keep their
        records and maps (the history of what each round saw; an image added again, with the same content,
        has the same id and finds them). Refused (``ProjectBusyError``) while a job holds the project (an
        adaptation reads the images), and an unknown id is an error naming the manifest, before anything
        changes. A kill after the manifest edit leaves unnamed files that :meth:`clean_stale` removes (and
        adding the image again before that deletes its leftover correction: :meth:`add_images`)."""
        # one id as it is, as add_images takes one path (session 33 API QA: its characters were taken for ids,
        # "no image with id '8'")
        ids = list(dict.fromkeys([image_ids] if isinstance(image_ids, str) else image_ids))
        records = [self.image(i) for i in ids]  # an unknown id: nothing changed
        if not records:
            return []
        self.acquire_job_lock("remove images")  # no adaptation, restore or prune reads them meanwhile
        try:
            gone = set(ids)

            def fn(d):
                d["images"] = [x for x in d["images"] if x["id"] not in gone]

            self._update(fn)
            for rec in records:
                for path in (self.folder / rec.file, self.correction_path(rec.id)):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            self.log("images removed", ids=ids, names=[r.name for r in records])
        finally:
            self.release_job_lock()
        return records

    def set_state(self, image_id: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown image state {state!r} (choose from {', '.join(STATES)})")

        def fn(d):
            for x in d["images"]:
                if x["id"] == image_id:
                    x["state"] = state
                    return
            raise self._unknown(image_id)

        self._update(fn)

    def set_spacing(self, image_ids: Iterable[str] | str, spacing_mm: Any) -> list[ImageRecord]:
        """Set the pixel spacing of images (``spacing_mm``: mm per pixel, one number or (row_mm, col_mm)), or clear
        it (``None``): what a person knows of a scanner whose files record none (OCTA-500's PNG scans: 3 mm over
        304 px). A set spacing wins over the one the file records (``ImageRecord.pixel_spacing``) in the vessel
        measures, the exported masks' and maps' resolution and the Review title; segmentation never uses it (the
        rounds' maps were made without it). One atomic manifest edit for all the images; a spacing that is not
        positive and finite, or an unknown id, is a ValueError before anything changes. Not refused while a job
        holds the project: no job reads the spacing but an export, which reads each image's record once (its files and
        its ``measures.csv`` row use the same), and the edit is made under the manifest's lock as a job's own edits
        are. Returns the images' records as they are now."""
        ids = list(dict.fromkeys([image_ids] if isinstance(image_ids, str) else image_ids))
        pair = None if spacing_mm is None else spacing_pair(spacing_mm)
        for image_id in ids:
            self.image(image_id)  # an unknown id: nothing changed
        if not ids:
            return []
        wanted = set(ids)

        def fn(d):
            found = set()
            for x in d["images"]:
                if x["id"] in wanted:
                    found.add(x["id"])
                    if pair is None:
                        x.pop("set_spacing", None)
                    else:
                        x["set_spacing"] = list(pair)
            if found != wanted:  # taken out by another program since the check above
                raise self._unknown(sorted(wanted - found)[0])

        self._update(fn)
        self.log("pixel spacing cleared" if pair is None else "pixel spacing set", ids=ids,
                 **({} if pair is None else {"spacing_mm": list(pair)}))
        return [self.image(i) for i in ids]

    # --- corrections ---------------------------------------------------------------------

    def correction_path(self, image_id: str) -> Path:
        return self.folder / "corrections" / f"{image_id}.png"

    def save_correction(self, image_id: str, mask: np.ndarray) -> Path:
        """Save a corrected mask (atomically, PNG 0/255: ``> 0`` is vessel) and mark the image "corrected". A float
        mask holding values between 0 and 1 (a probability map) or NaN is a ValueError."""
        rec = self.image(image_id)
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"{self.correction_path(image_id)}: a mask must be 2-D, got shape {mask.shape}")
        if rec.shape is not None and tuple(mask.shape) != tuple(rec.shape[:2]):
            raise ValueError(
                f"{self.correction_path(image_id)}: mask shape {mask.shape} does not match image {rec.name} "
                f"{tuple(rec.shape[:2])}"
            )
        if mask.dtype.kind == "f":  # saved as "> 0", a NaN as background and a probability map as all vessel
            if not np.isfinite(mask).all():
                raise ValueError(f"{self.correction_path(image_id)}: the mask of image {rec.name} contains NaN or "
                                 "infinite values")
            if np.any((mask > 0) & (mask < 1)):
                raise ValueError(f"{self.correction_path(image_id)}: the mask of image {rec.name} holds values "
                                 "between 0 and 1, like a probability map: give a mask (e.g. prediction >= 0.5)")
        from PIL import Image

        path = self.correction_path(image_id)
        with atomic_path(path) as tmp:
            # 0 / 255 (an int64 copy by np.where took ~0.07 s of a 15-megapixel mask's save)
            Image.fromarray((mask > 0).astype(np.uint8) * np.uint8(255)).save(tmp, format="PNG")
        self.set_state(image_id, "corrected")
        self.log("correction saved", id=image_id, vessel_fraction=float((mask > 0).mean()))
        return path

    def correction(self, image_id: str) -> np.ndarray | None:
        path = self.correction_path(image_id)
        if not path.is_file():
            return None
        from PIL import Image

        try:
            with Image.open(path) as im:
                mask = np.asarray(im.convert("L")) > 0
        except OSError as exc:
            raise ValueError(f"{path}: unreadable corrected mask ({exc})") from exc
        # a mask put there by hand (save_correction checks the size): adaptation resized it onto the image and
        # trained on it, the export failed naming no file (session 32 QA)
        rec = self._image_records()[1].get(image_id)
        if rec is not None and rec.shape is not None and mask.shape != tuple(rec.shape[:2]):
            raise ValueError(f"{path}: corrected mask is {mask.shape[0]}x{mask.shape[1]} (rows x cols) but its image "
                             f"{rec.name} is {rec.shape[0]}x{rec.shape[1]}; save a mask of the image's size there, or "
                             "delete the file")
        return mask

    def corrections(self) -> dict[str, np.ndarray]:
        """The corrected masks that adaptation trusts: every saved correction of an image in state
        "corrected" or "reviewed" (a corrected image later marked reviewed keeps its correction)."""
        out = {}
        for image_id in self.correction_ids():
            m = self.correction(image_id)
            if m is not None:
                out[image_id] = m
        return out

    def correction_ids(self) -> list[str]:
        """The ids of the images whose saved correction ``corrections()`` returns (without reading
        the masks: a caller that keeps them smaller reads them one at a time)."""
        return [rec.id for rec in self.images
                if rec.state in ("corrected", "reviewed") and self.correction_path(rec.id).is_file()]

    def remove_correction(self, image_id: str) -> None:
        """Delete a saved correction; the image goes back to "predicted" (or "new" without rounds)."""
        self.image(image_id)
        with contextlib.suppress(FileNotFoundError):
            self.correction_path(image_id).unlink()
        self.set_state(image_id, "predicted" if self.rounds else "new")
        self.log("correction removed", id=image_id)

    # --- rounds --------------------------------------------------------------------------

    @property
    def rounds(self) -> list[RoundRecord]:
        # their config, models and metrics are dicts: a copy of the rounds' part only (not of the images' records)
        return [RoundRecord.from_dict(d) for d in _copied(self._current()["rounds"])]

    @property
    def latest_round(self) -> RoundRecord | None:
        rounds = self.rounds
        return rounds[-1] if rounds else None

    def get_round(self, index: int | None = None) -> RoundRecord:
        rounds = self.rounds
        if not rounds:
            raise ValueError(f"{self.manifest_path}: the project has no adapted rounds yet")
        if index is None:
            return rounds[-1]
        for r in rounds:
            if r.index == int(index):
                return r
        raise ValueError(f"{self.manifest_path}: no round {index} (rounds: {[r.index for r in rounds]})")

    def round_dir(self, index: int | None = None) -> Path:
        return self.folder / self.get_round(index).folder

    def segmenter_path(self, round: int | None = None) -> Path:
        return self.round_dir(round) / "segmenter"

    def chain_segmenter_path(self, round: int | None = None) -> Path:
        """The segmenter the next round fine-tunes: ``segmenter-chain/`` where the round delivered a
        weight-interpolated segmenter (``AdaptConfig.source_weight``), else its ``segmenter/``."""
        chain = self.round_dir(round) / "segmenter-chain"
        return chain if chain.is_dir() else self.segmenter_path(round)

    def generator_path(self, round: int | None = None) -> Path:
        return self.round_dir(round) / "generator"

    def prediction_path(self, image_id: str, round: int | None = None, *, chain: bool = False) -> Path:
        """A round's probability map of an image: the delivered segmenter's (``pseudo/``), or with
        ``chain`` the co-optimization chain's (``pseudo-chain/`` where present, else the same)."""
        folder = self.round_dir(round)
        if chain and (folder / "pseudo-chain").is_dir():
            return folder / "pseudo-chain" / f"{image_id}.tif"
        return folder / "pseudo" / f"{image_id}.tif"

    def prediction(self, image_id: str, round: int | None = None, *, chain: bool = False) -> np.ndarray | None:
        """The probability map of a round's segmenter for an image (None when absent); ``chain``:
        the unmerged chain's map (see ``prediction_path``)."""
        if not self.rounds:
            return None
        path = self.prediction_path(image_id, round, chain=chain)
        if not path.is_file():
            return None
        from vessel_studio.io.images import read_prob

        return read_prob(path)  # compressed (zlib) or not; an unreadable file: ValueError naming it

    def commit_round(self, src: str | os.PathLike, record: RoundRecord, *, link: bool = False) -> RoundRecord:
        """Copy a finished round folder into ``rounds/round-NNN`` and then name it in the manifest.

        Images still in state "new" that have a prediction in the round become "predicted".
        ``link``: hard-link the files instead of copying them where the file system can
        (``io.atomic.link_or_copy``); for a ``src`` whose files are never changed in place and that is
        deleted after (the adaptation job's own round folder): no second copy of a round's maps on disk.
        """
        src = Path(src)
        if any(r.index == record.index for r in self.rounds):
            raise ValueError(f"{self.manifest_path}: round {record.index} is already committed")
        rel = f"rounds/{round_name(record.index)}"
        dest = self.folder / rel
        staging = self.folder / "rounds" / f".{round_name(record.index)}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(src, staging, **({"copy_function": link_or_copy} if link else {}))
        _fsync_tree(staging)
        if dest.exists():  # an uncommitted leftover of a killed job
            shutil.rmtree(dest)
        os.replace(staging, dest)
        predicted = {p.stem for p in (dest / "pseudo").glob("*.tif")} if (dest / "pseudo").is_dir() else set()
        rec = RoundRecord(**{**record.to_dict(), "folder": rel})

        def fn(d):
            if any(int(x["index"]) == rec.index for x in d["rounds"]):
                raise ValueError(f"{self.manifest_path}: round {rec.index} is already committed")
            d["rounds"].append(rec.to_dict())
            d["rounds"].sort(key=lambda x: int(x["index"]))
            for x in d["images"]:
                if x["state"] == "new" and x["id"] in predicted:
                    x["state"] = "predicted"

        self._update(fn)
        self.log("round committed", round=rec.index, stage=rec.stage, metrics=rec.metrics)
        return rec

    def rollback(self, round: int) -> list[int]:
        """Keep rounds with index <= ``round`` (``-1`` removes all); return the removed indices.

        The manifest is edited first, the folders deleted after. When no round remains,
        images in state "predicted" go back to "new"; so do those that only the removed rounds
        predicted (what :meth:`commit_round` marked; a cancelled job leaves the states as they were), except the images
        with a prediction outside the rounds (:meth:`source_only_ids`), which stay "predicted" (session 40 QA: rolled
        back to no round, the images the bundled model had segmented were listed "new" while Review and export still
        used their maps).

        An interrupted adaptation (a killed ``adapt``, ``adaptation.job.interrupted_job``) that went on from a round
        removed here can no longer be resumed (the next ``adapt`` starts afresh): its work in ``work/`` is deleted
        after the rounds (:meth:`discard_given_up_work`; kept while a job holds the project). The list returned is a
        :class:`RolledBack`: its ``gave_up`` is that run's ``work/job.json`` record (None: no run given up) and
        ``work_freed`` the bytes deleted; ``vessel-studio rounds --rollback`` and the Adaptation panel's Roll back
        say so.
        """
        if self._job_fd is None and self.job_running():
            raise ProjectBusyError(f"{self.folder}: {self.job_holder()} holds this project; roll back after it ends "
                                   "(or stop it)")
        target = next((r for r in self.rounds if r.index == int(round)), None)
        if target is not None and target.pruned is not None and target.index != self.rounds[-1].index:
            whole = [r.index for r in self.rounds if r.pruned is None and r.index < self.rounds[-1].index]
            raise ValueError(
                f"{self.manifest_path}: round {target.index}'s probability maps were pruned ({target.pruned}); "
                "the next round would have no pseudo-labels to start from. Roll back to a round that kept "
                f"them ({', '.join(map(str, whole)) if whole else 'none but the latest'}) or -1 (every round), "
                f"or make its maps again first: vessel-studio rounds {shell_word(self.folder)} --restore "
                f"{target.index}")
        removed: list[str] = []
        elsewhere = self.source_only_ids()

        def fn(d):
            keep = [x for x in d["rounds"] if int(x["index"]) <= int(round)]
            removed.extend(x["folder"] for x in d["rounds"] if int(x["index"]) > int(round))
            d["rounds"] = keep
            kept = {p.stem for x in keep for p in (self.folder / x["folder"] / "pseudo").glob("*.tif")}
            dropped = {p.stem for rel in removed for p in (self.folder / rel / "pseudo").glob("*.tif")}
            for x in d["images"]:
                if x["state"] == "predicted" and (not keep or (x["id"] in dropped and x["id"] not in kept)) \
                        and x["id"] not in elsewhere:
                    x["state"] = "new"

        self._update(fn)
        indices = RolledBack()
        for rel in removed:
            m = ROUND_RE.match(Path(rel).name)
            if m:
                indices.append(int(m.group(1)))
            shutil.rmtree(self.folder / rel, ignore_errors=True)
        if indices:
            self.log("rolled back", to_round=int(round), removed=list(indices))
        if self._job_fd is None:  # else: the job holding the project rolls back its own rounds (a cancel)
            indices.gave_up = self.given_up_job()
            indices.work_freed = self.discard_given_up_work()
            # deleted: its record too (kept while a job held the project, or when the lock could not be taken)
            indices.work_deleted = indices.gave_up is not None and not (self.work_dir / JOB_FILE).exists()
        return indices

    def source_only_ids(self) -> set[str]:
        """The ids of the images that have a source-only map (:data:`SOURCE_ONLY_MAPS`, written by the window's
        "Segment with bundled model")."""
        folder = self.folder / SOURCE_ONLY_MAPS
        if not folder.is_dir():
            return set()
        ids = {r.id for r in self.images}
        return {p.stem for p in folder.glob("*.tif") if p.stem in ids}

    def given_up_job(self) -> dict[str, Any] | None:
        """The record (``work/job.json``) of an interrupted adaptation that can no longer be resumed: the round it went
        on from (``base_round``) is no longer committed (a roll back removed it), so ``adapt`` would start afresh and
        delete its work. None: no such record, or a run that started round 0 (it stays resumable), or one that can
        still be resumed. Whether a job holds the project now is not asked (``discard_given_up_work`` does)."""
        try:
            job = json.loads((self.work_dir / JOB_FILE).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(job, dict) or job.get("base_round") is None:
            return None
        try:
            base = int(job["base_round"])
        except (TypeError, ValueError):
            return None
        return None if base in {r.index for r in self.rounds} else job

    def work_size(self) -> int:
        """The bytes that deleting ``work/`` (but its lock file) would free: files with no other link."""
        return _bytes_freed(self.work_dir, skip={".job.lock"}) if self.work_dir.is_dir() else 0

    def discard_given_up_work(self) -> int:
        """Delete what an interrupted adaptation that can no longer be resumed (``given_up_job``) left in ``work/``: its
        finished steps (checkpoints, model-scale maps; 68 MB for 6 CHASE_DB1 images, session 39) stayed until the next
        run, which deletes them at its start anyway. Returns the bytes freed (files with no other link, e.g. none
        hard-linked into a kept round); 0 when nothing was deleted.

        Under the project's job lock, taken without waiting: while any job holds the project ``work/`` is that job's
        and nothing is deleted (the record is read again once the lock is held: a run may have started and ended
        meanwhile). ``job.json`` is deleted last, so a kill in the middle leaves a record that still says the work is
        given up, and ``clean_stale`` (at the next ``Project.open``) finishes it; every reader treats the partial
        work as not resumable, as the whole of it was."""
        if self._job_fd is not None or self.given_up_job() is None:
            return 0
        try:
            self.acquire_job_lock("discard work")
        except (ProjectBusyError, OSError):
            return 0
        try:
            if self.given_up_job() is None:
                return 0
            work = self.work_dir
            freed = self.work_size()
            for p in list(work.iterdir()):
                if p.name in (".job.lock", JOB_FILE):
                    continue
                _delete(p, p.is_dir() and not p.is_symlink())
            with contextlib.suppress(OSError):
                (work / JOB_FILE).unlink()
            self.log("work of an interrupted adaptation deleted: a roll back removed the round it went on from",
                     freed_bytes=freed)
            return freed
        finally:
            self.release_job_lock()

    # --- job lock, work folder, cleanup --------------------------------------------------

    @property
    def work_dir(self) -> Path:
        return self.folder / "work"

    def acquire_job_lock(self, task: str | None = None) -> None:
        """Take the exclusive job lock (non-blocking); ProjectBusyError if another job holds it, this
        ``Project`` object's own included (two ``adapt`` generators of one object would share the
        work folder, and the first to end would release the other's lock). ``task``: what the lock is taken for
        (``"adapt"``, ``"restore"``, ...), written beside the holder's process for :meth:`job_task`."""
        if self._job_fd is not None:
            raise ProjectBusyError(f"{self.folder}: another adaptation job of this Project object holds the "
                                   f"project; {UNFINISHED_JOB_HINT}")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.work_dir / ".job.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            if holder is not None and holder.get("pid") != os.getpid():
                raise ProjectBusyError(
                    f"{self.folder}: another job holds this project: {holder.get('job') or 'a job'} in process "
                    f"{holder.get('pid')} since {holder.get('since', '?')} (an adaptation, making a round's maps "
                    "again, freeing disk or removing images: a terminal's vessel-studio or another window); "
                    "wait until it ends, or stop it there, then try again") from None
            raise ProjectBusyError(f"{self.folder}: another adaptation job is running on this project "
                                   f"(in this process? {UNFINISHED_JOB_HINT})") from None
        self._job_fd = fd
        with contextlib.suppress(OSError):  # who holds it, for the message another process gets (best effort)
            os.ftruncate(fd, 0)
            held = {"pid": os.getpid(), "job": _job_name(), "since": now_iso()}
            if task is not None:
                held["task"] = task
            os.pwrite(fd, json.dumps(held).encode(), 0)

    def release_job_lock(self) -> None:
        if self._job_fd is not None:
            with contextlib.suppress(OSError):  # no holder named once it is free
                os.ftruncate(self._job_fd, 0)
            unlock(self._job_fd)
            self._job_fd = None

    def job_holder(self) -> str:
        """The job holding the project, as messages name it: "vessel-studio adapt (process PID, since TIME)"
        from what ``acquire_job_lock`` wrote into the lock file, "a job of this process", else "another job". Ask
        it while ``job_running()``: a killed holder's file still names it (a released lock's is emptied)."""
        holder = self._lock_record()
        if holder is None:
            return "another job"
        if holder.get("pid") == os.getpid():
            return _THIS_PROCESS
        return f"{holder.get('job') or 'a job'} (process {holder.get('pid')}, since {holder.get('since', '?')})"

    def job_task(self) -> str | None:
        """What the job holding the project took its lock for (``acquire_job_lock``'s ``task``: ``"adapt"`` for an
        adaptation, ``"restore"`` for making a round's maps again, ...), None when its lock file does not say (a lock
        taken before session 40, or none held). Session 39 QA: a mask saved while a restore held the project was
        said to be trusted by "the adaptation running there", read from an interrupted run's stale record."""
        holder = self._lock_record()
        task = holder.get("task") if holder is not None else None
        return task if isinstance(task, str) else None

    def _lock_record(self) -> dict[str, Any] | None:
        """What the job holding the lock wrote into its file (``acquire_job_lock``), None: no file or nothing read."""
        try:
            fd = os.open(self.work_dir / ".job.lock", os.O_RDONLY)
        except OSError:
            return None
        try:
            return _lock_holder(fd)
        finally:
            os.close(fd)

    def job_elsewhere(self) -> str | None:
        """``job_holder()`` when a job of another process holds the project (a terminal's ``vessel-studio adapt``,
        another window's adaptation), else None: none holds it, or one of this process does."""
        if not self.job_running():
            return None
        holder = self.job_holder()
        return None if holder == _THIS_PROCESS else holder

    def job_running(self) -> bool:
        """True when some job (in this or another process) holds the job lock."""
        return self._job_fd is not None or is_locked(self.work_dir / ".job.lock")

    def clean_stale(self) -> list[Path]:
        """Remove temp files/folders of killed writers and round folders the manifest does not name.

        Skipped while a job holds the job lock (its temp folders are live). Temp files / folders
        modified less than ``STALE_TEMP_S`` ago are kept (another process may be writing them; every
        reader ignores them). ``work/`` is kept: it is what a killed job resumes from; but not once a roll back made it
        unresumable (``discard_given_up_work``: that roll back was killed before it had deleted it).
        """
        if self.job_running():
            return []
        named = {r.folder for r in self.rounds}
        removed: list[Path] = []
        now = time.time()
        for sub in (self.folder, self.folder / "images", self.folder / "corrections", self.folder / "rounds"):
            if not sub.is_dir():
                continue
            for p in sub.iterdir():
                stale = (is_temporary_name(p.name) or (p.name.startswith(".") and ".old-" in p.name)) and _older(p, now)
                if sub.name == "rounds" and ROUND_RE.match(p.name) and f"rounds/{p.name}" not in named:
                    stale = True
                if stale:
                    _delete(p, p.is_dir())
                    removed.append(p)
        removed.extend(self._remove_temps_in_rounds(now))
        removed.extend(self._remove_orphan_copies(now))
        removed.extend(self._remove_orphan_corrections(now))
        removed.extend(self._remove_orphan_maps(now))
        from vessel_studio.store.prune import remove_leftovers

        removed.extend(remove_leftovers(self))  # maps of pruned rounds a killed prune left
        if self.discard_given_up_work():  # a roll back killed before it had deleted them
            removed.append(self.work_dir)
        self._settle_corrections()
        return removed

    def _remove_temps_in_rounds(self, now: float) -> list[Path]:
        """Temporary files and folders of killed writes inside committed round folders, once older than
        ``STALE_TEMP_S``: before session 43 a resumed job could commit a map's temporary file that a kill cut
        (``rounds/round-NNN/pseudo/.ID.<random>.tmp.tif``), where ``pseudo/*.tif`` readers take it for a map.
        (The caller skips this while a job, e.g. a restore writing a committed round's maps, holds the lock.)"""
        removed: list[Path] = []
        todo = [self.folder / r.folder for r in self.rounds]
        while todo:  # os.scandir: a Path made for the temporary names only (9 rounds of 2,000 maps: ~13 ms)
            try:
                entries = list(os.scandir(todo.pop()))
            except OSError:
                continue
            for e in entries:
                if is_temporary_name(e.name):
                    p = Path(e.path)
                    if _older(p, now):
                        _delete(p, e.is_dir(follow_symlinks=False))
                        removed.append(p)
                elif e.is_dir(follow_symlinks=False):
                    todo.append(Path(e.path))
        return removed

    def _settle_corrections(self) -> list[str]:
        """Make image states agree with the saved corrections after a writer was cut between its two
        steps: ``save_correction`` renames the mask into ``corrections/``, then marks the image
        "corrected"; ``remove_correction`` deletes the file, then marks it "predicted"/"new". A mask
        file beside a "new"/"predicted" state is a Save whose state was lost (the file is the person's
        work: it becomes "corrected", which adaptation trusts, as export already did); a "corrected"
        state without its file is a cut removal. Best effort, under the manifest lock; the ids changed."""
        def settled(has: bool, state: str, after: str) -> str:
            """The state an image with (``has``) or without a saved mask file should have."""
            if has and state in ("new", "predicted"):
                return "corrected"
            return after if not has and state == "corrected" else state

        folder = self.folder / "corrections"
        on_disk = {p.stem for p in folder.glob("*.png")} if folder.is_dir() else set()
        if all(settled(r.id in on_disk, r.state, "new") == r.state for r in self.images):
            return []
        changed: list[str] = []

        def fn(d):  # under the lock, from the files as they are now
            after = "predicted" if d["rounds"] else "new"
            for x in d["images"]:
                state = settled(self.correction_path(x["id"]).is_file(), x["state"], after)
                if state != x["state"]:
                    x["state"] = state
                    changed.append(x["id"])

        try:
            self._update(fn)
        except OSError:  # a read-only project: leave it
            return []
        if changed:
            with contextlib.suppress(OSError):
                self.log("image states settled with the saved corrections", ids=changed)
        return changed

    def _remove_orphan_copies(self, now: float) -> list[Path]:
        """Image copies that add_images renamed into ``images/`` but the manifest never named (a kill
        before its commit, or after remove_image's manifest edit). Only files named as add_images names
        its copies (``COPY_RE``) whose content hash starts with that name, older than ``STALE_TEMP_S``
        (an add in another process names its copies at its end); removed under the manifest lock after
        re-reading the manifest, so an add committing meanwhile keeps them."""
        folder = self.folder / "images"
        if not folder.is_dir():
            return []
        named = {r.file for r in self.images}
        found = []
        for p in folder.iterdir():
            m = COPY_RE.match(p.name)
            if (m is None or p.suffix != p.suffix.lower() or f"images/{p.name}" in named or p.is_symlink()
                    or not p.is_file() or not _older(p, now)):
                continue
            with contextlib.suppress(OSError):
                if sha256_file(p).startswith(m.group(1)):
                    found.append(p)
        return self._remove_unnamed(found, lambda d: {x["file"] for x in d["images"]}, lambda p: f"images/{p.name}",
                                    "unnamed image copies removed")

    def _remove_orphan_corrections(self, now: float) -> list[Path]:
        """Saved corrections of images the manifest no longer names (a kill inside :meth:`remove_images`,
        after its manifest edit), older than ``STALE_TEMP_S``; removed under the manifest lock after
        re-reading the manifest (a correction is named by its image's id, ``COPY_RE`` without a suffix)."""
        folder = self.folder / "corrections"
        if not folder.is_dir():
            return []
        ids = {r.id for r in self.images}
        found = [p for p in folder.glob("*.png") if COPY_RE.match(p.stem) and p.stem not in ids
                 and p.is_file() and not p.is_symlink() and _older(p, now)]
        return self._remove_unnamed(found, lambda d: {x["id"] for x in d["images"]}, lambda p: p.stem,
                                    "corrections of removed images deleted")

    def _remove_orphan_maps(self, now: float) -> list[Path]:
        """Source-only maps (:data:`SOURCE_ONLY_MAPS`) and FOV estimates (:data:`FOV_ESTIMATES`) of images the
        manifest no longer names, older than ``STALE_TEMP_S``: ``gui.tasks.remove_images`` deletes them after the
        store's removal, and a kill in between left them for good (session 44's kill fuzz of ``images --remove``: the
        image added again found a source-only map, which Review shows, that no segmenting since had made)."""
        ids = {r.id for r in self.images}
        found = [p for sub, ext in ((SOURCE_ONLY_MAPS, ".tif"), (FOV_ESTIMATES, ".png"))
                 if (self.folder / sub).is_dir() for p in (self.folder / sub).glob(f"*{ext}")
                 if COPY_RE.match(p.stem) and p.stem not in ids and p.is_file() and not p.is_symlink()
                 and _older(p, now)]
        return self._remove_unnamed(found, lambda d: {x["id"] for x in d["images"]}, lambda p: p.stem,
                                    "maps of removed images deleted")

    def _remove_unnamed(self, found: list[Path], named: Callable[[dict], set], key: Callable[[Path], str],
                        message: str) -> list[Path]:
        """Delete the files of ``found`` whose ``key`` the manifest, read again under its lock, does not name
        (``named(manifest)``: a writer committing meanwhile keeps them); log ``message`` with their names."""
        if not found:
            return []
        removed = []
        try:
            with self._locked():
                now_named = named(load_manifest(self.manifest_path))
                for p in found:
                    if key(p) not in now_named:
                        with contextlib.suppress(OSError):
                            p.unlink()
                            removed.append(p)
        except OSError:  # a read-only project: the lock file cannot be opened; leave them
            return []
        if removed:
            with contextlib.suppress(OSError):
                self.log(message, files=[p.name for p in removed])
        return removed

    # --- log -----------------------------------------------------------------------------

    def log(self, message: str, **fields: Any) -> None:
        """Append one JSON line to ``log.jsonl`` (single O_APPEND write + fsync).

        A line cut short by a crash is skipped by :meth:`read_log`.
        """
        entry = {"time": now_iso(), "message": message, **fields}
        line = (json.dumps(entry, default=_json_default, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.folder / "log.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_log(self) -> list[dict[str, Any]]:
        path = self.folder / "log.jsonl"
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def __repr__(self) -> str:
        return f"Project({str(self.folder)!r})"


# --- helpers -----------------------------------------------------------------------------


def _copied(value: Any) -> Any:
    """A deep copy of JSON data (the manifest or a part of it)."""
    return json.loads(json.dumps(value))


#: how ``Project.job_holder`` names a job of this process
_THIS_PROCESS = "a job of this process"


def _lock_holder(fd: int) -> dict[str, Any] | None:
    """What the job holding the lock file ``fd`` wrote into it (``acquire_job_lock``): pid, job, since."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class RolledBack(list):
    """What ``Project.rollback`` returns: the removed round indices (a list, as before), and what became of an
    interrupted adaptation's work (``Project.given_up_job``): ``gave_up``, its ``work/job.json`` record when the roll
    back made it unresumable, else None; ``work_freed``, the bytes its deleted work held (0: none deleted);
    ``work_deleted``, whether that work was deleted (it stays while a job holds the project)."""

    gave_up: dict[str, Any] | None = None
    work_freed: int = 0
    work_deleted: bool = False


def _bytes_freed(folder: Path, skip=frozenset()) -> int:
    """Allocated bytes that deleting ``folder`` (but the names in ``skip`` directly in it) frees: each inode once,
    and only those with no link outside it (a file hard-linked into a kept round frees nothing)."""
    seen: dict[tuple[int, int], list] = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if root == str(folder) and name in skip:
                continue
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            entry = seen.setdefault((st.st_dev, st.st_ino), [0, st.st_nlink, st.st_blocks * 512])
            entry[0] += 1
    return sum(size for links, nlink, size in seen.values() if links >= nlink)


def _job_name() -> str:
    """This process, as a person would recognise it: ``vessel-studio adapt`` / ``gui`` / a Python script."""
    import sys

    argv = [os.path.basename(a) for a in sys.argv[:2]]
    if argv and argv[0] in ("vessel-studio", "__main__.py") and len(argv) > 1:
        return f"vessel-studio {argv[1]}"
    return " ".join(argv) or "python"


def _default_preprocessing(modality: str) -> dict[str, Any]:
    try:
        from vessel_studio.preprocess import Preprocessing
    except ImportError:  # foundation module not present: record the modality only
        return {"modality": modality}
    return Preprocessing.for_modality(modality).to_dict()


def is_image_name(path: str | os.PathLike) -> bool:
    """Whether a file is taken as an image by its name: an extension ``read_image`` reads
    (:data:`IMAGE_SUFFIXES`), not a hidden file (``.DS_Store``, ``._scan.png`` of a Mac's copy). One rule for the
    folders :func:`expand_image_paths` lists and for what the window's drops and File > Open take."""
    p = Path(path)
    return p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def expand_image_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The image files a project would take from ``paths`` (files, or folders' image files by suffix).

    One rule for ``Project.add_images`` and for checking ``adapt --target`` before a project exists.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(
                sorted(x for x in p.iterdir() if x.is_file() and is_image_name(x))
            )
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"{p}: no such image file or folder")
    return files


#: at most this many subfolders are looked into by :func:`no_images_message` (a folder of thousands of patients' folders
#: is not walked to word an error)
SUBFOLDERS_LOOKED_AT = 200


def no_images_message(folder: str | os.PathLike, then: str | None = "nothing was added", what: str = "folder") -> str:
    """The error for a folder without image files at its top level: "FOLDER: " and :func:`no_images_reason`."""
    return f"{folder}: {no_images_reason(folder, then, what)}"


def no_images_reason(folder: str | os.PathLike, then: str | None = "nothing was added", what: str = "folder") -> str:
    """Why a folder gave no images: "WHAT holds no image files at its top level (subfolders are not searched; ...;
    THEN)", naming its subfolders that hold images, if any (a scanner's
    export of one subfolder per patient: session 43's docs audit found ``images --add``, ``adapt --target`` and
    ``segment`` saying only "folder holds no image files" for such a folder, the window saying more). One level down,
    at most ``SUBFOLDERS_LOOKED_AT`` subfolders."""
    folder = Path(folder)
    try:
        subs = sorted(x for x in folder.iterdir() if x.is_dir() and not x.name.startswith("."))
    except OSError:
        subs = []
    with_images = []
    for sub in subs[:SUBFOLDERS_LOOKED_AT]:
        try:
            if any(x.is_file() and is_image_name(x) for x in sub.iterdir()):
                with_images.append(sub)
        except OSError:
            continue
    found = ""
    if with_images:
        more = "+" if len(subs) > SUBFOLDERS_LOOKED_AT else ""
        found = (f"; {len(with_images)}{more} of its subfolders hold images: "
                 f"{shown_names([f'{x.name}/' for x in with_images])}; give those folders instead")
    tail = f"; {then}" if then else ""
    return f"{what} holds no image files at its top level (subfolders are not searched{found}{tail})"


def _probe_image(path: Path) -> tuple[tuple[int, ...], tuple[float, float] | None, bool, bool]:
    """Shape and pixel spacing (mm) of an image, whether it carries an orientation tag
    (``io.images.orientation_tagged``) and whether it is in colour (:func:`_colour`); a ValueError naming the file if
    unreadable."""
    try:
        from vessel_studio.io.images import orientation_tagged, read_image
    except ImportError:
        read_image = None
    if read_image is not None:
        arr, meta = read_image(path)
        spacing = getattr(meta, "pixel_spacing_mm", None)
        return (tuple(int(s) for s in arr.shape), (tuple(float(s) for s in spacing) if spacing else None),
                orientation_tagged(meta), _colour(arr))
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except OSError as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from exc
    return tuple(int(s) for s in arr.shape), None, False, _colour(arr)


def _copy_checked(src: Path, dest: Path, sha256: str) -> None:
    """Copy ``src`` to ``dest`` atomically; a ValueError naming ``src`` when its content is no longer
    the one hashed (``sha256``)."""
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
        if sha256_file(tmp) != sha256:
            raise ValueError(f"{src}: changed while it was being added; add it again")


def _older(path: Path, now: float) -> bool:
    """``path`` was last modified at least ``STALE_TEMP_S`` before ``now`` (False when gone)."""
    try:
        return now - path.lstat().st_mtime >= STALE_TEMP_S
    except FileNotFoundError:
        return False


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for f in files:
            try:
                fd = os.open(os.path.join(root, f), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.ndarray,)):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)
