"""Reading and writing the image files that fundus cameras, OCT-A devices and datasets produce.

``read_image(path) -> (array, ImageMeta)`` returns rows x columns: ``H x W`` gray or ``H x W x 3``
RGB, with the dtype stored in the file (uint8, uint16, float32 ...; 32- and 64-bit integers come back as
uint16 or int16, the one that holds their values, and are refused beyond 16 bits). Alpha is dropped
(RGBA -> RGB, gray+alpha -> gray), palette images become RGB (or gray when the palette is gray),
CMYK/YCbCr become RGB, 1-bit images become uint8 0/255.

Formats: TIFF (tifffile), PNG, JPEG, BMP, PPM/PGM/PNM, GIF (Pillow), DICOM (pydicom; ``.dcm``,
``.dicom``, or any file without an extension that carries the ``DICM`` preamble). A file whose content is
another of these formats than its extension says (PNG bytes named ``.tif``, a TIFF named ``.png``) is read as
what it holds (and a JPEG label so named is binarised as a JPEG).

Multi-page TIFF, the documented choice:

* reduced-resolution pages (pyramid levels, thumbnails) are ignored: the first full-resolution
  page is read;
* exactly 3 or 4 gray pages of one shape and dtype are read as an RGB(A) image stored one channel
  per page (some scanners write colour that way);
* any other stack (a volume, a time series, several B-scans) is **refused**: a ``ValueError``
  naming the file and its page count. Vessel Studio segments 2-D images; export the en-face
  projection or the single photograph you want segmented.

The same rule holds for DICOM (``NumberOfFrames > 1`` is refused) and animated GIFs.

Not done: EXIF orientation tags of JPEGs are not applied (labels are drawn on the stored
pixel grid; ``ImageMeta.orientation`` holds the tag; ``vessel-studio segment`` says when an image has one, and adding
images to a project names those that do: :func:`orientation_summary`). 16-bit
RGB, RGBA and gray+alpha PNGs, interlaced or not, keep their 16 bits, as 16-bit colour TIFF and 16-bit gray PNG do
(Pillow has no mode for them and decodes the high byte of each sample; its decoder runs a second time on the same
data for the low bytes: since session 34 for non-interlaced RGB(A), session 35 for the others; should Pillow's
internals differ, they are read at 8 bits as before).

Pixel spacing (mm per pixel, ``(row, column)``) is read from DICOM ``PixelSpacing`` /
``ImagerPixelSpacing``, from TIFF ``X/YResolution`` when the unit is inch or centimetre, from
ImageJ metadata in micrometres or millimetres, and (since session 42) from a PNG's ``pHYs`` chunk in
pixels per metre or a BMP's pixels per metre (what the writers below record). Resolutions that are evidently print defaults
(72, 96, 150, 300 ... dpi, or anything coarser than 0.1 mm per pixel) are ignored: they describe
paper, not the retina.

Every failure raises :class:`ImageReadError` (a ``ValueError``) whose message starts with the
path: missing, a directory, unreadable (permissions), empty, truncated or corrupt, unknown
extension, too small, a stack where a 2-D image is expected, NaN/inf in a float image, a label
whose shape differs from its image.

Labels (:func:`read_mask`) are binarised with ``> 0``; a label whose colour is the same everywhere
and whose alpha is not (strokes on a transparent layer) is read from its alpha. Palette labels (DRIVE's GIFs) are
binarised on the palette *index*, not on the colour it maps to. Labels stored as JPEG (lossy:
compression noise around 0) are binarised at half the dtype range instead.

Writes (:func:`write_mask`, :func:`write_prob`, :func:`write_image`) go through
``vessel_studio.io.atomic.atomic_path``: a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

import numpy as np

from vessel_studio.io.atomic import atomic_path
from vessel_studio.wording import shown_names

__all__ = [
    "ImageMeta",
    "ImageReadError",
    "IMAGE_EXTENSIONS",
    "MIN_SIDE",
    "read_image",
    "read_mask",
    "read_mask_values",
    "write_mask",
    "write_prob",
    "read_prob",
    "write_image",
    "is_image_file",
    "orientation_note",
    "orientation_summary",
    "orientation_tagged",
]

#: Smallest accepted side in pixels: anything smaller cannot hold a retinal image.
MIN_SIDE = 8

TIFF_EXT = {".tif", ".tiff"}
PIL_EXT = {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".ppm", ".pgm", ".pnm", ".pbm", ".gif"}
DICOM_EXT = {".dcm", ".dicom", ".dic"}
#: Every extension :func:`read_image` accepts (lower case, with the dot).
IMAGE_EXTENSIONS = frozenset(TIFF_EXT | PIL_EXT | DICOM_EXT)
_JPEG_EXT = {".jpg", ".jpeg", ".jpe"}
_PRINT_DPI = {72.0, 96.0, 100.0, 120.0, 144.0, 150.0, 200.0, 240.0, 300.0, 360.0, 400.0, 600.0, 720.0, 1200.0}


class ImageReadError(ValueError):
    """A file could not be read as an image (or label); the message starts with the path."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)


