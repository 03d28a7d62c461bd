"""Evidence ⇄ bytes, so a retyped prompt can reuse a stored segmentation (label map, working image, prior).

Format: a deterministic .npz (fusion.npz, no pickles) with image, heatmap, labels, prior and, when present,
negative_heatmap, plus a JSON meta member (format version, backend, label_names, prompts_used, notes).
Labels are stored as uint16 when they fit and come back as int32. The label map and heatmaps are deflated
(they shrink 5-15×, in about a millisecond); the working image and prior are stored raw (they barely shrink).
Round trip is exact.
"""

from __future__ import annotations

import numpy as np

from fusion.errors import InvalidArtifactError
from fusion.npz import from_npz, require, to_npz
from fusion.types import Evidence

FORMAT_VERSION = 1
_WHAT = "evidence"


def evidence_to_bytes(evidence: Evidence) -> bytes:
    """Evidence → .npz bytes (see the module docstring)."""
    labels = evidence.labels
    compact = labels.size == 0 or (int(labels.min()) >= 0 and int(labels.max()) <= np.iinfo(np.uint16).max)
    arrays = {
        "image": evidence.image.astype(np.uint8, copy=False),
        "heatmap": evidence.heatmap.astype(np.float32, copy=False),
        "labels": labels.astype(np.uint16 if compact else np.int32, copy=False),
        "prior": evidence.prior.astype(np.float32, copy=False),
    }
    if evidence.negative_heatmap is not None:
        arrays["negative_heatmap"] = evidence.negative_heatmap.astype(np.float32, copy=False)
    meta = {
        "version": FORMAT_VERSION,
        "backend": evidence.backend,
        "label_names": list(evidence.label_names),
        "prompts_used": bool(evidence.prompts_used),
        "notes": list(evidence.notes),
        "hinted_labels": [int(i) for i in evidence.hinted_labels],
    }
    return to_npz(arrays, meta, compress=("heatmap", "labels", "negative_heatmap"))


def evidence_from_bytes(data: bytes) -> Evidence:
    """.npz bytes from `evidence_to_bytes` → Evidence. Raises InvalidArtifactError for anything else."""
    arrays, meta = from_npz(data, _WHAT)
    if meta.get("version") != FORMAT_VERSION:
        raise InvalidArtifactError(
            f"stored evidence has format version {meta.get('version')!r}, expected {FORMAT_VERSION}"
        )
    image = require(arrays, "image", "uint8", 3, _WHAT)
    heatmap = require(arrays, "heatmap", "float32", 2, _WHAT)
    labels = arrays.get("labels")
    if labels is None or labels.dtype not in (np.dtype("uint16"), np.dtype("int32")) or labels.ndim != 2:
        raise InvalidArtifactError("stored evidence has a missing or malformed 'labels' array")
    prior = require(arrays, "prior", "float32", 2, _WHAT)
    negative = require(arrays, "negative_heatmap", "float32", 2, _WHAT) if "negative_heatmap" in arrays else None
    shape = heatmap.shape
    planes = [labels, prior] + ([negative] if negative is not None else [])
    if image.shape[:2] != shape or image.shape[2] != 3 or any(p.shape != shape for p in planes):
        raise InvalidArtifactError("stored evidence arrays disagree in size")
    backend, names, notes = meta.get("backend"), meta.get("label_names", []), meta.get("notes", [])
    hinted = meta.get("hinted_labels", [])  # absent in evidence stored before label hints were kept
    if not isinstance(backend, str) or not all(isinstance(s, str) for s in (*names, *notes)):
        raise InvalidArtifactError("stored evidence has malformed metadata")
    if not isinstance(hinted, list) or not all(isinstance(i, int) and i >= 0 for i in hinted):
        raise InvalidArtifactError("stored evidence has malformed label hints")
    return Evidence(
        image=image,
        heatmap=heatmap,
        labels=labels.astype(np.int32, copy=False),
        prior=prior,
        backend=backend,
        label_names=tuple(names),
        negative_heatmap=negative,
        prompts_used=bool(meta.get("prompts_used", False)),
        notes=tuple(notes),
        hinted_labels=tuple(hinted),
    )
