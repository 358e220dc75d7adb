"""Gray scans added to a fundus project are named (session 40 QA, an OCT-A lab in the window).

"New project…" offers fundus first: a lab that pressed OK on it with OCT-A scans got a fundus project, which prepares
the scans as photographs (vessels dark on bright) and does not re-normalise by default; nothing said so, and the
bundled model then drew almost nothing (8 OCTA-500 test scans: mean Dice 0.002 with ``segment --modality fundus``,
0.130 with ``--modality octa``). The modality of a project cannot be changed: the note says to make a new one."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vessel_studio.cli import main
from vessel_studio.store import Project


def _write(folder, n, *, rgb, seed=3):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shape = (40, 40, 3) if rgb else (40, 40)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"scan{i}.png")
    return folder


def test_gray_scans_added_to_a_fundus_project_are_named(tmp_path):
    proj = Project.create(tmp_path / "p", modality="fundus")
    added = proj.add_images([_write(tmp_path / "gray", 2, rgb=False)])
    assert len(added) == 2
    assert added.modality_note == ("all 2 images are gray (one channel), as OCT-A scans are, but this is a fundus "
                                   "project, which takes vessels as dark on a bright photograph: if they are OCT-A "
                                   "scans, make a new project of modality octa for them")


def test_colour_photographs_in_a_fundus_project_or_gray_scans_in_an_octa_project_say_nothing(tmp_path):
    fundus = Project.create(tmp_path / "f", modality="fundus")
    assert fundus.add_images([_write(tmp_path / "rgb", 1, rgb=True)]).modality_note is None
    # each add is judged by its own new images: a colour one among gray ones, not all of them look like OCT-A
    mixed = fundus.add_images([_write(tmp_path / "rgb2", 2, rgb=True) / "scan1.png", _write(tmp_path / "gray", 1,
                                                                                           rgb=False)])
    assert len(mixed) == 2 and mixed.modality_note is None
    octa = Project.create(tmp_path / "o", modality="octa")
    assert octa.add_images([tmp_path / "gray"]).modality_note is None
    # a gray scan saved as RGB (three equal channels, some exports do) is not in colour
    (tmp_path / "gray-rgb").mkdir()
    gray = np.asarray(Image.open(tmp_path / "gray" / "scan0.png"))
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "gray-rgb" / "scan.png")
    Image.fromarray(np.dstack([gray] * 3 + [np.full_like(gray, 255)])).save(tmp_path / "gray-rgb" / "scan-a.png")
    assert octa.add_images([tmp_path / "gray-rgb"]).modality_note is None
    # a colour photograph among gray scans: not all of them look like fundus photographs
    mixed = octa.add_images([tmp_path / "rgb", _write(tmp_path / "gray3", 1, rgb=False, seed=4)])
    assert len(mixed) == 2 and mixed.modality_note is None


def test_colour_photographs_added_to_an_octa_project_are_named(tmp_path):
    """Session 41 QA: a DRIVE folder added to an OCT-A project in the window, without a word; an OCT-A project takes
    vessels as bright on a dark scan (the bundled model on DRIVE's 20 test photographs: mean Dice 0.813 prepared as
    fundus, 0.057 as OCT-A)."""
    octa = Project.create(tmp_path / "o", modality="octa")
    added = octa.add_images([_write(tmp_path / "rgb", 2, rgb=True)])
    assert len(added) == 2
    assert added.modality_note == ("all 2 images are in colour, as fundus photographs are, but this is an OCT-A "
                                   "project, which takes vessels as bright on a dark scan: if they are fundus "
                                   "photographs, make a new project of modality fundus for them")
    one = octa.add_images([_write(tmp_path / "rgb1", 1, rgb=True, seed=4)])
    assert len(one) == 1 and one.modality_note.startswith("1 image is in colour, as fundus photographs are")


def test_the_commands_warn(tmp_path, capsys):
    gray = _write(tmp_path / "gray", 1, rgb=False)
    Project.create(tmp_path / "p", modality="fundus")
    assert main(["images", str(tmp_path / "p"), "--add", str(gray)]) == 0
    assert "warning: 1 image is gray (one channel), as OCT-A scans are, but this is a fundus project" in (
        capsys.readouterr().err)