@dataclasses.dataclass(frozen=True)
class ImageMeta:
    """Where an array came from. ``original_shape`` is the shape as stored (before alpha/palette
    conversion); ``pixel_spacing_mm`` is ``(row_mm, col_mm)`` or None when the file does not say."""

    path: Path | None
    original_dtype: str
    original_shape: tuple[int, ...]
    pixel_spacing_mm: tuple[float, float] | None = None
    page_count: int = 1
    #: the file's EXIF / TIFF orientation tag (1-8; 1: as stored), **not applied** (see the module docstring):
    #: a viewer that applies it shows the image rotated or mirrored from the array; :func:`orientation_note`
    orientation: int = 1

    def to_dict(self) -> dict:
        return {
            "path": None if self.path is None else str(self.path),
            "original_dtype": self.original_dtype,
            "original_shape": list(self.original_shape),
            "pixel_spacing_mm": None if self.pixel_spacing_mm is None else list(self.pixel_spacing_mm),
            "page_count": self.page_count,
            "orientation": self.orientation,
        }


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a file whose extension :func:`read_image` knows (hidden files excluded)."""
    p = Path(path)
    return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS


# ----------------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, ImageMeta]:
    """Read one 2-D image: ``(H x W or H x W x 3 array, ImageMeta)``. See the module docstring."""
    return _read(Path(path), palette_index=False)


def read_mask(path: str | os.PathLike, *, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read a label or FOV mask as a bool ``H x W`` array (``> 0``; palette files by index).

    ``shape``: the image's shape (``H x W`` or ``H x W x C``); a mask of another size raises
    :class:`ImageReadError` naming the file and both sizes. RGB masks are True where any channel
    is ``> 0``.
    """
    path = Path(path)
    arr, _ = _read(path, palette_index=True)
    return _binarize(path, arr, shape, jpeg=_is_jpeg(path))


def read_mask_values(path: str | os.PathLike, *,
                     shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, int, str]:
    """:func:`read_mask` from one read of the file, with ``(count, rule)``: how many distinct
    values (colours, for RGB) the file holds (palette files by index) and the rule that made it
    binary ("> 0"; for a JPEG "> half its range"). A count above 2 is not a binary mask: a
    JPEG-compressed one, or a probability image."""
    path = Path(path)
    arr, _ = _read(path, palette_index=True)
    if arr.ndim == 3:
        count = int(np.unique(arr.reshape(-1, arr.shape[-1]), axis=0).shape[0])
    else:
        count = int(np.unique(arr).size)
    jpeg = _is_jpeg(path)  # looked at once (a JPEG under another extension: its first bytes)
    rule = "> half its range" if jpeg else "> 0"
    return _binarize(path, arr, shape, jpeg=jpeg), count, rule


