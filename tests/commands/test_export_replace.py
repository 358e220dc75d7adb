"""Exporting over an earlier export (session 28): the new export replaces the earlier one whole, or
leaves it as it was (cancelled, failed, killed); only a folder that is an earlier export of ours is
replaced; images with unsaved drafts are recorded in export.json and said to a library caller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import vessel_studio as vs
from vessel_studio.cli import main
from vessel_studio.gui import tasks
from vessel_studio.io.images import write_prob
from vessel_studio.samples import write_sample_project
from vessel_studio.store import Project

ROOT = Path(vs.__file__).resolve().parents[1]  # the package under test, for the killed process


@pytest.fixture
def proj(tmp_path):
    """Three images, each with a source-only map; the first one corrected."""
    write_sample_project(tmp_path / "p", n=3, modality="fundus", shape=(64, 64), seed=0)
    proj = Project.open(tmp_path / "p")
    rng = np.random.default_rng(0)
    for rec in proj.images:
        write_prob(tasks.source_only_path(proj, rec.id), rng.uniform(0, 1, (64, 64)).astype(np.float32))
    proj.save_correction(proj.images[0].id, rng.uniform(0, 1, (64, 64)) > 0.8)
    return proj


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_an_export_over_an_earlier_one_keeps_nothing_of_it(proj, tmp_path):
    """Written file by file over it, an export left the earlier one's other files: masks of images since
    removed, PNGs beside the new TIFFs, probabilities/ and calibration.json not asked for now."""
    out = tmp_path / "export"
    vs.run(vs.export(proj, out, calibrate=True))
    assert {"calibration.json", "probabilities"} <= {p.name for p in out.iterdir()}
    gone = proj.images[2]
    proj.remove_image(gone.id)
    vs.run(vs.export(proj, out, masks="tif", probs=False))
    names = [rec.name for rec in proj.images]
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "masks", "measures.csv"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == sorted(f"{n}.tif" for n in names)
    assert json.loads((out / "export.json").read_text())["calibration"] is None
    assert hidden(tmp_path) == []  # no working folder left beside it


def test_a_cancelled_or_failed_export_leaves_the_earlier_one_as_it_was(proj, tmp_path, monkeypatch):
    out = tmp_path / "export"
    vs.run(vs.export(proj, out))
    before = tree(out)
    job = vs.export(proj, out, masks="tif", probs=False)
    for i, _ in enumerate(job):
        if i == 3:  # two images' files written
            break
    job.close()
    assert tree(out) == before and hidden(tmp_path) == []

    def full(*a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(tasks, "measure_image", full)
    with pytest.raises(OSError, match="disk full"):
        vs.run(vs.export(proj, out, masks="tif"))
    assert tree(out) == before and hidden(tmp_path) == []
    job = vs.export(proj, tmp_path / "new")  # a cancelled export into a new folder leaves no folder
    next(job)
    job.close()
    assert not (tmp_path / "new").exists() and hidden(tmp_path) == []


KILLED = """
import os, signal, sys
from vessel_studio.gui import tasks
from vessel_studio.io import folders
from vessel_studio.store import Project

proj, out, when = Project.open(sys.argv[1]), sys.argv[2], sys.argv[3]
if when == "between-renames":  # after the earlier export was moved aside, before the new one is in
    real = os.rename
    def rename(src, dst):
        if str(dst) == os.path.realpath(out) and ".export-partial-" in str(src):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)
    folders.os.rename = rename
for i, _ in enumerate(tasks.export(proj, out, masks="tif", probs=False)):
    if when == "while-writing" and i == 2:
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
@pytest.mark.parametrize("when", ["while-writing", "between-renames"])
def test_a_killed_export_leaves_the_earlier_one_for_the_next(proj, tmp_path, when):
    """kill -9 while the export writes, or between its two renames: the earlier export is found (put back
    by the next export's check), and the next export removes the killed one's working folders."""
    out = tmp_path / "export"
    vs.run(vs.export(proj, out))
    before = tree(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED), str(proj.folder), str(out), when],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert any(".export-partial-" in n for n in hidden(tmp_path))  # the killed one's leftovers
    if when == "between-renames":
        assert not out.exists() and any(".export-old-" in n for n in hidden(tmp_path))
    assert tasks.check_export(proj, out) == out  # the earlier export, put back where it was aside
    assert tree(out) == before
    vs.run(vs.export(proj, out, masks="tif", probs=False))
    assert hidden(tmp_path) == [] and sorted(p.name for p in out.iterdir()) == ["export.json", "masks", "measures.csv"]


