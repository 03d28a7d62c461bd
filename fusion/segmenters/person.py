"""A person-shaped prior from a frontal face: apparel shot on a model is a core catalogue case.

The face detector is the LBP frontal-face cascade that ships inside scikit-image (a classical
Viola-Jones-style detector trained by OpenCV, no download), run by OpenCV's own cascade engine (about 30×
faster than scikit-image's on the same model: ~2 ms instead of ~60 ms at working size). A face fixes where the figure is and how big:
an adult standing figure is about 10½ face-widths tall (head top ~0.9 face-widths above the face centre,
feet ~9.7 below), shoulders ~±1 face-width from the body axis, torso and hips ~±1.3, legs together ~±0.9.
From that a soft prior is drawn: a confident core around the body axis, a probable envelope around it
(arms, loose clothes, a hand-held bag) and next to no belief far to the sides or above the head.

Everything runs on small greyscale arrays; detection is limited to the upper part of the frame (where a
model's face is) and to face sizes a figure in frame can have, which keeps it to a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# Body half-width (face-widths) at heights below the face centre (face-widths); measured proportions of
# a standing adult (head, neck, shoulders, torso, hips, thighs, calves).
_PROFILE_ROWS = np.array([-0.95, -0.5, 0.0, 0.55, 1.0, 2.0, 5.0, 6.0, 7.0, 8.0, 10.5], np.float32)
_PROFILE_HALF_WIDTH = np.array([0.2, 0.5, 0.6, 0.45, 1.0, 1.3, 1.3, 1.15, 1.0, 0.9, 0.9], np.float32)
FIGURE_BOTTOM = 10.5  # face-widths below the face centre where the feet end


@dataclass(frozen=True)
class Face:
    """A detected face in pixel coordinates of the image it was found in: centre (x, y) and width."""

    x: float
    y: float
    width: float


@lru_cache(maxsize=1)
def _cascade():
    """OpenCV's cascade loaded with scikit-image's LBP face model, or None when either is unavailable (the
    cue is then skipped). The model file misspells one tag ("featuhreParams"), which scikit-image's reader
    tolerates and OpenCV's does not, so it is corrected in memory."""
    from skimage.data import lbp_frontal_face_cascade_filename

    try:
        text = open(lbp_frontal_face_cascade_filename(), encoding="utf-8").read()
    except OSError:
        return None
    storage = cv2.FileStorage(text.replace("featuhreParams", "featureParams"), cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
    cascade = cv2.CascadeClassifier()
    return cascade if cascade.read(storage.getFirstTopLevelNode()) and not cascade.empty() else None


def detect_faces(
    grey: np.ndarray,
    min_share: float = 0.07,
    max_share: float = 0.3,
    search_height: float = 0.6,
    min_neighbours: int = 2,
    scale_step: float = 1.05,
) -> list[Face]:
    """Frontal faces in an h×w uint8 (or float in [0, 1]) greyscale image.

    Only the top `search_height` of the frame is searched, for faces `min_share`..`max_share` of the
    frame's height tall (a standing figure to a half-length portrait); `min_neighbours` overlapping
    detections confirm a face, windows grow by `scale_step`. Returns faces, largest first."""
    image = grey if grey.dtype == np.uint8 else np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)
    h, w = image.shape
    window = 24  # the cascade's native window
    smallest = max(min_share * h, 1.0)
    # Run at a scale where the smallest wanted face fills the native window (never upscaled past 2×).
    scale = min(window / smallest, 2.0)
    top = np.ascontiguousarray(image[: max(int(round(search_height * h)), window)])
    if scale != 1.0:
        top = cv2.resize(top, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    largest = int(max_share * h * scale)
    cascade = _cascade()
    if cascade is None or min(top.shape) < window or largest < window:
        return []
    found = cascade.detectMultiScale(
        top, scaleFactor=scale_step, minNeighbors=min_neighbours, minSize=(window, window), maxSize=(largest, largest)
    )
    faces = [Face(x=(x + size / 2) / scale, y=(y + size / 2) / scale, width=size / scale) for x, y, size, _ in found]
    return sorted(faces, key=lambda f: -f.width)


def skin_share(rgb: np.ndarray, face: Face) -> float:
    """Share of skin-coloured pixels (Chai & Ngan's YCrCb box: Cr 133..173, Cb 77..127) in the face box
    of an h×w×3 uint8 RGB image; rejects face-like texture on foliage, fur or fabric."""
    h, w = rgb.shape[:2]
    half = face.width / 2
    x0, x1 = max(int(round(face.x - half)), 0), min(int(round(face.x + half)), w)
    y0, y1 = max(int(round(face.y - half)), 0), min(int(round(face.y + half)), h)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2YCrCb)
    cr, cb = ycc[..., 1], ycc[..., 2]
    return float(((cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)).mean())


def model_faces(rgb: np.ndarray, min_skin: float = 0.3, max_height: float = 0.25, min_reach: float = 0.75, **detect) -> list[Face]:
    """Faces of a model posing for the shot in an h×w×3 uint8 RGB image: skin-coloured, near the top of
    the frame (centre above `max_height` of it) with the figure below reaching at least `min_reach` of
    the frame's height — a full- or three-quarter-length shot, not a small person in a scene."""
    h = rgb.shape[0]
    detect.setdefault("search_height", max_height + 0.15)
    faces = detect_faces(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), **detect)
    return [
        f
        for f in faces
        if f.y <= max_height * h and f.y + (FIGURE_BOTTOM - 0.8) * f.width >= min_reach * h and skin_share(rgb, f) >= min_skin
    ]


def person_prior(shape: tuple[int, int], face: Face, core: float = 0.6, margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Soft prior of a standing figure under `face` on an h×w grid (same pixel units as the face).

    Returns (prior h×w float32 in [0, 1], envelope h×w bool). prior is ~0.9 inside the `core` share of
    the body's half-width, ~0.6 up to the body outline, falling to ~0.1 `margin` face-widths beyond it;
    envelope marks everything within 2·`margin` face-widths of the outline (outside it the figure is
    not)."""
    h, w = shape
    rows = (np.arange(h, dtype=np.float32) - face.y) / face.width
    half = np.interp(rows, _PROFILE_ROWS, _PROFILE_HALF_WIDTH, left=0.0, right=0.0)
    inside_rows = (rows >= _PROFILE_ROWS[0]) & (rows <= FIGURE_BOTTOM)
    half = np.where(inside_rows, half, 0.0)[:, None]
    offset = np.abs(np.arange(w, dtype=np.float32)[None, :] - face.x) / face.width
    # Distance (face-widths) beyond the body outline; above the head it is the height above the head
    # top (near the body axis), elsewhere outside the figure's rows it is infinite.
    beyond = np.where(inside_rows[:, None], offset - half, np.inf)
    above = (_PROFILE_ROWS[0] - rows)[:, None]
    beyond = np.where((above > 0) & (offset <= _PROFILE_HALF_WIDTH[2]), above, beyond)
    prior = np.where(
        offset < core * half,
        0.9,
        np.where(beyond <= 0, 0.6, np.clip(0.6 - 0.5 * beyond / margin, 0.1, 0.6)),
    ).astype(np.float32)
    envelope = beyond <= 2.0 * margin
    return prior, envelope
