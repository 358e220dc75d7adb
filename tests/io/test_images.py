"""Image readers and writers: every format, generated and real files, and every kind of bad input."""

from __future__ import annotations

import builtins
import os
import re
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from vessel_studio.io import ImageReadError, read_image, read_mask, write_image, write_mask, write_prob
from vessel_studio.io.images import MIN_SIDE


def _rgb(h=40, w=50, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    hi = np.iinfo(dtype).max if np.dtype(dtype).kind in "ui" else 1.0
    a = rng.uniform(0, hi, (h, w, 3))
    return a.astype(dtype)


# ----------------------------------------------------------------------------- TIFF


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_tiff_gray_and_rgb_dtypes_kept(tmp_path, dtype):
    rgb = _rgb(dtype=dtype)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "gray.tiff", rgb[..., 1], photometric="minisblack")
    a, meta = read_image(tmp_path / "rgb.tif")
    assert a.dtype == dtype and a.shape == (40, 50, 3)
    np.testing.assert_array_equal(a, rgb)
    assert meta.original_dtype == np.dtype(dtype).name and meta.page_count == 1
    assert meta.path == tmp_path / "rgb.tif"
    g, _ = read_image(tmp_path / "gray.tiff")
    np.testing.assert_array_equal(g, rgb[..., 1])


def test_tiff_32_bit_signed_integers_are_read_at_16_bits(tmp_path):
    """Session 32 QA: an int32 TIFF was read as int32, which preprocess.to_float scales by the dtype's range to
    values near 0.5 that float32 cannot tell apart (an 8-bit scan as int32 became 2 levels; segment drew an empty
    mask). Such pixels come back in the 16-bit type holding them; beyond 16 bits they are refused."""
    from vessel_studio.preprocess import to_float

    g = _rgb(dtype=np.uint8)[..., 1].astype(np.int64)
    for values, dtype in ((g, np.uint16), (g - 100, np.int16), (g * 200, np.uint16)):
        for stored in (np.int32, np.int64):
            tifffile.imwrite(tmp_path / "s.tif", values.astype(stored))
            a, meta = read_image(tmp_path / "s.tif")
            assert a.dtype == dtype and meta.original_dtype == np.dtype(stored).name
            np.testing.assert_array_equal(a, values)
            assert np.unique(to_float(a)).size == np.unique(values).size  # every level kept
    tifffile.imwrite(tmp_path / "wide.tif", (g * 1000 - 5).astype(np.int32))
    with pytest.raises(ImageReadError, match=r"wide.tif: int32 pixels from -5 to \d+, beyond 16 bits"):
        read_image(tmp_path / "wide.tif")
    # unsigned too (session 33): read as uint32 before, so a wide one failed later, in prepare, without the file
    tifffile.imwrite(tmp_path / "u.tif", (g * 200).astype(np.uint32))
    a, _ = read_image(tmp_path / "u.tif")
    assert a.dtype == np.uint16 and np.array_equal(a, g * 200)
    tifffile.imwrite(tmp_path / "uwide.tif", (g * 1000).astype(np.uint32))
    with pytest.raises(ImageReadError, match=r"uwide.tif: uint32 pixels from \d+ to \d+, beyond 16 bits"):
        read_image(tmp_path / "uwide.tif")


def test_tiff_rgba_drops_alpha(tmp_path):
    rgba = np.concatenate([_rgb(), np.full((40, 50, 1), 128, np.uint8)], -1)
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    a, meta = read_image(tmp_path / "a.tif")
    assert a.shape == (40, 50, 3)
    np.testing.assert_array_equal(a, rgba[..., :3])
    assert meta.original_shape == (40, 50, 4)


def test_tiff_16bit_rgba(tmp_path):
    rgba = _rgb(dtype=np.uint16)
    rgba = np.concatenate([rgba, np.full((40, 50, 1), 65535, np.uint16)], -1)
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["assocalpha"])
    a, _ = read_image(tmp_path / "a.tif")
    assert a.dtype == np.uint16 and a.shape == (40, 50, 3)
    np.testing.assert_array_equal(a, rgba[..., :3])