def test_a_folder_that_cannot_be_renamed_gets_the_export_moved_in(proj, tmp_path, monkeypatch):
    """The fallback (a mount point, a folder held open): the earlier export's entries are deleted and the
    new ones moved in; the current directory is never renamed (a shell in it would be left in a deleted
    folder)."""
    import errno

    from vessel_studio.io import folders

    out = tmp_path / "export"
    vs.run(vs.export(proj, out, calibrate=True))
    real = os.rename

    def busy(src, dst):
        if Path(src) == out:
            raise OSError(errno.EBUSY, "Device or resource busy", str(src))
        return real(src, dst)

    monkeypatch.setattr(folders.os, "rename", busy)
    vs.run(vs.export(proj, out, masks="tif", probs=False))
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "masks", "measures.csv"]
    assert all(p.suffix == ".tif" for p in (out / "masks").iterdir()) and hidden(tmp_path) == []
    monkeypatch.undo()

    vs.run(vs.export(proj, out, calibrate=True))
    inode = out.stat().st_ino
    monkeypatch.chdir(out)
    vs.run(vs.export(proj, ".", masks="tif", probs=False))
    assert Path.cwd().stat().st_ino == inode == out.stat().st_ino  # the folder the shell is in is the export
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "masks", "measures.csv"]
    assert all(p.suffix == ".tif" for p in (out / "masks").iterdir()) and hidden(tmp_path) == []
    job = vs.export(proj, ".", probs=True)  # cancelled: staged inside, removed, the export as it was
    before = tree(out)
    next(job)
    assert any(n.startswith(".export-partial-") for n in hidden(out))
    job.close()
    assert tree(out) == before and hidden(out) == []


def test_a_link_to_an_earlier_export_stays_a_link(proj, tmp_path):
    real = tmp_path / "disk" / "export"
    vs.run(vs.export(proj, real))
    link = tmp_path / "export"
    link.symlink_to(real)
    vs.run(vs.export(proj, link, probs=False))
    assert link.is_symlink() and sorted(p.name for p in real.iterdir()) == ["export.json", "masks", "measures.csv"]
    assert hidden(tmp_path) == [] and hidden(real.parent) == []


@pytest.mark.parametrize("held", [["masks"], ["probabilities"], ["masks", "export.json"]])
def test_a_folder_of_masks_is_not_an_earlier_export(proj, tmp_path, held, capsys):
    """A lab's own masks/ folder (or probabilities/, or an export.json not ours) passed for an earlier
    export, which the export now replaces whole: it is refused, its contents named, nothing changed."""
    lab = tmp_path / "lab"
    for name in held:
        if name == "export.json":
            (lab / name).write_text('{"scanner": "ours"}')
        else:
            (lab / name).mkdir(parents=True)
            (lab / name / "scan1.png").write_bytes(b"the lab's mask")
    before = tree(lab)
    with pytest.raises(ValueError, match=rf"holds {held[0]}.* so it is not an earlier export|not an earlier export "
                                         r"\(export.json\)"):
        tasks.check_export(proj, lab)
    with pytest.raises(ValueError, match="not an earlier export"):
        vs.run(vs.export(proj, lab))
    assert main(["export", str(proj.folder), "--out", str(lab)]) != 0
    assert str(lab) in capsys.readouterr().err
    assert tree(lab) == before


def test_an_earlier_export_is_one_by_its_record_or_its_table(proj, tmp_path):
    out = vs.run(vs.export(proj, tmp_path / "a", table=False))  # export.json alone marks it
    assert tasks.check_export(proj, out) == out
    out = vs.run(vs.export(proj, tmp_path / "b"))
    (out / "export.json").unlink()  # an export made before export.json was written: its measures.csv
    assert tasks.check_export(proj, out) == out
    (out / ".export-partial-999999999-dead").mkdir()  # a killed fallback export's working folder
    assert tasks.check_export(proj, out) == out
    vs.run(vs.export(proj, out))
    assert hidden(out) == []


