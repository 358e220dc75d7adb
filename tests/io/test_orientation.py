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
