"""Uploaded bytes: size caps (per file and per request body), content-type sniffing, display names.

File names a client sends are display text only (an item's `ref`): they never touch the filesystem.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import UploadFile

from service.api.errors import ApiError

READ_CHUNK = 1024 * 1024
FORM_OVERHEAD_BYTES = 1024 * 1024  # the non-file fields of a form
JOB_UPLOAD_FILES = 20  # a multipart job body may hold this many max-size files; use image URLs for more

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def sniff_content_type(data: bytes) -> str:
    """The image type by magic bytes — never the client's claim (serving that back could be text/html)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    return "application/octet-stream"


_IMAGE_SUFFIX = re.compile(r"\.(jpe?g|png|webp|gif|bmp|tiff?|avif|heic)$", re.IGNORECASE)


def display_name(filename: str | None, limit: int = 200) -> str:
    """A client's file name as one line of display text: no folders, no control characters."""
    return display_text((filename or "").replace("\\", "/").rsplit("/", 1)[-1], limit)


def display_text(text: str | None, limit: int = 200) -> str:
    """One line of printable text (a SKU may contain slashes: it is never a path)."""
    return "".join(ch for ch in (text or "") if ch.isprintable()).strip()[:limit]


def archive_name(position: int, ref: str, item_id: str, extension: str) -> str:
    """`<position>-<ref or id>.<ext>`, safe for any unzip tool (ASCII letters, digits, . _ -)."""
    stem = _IMAGE_SUFFIX.sub("", ref or "")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or item_id
    return f"{position}-{stem}.{extension}"


async def read_upload(upload: UploadFile, limit: int, field: str) -> bytes:
    """The whole upload, or 413 as soon as it passes `limit` bytes. The messages name the file (a seller who sent
    several knows which one); `field` says which part it was."""
    name = display_name(upload.filename) or field
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await upload.read(READ_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise ApiError(413, "file_too_large", f"{name} is larger than {limit:,} bytes", field=field)
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise ApiError(415, "invalid_image", f"{name} is empty", field=field)
    return data


def is_upload(value: Any) -> bool:
    return isinstance(value, UploadFile)
