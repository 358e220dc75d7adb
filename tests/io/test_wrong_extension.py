"""Image files whose content is another format than their extension says (session 34 formats QA: a PNG
renamed .tif was "cannot read as TIFF (truncated or corrupt?)", a float32 TIFF renamed .png "cannot identify
image file", a 16-bit RGB TIFF renamed .png came back at 8 bits, while a JPEG renamed .png was read)."""

from __future__ import annotations

import io
import shutil

import numpy as np
import tifffile
from PIL import Image

from vessel_studio.io import read_image, read_mask


def _rgb(h=20, w=24):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_png_bytes_named_tif_are_read(tmp_path):
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "x.tif", format="PNG")
    got, _ = read_image(tmp_path / "x.tif")
    assert np.array_equal(got, a)


def test_jpeg_and_bmp_bytes_named_tif_are_read(tmp_path):
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "j.tiff", format="JPEG", quality=95)
    Image.fromarray(a).save(tmp_path / "b.tif", format="BMP")
    got, _ = read_image(tmp_path / "j.tiff")
    assert got.shape == a.shape and got.dtype == np.uint8
    got, _ = read_image(tmp_path / "b.tif")
    assert np.array_equal(got, a)


def test_float_and_16bit_tiffs_named_png_keep_their_values(tmp_path):
    f = (_rgb().astype(np.float32) / 255)
    tifffile.imwrite(tmp_path / "f.png", f, photometric="rgb")
    got, _ = read_image(tmp_path / "f.png")
    assert got.dtype == np.float32 and np.array_equal(got, f)
    u = _rgb().astype(np.uint16) * 257 + 1
    tifffile.imwrite(tmp_path / "u.png", u, photometric="rgb")
    got, _ = read_image(tmp_path / "u.png")
    assert got.dtype == np.uint16 and np.array_equal(got, u)


def test_jpeg_label_named_png_is_binarised_as_a_jpeg(tmp_path):
    lab = np.zeros((40, 40), np.uint8)
    lab[10:30, 18:22] = 255
    buf = io.BytesIO()
    Image.fromarray(lab).save(buf, format="JPEG", quality=75)
    (tmp_path / "l.jpg").write_bytes(buf.getvalue())
    shutil.copy(tmp_path / "l.jpg", tmp_path / "l.png")
    # compression noise around 0 is not vessel, whatever the file is named
    assert np.array_equal(read_mask(tmp_path / "l.png"), read_mask(tmp_path / "l.jpg"))


def test_truncated_png_named_tif_is_named_as_truncated(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(buf, format="PNG")
    (tmp_path / "t.tif").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    try:
        read_image(tmp_path / "t.tif")
    except ValueError as exc:
        msg = str(exc)
    else:
        raise AssertionError("a truncated file was read")
    assert msg.startswith(str(tmp_path / "t.tif")) and "truncated" in msg and "TIFF" not in msg
