"""``vessel-studio images PROJECT [--remove IMAGE ...]``: the project's images, and taking some out
(session 28: an image added by mistake could not be removed, from the command line or the GUI)."""

import numpy as np

from vessel_studio.cli import main
from vessel_studio.gui import tasks
from vessel_studio.samples import write_sample_project
from vessel_studio.store import Project


def _project(tmp_path):
    write_sample_project(tmp_path / "p", n=3, modality="fundus", shape=(32, 40), seed=0)
    return Project.open(tmp_path / "p")


def test_list_then_remove_by_name_and_id(tmp_path, capsys):
    proj = _project(tmp_path)
    a, b, c = proj.images
    proj.save_correction(a.id, np.ones((32, 40), bool))
    tasks.draft_path(proj, b.id).parent.mkdir(parents=True, exist_ok=True)
    tasks.draft_path(proj, b.id).write_bytes(b"draft")
    assert main(["images", str(proj.folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"3 image(s) in {proj.folder}")
    assert f"{a.name}  {a.id}  corrected  40x32  spacing unknown  (saved correction)" in out and "(unsaved edits)" in out
    fov = tasks.gui_dir(proj) / tasks.FOV_CACHE / f"{b.id}.png"
    assert tasks.cached_fov(proj, b.id) is not None and fov.is_file()
    assert main(["images", str(proj.folder), "--remove", a.name, b.id, "--force"]) == 0
    out = capsys.readouterr().out
    assert f"removed 2 image(s)" in out and f"their saved corrections deleted: {a.name}" in out
    fresh = Project.open(proj.folder)
    assert [r.id for r in fresh.images] == [c.id]
    assert not tasks.draft_path(proj, b.id).exists() and not fov.exists() and not proj.correction_path(a.id).exists()


def test_an_unknown_or_shared_name_removes_nothing(tmp_path, capsys, rename_image):
    proj = _project(tmp_path)
    a, b, _c = proj.images
    rename_image(proj, b.id, a.name)
    assert main(["images", str(proj.folder), "--remove", "nope"]) == 2
    assert "no image named 'nope'" in capsys.readouterr().err
    assert main(["images", str(proj.folder), "--remove", b.id, a.name]) == 2
    err = capsys.readouterr().err
    assert f"2 images are named {a.name!r}" in err and a.id in err and b.id in err
    assert len(Project.open(proj.folder).images) == 3  # checked before anything was removed


def test_removing_is_refused_while_a_job_holds_the_project(tmp_path, capsys):
    proj = _project(tmp_path)
    proj.acquire_job_lock()
    try:
        assert main(["images", str(proj.folder), "--remove", proj.images[0].id]) == 2
    finally:
        proj.release_job_lock()
    assert "holds this project; remove images after it ends" in capsys.readouterr().err and len(Project.open(proj.folder).images) == 3


def test_a_project_on_a_read_only_file_system_is_one_line(tmp_path, capsys, monkeypatch):
    """Session 28 QA: ``images --remove`` on a project on a read-only mount (a snapshot, a share mounted
    read-only) ended in a traceback: EROFS is an OSError but not a PermissionError (which a read-only
    folder of a non-root user gives), so the CLI's one-line errors let it through."""
    import errno
    import os

    proj = _project(tmp_path)

    def read_only(self, *_task):
        path = self.work_dir / ".job.lock"
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(Project, "acquire_job_lock", read_only)
    assert main(["images", str(proj.folder), "--remove", proj.images[0].id]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vessel-studio images: error: ") and "Read-only file system" in err
    assert "Traceback" not in err and ".job.lock" in err and len(Project.open(proj.folder).images) == 3


def test_a_removal_cut_short_leaves_no_unsaved_edits_for_the_image_added_again(tmp_path):
    """Session 28 QA: the autosaved edits were deleted after the store's removal, so a kill inside it left
    them: the same file added again (its id back) showed them as its unsaved edits, which the removal had
    said were deleted. They go first now (after the checks that may refuse the removal)."""
    import pytest

    from vessel_studio.store.project import ProjectBusyError

    proj = _project(tmp_path)
    a, b, _c = proj.images
    for rec in (a, b):
        tasks.write_draft(proj, rec.id, np.ones((32, 40), bool))
    proj.acquire_job_lock()  # refused: nothing deleted, drafts included
    try:
        with pytest.raises(ProjectBusyError):
            tasks.remove_images(Project.open(proj.folder), [a.id])
    finally:
        proj.release_job_lock()
    assert tasks.draft_ids(proj) == [a.id, b.id]
    kind = type(proj.folder)  # PosixPath: the class whose unlink is called
    real_unlink = kind.unlink

    def killed(self, *args, **kwargs):
        if self.parent.name == "images":
            raise KeyboardInterrupt  # the process dies in the store's removal, after its manifest edit
        return real_unlink(self, *args, **kwargs)

    kind.unlink = killed
    try:
        with pytest.raises(KeyboardInterrupt):
            tasks.remove_images(proj, [a.id])
    finally:
        kind.unlink = real_unlink
    proj.release_job_lock()
    fresh = Project.open(proj.folder)
    assert a.id not in [r.id for r in fresh.images]
    assert [r.id for r in fresh.add_images([a.origin])] == [a.id]
    assert tasks.draft_ids(fresh) == [b.id] and fresh.correction(a.id) is None


def test_add_images_headless(tmp_path, capsys):
    """Session 28: a headless lab adds scans without running an adaptation (``adapt --target`` adapts too)."""
    from vessel_studio.samples import write_sample_images

    proj = _project(tmp_path)
    more = write_sample_images(tmp_path / "more", n=2, modality="fundus", seed=9, shape=(32, 40))
    assert main(["images", str(proj.folder), "--add", str(more.folder / "images")]) == 0
    assert "added 2 image(s)" in capsys.readouterr().out and len(Project.open(proj.folder).images) == 5
    assert main(["images", str(proj.folder), "--add", str(more.folder / "images")]) == 0  # again: skipped
    assert "added 0 image(s)" in capsys.readouterr().out and len(Project.open(proj.folder).images) == 5
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    assert main(["images", str(proj.folder), "--add", str(tmp_path / "bad.png")]) == 2
    assert "bad.png" in capsys.readouterr().err and len(Project.open(proj.folder).images) == 5
    assert main(["images", str(proj.folder), "--add", str(tmp_path), "--remove", "x"]) == 2


def test_adding_a_folder_without_images_is_an_error_naming_it(tmp_path, capsys):
    """Session 32 QA: ``--add FOLDER`` of a folder with no image files (a wrong folder, notes only) said
    'added 0 image(s) ... (an image already in it is skipped)' and exit 0, as if they were in already."""
    from vessel_studio.samples import write_sample_images

    proj = _project(tmp_path)
    more = write_sample_images(tmp_path / "more", n=1, modality="fundus", seed=9, shape=(32, 40))
    empty = tmp_path / "no images"
    empty.mkdir()
    (empty / "notes.txt").write_text("scanner B")
    assert main(["images", str(proj.folder), "--add", str(more.folder / "images"), str(empty)]) == 2
    assert capsys.readouterr().err == (f"vessel-studio images: error: {empty}: folder holds no image files at its "
                                       "top level (subfolders are not searched; nothing was added)\n")


def test_adding_a_folder_of_patient_folders_names_those_holding_images(tmp_path, capsys):
    """A scanner's export of one subfolder per patient: ``--add EXPORT`` said only "folder holds no image files" (the
    window said that subfolders are not searched); both now name the subfolders that hold images (session 43)."""
    from vessel_studio.samples import write_sample_images

    proj = _project(tmp_path)
    export = tmp_path / "export"
    for name in ("p2", "p1"):
        write_sample_images(export / name, n=1, modality="fundus", seed=9, shape=(32, 40))
    (export / "p0-notes").mkdir()
    assert main(["images", str(proj.folder), "--add", str(export)]) == 2
    err = capsys.readouterr().err
    assert (f"{export}: folder holds no image files at its top level (subfolders are not searched; 0 of its"
            not in err)
    # write_sample_images puts the images in p1/images: one level down is all that is looked at
    assert err == (f"vessel-studio images: error: {export}: folder holds no image files at its top level (subfolders "
                   "are not searched; nothing was added)\n")
    for name in ("p2", "p1"):
        for f in (export / name / "images").iterdir():
            f.rename(export / name / f.name)
    assert main(["images", str(proj.folder), "--add", str(export)]) == 2
    assert capsys.readouterr().err == (
        f"vessel-studio images: error: {export}: folder holds no image files at its top level (subfolders are not "
        "searched; 2 of its subfolders hold images: p1/, p2/; give those folders instead; nothing was added)\n")
    assert len(Project.open(proj.folder).images) == 3
    assert len(Project.open(proj.folder).images) == 3


def test_images_holding_a_persons_work_are_removed_only_with_force(tmp_path, capsys):
    """A saved correction (a person's hand work, a trusted label) or unsaved edits a window autosaved are not
    deleted by ``--remove`` alone: the command names them and changes nothing; ``--force`` deletes them with the
    images and says so. The Project panel asks before the same removal; before session 32 this command
    deleted that work at once and said so afterwards."""
    proj = _project(tmp_path)
    a, b, c = proj.images
    proj.save_correction(a.id, np.ones((32, 40), bool))
    tasks.write_draft(proj, b.id, np.ones((32, 40), bool))
    manifest = proj.manifest_path.read_bytes()
    for names in ([a.name], [b.id, c.name], [c.name, a.id, b.name]):
        assert main(["images", str(proj.folder), "--remove", *names]) == 2
        err = capsys.readouterr().err
        assert "Nothing was removed" in err and "--force" in err
    assert f"{a.name} ({a.id}: saved correction); {b.name} ({b.id}: unsaved edits)" in err
    assert proj.manifest_path.read_bytes() == manifest
    assert proj.correction_path(a.id).is_file() and tasks.draft_path(proj, b.id).is_file()
    assert main(["images", str(proj.folder), "--remove", c.name]) == 0  # no one's work: no --force needed
    assert main(["images", str(proj.folder), "--remove", a.name, b.name, "--force"]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert out.endswith(f"their saved corrections deleted: {a.name}; their unsaved edits deleted: {b.name}")
    assert Project.open(proj.folder).images == []
    assert not proj.correction_path(a.id).exists() and not tasks.draft_path(proj, b.id).exists()
    assert main(["images", str(proj.folder), "--force"]) == 2
    assert "--force goes with --remove" in capsys.readouterr().err


def test_set_and_clear_the_pixel_spacing(tmp_path, capsys):
    """Session 47: a lab sets its scanner's pixel spacing once (OCTA-500's PNG scans record none); the listing says
    each image's spacing and where it comes from."""
    proj = _project(tmp_path)
    a, b, c = proj.images
    assert main(["images", str(proj.folder)]) == 0
    assert f"{a.name}  {a.id}  new  40x32  spacing unknown" in capsys.readouterr().out
    assert main(["images", str(proj.folder), "--set-spacing", "3/304"]) == 0  # all images
    out = capsys.readouterr().out
    assert out.startswith(f"pixel spacing set to 9.868 µm/px (set) for 3 image(s) of {proj.folder}")
    assert all(r.pixel_spacing == (3 / 304, 3 / 304) for r in Project.open(proj.folder).images)
    assert main(["images", str(proj.folder), "--set-spacing", "0.02,0.01", b.name, c.id]) == 0  # named ones
    assert main(["images", str(proj.folder), "--clear-spacing", a.name]) == 0
    capsys.readouterr()
    assert main(["images", str(proj.folder)]) == 0
    out = capsys.readouterr().out
    assert f"{a.name}  {a.id}  new  40x32  spacing unknown" in out
    assert f"{b.name}  {b.id}  new  40x32  20.000 x 10.000 µm/px (height x width, set)" in out
    assert main(["images", str(proj.folder), "--clear-spacing"]) == 0
    assert all(r.pixel_spacing is None for r in Project.open(proj.folder).images)


def test_a_bad_spacing_or_name_sets_nothing(tmp_path, capsys):
    proj = _project(tmp_path)
    before = proj.manifest_path.read_bytes()
    for args, said in ((["--set-spacing", "0"], "pixel spacing must be a positive number of mm per pixel"),
                       (["--set-spacing", "abc"], "got 'abc'"),
                       (["--set-spacing", "0.01", "nope"], "no image named 'nope'"),
                       (["--clear-spacing", "nope"], "no image named 'nope'"),
                       (["--set-spacing", "0.01", "--remove", proj.images[0].id], "--remove and --set-spacing: one at a time")):
        assert main(["images", str(proj.folder), *args]) == 2
        assert said in capsys.readouterr().err
    assert proj.manifest_path.read_bytes() == before


def test_a_name_copied_from_a_mac_is_found_as_typed(tmp_path, capsys):
    """Session 49 QA: a scan copied from a Mac is named in decomposed Unicode ("Mu" + U+0308 "ller"), which the list
    prints as the "Müller" a person types; ``--remove Müller`` (composed) said "no image named 'Müller'". A name
    matches in either form now; where two images bear the two forms, each is found by its own."""
    import unicodedata

    from vessel_studio.io import write_mask

    proj = _project(tmp_path)
    nfd, nfc = unicodedata.normalize("NFD", "Müller é"), "Müller é"
    assert nfd != nfc and len(nfd) == len(nfc) + 2
    rng = np.random.default_rng(1)
    scans = tmp_path / "from a Mac"
    write_mask(scans / f"{nfd}.png", rng.uniform(size=(32, 40)) > 0.5)
    assert main(["images", str(proj.folder), "--add", str(scans / f"{nfd}.png")]) == 0
    added = next(r for r in Project.open(proj.folder).images if r.name == nfd)
    capsys.readouterr()

    assert main(["images", str(proj.folder), "--set-spacing", "0.01", nfc]) == 0
    assert Project.open(proj.folder).image(added.id).pixel_spacing == (0.01, 0.01)
    assert main(["images", str(proj.folder), "--remove", nfc]) == 0
    assert f"removed 1 image(s)" in capsys.readouterr().out
    assert added.id not in [r.id for r in Project.open(proj.folder).images]

    # both forms in one project: each is its own image's name, as typed
    write_mask(scans / f"{nfc}.png", rng.uniform(size=(32, 40)) > 0.5)
    assert main(["images", str(proj.folder), "--add", str(scans)]) == 0
    by_name = {r.name: r.id for r in Project.open(proj.folder).images}
    assert nfd in by_name and nfc in by_name
    assert tasks.find_images(Project.open(proj.folder), [nfc, nfd]) == [by_name[nfc], by_name[nfd]]
