"""Decoding/encoding edge cases: orientation, colour spaces, bit depths, hostile files, atomic writes."""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from fusion.errors import (
    ImageTooLargeError,
    ImageTooSmallError,
    InvalidImageError,
    InvalidOptionError,
    OutputWriteError,
)
from fusion.imageio import decode_image, encode_image, load_image, srgb_icc_bytes, write_atomic
from tests.helpers import SAMPLES, decompression_bomb_png


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ ICC helper


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _rgb_icc_profile(description: str, gamma: float, primaries: tuple) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (what Adobe RGB / ProPhoto / camera profiles are),
    built by hand because ImageCms can only create sRGB/LAB/XYZ. primaries: D50-adapted XYZ of R, G, B."""
    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)

    trc = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256))
    text = description.encode("ascii") + b"\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(*primaries[0])),
            (b"gXYZ", xyz(*primaries[1])), (b"bXYZ", xyz(*primaries[2])), (b"rTRC", trc), (b"gTRC", trc),
            (b"bTRC", trc), (b"cprt", b"text" + b"\0" * 4 + b"none\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        body += b"\0" * (-(offset + len(body)) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (struct.pack(">I", offset + len(body)) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acspAPPL" + b"\0" * 20 + struct.pack(">I", 0) + _s15(0.9642) + _s15(1.0)
              + _s15(0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


SRGB_PRIMARIES_D50 = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055) * 255


# ------------------------------------------------------------------------------------------------ decoding


def _asymmetric() -> np.ndarray:
    """40 wide × 24 high, grey, with a red block in the top-left and a blue block in the bottom-left."""
    img = np.full((24, 40, 3), 128, np.uint8)
    img[:8, :8] = (255, 0, 0)
    img[-8:, :8] = (0, 0, 255)
    return img


@pytest.mark.parametrize("orientation, k", [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_rotates_pixels(orientation: int, k: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _save(Image.fromarray(_asymmetric()), "JPEG", quality=95, exif=exif.tobytes())
    decoded = decode_image(data)
    expected = np.rot90(_asymmetric(), k=k)  # 6: 90° clockwise, 8: 90° counter-clockwise
    assert decoded.exif_rotated and decoded.rgb.shape == expected.shape
    assert np.abs(decoded.rgb.astype(int) - expected).mean() < 4
    red = np.argwhere((decoded.rgb[..., 0] > 200) & (decoded.rgb[..., 2] < 60)).mean(0)
    h, w = decoded.rgb.shape[:2]
    corner = {6: (0, w - 1), 8: (h - 1, 0), 3: (h - 1, w - 1)}[orientation]  # where top-left went
    assert np.abs(red - corner).max() < 6


def test_no_orientation_means_no_rotation() -> None:
    decoded = decode_image(_save(Image.fromarray(_asymmetric()), "PNG"))
    assert not decoded.exif_rotated and not decoded.icc_converted and decoded.alpha is None
    np.testing.assert_array_equal(decoded.rgb, _asymmetric())


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = _save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    decoded = decode_image(data)
    assert decoded.source_mode == "CMYK" and decoded.rgb.dtype == np.uint8 and decoded.rgb.shape == (16, 16, 3)
    assert np.abs(decoded.rgb[8, 8].astype(int) - (255, 0, 0)).max() < 8


def test_16bit_grey_png_is_scaled_not_clipped() -> None:
    values = np.array([[0, 1000, 40000, 65535]] * 8, np.uint16).repeat(2, axis=1)
    ok, buf = cv2.imencode(".png", values)
    decoded = decode_image(buf.tobytes())
    assert decoded.source_mode.startswith("I")
    expected = np.round(values / 257.0)
    assert np.abs(decoded.rgb[..., 0].astype(int) - expected).max() <= 1  # 40000 → 156, not 255
    assert (decoded.rgb[..., 0] == decoded.rgb[..., 2]).all()


def test_48bit_rgb_png_is_scaled() -> None:
    values = np.zeros((8, 8, 3), np.uint16)
    values[...] = (65535, 32768, 300)
    ok, buf = cv2.imencode(".png", values[..., ::-1])  # OpenCV writes BGR
    decoded = decode_image(buf.tobytes())
    assert np.abs(decoded.rgb[0, 0].astype(int) - (255, 128, 1)).max() <= 1


def test_palette_with_transparency_gives_alpha() -> None:
    img = Image.new("P", (10, 10), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.paste(1, (5, 0, 10, 10))
    decoded = decode_image(_save(img, "PNG", transparency=0))
    assert decoded.source_mode == "P"
    assert decoded.alpha is not None and (decoded.alpha[:, :5] == 0).all() and (decoded.alpha[:, 5:] == 255).all()
    assert tuple(decoded.rgb[0, 7]) == (0, 255, 0)


def test_la_and_rgba_keep_their_alpha() -> None:
    la = np.stack([np.full((9, 9), 100, np.uint8), np.tile(np.arange(0, 90, 10, dtype=np.uint8), (9, 1))], -1)
    decoded = decode_image(_save(Image.fromarray(la, "LA"), "PNG"))
    assert decoded.source_mode == "LA" and (decoded.rgb == 100).all()
    np.testing.assert_array_equal(decoded.alpha, la[..., 1])
    rgba = np.random.default_rng(0).integers(0, 256, (9, 12, 4), dtype=np.uint8)
    decoded = decode_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(decoded.rgb, rgba[..., :3])
    np.testing.assert_array_equal(decoded.alpha, rgba[..., 3])


def test_non_srgb_icc_profile_is_converted_to_srgb() -> None:
    # Same primaries as sRGB but a linear (gamma 1.0) tone curve: value 128 means linear 0.502,
    # which sRGB encodes as ≈ 188. Without conversion it would stay 128.
    profile = _rgb_icc_profile("Linear RGB (test)", 1.0, SRGB_PRIMARIES_D50)
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[:8] = 128
    pixels[8:] = (200, 50, 20)
    decoded = decode_image(_save(Image.fromarray(pixels), "PNG", icc_profile=profile))
    assert decoded.icc_converted
    expected = _srgb_encode(pixels / 255.0)
    assert np.abs(decoded.rgb.astype(float) - expected).max() < 1.5


def test_embedded_srgb_profile_is_left_alone() -> None:
    pixels = _asymmetric()
    decoded = decode_image(_save(Image.fromarray(pixels), "PNG", icc_profile=srgb_icc_bytes()))
    assert not decoded.icc_converted
    np.testing.assert_array_equal(decoded.rgb, pixels)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (12, 12), c) for c in [(255, 0, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    assert tuple(decode_image(buf.getvalue()).rgb[6, 6]) == (255, 0, 0)


def _one_line_error(exc_info: pytest.ExceptionInfo, *words: str) -> None:
    message = str(exc_info.value)
    assert message and "\n" not in message
    for word in words:
        assert word in message, message


def test_bad_inputs_raise_typed_one_line_errors() -> None:
    good = (SAMPLES / "coffee-cup.jpg").read_bytes()
    with pytest.raises(InvalidImageError) as e:
        decode_image(good[: len(good) // 3])
    _one_line_error(e, "truncated")
    png = _save(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")
    with pytest.raises(InvalidImageError) as e:
        decode_image(png[: len(png) // 2])
    _one_line_error(e, "truncated")
    with pytest.raises(InvalidImageError) as e:
        decode_image(b"")
    _one_line_error(e, "empty")
    with pytest.raises(InvalidImageError) as e:
        decode_image(b"this is not a photo\n")
    _one_line_error(e, "text file", "JPEG")
    with pytest.raises(InvalidImageError) as e:
        decode_image(bytes(range(256)) * 4)
    _one_line_error(e, "not a supported image")
    with pytest.raises(ImageTooSmallError) as e:
        decode_image(_save(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"))
    _one_line_error(e, "1×1", "at least 8")


def test_decompression_bombs_are_refused_before_decoding() -> None:
    # 2.5 G pixels: beyond PIL's own hard limit, refused at header parsing.
    with pytest.raises(ImageTooLargeError) as e:
        decode_image(decompression_bomb_png(50_000, 50_000))
    _one_line_error(e, "MP")
    # 50 MP: below PIL's limits, so only our header check stands between it and a 150 MB allocation.
    with pytest.raises(ImageTooLargeError) as e:
        decode_image(decompression_bomb_png(10_000, 5_000))
    _one_line_error(e, "10000×5000", "40.0 MP")
    with pytest.raises(ImageTooLargeError):
        decode_image(_save(Image.new("RGB", (100, 100)), "PNG"), max_pixels=5_000)


def test_load_image_reads_files_and_explains_missing_ones(tmp_path: Path) -> None:
    decoded = load_image(SAMPLES / "rocket.jpg")
    assert decoded.rgb.ndim == 3 and decoded.rgb.dtype == np.uint8
    with pytest.raises(InvalidImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(InvalidImageError, match="directory"):
        load_image(tmp_path)


# ------------------------------------------------------------------------------------------------ encoding


@pytest.mark.parametrize("channels", [3, 4])
def test_png_round_trips_pixels_and_embeds_srgb(channels: int) -> None:
    pixels = np.random.default_rng(channels).integers(0, 256, (20, 30, channels), dtype=np.uint8)
    data = encode_image(pixels, "png")
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.info.get("icc_profile") == srgb_icc_bytes()
        profile = ImageCms.ImageCmsProfile(io.BytesIO(img.info["icc_profile"]))
        assert "sRGB" in profile.profile.profile_description
        np.testing.assert_array_equal(np.asarray(img), pixels)


def test_jpeg_webp_and_masks() -> None:
    pixels = np.full((16, 16, 3), (200, 100, 50), np.uint8)
    for fmt, name in [("jpeg", "JPEG"), ("jpg", "JPEG"), ("JPG", "JPEG"), ("webp", "WEBP")]:
        with Image.open(io.BytesIO(encode_image(pixels, fmt, quality=95))) as img:
            assert img.format == name and img.info.get("icc_profile") == srgb_icc_bytes()
            assert np.abs(np.asarray(img.convert("RGB")).astype(int) - pixels).max() < 6
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 3] = np.arange(16, dtype=np.uint8)[None, :] * 16
    with Image.open(io.BytesIO(encode_image(rgba, "webp"))) as img:
        np.testing.assert_array_equal(np.asarray(img.convert("RGBA"))[..., 3], rgba[..., 3])
    mask = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (4, 1))
    with Image.open(io.BytesIO(encode_image(mask, "png"))) as img:
        assert img.mode == "L" and "icc_profile" not in img.info
        np.testing.assert_array_equal(np.asarray(img), mask)


def test_encode_refuses_impossible_requests() -> None:
    with pytest.raises(InvalidOptionError, match="transparency"):
        encode_image(np.zeros((4, 4, 4), np.uint8), "jpeg")
    with pytest.raises(InvalidOptionError, match="png, webp, jpeg"):
        encode_image(np.zeros((4, 4, 3), np.uint8), "gif")
    with pytest.raises(InvalidOptionError, match="quality"):
        encode_image(np.zeros((4, 4, 3), np.uint8), "jpeg", quality=0)
    with pytest.raises(InvalidOptionError, match="uint8"):
        encode_image(np.zeros((4, 4, 3), np.float32), "png")


# ------------------------------------------------------------------------------------------------ writing


def test_write_atomic_writes_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.png"
    write_atomic(target, b"hello")
    write_atomic(target, b"world")
    assert target.read_bytes() == b"world"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_write_atomic_failure_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    written: list[int] = []

    def failing_fsync(fd: int) -> None:  # the data has been written, the file is not yet in place
        written.append(os.fstat(fd).st_size)
        raise error

    monkeypatch.setattr(os, "fsync", failing_fsync)
    fresh = tmp_path / "fresh.jpg"
    with pytest.raises(OutputWriteError if isinstance(error, OSError) else KeyboardInterrupt) as e:
        write_atomic(fresh, b"x" * 1000)
    assert written == [1000]
    assert list(tmp_path.iterdir()) == []
    if isinstance(error, OSError):
        _one_line_error(e, "No space left")
    monkeypatch.undo()
    existing = tmp_path / "existing.jpg"
    existing.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OutputWriteError if isinstance(error, OSError) else KeyboardInterrupt):
        write_atomic(existing, b"new")
    assert existing.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["existing.jpg"]


def test_colour_profiles_are_cached_by_hash_bounded_and_failures_are_not_cached(monkeypatch) -> None:
    from fusion import imageio

    pixels = np.full((8, 8, 3), 128, np.uint8)
    profile = _rgb_icc_profile("Linear RGB (cache test)", 1.0, SRGB_PRIMARIES_D50)
    before = set(imageio._PROFILES.keys())
    for _ in range(2):
        assert decode_image(_save(Image.fromarray(pixels), "PNG", icc_profile=profile)).icc_converted
    added = set(imageio._PROFILES.keys()) - before
    assert added == {(hashlib.sha256(profile).hexdigest(),)}  # once, by its hash (never its bytes)
    garbage = b"\0" * 200 + b"not a profile"
    assert not decode_image(_save(Image.fromarray(pixels), "PNG", icc_profile=garbage)).icc_converted
    assert set(imageio._PROFILES.keys()) - before == added  # a failure is not cached

    other = _rgb_icc_profile("Linear RGB (too big)", 1.0, SRGB_PRIMARIES_D50)
    monkeypatch.setattr(imageio, "MAX_ICC_BYTES", len(other) - 1)  # a profile over the cap is ignored
    decoded = decode_image(_save(Image.fromarray(pixels), "PNG", icc_profile=other))
    assert not decoded.icc_converted and (hashlib.sha256(other).hexdigest(),) not in imageio._PROFILES.keys()
    np.testing.assert_array_equal(decoded.rgb, pixels)

    for index in range(imageio.CACHED_PROFILES + 5):  # bounded: the oldest entries go
        imageio._PROFILES.put((f"k{index}",), object())
    assert len(imageio._PROFILES.keys()) == imageio.CACHED_PROFILES
