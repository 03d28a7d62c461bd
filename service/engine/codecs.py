"""How the engine's per-item intermediate results are written as artifact bytes (and read back).

Each is chosen to be cheap to write during a cut and cheap to read during a reprompt or theme swap:
- alpha: an 8-bit grey PNG at the photo's size (fast zlib settings, ~2 ms a megapixel); it is also, byte for
  byte, the "mask" output format.
- foreground: decontamination changes only the soft edge, so only those pixels are kept (flat indices +
  colours, .npz) and laid over the decoded original when needed (a few KB instead of a full-size image).
- selection: which working-resolution pixels were selected, plus everything else feathering depends on
  (the original's digest, the feather options). Deterministic bytes: equal digests ⇔ the stored alpha and
  foreground are still right, so a reprompt that selects the same regions skips feathering.
- review: the cut's fusion.review measures as JSON (a few hundred bytes), so a theme swap re-judges the cut
  for its new background without decoding anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import cv2
import numpy as np

from fusion.errors import InvalidArtifactError
from fusion.feather import FeatherOptions
from fusion.npz import from_npz, require, to_npz
from fusion.review import CutMeasures
from fusion.types import Mask

_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]


def sha256(data: bytes) -> str:
    """The digest the ArtifactStore gives the same bytes."""
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------------ alpha


def alpha_to_u8(alpha: np.ndarray) -> np.ndarray:
    """H×W float alpha in [0, 1] (or uint8) → H×W uint8 0..255, rounded."""
    if alpha.dtype == np.uint8:
        return alpha
    return np.clip(np.rint(alpha * np.float32(255.0)), 0, 255).astype(np.uint8)


def alpha_to_png(alpha_u8: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(alpha_u8), _PNG_FAST)
    if not ok:  # pragma: no cover - OpenCV only fails on unsupported shapes, which callers never pass
        raise InvalidArtifactError("could not encode the alpha mask")
    return encoded.tobytes()


def alpha_from_png(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    """PNG bytes → H×W uint8, checked against the photo's (H, W)."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint8 or decoded.shape != tuple(shape):
        raise InvalidArtifactError("stored alpha mask is unreadable or does not match the original photo")
    return decoded


# ------------------------------------------------------------------------------------------- foreground


def edge_patch(original: np.ndarray, foreground: np.ndarray) -> bytes:
    """The pixels where `foreground` differs from `original` (both H×W×3 uint8) as .npz bytes."""
    difference = cv2.absdiff(original, foreground)
    # summing the three channels with saturation: non-zero exactly where any channel differs
    changed = cv2.transform(difference, np.ones((1, 3), np.float32)).reshape(-1)
    index = np.flatnonzero(changed).astype(np.int64)
    colours = foreground.reshape(-1, 3)[index]
    meta = {"version": 1, "shape": list(original.shape[:2])}
    return to_npz({"index": index, "colour": colours}, meta, compress=("index",))


def apply_patch(original: np.ndarray, data: bytes) -> np.ndarray:
    """`original` (H×W×3 uint8, the decoded photo) with the stored edge colours → the foreground."""
    arrays, meta = from_npz(data, "foreground")
    index = require(arrays, "index", "int64", 1, "foreground")
    colours = require(arrays, "colour", "uint8", 2, "foreground")
    height, width = original.shape[:2]
    if meta.get("shape") != [height, width] or colours.shape != (len(index), 3):
        raise InvalidArtifactError("stored foreground does not match the original photo")
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= height * width):
        raise InvalidArtifactError("stored foreground does not match the original photo")
    foreground = original.copy()
    foreground.reshape(-1, 3)[index] = colours
    return foreground


# -------------------------------------------------------------------------------------------- selection


def selection_record(mask: Mask, original_digest: str, feather: FeatherOptions) -> bytes:
    """Deterministic bytes naming everything the alpha is a function of, given the decoded original."""
    key = {
        "version": 1,
        "original": original_digest,
        "feather": asdict(feather),
        "probability": sha256(np.ascontiguousarray(mask.probability, dtype=np.float32).tobytes()),
        "shape": list(mask.binary.shape),
    }
    return to_npz({"selected": np.packbits(mask.binary, axis=None)}, key, compress=("selected",))


# ----------------------------------------------------------------------------------------------- review

_REVIEW_VERSION = 1


def measures_to_bytes(measures: CutMeasures) -> bytes:
    return json.dumps({"version": _REVIEW_VERSION, **measures.to_dict()}, sort_keys=True).encode("utf-8")


def measures_from_bytes(data: bytes) -> CutMeasures:
    try:
        record = json.loads(data.decode("utf-8"))
        if not isinstance(record, dict) or record.get("version") != _REVIEW_VERSION:
            raise ValueError("unknown version")
        return CutMeasures.from_dict(record)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArtifactError(f"stored review measures are unreadable ({exc})") from None


__all__ = [
    "alpha_from_png",
    "alpha_to_png",
    "alpha_to_u8",
    "apply_patch",
    "edge_patch",
    "measures_from_bytes",
    "measures_to_bytes",
    "selection_record",
    "sha256",
]
