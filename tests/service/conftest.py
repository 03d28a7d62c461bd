"""Fixtures shared by the service tests (the CLI and the API both take a seller's folder of files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SAMPLES, decompression_bomb_png


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