def test_tiff_planar_rgb(tmp_path):
    rgb = _rgb()
    tifffile.imwrite(tmp_path / "p.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    a, _ = read_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(a, rgb)


def test_tiff_three_gray_pages_are_an_rgb_split(tmp_path):
    rgb = _rgb()
    with tifffile.TiffWriter(tmp_path / "split.tif") as tw:
        for c in range(3):
            tw.write(rgb[..., c], photometric="minisblack")
    a, meta = read_image(tmp_path / "split.tif")
    np.testing.assert_array_equal(a, rgb)
    assert meta.page_count == 3


def test_tiff_stack_refused_with_page_count(tmp_path):
    stack = np.zeros((7, 32, 32), np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    with pytest.raises(ImageReadError) as e:
        read_image(tmp_path / "stack.tif")
    msg = str(e.value)
    assert msg.startswith(str(tmp_path / "stack.tif")) and "7 pages" in msg and "stack" in msg
    with pytest.raises(ValueError, match="stack"):  # a label stack too
        read_mask(tmp_path / "stack.tif")


def test_tiff_pyramid_reads_full_resolution_page(tmp_path):
    big = _rgb(64, 64)
    with tifffile.TiffWriter(tmp_path / "pyr.tif") as tw:
        tw.write(big, photometric="rgb", subifds=1)
        tw.write(big[::2, ::2], photometric="rgb", subfiletype=1)
    a, _ = read_image(tmp_path / "pyr.tif")
    assert a.shape == (64, 64, 3)


def test_tiff_resolution_to_pixel_spacing(tmp_path):
    img = _rgb()[..., 0]
    # 1000 px per cm -> 0.01 mm per pixel
    tifffile.imwrite(tmp_path / "cm.tif", img, resolution=(1000, 500), resolutionunit="CENTIMETER")
    _, meta = read_image(tmp_path / "cm.tif")
    assert meta.pixel_spacing_mm == pytest.approx((0.02, 0.01))
    tifffile.imwrite(tmp_path / "inch.tif", img, resolution=(2540, 2540), resolutionunit="INCH")
    _, meta = read_image(tmp_path / "inch.tif")
    assert meta.pixel_spacing_mm == pytest.approx((0.01, 0.01))
    # print defaults mean nothing about the retina
    tifffile.imwrite(tmp_path / "dpi.tif", img, resolution=(72, 72), resolutionunit="INCH")
    assert read_image(tmp_path / "dpi.tif")[1].pixel_spacing_mm is None
    tifffile.imwrite(tmp_path / "none.tif", img)
    assert read_image(tmp_path / "none.tif")[1].pixel_spacing_mm is None


def test_written_files_record_the_pixel_spacing_and_png_bmp_spacing_is_read(tmp_path):
    """Session 42: masks, maps and images written with ``spacing_mm`` record it (PNG pHYs and BMP in pixels per
    metre, TIFF in pixels per cm) and ``read_image`` reads it back from each (it read PNG and BMP as having none);
    PNGs saying a print resolution (72 / 96 dpi) still have none, and a file written without one has none."""
    from PIL import Image

    from vessel_studio.io.images import write_image, write_mask, write_prob

    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:20] = True
    for spacing, want in (((0.02, 0.01), (0.02, 0.01)), (3 / 304, (3 / 304, 3 / 304))):
        for ext in ("png", "tif", "bmp"):
            write_mask(tmp_path / f"m.{ext}", mask, spacing_mm=spacing)
            assert read_image(tmp_path / f"m.{ext}")[1].pixel_spacing_mm == pytest.approx(want, rel=1e-5), ext
        write_prob(tmp_path / "p.tif", mask.astype(np.float32), spacing_mm=spacing)
        write_prob(tmp_path / "pz.tif", mask.astype(np.float32), spacing_mm=spacing, compress=True)
        write_image(tmp_path / "i.tif", mask.astype(np.uint16) * 999, spacing_mm=spacing)
        write_image(tmp_path / "i.png", _rgb(), spacing_mm=spacing)
        for name in ("p.tif", "pz.tif", "i.tif", "i.png"):
            assert read_image(tmp_path / name)[1].pixel_spacing_mm == pytest.approx(want, rel=1e-5), name
    write_mask(tmp_path / "none.png", mask)
    assert read_image(tmp_path / "none.png")[1].pixel_spacing_mm is None
    for dpi in (72, 96):
        Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "print.png", dpi=(dpi, dpi))
        assert read_image(tmp_path / "print.png")[1].pixel_spacing_mm is None
    with pytest.raises(ValueError, match="pixel spacing"):
        write_mask(tmp_path / "bad.png", mask, spacing_mm=(0.0, 0.01))


