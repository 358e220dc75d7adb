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


def _write(folder, n, *, rgb):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
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


def test_colour_photographs_or_an_octa_project_say_nothing(tmp_path):
    fundus = Project.create(tmp_path / "f", modality="fundus")
    assert fundus.add_images([_write(tmp_path / "rgb", 1, rgb=True)]).modality_note is None
    # each add is judged by its own new images: a colour one among gray ones, not all of them look like OCT-A
    mixed = fundus.add_images([_write(tmp_path / "rgb2", 2, rgb=True) / "scan1.png", _write(tmp_path / "gray", 1,
                                                                                           rgb=False)])
    assert len(mixed) == 2 and mixed.modality_note is None
    octa = Project.create(tmp_path / "o", modality="octa")
    assert octa.add_images([tmp_path / "gray"]).modality_note is None
    assert octa.add_images([tmp_path / "rgb"]).modality_note is None


def test_the_commands_warn(tmp_path, capsys):
    gray = _write(tmp_path / "gray", 1, rgb=False)
    Project.create(tmp_path / "p", modality="fundus")
    assert main(["images", str(tmp_path / "p"), "--add", str(gray)]) == 0
    assert "warning: 1 image is gray (one channel), as OCT-A scans are, but this is a fundus project" in (
        capsys.readouterr().err)