def _binarize(path: Path, arr: np.ndarray, shape: tuple[int, ...] | None, *, jpeg: bool) -> np.ndarray:
    """A mask file's array as read_mask returns it (bool H x W, checked against ``shape``); ``jpeg``: the file is
    a JPEG (:func:`_is_jpeg`), binarised at half its range."""
    if jpeg:
        mask = arr > (np.iinfo(arr.dtype).max // 2 if arr.dtype.kind in "ui" else 0.5)
    else:
        mask = arr > 0
    if mask.ndim == 3:
        mask = mask.any(axis=-1)
    if shape is not None:
        want = tuple(int(s) for s in shape[:2])
        if mask.shape != want:
            raise ImageReadError(
                path, f"mask is {mask.shape[0]}x{mask.shape[1]} (rows x cols) but its image is {want[0]}x{want[1]}"
            )
    return mask


def _read(path: Path, *, palette_index: bool) -> tuple[np.ndarray, ImageMeta]:
    fmt = _check_file(path)
    try:
        if fmt == "tiff":
            try:
                arr, spacing, pages, orig = _read_tiff(path, palette_index=palette_index)
            except ValueError as exc:
                # tifffile decodes LZW / JPEG-in-TIFF only with the optional 'imagecodecs'
                # package; Pillow reads those single-page files natively.
                if "imagecodecs" not in str(exc):
                    raise
                arr, spacing, pages, orig = _read_pil(path, palette_index=palette_index)
                with contextlib.suppress(Exception):
                    import tifffile

                    with tifffile.TiffFile(path) as tif:
                        spacing = _tiff_spacing(tif.pages[0], tif)
        elif fmt == "dicom":
            arr, spacing, pages, orig = _read_dicom(path)
        else:
            arr, spacing, pages, orig = _read_pil(path, palette_index=palette_index)
    except ImageReadError:
        raise
    except PermissionError as exc:
        raise ImageReadError(path, f"permission denied ({exc.strerror or exc})") from exc
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # every decoder has its own exception zoo; name the file
        kind = fmt.upper() if fmt != "pil" else (path.suffix[1:].upper() if path.suffix.lower() in PIL_EXT else "image")
        raise ImageReadError(path, f"cannot read as {kind} (truncated or corrupt?): {type(exc).__name__}: {exc}") from exc
    if palette_index:
        arr = _alpha_drawn(arr)
    arr = _check_array(path, arr)
    orientation = 1 if palette_index else _orientation_tag(path, fmt)
    meta = ImageMeta(path, str(np.dtype(orig[1])), tuple(int(s) for s in orig[0]), spacing, pages, orientation)
    return arr, meta


_ORIENTATION = {2: "mirrored left-right", 3: "rotated 180°", 4: "mirrored top-bottom", 5: "mirrored and rotated 90°",
                6: "rotated 90° clockwise", 7: "mirrored and rotated 90°", 8: "rotated 90° counter-clockwise"}


def _orientation_tag(path: Path, fmt: str) -> int:
    """The EXIF (JPEG, PNG, WebP) or TIFF Orientation tag, 1 when absent or unreadable (never an error: the
    pixels were read)."""
    try:
        if fmt == "tiff":
            import tifffile

            with tifffile.TiffFile(path) as tif:
                tag = tif.pages[0].tags.get("Orientation")
                value = int(tag.value) if tag is not None else 1
        elif fmt == "pil":
            from PIL import Image

            with Image.open(path) as im:
                value = int(im.getexif().get(0x0112, 1) or 1)
        else:
            return 1
    except Exception:  # noqa: BLE001 - a malformed EXIF block: the pixels were read, say nothing
        return 1
    return value if value in _ORIENTATION else 1


def orientation_tagged(meta: ImageMeta) -> bool:
    """True for an image whose orientation tag a viewer would apply (shown turned or mirrored from its array):
    the one rule of :func:`orientation_note` (one image, ``segment``) and :func:`orientation_summary` (an add)."""
    return int(meta.orientation or 1) in _ORIENTATION


#: how many files :func:`orientation_summary` names (it counts them all)
MAX_NAMED_ORIENTED = 5


def orientation_summary(paths) -> str | None:
    """One line for the files of one add of images (``Project.add_images``: ``images --add``, ``adapt --target``, the
    window's Add images…) that carry an orientation tag (:func:`orientation_tagged`); None for none. Named up to
    ``MAX_NAMED_ORIENTED``, then how many more."""
    names = [Path(p).name for p in paths]
    if not names:
        return None
    n, shown = len(names), shown_names(names, MAX_NAMED_ORIENTED)
    return (f"{n} image{'s carry' if n > 1 else ' carries'} an orientation tag (not applied; masks are on the stored "
            f"grid, so a viewer that applies the tag shows the image turned from its mask): {shown}")


def orientation_note(meta: ImageMeta) -> str | None:
    """A line for an image whose orientation tag a viewer would apply (None for one shown as stored): its
    mask is on the stored pixel grid, so beside the image in such a viewer it looks turned."""
    if not orientation_tagged(meta):
        return None
    what = _ORIENTATION[int(meta.orientation)]
    h, w = meta.original_shape[:2]
    return (f"{meta.path}: its orientation tag says to show it {what}; Vessel Studio does not apply it, so its mask "
            f"is on the stored pixel grid ({h}x{w}, rows x cols) and a viewer that applies the tag shows the image "
            "turned from its mask")


def _alpha_drawn(arr) -> np.ndarray:
    """A mask drawn on a transparent layer (the strokes one colour, the vessels in the alpha channel, as an
    editor exports black strokes on a transparent background, whatever colour it gives the transparent
    pixels): its alpha, which dropping the alpha would have made an empty (or inverted) mask. Any other array
    as it is (its alpha dropped later)."""
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.shape[-1] not in (2, 4):
        return arr
    colour, alpha = arr[..., :-1], arr[..., -1]
    if alpha.min() == alpha.max():
        return arr
    seen = colour[alpha > alpha.min()]  # the colour of the strokes: what a transparent pixel holds is no colour
    if seen.size and seen.min() == seen.max():  # (an editor may save it white: QA leftover, session 28)
        return alpha
    return arr


def _check_file(path: Path) -> str:
    """Cheap checks before decoding; returns "tiff", "pil" or "dicom"."""
    ext = path.suffix.lower()
    if not path.exists():
        raise ImageReadError(path, "no such file")
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(132)
    except PermissionError as exc:
        raise ImageReadError(path, f"permission denied ({exc.strerror or exc})") from exc
    except OSError as exc:
        raise ImageReadError(path, f"cannot open ({exc.strerror or exc})") from exc
    if size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    by_ext = "tiff" if ext in TIFF_EXT else "pil" if ext in PIL_EXT else "dicom" if ext in DICOM_EXT else None
    if by_ext is not None:
        # a file renamed by hand or by a tool (PNG bytes named .tif, a TIFF named .png) is read as what it holds:
        # before session 34 the PNG named .tif was "cannot read as TIFF (truncated or corrupt?)" and a float TIFF
        # named .png "cannot identify image file", while a JPEG named .png was read (Pillow looks at the content)
        held = _content_format(head)
        return held if held is not None and held != by_ext else by_ext
    if ext == "" and head[128:132] == b"DICM":
        return "dicom"
    known = ", ".join(sorted(IMAGE_EXTENSIONS))
    raise ImageReadError(path, f"unknown image extension {ext or '(none)'!r}; readable: {known}")


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_PIL_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def _content_format(head: bytes) -> str | None:
    """"tiff", "pil" or "dicom" by a file's first 132 bytes, None when they name none of them (then the
    extension decides). DICOM first: its 128-byte preamble may hold a TIFF header (dual-format files)."""
    if head[128:132] == b"DICM":
        return "dicom"
    if head[:4] in _TIFF_MAGIC:
        return "tiff"
    if any(head.startswith(m) for m in _PIL_MAGIC):
        return "pil"
    return None


def _is_jpeg(path: Path) -> bool:
    """A JPEG by its extension or by its content (JPEG bytes under another image extension)."""
    if path.suffix.lower() in _JPEG_EXT:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(3) == b"\xff\xd8\xff"
    except OSError:
        return False


def _check_array(path: Path, arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] == 2:  # gray + alpha
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] == 4:  # RGBA -> RGB
        arr = arr[..., :3]
    if arr.ndim != 2 and not (arr.ndim == 3 and arr.shape[-1] == 3):
        raise ImageReadError(path, f"expected a 2-D gray or RGB image, got an array of shape {arr.shape}")
    if arr.shape[0] < MIN_SIDE or arr.shape[1] < MIN_SIDE:
        raise ImageReadError(
            path, f"image is too small ({arr.shape[0]}x{arr.shape[1]} pixels; at least {MIN_SIDE}x{MIN_SIDE} needed)"
        )
    if arr.dtype.kind == "c" or arr.dtype.kind not in "uif":
        raise ImageReadError(path, f"unsupported pixel type {arr.dtype}")
    # 32/64-bit integers (a Pillow mode "I" image, an int32 TIFF) in the 16-bit type that holds them: by their
    # dtype's range float32 tells none of their values apart (session 32 QA: an int32 scan segmented as an empty
    # mask); unsigned ones too since session 33, as preprocess.to_float reads them
    try:
        from vessel_studio.preprocess import narrow_wide_integers

        arr = narrow_wide_integers(arr)
    except ValueError as exc:
        raise ImageReadError(path, f"{exc}; save the image as 16-bit or float32") from None
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            n_nan = int(np.isnan(arr).sum())
            raise ImageReadError(
                path, f"float image contains {n_nan} NaN and {int(bad.sum()) - n_nan} infinite values"
            )
    return np.ascontiguousarray(arr)


