"""Files dropped on the Project panel (session 28 QA: a file manager's "select all" dropped with the
scans refused the whole add for ``Thumbs.db``)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_dropped_files_that_are_not_images_are_left_out_and_named(studio, qtbot, tmp_path):
    from vessel_studio.samples import write_sample_images

    panel = studio.panels["Project"]
    new = write_sample_images(tmp_path / "more", n=2, modality="fundus", seed=7, shape=(64, 64))
    scans = sorted((new.folder / "images").iterdir())
    junk = [tmp_path / "more" / "Thumbs.db", tmp_path / "more" / ".DS_Store", tmp_path / "more" / "notes.txt"]
    for p in junk:
        p.write_bytes(b"not an image")
    said = []
    studio.status.connect(said.append)
    before = len(studio.project.images)
    with qtbot.waitSignal(studio.io_runner.finished, timeout=30000) as done:
        assert panel.dropped([str(p) for p in [*scans, *junk]]) is True
    assert done.args[0].status == "done", done.args[0].error
    assert len(studio.project.images) == before + 2
    assert "left out 3 dropped file(s) that are not images: Thumbs.db, .DS_Store, notes.txt" in said
    said.clear()
    assert panel.dropped([str(junk[0])]) is False and not studio.io_runner.running  # nothing left to add
    assert said == ["left out 1 dropped file(s) that are not images: Thumbs.db"]


def test_a_dropped_project_folder_is_opened(studio, tmp_path):
    from vessel_studio.samples import write_sample_project

    write_sample_project(tmp_path / "other", n=1, modality="octa", shape=(32, 32), seed=0)
    assert studio.panels["Project"].dropped([str(tmp_path / "other")]) is True
    assert studio.project.folder == (tmp_path / "other").resolve() or studio.project.folder == tmp_path / "other"


def test_adding_images_with_an_orientation_tag_says_so(studio, said, qtbot, tmp_path):
    """The window's Add images… said nothing of files whose EXIF orientation tag turns them (session 34 leftover:
    only `segment` did); its status line names them now (``Project.add_images``' note), once per add."""
    from PIL import Image

    rng = np.random.default_rng(4)
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, tag in (("a", 6), ("b", None), ("c", 8)):
        im = Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
        exif = im.getexif()
        if tag is not None:
            exif[0x0112] = tag
        im.save(folder / f"{name}.jpg", quality=95, exif=exif.tobytes())
    assert studio.add_images([folder])
    qtbot.waitUntil(lambda: any(s.startswith("added ") for s in said), timeout=10000)
    (line,) = [s for s in said if s.startswith("added ")]
    assert line.startswith("added 3 image(s); 2 images carry an orientation tag (not applied; masks are on the "
                           "stored grid") and line.endswith(": a.jpg, c.jpg")