def test_tiff_nan_refused(tmp_path):
    a = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    a[3, 4] = np.nan
    a[5, 5] = np.inf
    tifffile.imwrite(tmp_path / "nan.tif", a)
    with pytest.raises(ImageReadError, match=r"nan.tif: float image contains 1 NaN and 1 infinite"):
        read_image(tmp_path / "nan.tif")


def test_lzw_tiff_without_imagecodecs(tmp_path):
    rgb = _rgb()
    Image.fromarray(rgb).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    a, _ = read_image(tmp_path / "lzw.tif")
    np.testing.assert_array_equal(a, rgb)


# ----------------------------------------------------------------------------- PIL formats


@pytest.mark.parametrize("ext", [".png", ".bmp", ".ppm", ".tif"])
def test_lossless_rgb_round_trip(tmp_path, ext):
    rgb = _rgb()
    write_image(tmp_path / f"x{ext}", rgb)
    a, meta = read_image(tmp_path / f"x{ext}")
    np.testing.assert_array_equal(a, rgb)
    assert meta.original_dtype == "uint8"


def test_png_16bit_gray(tmp_path):
    g = _rgb(dtype=np.uint16)[..., 0]
    write_image(tmp_path / "g16.png", g)
    a, meta = read_image(tmp_path / "g16.png")
    assert a.dtype == np.uint16
    np.testing.assert_array_equal(a, g)


