"""Adding a folder takes every image file read_image reads (session 34 formats QA: `images --add DIR` and
`adapt --target DIR` silently left out a folder's .pnm / .jpe / .pbm / .dicom / .dic images, which `segment DIR`
segmented and which `images --add FILE` added one by one)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from vessel_studio.io.images import IMAGE_EXTENSIONS
from vessel_studio.store import Project
from vessel_studio.store.project import IMAGE_SUFFIXES, expand_image_paths


def test_folder_add_takes_every_readable_extension(tmp_path):
    src = tmp_path / "scans"
    src.mkdir()
    rng = np.random.default_rng(1)
    for i, (name, fmt) in enumerate([("a.pnm", "PPM"), ("b.jpe", "JPEG"), ("c.png", "PNG"), ("d.JPE", "JPEG")]):
        Image.fromarray(rng.integers(0, 256, (24, 20 + i, 3), dtype=np.uint8)).save(src / name, format=fmt)
    assert [p.name for p in expand_image_paths([src])] == ["a.pnm", "b.jpe", "c.png", "d.JPE"]
    proj = Project.create(tmp_path / "proj", modality="fundus")
    added = proj.add_images([src])
    assert sorted(r.name for r in added) == ["a", "b", "c", "d"]


def test_one_list_of_extensions():
    assert set(IMAGE_SUFFIXES) == set(IMAGE_EXTENSIONS)
    yaml = (Path(__file__).resolve().parents[2] / "vessel_studio" / "gui" / "napari.yaml").read_text()
    patterns = re.search(r"filename_patterns: \[(.*?)\]", yaml).group(1)
    assert {p.strip().strip('"')[1:] for p in patterns.split(",")} == set(IMAGE_EXTENSIONS)


def test_a_folder_without_images_at_its_top_level_is_named(tmp_path):
    """A scanner's export folder of one subfolder per patient: the window's Add folder… (or a drop) said "added 0
    image(s)" (session 40 QA); the add now fails naming the folder, and nothing is added (the scan beside it neither)."""
    import pytest

    (tmp_path / "export" / "patient-1").mkdir(parents=True)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "export" / "patient-1" / "scan.png")
    Image.fromarray(np.ones((40, 40), np.uint8)).save(tmp_path / "scan.png")
    proj = Project.create(tmp_path / "p", modality="octa")
    (tmp_path / "export" / "notes").mkdir()  # a subfolder without images is not named
    # session 43: the subfolders holding images are named (the folder to give instead)
    with pytest.raises(ValueError, match=r"export: folder holds no image files at its top level \(subfolders are not "
                                         r"searched; 1 of its subfolders hold images: patient-1/; give those "
                                         r"folders instead; nothing was added\)"):
        proj.add_images([tmp_path / "scan.png", tmp_path / "export"])
    assert proj.images == []


def test_each_folder_given_is_listed_once(tmp_path, monkeypatch):
    """Session 40 listed each folder twice (once to check it holds images, once for the add): a folder of thousands of
    scans on a network share was read twice. The same folder given twice is listed once too (its images added once)."""
    import os

    listings = []
    real_iterdir = Path.iterdir

    def iterdir(self):
        listings.append(os.path.basename(self))
        return real_iterdir(self)

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((24, 24), 10 * i + ord(name), np.uint8)).save(tmp_path / name / f"{i}.png")
    proj = Project.create(tmp_path / "proj", modality="octa")
    monkeypatch.setattr(Path, "iterdir", iterdir)
    added = proj.add_images([tmp_path / "a", tmp_path / "b", tmp_path / "a"])
    assert sorted(listings) == ["a", "b"]
    assert len(added) == 4
