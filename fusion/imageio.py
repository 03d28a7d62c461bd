"""Bytes ⇄ pixels at the edge of the system. PIL lives here and nowhere else.

decode_image: any supported photo → H×W×3 uint8 sRGB, EXIF-rotated, plus the input's own alpha.
encode_image: H×W×3 / H×W×4 / H×W uint8 → png | webp | jpeg bytes with an sRGB ICC profile.
write_atomic: never leaves a partial output file behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import tempfile
import threading
import warnings
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from fusion.errors import (
    ImageTooLargeError,
    ImageTooSmallError,
    InvalidImageError,
    InvalidOptionError,
    OutputWriteError,
)
from fusion.jpeg import (
    encode_jpeg,  # lazy: OpenCV is only needed here
    encode_rows,
)

# Formats we agree to parse. Everything else PIL knows (EPS calls Ghostscript, TGA has no magic number and
# "recognises" random bytes, PSD, ICO...) is refused: a storefront photo is one of these.
_ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "GIF", "BMP", "AVIF")
_FORMAT_NAMES = "JPEG, PNG, WebP, TIFF, GIF, BMP or AVIF"

ENCODE_FORMATS = ("png", "webp", "jpeg")
_FORMAT_ALIASES = {"jpg": "jpeg"}

# What PIL raises on malformed or truncated data while opening/loading (never a bug of ours).
_PIL_DATA_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError,
                    TypeError, ZeroDivisionError)

_EXIF_ORIENTATION = 0x0112
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class DecodedImage:
    """A decoded photo, ready for segmentation.

    rgb:   H×W×3 uint8, sRGB, already rotated upright according to EXIF orientation.
    alpha: H×W uint8 (0 = transparent, 255 = opaque) when the input carried its own transparency, else None.
    source_mode: PIL mode of the input as stored ("RGB", "CMYK", "I;16", "P", "LA", ...).
    icc_converted: True when an embedded non-sRGB ICC profile was converted to sRGB.
    exif_rotated: True when an EXIF orientation other than "normal" was applied.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    source_mode: str
    icc_converted: bool
    exif_rotated: bool

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the upright image."""
        return self.rgb.shape[1], self.rgb.shape[0]


# ---------------------------------------------------------------------------------------------------- decode


def decode_image(data: bytes, *, max_pixels: int = 40_000_000, min_side: int = 8) -> DecodedImage:
    """Decode image bytes into an upright sRGB array.

    The pixel count is checked from the header before any pixel is decoded (decompression-bomb guard).
    Animated or multi-page inputs give their first frame. Truncated data is an error, never grey padding.
    Raises InvalidImageError, ImageTooLargeError or ImageTooSmallError with a one-line message.
    """
    if not data:
        raise InvalidImageError("the file is empty (0 bytes)")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Truncated files must fail, not come back padded with grey; someone switched PIL's default off.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    img = _open(data, max_pixels)
    width, height = img.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"image is {width}×{height} ({width * height / 1e6:.1f} MP); the limit is {max_pixels / 1e6:.1f} MP"
        )
    if min(width, height) < min_side:
        raise ImageTooSmallError(f"image is only {width}×{height} px; each side must be at least {min_side} px")
    try:
        img.seek(0)  # animated GIF/WebP/APNG, multi-page TIFF, MPO: the first frame is the photo
        img.load()
        orientation = _orientation(img)
        if orientation in _EXIF_TRANSPOSE:
            img = img.transpose(_EXIF_TRANSPOSE[orientation])
        source_mode = img.mode
        rgb_img, alpha = _split_alpha(img)
        rgb, icc_converted = _to_srgb(rgb_img, img.info.get("icc_profile"))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image is too large ({_one_line(exc)})") from None
    except _PIL_DATA_ERRORS as exc:
        raise InvalidImageError(f"the image data is truncated or corrupt ({_one_line(exc)})") from None
    return DecodedImage(
        rgb=np.ascontiguousarray(rgb),
        alpha=None if alpha is None else np.ascontiguousarray(alpha),
        source_mode=source_mode,
        icc_converted=icc_converted,
        exif_rotated=orientation in _EXIF_TRANSPOSE,
    )


def load_image(path: str | Path, **kw) -> DecodedImage:
    """Read a file and decode it (keyword arguments as for decode_image). Unreadable files → InvalidImageError."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidImageError("no such file") from None
    except IsADirectoryError:
        raise InvalidImageError("is a directory, not an image file") from None
    except PermissionError:
        raise InvalidImageError("permission denied when reading the file") from None
    except OSError as exc:
        raise InvalidImageError(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    return decode_image(data, **kw)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Parse only the header. PIL's own bomb check (warning above MAX_IMAGE_PIXELS, error above twice that)
    may fire first; both become ImageTooLargeError. Our own max_pixels check follows in the caller."""
    Image.init()
    formats = [f for f in _ALLOWED_FORMATS if f in Image.OPEN]
    try:
        with warnings.catch_warnings():
            # We enforce our own limit; PIL's warning would only be noise (or an error under -W error).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(found.group(1)) / 1e6:.0f} MP)" if found else ""
        raise ImageTooLargeError(
            f"image is too large{size}; the limit is {max_pixels / 1e6:.1f} MP (possible decompression bomb)"
        ) from None
    except UnidentifiedImageError:
        what = "this is a text file, not an image" if _looks_like_text(data) else "not a supported image format"
        raise InvalidImageError(f"{what} (expected {_FORMAT_NAMES})") from None
    except _PIL_DATA_ERRORS as exc:
        raise InvalidImageError(f"the image header is corrupt ({_one_line(exc)})") from None


def _orientation(img: Image.Image) -> int:
    """EXIF orientation 1..8. Unreadable EXIF is treated like a missing one, as browsers do: broken
    metadata must not reject a photo whose pixels are fine."""
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except _PIL_DATA_ERRORS:
        return 1


def _split_alpha(img: Image.Image) -> tuple[Image.Image | np.ndarray, np.ndarray | None]:
    """Separate colour from transparency. Returns (colour, alpha): colour is a PIL image in RGB, L, CMYK
    or LAB mode, or an H×W(×3) uint8 array when scaling from 16 bit was needed; alpha is H×W uint8 or None."""
    mode = img.mode
    transparency = img.info.get("transparency")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        grey = mode in ("LA", "La")
        with_alpha = img.convert("LA" if grey else "RGBA")  # also un-premultiplies RGBa / La
        return with_alpha.convert("L" if grey else "RGB"), np.asarray(with_alpha.getchannel("A"))
    if mode == "P":
        if transparency is not None or img.palette.mode == "RGBA":
            rgba = img.convert("RGBA")
            return rgba.convert("RGB"), np.asarray(rgba.getchannel("A"))
        return img.convert("RGB"), None
    if mode in ("1", "L", "RGB") and transparency is not None:
        rgba = img.convert("RGBA")  # tRNS chunk: one colour marked transparent
        return (rgba.convert("L" if mode != "RGB" else "RGB"), np.asarray(rgba.getchannel("A")))
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(img)
        alpha = None
        if isinstance(transparency, int):
            alpha = np.where(values == transparency, 0, 255).astype(np.uint8)
        return _scale_to_uint8(values), alpha
    if mode == "1":
        return img.convert("L"), None
    if mode in ("RGB", "L", "CMYK", "LAB"):
        return img, None
    return img.convert("RGB"), None  # YCbCr, HSV, RGBX...


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """High-bit-depth grey (H×W, 16-bit or 32-bit int, or float) → H×W uint8 by scaling, never by clipping."""
    v = values.astype(np.float64)
    if values.dtype.kind == "f":
        lo, hi = (0.0, 1.0) if v.min() >= 0.0 and v.max() <= 1.0 else (float(v.min()), float(v.max()))
    elif values.dtype.kind in "ui" and v.min() >= 0 and v.max() <= 65535:
        lo, hi = 0.0, 65535.0  # 16-bit data (PIL "I;16", or "I" from older 16-bit PNG readers)
    else:
        lo, hi = float(v.min()), float(v.max())
    scaled = (v - lo) * (255.0 / max(hi - lo, 1e-12))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _to_srgb(colour: Image.Image | np.ndarray, icc: bytes | None) -> tuple[np.ndarray, bool]:
    """Colour part → H×W×3 uint8 sRGB. Returns (rgb, icc_converted)."""
    img = Image.fromarray(colour) if isinstance(colour, np.ndarray) else colour
    source = _profile(icc) if icc else None
    expected = {"RGB": "RGB ", "L": "GRAY", "CMYK": "CMYK"}.get(img.mode)
    # A profile that does not describe this kind of pixel data (or is unparseable) is ignored, as browsers do.
    usable = source is not None and expected is not None and source.profile.xcolor_space == expected
    converted = False
    if img.mode == "LAB":
        img = _transform(_LAB_KEY, "LAB").apply(img)
        converted = True
    elif usable and not (img.mode == "RGB" and _is_srgb(source)):
        img = _transform(icc, img.mode).apply(img)
        converted = True
    if img.mode != "RGB":
        img = img.convert("RGB")  # L: replicate; CMYK without a profile: PIL's naive formula
    return np.asarray(img), converted


_LAB_KEY = b"LAB"


# Real profiles are a few KB (the largest common ones ~0.5 MB). A bigger one is ignored, as if absent: cached
# profiles and transforms must not let a few uploads hold gigabytes.
MAX_ICC_BYTES = 1_000_000
CACHED_PROFILES = 32


class _HashKeyedCache:
    """A small LRU keyed by the sha256 of a profile (never by its bytes), shared by worker threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> object | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, value: object) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._entries)


