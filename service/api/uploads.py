"""Uploaded bytes: size caps (per file and per request body), content-type sniffing, display names.

File names a client sends are display text only (an item's `ref`): they never touch the filesystem.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """The whole upload, or 413 as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await upload.read(READ_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise ApiError(413, "file_too_large", f"{field} is larger than {limit:,} bytes", field=field)
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise ApiError(415, "invalid_image", f"{field} is empty", field=field)
    return data


def is_upload(value: Any) -> bool:
    return isinstance(value, UploadFile)


class BodyTooLarge(HTTPException):
    """Raised from inside body reading; an HTTPException so FastAPI's body parser lets it through as is."""

    code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit:,} bytes")


class BodyLimitMiddleware:
    """Caps every request body before any parser buffers it (Content-Length up front, then while streaming).

    limit_for(path, method) → bytes allowed."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, scope: Scope) -> int:
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == "/v1/jobs":
            return self.max_upload_bytes * JOB_UPLOAD_FILES + FORM_OVERHEAD_BYTES
        return self.max_upload_bytes + FORM_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send: Send, limit: int) -> None:
    import json

    body = json.dumps({"error": {"code": "too_large", "message": f"request body is larger than {limit:,} bytes"}})
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body.encode()})
