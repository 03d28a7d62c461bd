"""How promptcut recognises its own photos in a store: a product metafield `promptcut.media` (JSON) mapping each
media id we added to what it was made from, plus a file name that says so.

    {"gid://shopify/MediaImage/7": {"source": "<sha256 of the store's original bytes>", "look": "<look hash>",
                                    "original": "gid://shopify/MediaImage/3", "sync": "<sync id>"}}

A rerun compares `look` with its own look: equal → unchanged (nothing cut, nothing uploaded). The file name
(`promptcut-<look>-<source>.<ext>`) survives in the image URL, so a photo of ours is recognised even when the
metafield could not be written (the token was revoked between the two calls): never cut our own output again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

NAMESPACE = "promptcut"
KEY = "media"
FILE_PREFIX = "promptcut-"


@dataclass(frozen=True)
class MediaMark:
    media_id: str  # our media on the product
    source: str  # sha256 hex of the original's bytes (also its address in the artifact store)
    look: str
    original: str  # the store's media it was made from
    sync: str


def look_hash(render: Mapping[str, Any]) -> str:
    """A short, stable hash of a look (the job's render options): key order does not matter."""
    return hashlib.sha256(json.dumps(dict(render), sort_keys=True).encode()).hexdigest()[:16]


def file_name(look: str, source: str, extension: str) -> str:
    return f"{FILE_PREFIX}{look}-{source[:16]}.{extension}"


def is_our_url(url: str) -> bool:
    """An image URL whose file name is one we uploaded (Shopify keeps the file name in its CDN URL)."""
    return urlsplit(url).path.rsplit("/", 1)[-1].startswith(FILE_PREFIX) or "-" + FILE_PREFIX in url


def parse_marks(value: str | None) -> dict[str, MediaMark]:
    """The metafield's value → marks by media id. Garbage (edited by hand) reads as no marks, not an error."""
    try:
        raw = json.loads(value) if value else {}
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    marks = {}
    for media_id, entry in raw.items():
        if isinstance(entry, dict):
            marks[str(media_id)] = MediaMark(str(media_id), str(entry.get("source", "")), str(entry.get("look", "")),
                                             str(entry.get("original", "")), str(entry.get("sync", "")))
    return marks


def dump_marks(marks: Mapping[str, MediaMark]) -> str:
    return json.dumps({media_id: {"source": mark.source, "look": mark.look, "original": mark.original,
                                  "sync": mark.sync} for media_id, mark in sorted(marks.items())}, sort_keys=True)