_PROFILES = _HashKeyedCache(CACHED_PROFILES)
_TRANSFORMS = _HashKeyedCache(CACHED_PROFILES)


def _profile_key(icc: bytes) -> str:
    return hashlib.sha256(icc).hexdigest()


def _profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    """The parsed profile, or None when it is too big or unparseable (failures are not cached: a stream of
    distinct garbage profiles must not fill the cache)."""
    if len(icc) > MAX_ICC_BYTES:
        return None
    key = (_profile_key(icc),)
    found = _PROFILES.get(key)
    if found is not None:
        return found  # type: ignore[return-value]
    try:
        parsed = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return None
    _PROFILES.put(key, parsed)
    return parsed


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=1)
def srgb_icc_bytes() -> bytes:
    """The sRGB ICC profile embedded in every RGB output."""
    return _srgb_profile().tobytes()


def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    """Cached source-profile → sRGB transform (building one costs milliseconds; catalogues repeat profiles).
    Shared by the service's worker threads, so built without littleCMS's one-pixel cache, which is the part
    of a transform that is not safe to use from two threads at once."""
    key = (_profile_key(icc), mode)
    found = _TRANSFORMS.get(key)
    if found is not None:
        return found  # type: ignore[return-value]
    source = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")) if icc == _LAB_KEY else _profile(icc)
    built = ImageCms.buildTransform(source, _srgb_profile(), mode, "RGB",
                                    renderingIntent=ImageCms.Intent.PERCEPTUAL, flags=ImageCms.Flags.NOCACHE)
    _TRANSFORMS.put(key, built)
    return built


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    """Named sRGB and with sRGB's primaries: no conversion needed (it would only add rounding)."""
    p, ref = profile.profile, _srgb_profile().profile
    if "srgb" not in (p.profile_description or "").lower():
        return False
    try:
        for ours, theirs in ((p.red_colorant, ref.red_colorant), (p.green_colorant, ref.green_colorant),
                             (p.blue_colorant, ref.blue_colorant)):
            if ours is None or not np.allclose(ours[0], theirs[0], atol=0.01):
                return False
    except (TypeError, ValueError):
        return False
    return True