def test_png_rgba_and_gray_alpha(tmp_path):
    rgba = np.concatenate([_rgb(), np.full((40, 50, 1), 7, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    a, _ = read_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(a, rgba[..., :3])
    la = np.stack([rgba[..., 0], rgba[..., 3]], -1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    b, _ = read_image(tmp_path / "la.png")
    np.testing.assert_array_equal(b, rgba[..., 0])


def test_jpeg_reads_approximately(tmp_path):
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[20:40, :, 1] = 120
    Image.fromarray(rgb).save(tmp_path / "x.jpg", quality=95)
    a, _ = read_image(tmp_path / "x.jpg")
    assert a.shape == (64, 64, 3) and np.abs(a.astype(int) - rgb).mean() < 3


def test_jpeg_label_binarised_at_half_range(tmp_path):
    lab = np.zeros((64, 64), np.uint8)
    lab[20:30, 10:50] = 255
    Image.fromarray(lab).save(tmp_path / "lab.jpg", quality=70)
    m = read_mask(tmp_path / "lab.jpg")
    assert np.mean(m == (lab > 0)) > 0.99  # compression noise near 0 is not vessel


def test_gif_palette_label_uses_index_image_uses_colours(tmp_path):
    idx = np.zeros((32, 40), np.uint8)
    idx[5:10, :] = 1
    im = Image.fromarray(idx, "P")
    # index 0 -> near-black (4,2,4), index 1 -> white: a colour threshold > 0 would be all True
    im.putpalette([4, 2, 4, 252, 254, 252] + [0, 0, 0] * 254)
    im.save(tmp_path / "lab.gif")
    m = read_mask(tmp_path / "lab.gif")
    np.testing.assert_array_equal(m, idx > 0)
    a, _ = read_image(tmp_path / "lab.gif")
    assert a.shape == (32, 40, 3) and tuple(a[0, 0]) == (4, 2, 4) and tuple(a[6, 0]) == (252, 254, 252)
    # a gray palette comes back as gray
    im2 = Image.fromarray(idx, "P")
    im2.putpalette([0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)
    im2.save(tmp_path / "gray.gif")
    g, _ = read_image(tmp_path / "gray.gif")
    assert g.shape == (32, 40) and g.max() == 255


def test_bool_and_01_labels(tmp_path):
    lab = np.zeros((16, 16), np.uint8)
    lab[4:8] = 1
    Image.fromarray(lab).save(tmp_path / "01.png")
    Image.fromarray(lab > 0).save(tmp_path / "bool.png")  # mode "1"
    for name in ("01.png", "bool.png"):
        np.testing.assert_array_equal(read_mask(tmp_path / name), lab > 0)


def test_rgb_label_any_channel(tmp_path):
    lab = np.zeros((16, 16, 3), np.uint8)
    lab[2, 3, 2] = 9
    write_image(tmp_path / "c.png", lab)
    m = read_mask(tmp_path / "c.png")
    assert m.shape == (16, 16) and m.sum() == 1 and m[2, 3]


def test_label_drawn_on_a_transparent_layer_is_read_from_its_alpha(tmp_path):
    """Session 28 QA: black strokes on a transparent background (RGBA, or gray + alpha) were read with
    the alpha dropped, as an empty label, and evaluate scored Dice 0 without a word."""
    from vessel_studio.io.images import read_mask_values

    lab = np.zeros((16, 16), bool)
    lab[4:8, 2:12] = True
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 3] = lab * 255
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(np.dstack([np.zeros((16, 16), np.uint8), (lab * 200).astype(np.uint8)]), "LA").save(tmp_path / "la.png")
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    for name in ("rgba.png", "la.png", "rgba.tif"):
        np.testing.assert_array_equal(read_mask(tmp_path / name), lab)
        mask, count, _ = read_mask_values(tmp_path / name)
        np.testing.assert_array_equal(mask, lab)
        assert count == 2
    # the image itself keeps the rule "alpha dropped"; a label with colours keeps reading its colours
    assert read_image(tmp_path / "rgba.png")[0].max() == 0
    coloured = np.zeros((16, 16, 4), np.uint8)
    coloured[..., 3] = 255
    coloured[..., 0] = lab * 255
    coloured[0, 0, 3] = 0
    Image.fromarray(coloured).save(tmp_path / "red.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "red.png"), lab)
    # the transparent pixels saved white (an editor's choice), the strokes black: still the alpha, not an
    # inverted mask read from the colour
    white = np.full((16, 16, 4), 255, np.uint8)
    white[lab, :3] = 0
    white[..., 3] = lab * 255
    Image.fromarray(white).save(tmp_path / "white.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "white.png"), lab)


# ----------------------------------------------------------------------------- DICOM


def _write_dicom(path: Path, arr: np.ndarray, photometric: str, *, spacing=None, imager_spacing=None, frames=None):
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.5.1"  # ophthalmic photography 8 bit
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OP"
    ds.Rows, ds.Columns = arr.shape[-3:-1] if arr.ndim >= 3 and photometric != "MONOCHROME2" else arr.shape[-2:]
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 3 if photometric.startswith(("RGB", "YBR")) else 1
    if ds.SamplesPerPixel == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = arr.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frames:
        ds.NumberOfFrames = frames
    if spacing:
        ds.PixelSpacing = list(spacing)
    if imager_spacing:
        ds.ImagerPixelSpacing = list(imager_spacing)
    ds.PixelData = np.ascontiguousarray(arr).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def test_dicom_rgb_with_pixel_spacing(tmp_path):
    rgb = _rgb(24, 30)
    f = _write_dicom(tmp_path / "op.dcm", rgb, "RGB", spacing=(0.012, 0.011))
    a, meta = read_image(f)
    np.testing.assert_array_equal(a, rgb)
    assert meta.pixel_spacing_mm == pytest.approx((0.012, 0.011))


def test_dicom_gray16_imager_spacing_and_no_extension(tmp_path):
    g = _rgb(24, 30, dtype=np.uint16)[..., 0]
    f = _write_dicom(tmp_path / "IM0001", g, "MONOCHROME2", imager_spacing=(0.005, 0.005))
    a, meta = read_image(f)  # no extension: recognised by the DICM preamble
    assert a.dtype == np.uint16
    np.testing.assert_array_equal(a, g)
    assert meta.pixel_spacing_mm == pytest.approx((0.005, 0.005))


def test_dicom_monochrome1_inverted(tmp_path):
    g = _rgb(24, 30)[..., 0]
    f = _write_dicom(tmp_path / "m1.dcm", g, "MONOCHROME1")
    a, _ = read_image(f)
    np.testing.assert_array_equal(a, 255 - g)


def test_dicom_ybr_full_converted_to_rgb(tmp_path):
    from pydicom.pixels import convert_color_space

    rgb = np.zeros((24, 30, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[8:16, :, 1] = 150
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    f = _write_dicom(tmp_path / "ybr.dcm", ybr, "YBR_FULL")
    a, _ = read_image(f)
    assert a.shape == (24, 30, 3) and np.abs(a.astype(int) - rgb).max() <= 2


def test_dicom_multiframe_refused(tmp_path):
    g = np.zeros((3, 16, 16), np.uint8)
    import pydicom  # noqa: F401

    f = _write_dicom(tmp_path / "mf.dcm", g, "MONOCHROME2", frames=3)
    with pytest.raises(ImageReadError, match=r"mf.dcm: multi-frame DICOM with 3 frames"):
        read_image(f)


# ----------------------------------------------------------------------------- writers


def test_write_mask_png_0_255_and_atomic(tmp_path):
    m = np.zeros((20, 30), bool)
    m[3:5] = True
    out = write_mask(tmp_path / "sub" / "m.png", m)
    raw = np.asarray(Image.open(out))
    assert raw.dtype == np.uint8 and set(np.unique(raw)) == {0, 255}
    np.testing.assert_array_equal(read_mask(out, shape=(20, 30)), m)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.png"]  # no temp files left
    with pytest.raises(ValueError, match="m3.png: a mask must be 2-D"):
        write_mask(tmp_path / "m3.png", np.zeros((2, 20, 30)))
    assert not (tmp_path / "m3.png").exists()


def test_write_prob_float32_tiff(tmp_path):
    p = np.random.default_rng(1).random((20, 30)).astype(np.float32)
    out = write_prob(tmp_path / "x_prob.tif", p)
    back = tifffile.imread(out)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, p)
    a, meta = read_image(out)
    np.testing.assert_array_equal(a, p)
    with pytest.raises(ValueError, match=r"bad.tif: probabilities must lie in \[0, 1\]"):
        write_prob(tmp_path / "bad.tif", p + 1)
    with pytest.raises(ValueError, match="nan.tif: probability map contains NaN"):
        write_prob(tmp_path / "nan.tif", np.full((4, 4), np.nan))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["x_prob.tif"]


def test_empty_masks_and_maps_are_refused_naming_the_file(tmp_path):
    """Session 33 API QA: ``write_prob(path, np.zeros((0, 0)))`` wrote a file tifffile called a "nonconformant
    TIFF" (with a UserWarning), and ``write_mask`` of a 0 x 0 array raised Pillow's "cannot write empty image",
    which does not name the file."""
    for empty in (np.zeros((0, 0)), np.zeros((0, 7)), np.zeros((5, 0), bool)):
        with pytest.raises(ValueError, match=r"e.tif: a probability map must be 2-D \(H x W\) and not empty"):
            write_prob(tmp_path / "e.tif", empty)
        with pytest.raises(ValueError, match=r"e.png: a mask must be 2-D \(H x W\) and not empty"):
            write_mask(tmp_path / "e.png", empty)
    assert list(tmp_path.iterdir()) == []


def test_write_prob_compressed_is_lossless_and_read_either_way(tmp_path):
    """``compress=True`` (the maps a project keeps): zlib, no predictor, the same float32 bits on
    reading, smaller for a vessel-like map (zeros outside a disc, smooth inside)."""
    from vessel_studio.io.images import read_prob

    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:300, :320]
    p = np.where((yy - 150) ** 2 + (xx - 160) ** 2 < 140 ** 2,
                 np.clip(0.5 + 0.5 * np.sin(xx / 7.0) * np.cos(yy / 11.0) + rng.normal(0, 0.01, xx.shape), 0, 1), 0)
    p = p.astype(np.float32)
    p[0, 0], p[1, 1] = np.float32(1e-40), np.nextafter(np.float32(1), np.float32(0))  # subnormal, below 1
    plain = write_prob(tmp_path / "plain.tif", p)
    packed = write_prob(tmp_path / "packed.tif", p, compress=True)
    with tifffile.TiffFile(packed) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE and tif.pages[0].predictor == 1
    with tifffile.TiffFile(plain) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.NONE
    assert packed.stat().st_size < 0.8 * plain.stat().st_size
    for f in (plain, packed):
        back = read_prob(f)
        assert back.dtype == np.float32 and np.array_equal(back.view(np.uint32), p.view(np.uint32))
        np.testing.assert_array_equal(read_image(f)[0], p)
    (tmp_path / "broken.tif").write_bytes(packed.read_bytes()[:200])
    with pytest.raises(ValueError, match="broken.tif: unreadable probability map"):
        read_prob(tmp_path / "broken.tif")


def test_failed_write_leaves_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    write_mask(target, np.ones((10, 10), bool))
    before = target.read_bytes()

    def boom(self, fp, *a, **k):
        Path(fp).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError):
        write_mask(target, np.zeros((10, 10), bool))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_write_image_rejects_unstorable(tmp_path):
    with pytest.raises(ValueError, match="use .tif"):
        write_image(tmp_path / "f.png", np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="unknown image extension"):
        write_image(tmp_path / "f.xyz", np.zeros((10, 10), np.uint8))
    f = write_image(tmp_path / "f.tif", np.full((10, 10), 0.25, np.float32))
    assert read_image(f)[0].dtype == np.float32


# ----------------------------------------------------------------------------- bad input


def test_truncated_files(tmp_path):
    rgb = _rgb(64, 64)
    for ext in (".png", ".jpg", ".tif", ".bmp"):
        full = write_image(tmp_path / f"full{ext}", rgb) if ext != ".jpg" else tmp_path / "full.jpg"
        if ext == ".jpg":
            Image.fromarray(rgb).save(full)
        data = full.read_bytes()
        bad = tmp_path / f"trunc{ext}"
        bad.write_bytes(data[: len(data) // 3])
        with pytest.raises(ImageReadError) as e:
            read_image(bad)
        assert str(e.value).startswith(str(bad)), str(e.value)


def test_truncated_real_gif(tmp_path, data_dir):
    data = (data_dir / "originals" / "21_manual1.gif").read_bytes()
    bad = tmp_path / "cut.gif"
    bad.write_bytes(data[:200])
    with pytest.raises(ImageReadError, match="cut.gif"):
        read_mask(bad)


def test_empty_file(tmp_path):
    for ext in (".png", ".tif", ".dcm", ".gif"):
        (tmp_path / f"e{ext}").write_bytes(b"")
        with pytest.raises(ImageReadError, match=rf"e{ext}: empty file \(0 bytes\)"):
            read_image(tmp_path / f"e{ext}")


def test_one_pixel_image_too_small(tmp_path):
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "one.png")
    with pytest.raises(ImageReadError, match=r"one.png: image is too small \(1x1 pixels"):
        read_image(tmp_path / "one.png")
    Image.fromarray(np.zeros((MIN_SIDE, MIN_SIDE), np.uint8)).save(tmp_path / "ok.png")
    assert read_image(tmp_path / "ok.png")[0].shape == (MIN_SIDE, MIN_SIDE)


def test_label_of_wrong_size(tmp_path):
    write_mask(tmp_path / "lab.png", np.zeros((30, 40), bool))
    with pytest.raises(ImageReadError, match=r"lab.png: mask is 30x40 \(rows x cols\) but its image is 40x30"):
        read_mask(tmp_path / "lab.png", shape=(40, 30, 3))


def test_unknown_extension_and_missing(tmp_path):
    f = tmp_path / "scan.xyz"
    f.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match=r"scan.xyz: unknown image extension '.xyz'"):
        read_image(f)
    with pytest.raises(ImageReadError, match=r"nothere.png: no such file"):
        read_image(tmp_path / "nothere.png")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG garbage garbage garbage")
    with pytest.raises(ImageReadError, match="junk.png: cannot read as PNG"):
        read_image(junk)


def test_folder_passed_as_file(tmp_path):
    d = tmp_path / "looks_like.png"
    d.mkdir()
    with pytest.raises(ImageReadError, match="looks_like.png: is a folder"):
        read_image(d)


def test_permission_denied_names_file(tmp_path, monkeypatch):
    f = write_image(tmp_path / "locked.png", _rgb())
    real_open = builtins.open

    def deny(file, *a, **k):
        if str(file) == str(f):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(ImageReadError, match=r"locked.png: permission denied"):
        read_image(f)
    with pytest.raises(ImageReadError, match=r"locked.png: permission denied"):
        read_mask(f)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_chmod(tmp_path):
    f = write_image(tmp_path / "locked.png", _rgb())
    f.chmod(0)
    try:
        with pytest.raises(ImageReadError, match="locked.png: permission denied"):
            read_image(f)
    finally:
        f.chmod(0o644)


def test_errors_are_value_errors():
    assert issubclass(ImageReadError, ValueError)


# ----------------------------------------------------------------------------- real files


def test_real_originals_match_converted_pngs(data_dir):
    o = data_dir / "originals"
    pairs = [
        ("21_training.tif", "DRIVE/training/images/21_training.png", False),
        ("im0001.ppm", "STARE/training/images/im0001.png", False),
        ("10301.bmp", "OCTA-500/Training/OCTA500_3M_train_images/10301.png", False),
        ("21_manual1.gif", "DRIVE/training/1st_manual/21_manual1.png", True),
        ("01_manual2.gif", "DRIVE/test/2nd_manual/01_manual2.png", True),
        ("21_training_mask.gif", "DRIVE/training/mask/21_training_mask.png", True),
    ]
    for orig, png, is_mask in pairs:
        if is_mask:
            a = read_mask(o / orig, shape=(584, 565))
            b = read_mask(data_dir / png)
            assert 0.02 < a.mean() < 0.9
        else:
            a, meta = read_image(o / orig)
            b, _ = read_image(data_dir / png)
            assert meta.original_dtype == "uint8"
        np.testing.assert_array_equal(a, b, err_msg=orig)
    img, meta = read_image(o / "21_training.tif")
    assert img.shape == (584, 565, 3) and meta.pixel_spacing_mm is None  # its resolution tag is 0/1


def test_palette_tiff_colours_for_images_index_for_labels(tmp_path):
    idx = np.zeros((20, 24), np.uint8)
    idx[4:8] = 1
    cmap = np.zeros((3, 256), np.uint16)
    cmap[:, 0] = (4 * 257, 2 * 257, 4 * 257)  # near-black background
    cmap[:, 1] = (65535, 0, 0)  # red vessels
    tifffile.imwrite(tmp_path / "pal.tif", idx, photometric="palette", colormap=cmap)
    a, _ = read_image(tmp_path / "pal.tif")
    assert a.dtype == np.uint8 and a.shape == (20, 24, 3)
    assert tuple(a[0, 0]) == (4, 2, 4) and tuple(a[5, 0]) == (255, 0, 0)
    np.testing.assert_array_equal(read_mask(tmp_path / "pal.tif"), idx > 0)


def test_dicom_rle_compressed(tmp_path):
    from pydicom import dcmread
    from pydicom.uid import RLELossless

    rgb = _rgb(24, 30)
    f = _write_dicom(tmp_path / "rle.dcm", rgb, "RGB")
    ds = dcmread(f)
    ds.compress(RLELossless)
    ds.save_as(f)
    assert dcmread(f).file_meta.TransferSyntaxUID == RLELossless
    a, _ = read_image(f)
    np.testing.assert_array_equal(a, rgb)


def test_dicom_without_pixels_and_corrupt(tmp_path):
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(tmp_path / "nopix.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.PatientName = "Test"
    ds.save_as(str(tmp_path / "nopix.dcm"), enforce_file_format=True)
    with pytest.raises(ImageReadError, match="nopix.dcm: DICOM file holds no pixel data"):
        read_image(tmp_path / "nopix.dcm")
    full = _write_dicom(tmp_path / "full.dcm", _rgb(24, 30), "RGB").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(full[: len(full) // 2])
    with pytest.raises(ImageReadError, match="cut.dcm: cannot read as DICOM"):
        read_image(tmp_path / "cut.dcm")
    assert pydicom  # imported for the dataset classes


def test_animated_gif_refused(tmp_path):
    frames = [Image.fromarray(np.full((16, 16), v, np.uint8)) for v in (0, 128, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match=r"anim.gif: animated/multi-frame file with 3 frames"):
        read_image(tmp_path / "anim.gif")
    with pytest.raises(ImageReadError, match="anim.gif"):
        read_mask(tmp_path / "anim.gif")


def test_a_mask_is_written_only_in_a_format_its_suffix_names(tmp_path):
    """Session 33 API QA: write_mask wrote PNG bytes under any suffix it did not know (mask.npy, mask.dcm, no
    suffix), files that read_mask could not read back; JPEG (lossy) was refused already. Now each is a ValueError
    naming the file, and nothing is written; the formats it writes read back as written."""
    m = np.zeros((12, 10), bool)
    m[3:7, 2:5] = True
    for name in ("mask.npy", "mask.dcm", "mask", "mask.jpg"):
        with pytest.raises(ValueError, match=re.escape(str(tmp_path / name))):
            write_mask(tmp_path / name, m)
        assert not (tmp_path / name).exists()
    for name in ("mask.png", "mask.tif", "mask.bmp", "mask.gif", "mask.pgm"):
        write_mask(tmp_path / name, m)
        assert np.array_equal(read_mask(tmp_path / name), m), name