def _read_tiff(path: Path, *, palette_index: bool = False):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        pages = [p for p in tif.pages]
        full = [p for p in pages if not (int(getattr(p, "subfiletype", 0) or 0) & 1)] or pages[:1]
        n = len(full)
        first = full[0]
        if n == 1:
            arr = first.asarray()
            planar = int(getattr(first, "planarconfig", 1) or 1) == 2
            if arr.ndim == 3 and arr.shape[0] in (3, 4) and (planar or arr.shape[-1] not in (3, 4)):
                arr = np.moveaxis(arr, 0, -1)  # planar RGB(A): channels first in the file
            if arr.ndim == 3 and arr.shape[-1] not in (1, 2, 3, 4):
                raise ImageReadError(
                    path, f"a single TIFF page holding a stack of {arr.shape[0]} planes ({arr.shape}); a 2-D image is expected"
                )
            orig = (arr.shape, arr.dtype)
        elif n in (3, 4) and all(p.shape == first.shape and p.dtype == first.dtype and len(p.shape) == 2 for p in full):
            arr = np.stack([p.asarray() for p in full], axis=-1)
            orig = (arr.shape, arr.dtype)
        else:
            raise ImageReadError(
                path,
                f"multi-page TIFF with {n} pages of shape {first.shape}: a stack where a 2-D image is expected "
                "(Vessel Studio reads one 2-D image per file; save the page you want as its own file)",
            )
        spacing = _tiff_spacing(first, tif)
        if first.photometric == 3 and arr.ndim == 2 and not palette_index and first.colormap is not None:
            cmap = np.asarray(first.colormap)  # 3 x N, usually uint16
            if cmap.dtype == np.uint16 and np.all(cmap % 257 == 0):
                cmap = (cmap // 257).astype(np.uint8)
            arr = np.moveaxis(cmap[:, arr], 0, -1)
            if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
                arr = arr[..., 0]
        if first.photometric == 0 and arr.dtype.kind in "ui":  # MINISWHITE: 0 is white
            arr = np.iinfo(arr.dtype).max - arr
        return arr, spacing, len(pages), orig


def _tiff_spacing(page, tif) -> tuple[float, float] | None:
    ij = tif.imagej_metadata or {}
    unit = str(ij.get("unit", "")).strip().lower()
    factor_ij = {"micron": 1e-3, "um": 1e-3, "µm": 1e-3, "\\u00b5m": 1e-3, "mm": 1.0, "millimeter": 1.0}.get(unit)
    tags = page.tags
    try:
        xr, yr = tags["XResolution"].value, tags["YResolution"].value
        xres = xr[0] / xr[1] if xr[1] else 0.0
        yres = yr[0] / yr[1] if yr[1] else 0.0
    except (KeyError, TypeError, IndexError, ZeroDivisionError):
        return None
    if xres <= 0 or yres <= 0:
        return None
    if factor_ij is not None:
        return _plausible((factor_ij / yres, factor_ij / xres))
    unit_tag = tags.get("ResolutionUnit")
    unit_val = int(unit_tag.value) if unit_tag is not None else 2
    if unit_val == 2:  # inch
        if xres in _PRINT_DPI and yres in _PRINT_DPI:
            return None
        return _plausible((25.4 / yres, 25.4 / xres))
    if unit_val == 3:  # centimetre
        if round(xres * 2.54, 3) in _PRINT_DPI and round(yres * 2.54, 3) in _PRINT_DPI:
            return None
        return _plausible((10.0 / yres, 10.0 / xres))
    return None


def _pil_spacing(im) -> tuple[float, float] | None:
    """``(row_mm, col_mm)`` from the resolution Pillow reads of a PNG (``pHYs`` in pixels per metre) or a BMP (pixels
    per metre), as ``info["dpi"]``; None without one, for a print default (72, 96, 300 ... dpi) or anything coarser than
    0.1 mm per pixel. A PNG's ``pHYs`` without a unit (an aspect ratio only) gives no ``dpi``."""
    dpi = im.info.get("dpi") if im.format in ("PNG", "BMP") else None
    try:
        xdpi, ydpi = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    if xdpi <= 0 or ydpi <= 0 or (round(xdpi) in _PRINT_DPI and round(ydpi) in _PRINT_DPI):
        return None
    return _plausible((25.4 / ydpi, 25.4 / xdpi))


def _dpi(spacing_mm) -> tuple[float, float] | None:
    """Pillow's ``dpi`` (x, y) for ``spacing_mm`` ((row_mm, col_mm), or one number), or None."""
    if spacing_mm is None:
        return None
    row, col = (float(spacing_mm), float(spacing_mm)) if np.ndim(spacing_mm) == 0 else (float(v) for v in spacing_mm)
    if not (row > 0 and col > 0 and np.isfinite(row) and np.isfinite(col)):
        raise ValueError(f"pixel spacing must be positive mm per pixel, got {spacing_mm!r}")
    return (25.4 / col, 25.4 / row)


def _pil_resolution(spacing_mm, fmt: str) -> dict:
    """Pillow's ``save`` keywords recording ``spacing_mm`` in a file of format ``fmt`` ({} without a spacing, or for a
    format without a resolution: GIF, PPM)."""
    dpi = _dpi(spacing_mm)
    return {"dpi": dpi} if dpi is not None and fmt in ("PNG", "TIFF", "BMP", "JPEG") else {}


def _tiff_resolution(spacing_mm) -> dict:
    """tifffile's ``resolution`` / ``resolutionunit`` (pixels per centimetre) for ``spacing_mm``; {} without one."""
    dpi = _dpi(spacing_mm)
    if dpi is None:
        return {}
    return {"resolution": (dpi[0] / 2.54, dpi[1] / 2.54), "resolutionunit": "CENTIMETER"}


def _plausible(spacing: tuple[float, float]) -> tuple[float, float] | None:
    """Spacings coarser than 0.1 mm/pixel are print metadata, not retinal sampling."""
    if all(0 < s <= 0.1 for s in spacing):
        return (float(spacing[0]), float(spacing[1]))
    return None


def _read_pil(path: Path, *, palette_index: bool):
    from PIL import Image, ImageFile

    # another library may have switched on Pillow's "load truncated images" globally: refuse
    # truncated files here regardless (a grey-padded fundus photograph is not the scan)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 40000 * 40000)
    with Image.open(path) as im:
        frames = int(getattr(im, "n_frames", 1) or 1)
        if frames > 1:
            raise ImageReadError(path, f"animated/multi-frame file with {frames} frames; a 2-D image is expected")
        tiles = list(getattr(im, "tile", None) or [])  # load() empties it
        im.load()
        mode = im.mode
        orig_size = (im.size[1], im.size[0])
        spacing = _pil_spacing(im)
        if mode == "P" and palette_index:
            arr = np.asarray(im)
            return arr, spacing, 1, (arr.shape, arr.dtype)
        if mode in ("P", "PA"):
            im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
            arr = np.asarray(im)[..., :3]
            if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
                arr = arr[..., 0]
            return arr, spacing, 1, ((orig_size), np.dtype(np.uint8))
        if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGB")
        elif mode == "I;16B" or mode == "I;16L" or mode == "I;16":
            arr = np.asarray(im).astype(np.uint16)
            return arr, spacing, 1, (arr.shape, np.dtype(np.uint16))
        elif mode == "1":
            arr = np.asarray(im).astype(np.uint8) * 255
            return arr, spacing, 1, (arr.shape, np.dtype(bool))
        try:
            arr = _png_colour_16(path, im, tiles)
        except Exception:  # noqa: BLE001 - Pillow's internals differ: 8 bits, as before
            arr = None
        if arr is not None:
            return arr, spacing, 1, (arr.shape, np.dtype(np.uint16))
        arr = np.asarray(im)
        if mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535:
            arr = arr.astype(np.uint16)
        return arr, spacing, 1, (arr.shape, arr.dtype)


#: Pillow's raw modes of a 16-bit-per-channel colour PNG (big-endian samples; it decodes their high bytes) and the
#: raw modes that take the low bytes of the same samples (its little-endian unpackers)
_PNG16_LOW = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}


