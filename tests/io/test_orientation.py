"""Orientation tags are kept in ImageMeta and said by `segment` (session 34 formats QA: a JPEG whose EXIF tag says
"rotate 90°" was segmented on its stored grid without a word, so beside the photograph in any viewer that applies
the tag, the mask looked turned)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from vessel_studio.io import read_image
from vessel_studio.io.images import orientation_note


def _photo(path, orientation=None):
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    if orientation is None:
        im.save(path, quality=95)
    else:
        exif = im.getexif()
        exif[0x0112] = orientation
        im.save(path, quality=95, exif=exif.tobytes())
    return path


def test_exif_orientation_is_kept_not_applied(tmp_path):
    arr, meta = read_image(_photo(tmp_path / "r.jpg", 6))
    assert arr.shape == (48, 64, 3) and meta.orientation == 6  # the stored grid, as documented
    note = orientation_note(meta)
    assert note.startswith(str(tmp_path / "r.jpg")) and "rotated 90° clockwise" in note and "48x64" in note
    _, plain = read_image(_photo(tmp_path / "p.jpg"))
    assert plain.orientation == 1 and orientation_note(plain) is None
    _, one = read_image(_photo(tmp_path / "o.jpg", 1))
    assert orientation_note(one) is None


def test_tiff_orientation_tag(tmp_path):
    a = np.zeros((20, 30), np.uint16)
    tifffile.imwrite(tmp_path / "t.tif", a, extratags=[(274, "H", 1, 3, True)])
    _, meta = read_image(tmp_path / "t.tif")
    assert meta.orientation == 3 and "rotated 180°" in orientation_note(meta)
    tifffile.imwrite(tmp_path / "u.tif", a)
    assert read_image(tmp_path / "u.tif")[1].orientation == 1


def test_segment_says_an_image_has_an_orientation_tag(tmp_path, capsys):
    from vessel_studio.cli import main
    from vessel_studio.resources import models_dir

    if not (models_dir() / "fundus-segmenter" / "config.json").is_file():
        pytest.skip("bundled fundus-segmenter absent")
    rot, plain = _photo(tmp_path / "rot.jpg", 8), _photo(tmp_path / "plain.jpg")
    rc = main(["segment", "--threads", "1", "--out", str(tmp_path / "out"), str(rot), str(plain)])
    err = capsys.readouterr().err
    assert rc == 0
    assert f"warning: {rot}: its orientation tag says to show it rotated 90° counter-clockwise" in err
    assert str(plain) not in err
    assert Image.open(tmp_path / "out" / "rot.png").size == (64, 48)  # the stored grid still


def _tagged_folder(tmp_path, n_tagged: int, n_plain: int = 1, seed: int = 1):
    """A folder of ``n_tagged`` photographs whose orientation tag turns them (JPEG EXIF, and one TIFF), and
    ``n_plain`` without one."""
    folder = tmp_path / "scans"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for k in range(n_tagged - 1):
        im = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
        exif = im.getexif()
        exif[0x0112] = 6 if k % 2 else 8
        im.save(folder / f"t{k}.jpg", quality=95, exif=exif.tobytes())
    tifffile.imwrite(folder / "scan.tif", rng.integers(0, 4096, (40, 50), dtype=np.uint16),
                     extratags=[(274, "H", 1, 3, True)])
    for k in range(n_plain):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / f"p{k}.jpg", quality=95)
    return folder


def test_adding_images_names_those_with_an_orientation_tag(tmp_path):
    """Adding images to a project said nothing of their orientation tags (session 34 leftover: only `segment`
    did); the add's records carry one line naming them (files with tag 1, or none, are not named), once per add."""
    from vessel_studio.store import Project

    folder = _tagged_folder(tmp_path, 3)
    proj = Project.create(tmp_path / "proj", modality="fundus")
    added = proj.add_images([folder])
    assert len(added) == 4
    note = added.orientation_note
    assert note.startswith("3 images carry an orientation tag (not applied; masks are on the stored grid")
    assert note.endswith(": scan.tif, t0.jpg, t1.jpg") and "p0.jpg" not in note
    log = [e for e in proj.read_log() if e["message"] == "images added"][-1]
    assert sorted(log["orientation_tagged"]) == sorted(r.id for r in added if r.name != "p0")
    assert proj.add_images([folder]).orientation_note is None  # nothing new: nothing said again
    many = _tagged_folder(tmp_path / "many", 8, n_plain=0, seed=2)
    note = proj.add_images([many]).orientation_note
    assert note.startswith("8 images carry") and note.endswith(", t3.jpg and 3 more")
    one = proj.add_images([_photo(tmp_path / "one.jpg", 2)]).orientation_note
    assert one.startswith("1 image carries an orientation tag") and one.endswith(": one.jpg")


def test_images_add_and_adapt_target_say_the_orientation_tags(tmp_path, capsys, monkeypatch):
    import sys
    from pathlib import Path

    from vessel_studio.cli import main
    from vessel_studio.store import Project

    folder = _tagged_folder(tmp_path, 2)
    Project.create(tmp_path / "proj", modality="fundus")
    assert main(["images", str(tmp_path / "proj"), "--add", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 images carry an orientation tag (not applied; masks are on the stored grid" in err
    assert err.rstrip().endswith(": scan.tif, t0.jpg")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adaptation"))
    from _adapt_fixtures import record_adapt_sources

    seen = record_adapt_sources(monkeypatch)
    assert main(["adapt", str(tmp_path / "new"), "--target", str(folder), "--modality", "fundus", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert len(seen) == 1 and "3 new target image(s)" in out
    assert "warning: 2 images carry an orientation tag" in err and err.count("orientation tag") == 1