def test_unsaved_drafts_are_recorded_and_said_once(proj, tmp_path, capsys):
    """A library caller was not told that images with unsaved edits were exported from their saved mask
    or prediction, and the export's record did not say so."""
    b = proj.images[1]
    tasks.write_draft(proj, b.id, np.ones((64, 64), bool))
    with pytest.warns(UserWarning, match=f"unsaved edits of 1 image.*{b.name}"):
        out = vs.run(vs.export(proj, tmp_path / "lib"))
    assert json.loads((out / "export.json").read_text())["unsaved_drafts"] == [b.name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["export", str(proj.folder), "--out", str(tmp_path / "cli")]) == 0
    assert not [w for w in caught if "unsaved" in str(w.message)]  # the command says it on stderr, once
    assert capsys.readouterr().err.count("unsaved edits") == 1
    assert json.loads((tmp_path / "cli" / "export.json").read_text())["unsaved_drafts"] == [b.name]
    tasks.drop_draft(proj, b.id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = vs.run(vs.export(proj, out))
    assert json.loads((out / "export.json").read_text())["unsaved_drafts"] == []


@pytest.mark.parametrize("sub", ["", "corrections", "rounds", "gui", "gui/drafts", "images/new"])
def test_the_projects_own_folders_are_refused(proj, sub):
    """Session 28 QA: the project's corrections/ (empty until a Save) or rounds/ (empty before an
    adaptation) passed for an empty folder, and the export took its place (renamed aside and deleted): a
    correction the Review panel saved meanwhile went with it, and the store's folder held an export."""
    proj.remove_correction(proj.images[0].id)
    for name in ("corrections", "rounds", "gui/drafts"):
        (proj.folder / name).mkdir(parents=True, exist_ok=True)
        assert not any((proj.folder / name).iterdir())
    before = tree(proj.folder)
    out = proj.folder / sub
    with pytest.raises(ValueError, match="project's own"):
        tasks.check_export(proj, out)
    with pytest.raises(ValueError, match="project's own"):
        vs.run(vs.export(proj, out))
    assert tree(proj.folder) == before and not (proj.folder / "images" / "new").exists()


def test_a_new_folder_in_the_project_is_allowed(proj):
    vs.run(vs.export(proj, proj.folder / "export"))
    assert (proj.folder / "export" / "export.json").is_file()


def test_a_read_only_export_folder_is_refused_before_the_work(proj, tmp_path, monkeypatch, capsys):
    """Session 28 QA: an earlier export on a read-only mount (its parent writable) was written in full beside
    it, and the swap then failed deleting its files ("Read-only file system: 'sample-02.png'", no folder
    named); a folder the user made read-only was renamed aside and replaced, its undeletable copy left
    hidden beside it. The folder is probed first, as the other commands' --out are (check_writable):
    refused as tempfile would be by the operating system (root ignores chmod)."""
    import errno
    import tempfile

    out = tmp_path / "export"
    vs.run(vs.export(proj, out))
    before = tree(out)
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kw):
        if dir is not None and Path(dir).resolve() == out.resolve():
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(ValueError, match="cannot be written"):
        tasks.check_export(proj, out)
    read = []
    monkeypatch.setattr(tasks, "probability", lambda *a, **kw: read.append(a) or None)
    with pytest.raises(ValueError, match="cannot be written"):
        vs.run(vs.export(proj, out))
    assert main(["export", str(proj.folder), "--out", str(out)]) == 2
    assert f"{out}: --out cannot be written" in capsys.readouterr().err
    assert read == [] and tree(out) == before and hidden(tmp_path) == []


KILLED_PROBING = """
import os, signal, sys
from vessel_studio.gui import tasks
from vessel_studio.io import folders
from vessel_studio.store import Project

real = os.unlink
def unlink(path, *args, **kwargs):  # kill -9 after the folder's write probe was made, before it is removed
    if ".vessel-studio-probe." in str(path):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, *args, **kwargs)
folders.os.unlink = unlink
for _ in tasks.export(Project.open(sys.argv[1]), sys.argv[2]):
    pass
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_a_write_probe_a_killed_export_left_goes_with_the_next_one(proj, tmp_path):
    """Session 43's kill fuzz: ``export`` (and every command's ``--out``) probes the folder it writes in first
    (``io.folders.check_writable``: a temporary file made and removed); killed in between, the empty hidden
    ``.vessel-studio-probe.<random>`` stayed beside the lab's export for good. The next probe of that folder removes
    those a killed one left (old enough not to be another process's live probe, as the other leftovers)."""
    import time

    from vessel_studio.io.atomic import STALE_DIR_S

    out = tmp_path / "export"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_PROBING), str(proj.folder), str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    left = [n for n in hidden(tmp_path) if n.startswith(".vessel-studio-probe.")]
    assert len(left) == 1 and not out.exists()
    old = time.time() - STALE_DIR_S - 1
    os.utime(tmp_path / left[0], (old, old))
    fresh = tmp_path / ".vessel-studio-probe.live1234"  # another process's probe, made a moment ago: kept
    fresh.touch()
    vs.run(vs.export(proj, out))
    assert hidden(tmp_path) == [fresh.name] and (out / "export.json").is_file()