def _png_colour_16(path: Path, im, tiles) -> np.ndarray | None:
    """A 16-bit-per-channel RGB(A) or gray+alpha PNG at its 16 bits (H x W x 3, x 4, or x 2 for gray+alpha), or None
    for any other file. Pillow has no mode for them and decoded the high byte of each sample: a camera's 12-bit values
    (0-4095) came back as 0-15 and segmented far worse (session 34 formats QA: Dice 0.74 against the same pixels as an
    8-bit PNG). Its own decoder (which undoes the filters and the Adam7 interlacing) runs again on the same data:
    taking the low bytes of RGB(A) samples, or a gray+alpha pixel's 4 bytes as the 4 channels of an RGBA pixel (its
    two high bytes checked against the first decoding). Interlaced files too since session 35."""
    if getattr(im, "format", None) != "PNG" or len(tiles) != 1:
        return None
    tile = tiles[0]
    raw = tile[3]  # (decoder, box, offset, args): a NamedTuple since Pillow 11, a plain tuple before
    if not isinstance(raw, str) or (raw not in _PNG16_LOW and raw != "LA;16B"):
        return None
    from PIL import Image

    high = np.asarray(im)
    again_raw = _PNG16_LOW.get(raw, "RGBA")  # LA;16B: Pillow's mode is RGBA (L, L, L, A), 4 bytes a pixel like LA16
    with Image.open(path) as again:
        if list(again.tile) != tiles or again.mode != im.mode:
            return None
        again.tile = [(tile[0], tile[1], tile[2], again_raw) if not hasattr(tile, "_replace")
                      else tile._replace(args=again_raw)]
        again.load()
        second = np.asarray(again)
    if second.shape != high.shape:
        return None
    if raw == "LA;16B":  # second: (gray high, gray low, alpha high, alpha low) bytes
        if high.ndim != 3 or high.shape[-1] != 4 or not (np.array_equal(second[..., 0], high[..., 0])
                                                         and np.array_equal(second[..., 2], high[..., 3])):
            return None
        pairs = second.astype(np.uint16)
        return np.stack([(pairs[..., 0] << 8) | pairs[..., 1], (pairs[..., 2] << 8) | pairs[..., 3]], axis=-1)
    return (high.astype(np.uint16) << 8) | second.astype(np.uint16)