def _looks_like_text(data: bytes) -> bool:
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text.lstrip("\ufeff"))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


# ---------------------------------------------------------------------------------------------------- encode


def encode_image(pixels: np.ndarray, fmt: str, *, quality: int = 92) -> bytes:
    """Encode pixels as png | webp | jpeg ("jpg" is an alias).

    pixels: H×W×3 uint8 RGB, H×W×4 uint8 RGBA, or H×W uint8 single-channel (masks: 8-bit grey).
    RGB/RGBA outputs carry an embedded sRGB ICC profile; grey ones do not (an RGB profile would be invalid).
    quality (1..100) applies to jpeg and webp; png is lossless. RGBA webp keeps its alpha losslessly.
    """
    name = _FORMAT_ALIASES.get(str(fmt).lower(), str(fmt).lower())
    if name not in ENCODE_FORMATS:
        raise InvalidOptionError(f"unknown image format {fmt!r}; choose one of {', '.join(ENCODE_FORMATS)}")
    if not 1 <= quality <= 100:
        raise InvalidOptionError(f"quality must be between 1 and 100, got {quality}")
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise InvalidOptionError("pixels must be a uint8 numpy array")
    if pixels.ndim == 2:
        mode = "L"
    elif pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        mode = "RGB" if pixels.shape[2] == 3 else "RGBA"
    else:
        raise InvalidOptionError(f"pixels must be H×W, H×W×3 or H×W×4, got shape {pixels.shape}")
    if mode == "RGBA" and name == "jpeg":
        raise InvalidOptionError("jpeg cannot hold transparency; use png or webp")
    if name == "jpeg" and mode == "RGB":
        fast = _encode_jpeg(pixels, quality)
        if fast is not None:
            return fast
    img = Image.fromarray(np.ascontiguousarray(pixels), mode)
    options: dict = {}
    if mode != "L":
        options["icc_profile"] = srgb_icc_bytes()
    if name == "png":
        options["compress_level"] = 6
    elif name == "jpeg":
        # 4:4:4 at high quality: 4:2:0 bleeds saturated product colours into a white background at the edge.
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    else:
        options.update(quality=quality, method=4)
    buf = io.BytesIO()
    img.save(buf, format=name.upper(), **options)
    return buf.getvalue()


