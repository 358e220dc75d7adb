"""16-bit-per-channel colour PNGs keep their 16 bits (session 34 formats QA: Pillow decoded the high byte of each
sample, so a camera's 12-bit values 0-4095 came back as 0-15 and the bundled model's mask of a DRIVE image so stored
scored Dice 0.74 against the same pixels as an 8-bit PNG)."""

from __future__ import annotations

import numpy as np

from vessel_studio.io import read_image, read_mask


def test_rgb_png_at_16_bits(tmp_path, write_png16):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4096, (21, 17, 3), dtype=np.uint16)  # a 12-bit camera's range
    write_png16(tmp_path / "c.png", a, 2)
    got, meta = read_image(tmp_path / "c.png")
    assert got.dtype == np.uint16 and np.array_equal(got, a)
    assert meta.original_dtype == "uint16"


def test_rgba_png_at_16_bits_alpha_dropped(tmp_path, write_png16):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 65536, (12, 30, 4), dtype=np.uint16)
    write_png16(tmp_path / "a.png", a, 6)
    got, meta = read_image(tmp_path / "a.png")
    assert np.array_equal(got, a[..., :3]) and meta.original_shape == (12, 30, 4)


def test_label_with_only_low_byte_values_is_not_empty(tmp_path, write_png16):
    lab = np.zeros((16, 16, 3), np.uint16)
    lab[4:12, 7:9] = 1  # vessel stored as 1 in a 16-bit colour label: its high byte is 0
    write_png16(tmp_path / "l.png", lab, 2)
    assert read_mask(tmp_path / "l.png").sum() == 16


def test_png_writer_of_these_tests_is_read_by_pillow(tmp_path, write_png16):
    """The hand-written files are valid PNGs: Pillow's own 8-bit reading of them is their high bytes."""
    from PIL import Image

    a = np.random.default_rng(5).integers(0, 65536, (19, 23, 3), dtype=np.uint16)
    write_png16(tmp_path / "i.png", a, 2, interlaced=True)
    with Image.open(tmp_path / "i.png") as im:
        assert im.info.get("interlace") and np.array_equal(np.asarray(im), (a >> 8).astype(np.uint8))


def test_gray_alpha_png_at_16_bits(tmp_path, write_png16):
    """Session 34 left 16-bit gray+alpha PNGs at 8 bits (Pillow reads them as RGBA of the high bytes): a 12-bit
    scan's values 0-4095 came back as 0-15, and as RGB, not gray."""
    rng = np.random.default_rng(6)
    a = np.stack([rng.integers(0, 4096, (21, 17)), rng.integers(0, 65536, (21, 17))], axis=-1).astype(np.uint16)
    for interlaced in (False, True):
        write_png16(tmp_path / "ga.png", a, 4, interlaced=interlaced)
        got, meta = read_image(tmp_path / "ga.png")
        assert got.dtype == np.uint16 and np.array_equal(got, a[..., 0]), interlaced
        assert meta.original_dtype == "uint16" and meta.original_shape == (21, 17, 2)


def test_interlaced_colour_png_at_16_bits(tmp_path, write_png16):
    """Session 34 left interlaced (Adam7) 16-bit RGB / RGBA PNGs at 8 bits."""
    rng = np.random.default_rng(7)
    for colour_type, c in ((2, 3), (6, 4)):
        a = rng.integers(0, 4096, (29, 31, c), dtype=np.uint16)  # odd sizes: Adam7's passes are uneven
        write_png16(tmp_path / "i.png", a, colour_type, interlaced=True)
        got, meta = read_image(tmp_path / "i.png")
        assert got.dtype == np.uint16 and np.array_equal(got, a[..., :3]), colour_type
        assert meta.original_dtype == "uint16"


def test_gray_alpha_labels_at_16_bits(tmp_path, write_png16):
    """A 16-bit gray+alpha label holding 1s read as empty (its high bytes are 0); strokes drawn in its alpha (the
    gray the same everywhere) are read from the alpha, as an 8-bit one's."""
    lab = np.zeros((16, 16, 2), np.uint16)
    lab[..., 1] = 65535
    lab[4:12, 7:9, 0] = 1
    write_png16(tmp_path / "l.png", lab, 4, interlaced=True)
    assert read_mask(tmp_path / "l.png").sum() == 16
    strokes = np.zeros((16, 16, 2), np.uint16)
    strokes[2:5, :, 1] = 300  # alpha below 256: its high byte is 0
    write_png16(tmp_path / "s.png", strokes, 4)
    assert read_mask(tmp_path / "s.png").sum() == 48