def _read_dicom(path: Path):
    import pydicom

    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        raise ImageReadError(path, "DICOM file holds no pixel data")
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageReadError(path, f"multi-frame DICOM with {frames} frames; a 2-D image is expected")
    arr = ds.pixel_array  # pydicom converts YBR_FULL(_422) to RGB by default
    photometric = str(getattr(ds, "PhotometricInterpretation", "")).upper()
    orig = (arr.shape, arr.dtype)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    elif photometric == "MONOCHROME1":
        if arr.dtype.kind == "u":
            bits = int(getattr(ds, "BitsStored", arr.dtype.itemsize * 8))
            arr = ((1 << bits) - 1 - arr).astype(arr.dtype)
        else:
            arr = arr.max() - arr
    spacing = None
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = getattr(ds, keyword, None)
        if value is not None and len(value) == 2:
            try:
                r, c = float(value[0]), float(value[1])
            except (TypeError, ValueError):
                continue
            if r > 0 and c > 0:
                spacing = (r, c)
                break
    return arr, spacing, frames, orig


# ----------------------------------------------------------------------------------- writing


def write_mask(path: str | os.PathLike, mask: np.ndarray, *, spacing_mm=None) -> Path:
    """Write a 2-D mask as an 8-bit image, 0 / 255, atomically, in the format its suffix names: .png, .tif/.tiff,
    .bmp, .gif or .ppm/.pgm/.pnm. Another suffix (none, .npy, .dcm, JPEG's) is a ``ValueError``: before session 33 it
    got PNG bytes under that name, which ``read_mask`` could not read back (API QA). ``spacing_mm`` ((row_mm, col_mm)
    or one number): recorded as the file's resolution (PNG ``pHYs``, TIFF and BMP resolution; GIF and PPM have none),
    as :func:`read_image` and ImageJ / Fiji read it."""
    from PIL import Image

    path = Path(path)
    m = np.asarray(mask)
    if m.ndim != 2 or not m.size:
        raise ValueError(f"{path}: a mask must be 2-D (H x W) and not empty, got shape {m.shape}")
    if m.dtype.kind == "f" and not np.isfinite(m).all():
        raise ValueError(f"{path}: mask contains NaN or infinite values")
    out = (m > 0).astype(np.uint8) * np.uint8(255)  # as np.where(m > 0, 255, 0), without an int64 copy
    fmt = _pil_format(path, default=None)
    if fmt == "JPEG":
        raise ValueError(f"{path}: masks cannot be written as JPEG (lossy); use .png or .tif")
    if fmt is None:
        raise ValueError(f"{path}: masks are written as PNG or TIFF (or BMP, GIF, PPM), named by the suffix; "
                         f"{path.suffix or 'no suffix'} is none of them: use .png or .tif")
    kw = _pil_resolution(spacing_mm, fmt)
    with atomic_path(path) as tmp:
        Image.fromarray(out, mode="L").save(tmp, format=fmt, **kw)
    return path


