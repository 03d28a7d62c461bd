"""JPEG encoding through OpenCV's libjpeg-turbo with Pillow's settings, large images in parallel strips.

Pillow and OpenCV wrap the same libjpeg-turbo. Given the same settings (IJG quality tables, 4:4:4 sampling
from quality 90 and 4:2:0 below, the standard Huffman tables, baseline, no optimisation) they write the same
entropy-coded data; only Pillow adds the sRGB ICC profile, which is spliced in where Pillow puts it (right
after the JFIF header). Small images come out byte for byte as Pillow writes them, without building a PIL
image.

libjpeg-turbo encodes on one core, and a megapixel takes ~5 ms. A large image is therefore cut into
horizontal strips of whole MCU rows, encoded on a few threads (OpenCV releases the GIL), and joined into one
baseline JPEG with restart markers. A DRI segment sets the restart interval to one strip's MCU count.
Each strip's entropy-coded data starts with zero DC predictors and ends byte-aligned, which is exactly what
a decoder expects around a restart marker. Decoded pixels are identical to a single-pass encode (tested);
the file is a few bytes longer.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import cv2
import numpy as np

PARALLEL_MIN_PIXELS = 500_000  # below this the threads cost more than they save
_STRIPS_PER_THREAD = 2  # strips finish at different times; two per thread balances the load
_MAX_THREADS = 4
_SOS, _SOF0, _APP0 = 0xDA, 0xC0, 0xE0  # JPEG markers: start of scan, baseline frame, JFIF header
_ICC_CHUNK = 65519  # APP2 payload limit (65533) minus the 14-byte "ICC_PROFILE\0" + sequence header

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool_in_child() -> None:
    global _pool
    _pool = None  # a forked child has the pool object but not its threads


os.register_at_fork(after_in_child=_forget_pool_in_child)


def _threads() -> int:
    return max(1, min(_MAX_THREADS, os.cpu_count() or 1))


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="jpeg")
        return _pool


def icc_segments(icc: bytes) -> bytes:
    """An ICC profile as JPEG APP2 "ICC_PROFILE" segments (ICC.1 annex B), chunked as Pillow writes them."""
    chunks = [icc[i:i + _ICC_CHUNK] for i in range(0, len(icc), _ICC_CHUNK)]
    out = b""
    for number, chunk in enumerate(chunks, start=1):
        payload = b"ICC_PROFILE\0" + bytes((number, len(chunks))) + chunk
        out += b"\xff\xe2" + (len(payload) + 2).to_bytes(2, "big") + payload
    return out


def encode_jpeg(rgb: np.ndarray, quality: int, icc: bytes) -> bytes | None:
    """H×W×3 uint8 RGB → JPEG bytes with `icc` embedded, or None when OpenCV's output is not laid out as
    expected (the caller then encodes with Pillow)."""
    return encode_rows(lambda top, bottom: rgb[top:bottom], rgb.shape[1], rgb.shape[0], quality, icc)


def encode_rows(
    rows: Callable[[int, int], np.ndarray], width: int, height: int, quality: int, icc: bytes
) -> bytes | None:
    """Like `encode_jpeg` for an image produced strip by strip: `rows(top, bottom)` returns those rows as
    (bottom − top)×width×3 uint8 RGB. Strips may be produced on worker threads (so producing them, e.g.
    compositing, runs in parallel too); `rows` must be safe to call concurrently."""
    sampling = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if quality >= 90 else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    mcu = 8 if quality >= 90 else 16  # MCU side in pixels for 4:4:4 / 4:2:0
    strip = _strip_rows(height, width, mcu)
    if strip is not None:
        bounds = [(top, min(top + strip, height)) for top in range(0, height, strip)]
        encoded = _share([lambda b=b: _imencode(_bgr(rows(*b)), params) for b in bounds])
        joined = _join(encoded, height, (-(-width // mcu)) * (strip // mcu), icc)
        if joined is not None:
            return joined
    return _single(_bgr(rows(0, height)), params, icc)


def _share(tasks: list[Callable[[], bytes]]) -> list[bytes]:
    """Run the tasks on the calling thread and the pool's threads together, each taking the next task
    left. The caller never waits for a helper thread that has not started yet (waking an idle CPU can take
    longer than a strip): it only waits for strips a helper has actually taken."""
    results: list[bytes] = [b""] * len(tasks)
    done = [threading.Event() for _ in tasks]
    claim = itertools.count()  # next() is atomic under the GIL

    def drain() -> None:
        while (index := next(claim)) < len(tasks):
            try:
                results[index] = tasks[index]()
            finally:
                done[index].set()

    pool = _executor()
    for _ in range(_threads() - 1):
        pool.submit(drain)
    drain()
    for event in done:
        event.wait()
    return results


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _strip_rows(height: int, width: int, mcu: int) -> int | None:
    """Rows per strip (a multiple of the MCU height), or None to encode in one piece."""
    threads = _threads()
    if threads < 2 or height * width < PARALLEL_MIN_PIXELS:
        return None
    mcu_rows = -(-height // mcu)
    per_strip = -(-mcu_rows // (threads * _STRIPS_PER_THREAD))
    per_strip = min(per_strip, 0xFFFF // (-(-width // mcu)))  # the restart interval is a 16-bit MCU count
    if per_strip < 1 or per_strip >= mcu_rows:
        return None
    return per_strip * mcu


def _imencode(bgr: np.ndarray, params: list[int]) -> bytes:
    ok, data = cv2.imencode(".jpg", bgr, params)
    return data.tobytes() if ok else b""


def _single(bgr: np.ndarray, params: list[int], icc: bytes) -> bytes | None:
    data = _imencode(bgr, params)
    parsed = _parse(data)
    if parsed is None:
        return None
    headers, _, _ = parsed
    if not headers or headers[0][1] != _APP0:
        return None
    end = 2 + len(headers[0][0])
    return data[:end] + icc_segments(icc) + data[end:]


def _parse(data: bytes) -> tuple[list[tuple[bytes, int]], bytes, bytes] | None:
    """A baseline JPEG from libjpeg → ([(segment bytes, marker)] before SOS, SOS segment, entropy-coded data)."""
    if len(data) < 4 or data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        return None
    segments, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        end = at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
        if marker == _SOS:
            return segments, data[at:end], data[end:-2]
        segments.append((data[at:end], marker))
        at = end
    return None


def _join(encoded: list[bytes], height: int, interval: int, icc: bytes) -> bytes | None:
    """Strips encoded with the same settings → one JPEG with a restart marker between strips."""
    parsed = [_parse(data) for data in encoded]
    if any(p is None for p in parsed):
        return None
    headers, sos, _ = parsed[0]
    if not headers or headers[0][1] != _APP0 or any(p[1] != sos for p in parsed):
        return None
    if [marker for _, marker in headers].count(_SOF0) != 1:
        return None  # not a baseline frame we know how to make taller
    tables = [segment for segment, marker in headers if marker != _SOF0]
    if any([segment for segment, marker in p[0] if marker != _SOF0] != tables for p in parsed):
        return None  # every strip must use the same quantisation and Huffman tables
    out = [b"\xff\xd8", headers[0][0], icc_segments(icc)]
    for segment, marker in headers[1:]:
        if marker == _SOF0:  # the frame is as tall as all strips together
            segment = segment[:5] + height.to_bytes(2, "big") + segment[7:]
        out.append(segment)
    out.append(b"\xff\xdd\x00\x04" + interval.to_bytes(2, "big"))
    out.append(sos)
    for index, (_, _, scan) in enumerate(parsed):
        if index:
            out.append(bytes((0xFF, 0xD0 + (index - 1) % 8)))
        out.append(scan)
    out.append(b"\xff\xd9")
    return b"".join(out)
