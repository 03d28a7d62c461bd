"""Shared fixtures: real sample photos and hostile files."""

from __future__ import annotations

import importlib.util
import os
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from contextlib import contextmanager
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `promptcut` command in a child process (as a user runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=timeout,
    )


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def decompression_bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width×height RGB pixels (the pixels themselves are mostly missing)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLES


@pytest.fixture
def hostile_files(tmp_path: Path) -> dict[str, Path]:
    """One file per kind of bad input a seller's folder can contain."""
    from PIL import Image

    folder = tmp_path / "hostile"
    folder.mkdir()
    good = (SAMPLES / "coffee-cup.jpg").read_bytes()
    files = {
        "truncated": folder / "truncated.jpg",
        "empty": folder / "empty.jpg",
        "tiny": folder / "tiny.png",
        "bomb": folder / "bomb.png",
        "text": folder / "notes.jpg",
        "transparent": folder / "blank.png",
    }
    files["truncated"].write_bytes(good[: len(good) // 3])
    files["empty"].write_bytes(b"")
    Image.new("RGB", (1, 1), (255, 0, 0)).save(files["tiny"])
    files["bomb"].write_bytes(decompression_bomb_png())
    files["text"].write_text("this is not a photo\n")
    Image.new("RGBA", (64, 48), (200, 30, 30, 0)).save(files["transparent"])  # an export with alpha all zero
    return files


def require_modules(*names: str) -> None:
    """Skip the calling test module when optional packages are missing — but fail under CI=true, where the
    README's set-up installs them, so a skip can never hide a broken install."""
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if not missing:
        return
    message = f"not installed: {', '.join(missing)}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true requires them)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def _no_network(*args, **kwargs):
    raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else args}")


@contextmanager
def network_blocked() -> Iterator[None]:
    """Any socket connection attempt inside the block fails the test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setattr(socket.socket, "connect_ex", _no_network)
        patch.setattr(socket, "create_connection", _no_network)
        yield


@pytest.fixture(scope="module")
def no_network() -> Iterator[None]:
    """Use as `pytestmark = pytest.mark.usefixtures("no_network")`: the whole module runs network-blocked."""
    with network_blocked():
        yield


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Tiny random-init CLIPSeg + OneFormer saved as the production loader expects; built once per run."""
    from tests.tiny_models import build_tiny_models

    with network_blocked():
        return build_tiny_models(tmp_path_factory.mktemp("models"))


def sample_jpeg(name: str, side: int) -> bytes:
    """A bundled sample photo shrunk to fit side×side, as JPEG bytes (quality 90)."""
    import io

    from PIL import Image

    with Image.open(SAMPLES / name) as image:
        image = image.convert("RGB")
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
    return out.getvalue()