#: zlib (Deflate) level of ``write_prob(..., compress=True)``: lossless; level 6 is 1 % smaller and
#: ~20 % slower on a 15-megapixel map (``benchmarks/results/hires-adapt/``)
PROB_ZLIB_LEVEL = 1


def write_prob(path: str | os.PathLike, prob: np.ndarray, *, compress: bool = False, spacing_mm=None) -> Path:
    """Write a 2-D probability map in [0, 1] as a float32 TIFF, atomically.

    ``compress``: lossless zlib (TIFF "Adobe Deflate", no predictor: tifffile writes and reads it
    without imagecodecs), ~1.7x smaller for a vessel map and the same values bit for bit on reading
    (:func:`read_prob`, ``tifffile.imread``); used for the maps a project keeps (adaptation rounds,
    the GUI's source-only maps). Files for people (``segment --save-prob``, the export) stay
    uncompressed unless asked for. ``spacing_mm``: recorded as the TIFF's resolution (pixels per cm)."""
    import tifffile

    path = Path(path)
    p = np.asarray(prob, dtype=np.float32)
    if p.ndim != 2 or not p.size:  # tifffile wrote a 0 x 0 map as a "nonconformant TIFF" with a warning
        raise ValueError(f"{path}: a probability map must be 2-D (H x W) and not empty, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"{path}: probability map contains NaN or infinite values")
    if p.size and (p.min() < -1e-6 or p.max() > 1 + 1e-6):
        raise ValueError(f"{path}: probabilities must lie in [0, 1], got [{p.min():.4g}, {p.max():.4g}]")
    if path.suffix.lower() not in TIFF_EXT:
        raise ValueError(f"{path}: probability maps are written as float32 TIFF; use a .tif suffix")
    with atomic_path(path) as tmp:
        kw = {"compression": "zlib", "compressionargs": {"level": PROB_ZLIB_LEVEL},
              "maxworkers": _prob_workers()} if compress else {}
        tifffile.imwrite(tmp, np.clip(p, 0.0, 1.0), photometric="minisblack", **kw, **_tiff_resolution(spacing_mm))
    return path


def read_prob(path: str | os.PathLike) -> np.ndarray:
    """A probability map written by :func:`write_prob` (compressed or not) as float32 H x W; an
    unreadable file raises ``ValueError`` naming it."""
    import tifffile

    try:
        return np.asarray(tifffile.imread(path, maxworkers=_prob_workers()), dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - tifffile raises several types
        raise ValueError(f"{path}: unreadable probability map ({exc})") from exc


def _prob_workers() -> int:
    """Threads that (de)compress a map's strips (zlib releases the GIL; the bytes do not depend on
    it): tifffile's default is half the cores, 1 on a 2-core machine, where 2 halve a 15-megapixel
    map's write (1.05 -> 0.55 s) and read (0.29 -> 0.16 s)."""
    return max(1, min(4, os.cpu_count() or 1))


def write_image(path: str | os.PathLike, array: np.ndarray, *, spacing_mm=None) -> Path:
    """Write an ``H x W`` or ``H x W x 3/4`` array atomically; format by suffix.

    TIFF keeps any dtype (uint8/16, float32 ...). PNG takes uint8 or uint16 gray and uint8 RGB(A);
    JPEG/BMP/PPM/GIF take uint8. Other dtypes for those formats raise ``ValueError``. ``spacing_mm``: recorded as the
    file's resolution where the format has one (TIFF, PNG, BMP, JPEG), as in :func:`write_mask`.
    """
    from PIL import Image

    path = Path(path)
    a = np.asarray(array)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise ValueError(f"{path}: expected H x W or H x W x 3/4, got shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{path}: image contains NaN or infinite values")
    ext = path.suffix.lower()
    if ext in TIFF_EXT:
        import tifffile

        with atomic_path(path) as tmp:
            photometric = "rgb" if a.ndim == 3 else "minisblack"
            tifffile.imwrite(tmp, a, photometric=photometric, **_tiff_resolution(spacing_mm))
        return path
    fmt = _pil_format(path, default=None)
    if fmt is None:
        raise ValueError(f"{path}: unknown image extension {ext or '(none)'!r} for writing")
    if a.dtype == np.uint16 and a.ndim == 2 and fmt in ("PNG",):
        img = Image.fromarray(a.astype(np.uint16))
    elif a.dtype == np.uint8:
        img = Image.fromarray(a)
        if fmt == "JPEG" and img.mode == "RGBA":
            img = img.convert("RGB")
    else:
        raise ValueError(f"{path}: cannot store {a.dtype} with {a.ndim} dims as {fmt}; use .tif for this dtype")
    kw = _pil_resolution(spacing_mm, fmt)
    with atomic_path(path) as tmp:
        img.save(tmp, format=fmt, **kw)
    return path


def _pil_format(path: Path, *, default: str | None) -> str | None:
    ext = path.suffix.lower()
    return {
        ".png": "PNG",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".gif": "GIF",
        ".ppm": "PPM",
        ".pgm": "PPM",
        ".pnm": "PPM",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".jpe": "JPEG",
    }.get(ext, default)