def _encode_jpeg(pixels: np.ndarray, quality: int) -> bytes | None:
    """Pillow's JPEG, written faster through OpenCV (see fusion.jpeg); None → use Pillow."""
    return encode_jpeg(pixels, quality, srgb_icc_bytes())


def encode_jpeg_rows(rows: Callable[[int, int], np.ndarray], width: int, height: int, *, quality: int = 92) -> bytes:
    """An RGB JPEG (with the sRGB profile) of an image produced strip by strip: `rows(top, bottom)` returns
    those rows, (bottom − top)×width×3 uint8, and may run on several threads at once (fusion.jpeg)."""
    if not 1 <= quality <= 100:
        raise InvalidOptionError(f"quality must be between 1 and 100, got {quality}")
    fast = encode_rows(rows, width, height, quality, srgb_icc_bytes())
    return fast if fast is not None else encode_image(np.ascontiguousarray(rows(0, height)), "jpeg", quality=quality)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the complete new one.

    Writes a temp file in the same directory (same filesystem), fsyncs it, then os.replace()s it over the
    target. On any failure the temp file is removed and an existing target is left untouched; OS errors
    are raised as OutputWriteError. Missing parent directories are created.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputWriteError(f"cannot write output ({exc.strerror or type(exc).__name__})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; outputs are ordinary shareable files.
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputWriteError(f"cannot write output ({exc.strerror or _one_line(exc)})") from None
        raise
    fsync_dir(target.parent)


def fsync_dir(folder: Path) -> None:
    """Make the rename durable. Not possible on every platform/filesystem, and the data is already safe."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
