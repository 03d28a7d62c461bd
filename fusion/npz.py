"""Arrays ⇄ bytes as a deterministic .npz (never pickled): the same arrays always give the same bytes.

np.savez stamps every member with the current time, so identical content would get a new digest in a
content-addressed store on every write; here members carry a fixed date. Members are stored raw unless
named in `compress` (deflate level 1: worth it only for arrays that shrink a lot, like label maps).
Files written here are ordinary .npz files that `np.load(..., allow_pickle=False)` reads.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from typing import Iterable, Mapping

import numpy as np

from fusion.errors import InvalidArtifactError

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_META = "meta"
# zip local file header: signature, then 22 bytes we skip, then file name and extra field lengths
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def to_npz(arrays: Mapping[str, np.ndarray], meta: Mapping | None = None, compress: Iterable[str] = ()) -> bytes:
    """Arrays (and an optional JSON-able `meta` dict, stored as a uint8 array) → .npz bytes."""
    compress = set(compress)
    buffer = io.BytesIO()
    members = dict(arrays)
    if meta is not None:
        members[_META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in members.items():
            raw = io.BytesIO()
            np.lib.format.write_array(raw, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", _FIXED_DATE)
            if name in compress:
                archive.writestr(info, raw.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
            else:
                archive.writestr(info, raw.getvalue(), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def from_npz(data: bytes, what: str) -> tuple[dict[str, np.ndarray], dict]:
    """.npz bytes → (arrays by name, meta dict). `what` names the artifact in the one-line error raised
    (InvalidArtifactError) for anything that is not a well-formed pickle-free .npz.

    Members stored raw come back as read-only views into `data` (no copy: a theme swap reads a
    multi-megabyte layer in well under a millisecond); deflated ones are decompressed."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                if info.compress_type == zipfile.ZIP_STORED:
                    arrays[name] = _view(data, info)
                else:
                    arrays[name] = np.lib.format.read_array(io.BytesIO(archive.read(info)), allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, struct.error) as exc:
        raise InvalidArtifactError(f"stored {what} is unreadable ({type(exc).__name__})") from None
    raw_meta = arrays.pop(_META, None)
    if raw_meta is None:
        return arrays, {}
    try:
        meta = json.loads(raw_meta.tobytes().decode())
    except (UnicodeDecodeError, ValueError):
        raise InvalidArtifactError(f"stored {what} has unreadable metadata") from None
    if not isinstance(meta, dict):
        raise InvalidArtifactError(f"stored {what} has unreadable metadata")
    return arrays, meta


def _view(data: bytes, info: zipfile.ZipInfo) -> np.ndarray:
    """A raw (ZIP_STORED) .npy member as an array viewing `data`."""
    header = data[info.header_offset:info.header_offset + _LOCAL_HEADER.size]
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        raise ValueError("bad zip member header")
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    member = io.BytesIO(data[start:start + min(info.file_size, 65536)])  # the .npy header is small
    version = np.lib.format.read_magic(member)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(member)
    if dtype.hasobject:
        raise ValueError("object arrays are not allowed")
    count = int(np.prod(shape, dtype=np.int64))
    offset = start + member.tell()
    if offset + count * dtype.itemsize > start + info.file_size:
        raise ValueError("truncated array")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran_order else "C")


def require(arrays: Mapping[str, np.ndarray], name: str, dtype: str, ndim: int, what: str) -> np.ndarray:
    """arrays[name], checked to be of `dtype` with `ndim` dimensions (InvalidArtifactError otherwise)."""
    array = arrays.get(name)
    if array is None or array.dtype != np.dtype(dtype) or array.ndim != ndim:
        raise InvalidArtifactError(f"stored {what} has a missing or malformed {name!r} array")
    return array
