"""A person-shaped prior from a frontal face: apparel shot on a model is a core catalogue case.

The face detector is the LBP frontal-face cascade that ships inside scikit-image (a classical
Viola-Jones-style detector trained by OpenCV, no download), run by OpenCV's own cascade engine (about 30×
faster than scikit-image's on the same model: ~2 ms instead of ~60 ms at working size).
A face fixes where the figure is and how big:
an adult standing figure is about 10½ face-widths tall (head top ~0.9 face-widths above the face centre,
feet ~9.7 below), shoulders ~±1 face-width from the body axis, torso and hips ~±1.3, legs together ~±0.9.
From that a soft prior is drawn: a confident core around the body axis, a probable envelope around it
(arms, loose clothes, a hand-held bag) and next to no belief far to the sides or above the head.
A head-and-shoulders close-up (jewellery, hats, scarves, tops on a model) gets the same prior, cut off by
the bottom of the frame; large faces are only believed when OpenCV's bundled Haar frontal-face cascade, a
differently trained detector, confirms them (on eval-dev the LBP model alone took fur, grass and a
starfish for close-up faces). A street photo's face that the first pass misses is looked for again at a
finer scale, where one LBP hit is enough if both of OpenCV's Haar frontal-face models agree (on eval-dev
this found 14 more of the 110 street-fashion models and nothing in the 120 other photos).

Everything runs on small greyscale arrays; detection is limited to the upper part of the frame (where a
model's face is) and to face sizes a figure in frame can have, which keeps it to a few milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from skimage.data import lbp_frontal_face_cascade_filename

# Body half-width (face-widths) at heights below the face centre (face-widths); measured proportions of
# a standing adult (head, neck, shoulders, torso, hips, thighs, calves).
_PROFILE_ROWS = np.array([-0.95, -0.5, 0.0, 0.55, 1.0, 2.0, 5.0, 6.0, 7.0, 8.0, 10.5], np.float32)
_PROFILE_HALF_WIDTH = np.array([0.2, 0.5, 0.6, 0.45, 1.0, 1.3, 1.3, 1.15, 1.0, 0.9, 0.9], np.float32)
FIGURE_BOTTOM = 10.5  # face-widths below the face centre where the feet end
CLOSE_UP_SHARE = 0.18  # a face at least this share of the frame's height is a close-up (head and shoulders)


@dataclass(frozen=True)
class Face:
    """A detected face in pixel coordinates of the image it was found in: centre (x, y) and width."""

    x: float
    y: float
    width: float


# OpenCV's CascadeClassifier keeps per-call scale data inside the object, so two threads detecting with
# one instance corrupt each other's search (an assertion error in setWindow, seen under the HTTP
# service's worker threads). Each thread loads its own; a load takes about a millisecond.
_per_thread = threading.local()


def _thread_cached(key: str, load: Callable[[], Any]) -> Any:
    cache = _per_thread.__dict__
    if key not in cache:
        cache[key] = load()
    return cache[key]


def _cascade():
    """This thread's OpenCV cascade with scikit-image's LBP face model, or None when either is unavailable
    (the cue is then skipped)."""
    return _thread_cached("lbp", _load_lbp_cascade)


def _load_lbp_cascade():
    """The model file misspells one tag ("featuhreParams"), which scikit-image's reader tolerates and
    OpenCV's does not, so it is corrected in memory."""
    try:
        text = open(lbp_frontal_face_cascade_filename(), encoding="utf-8").read()
    except OSError:
        return None
    storage = cv2.FileStorage(
        text.replace("featuhreParams", "featureParams"), cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY
    )
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


def _haar_face_cascade(model: str = "alt2"):
    """This thread's copy of one of OpenCV's bundled Haar frontal-face models ("alt2" or "alt"), or None
    when the wheel has no cascade data."""
    return _thread_cached(f"haar-{model}", lambda: _load_haar_cascade(model))


def _load_haar_cascade(model: str):
    data = getattr(cv2, "data", None)
    cascade = cv2.CascadeClassifier(data.haarcascades + f"haarcascade_frontalface_{model}.xml") if data else None
    return cascade if cascade is not None and not cascade.empty() else None


def haar_confirms(rgb: np.ndarray, face: Face, side: int = 96, model: str = "alt2") -> bool:
    """Whether a second, differently trained detector (Haar features, not LBP; OpenCV's `model`) also sees
    a face filling most of `face`'s box in an h×w×3 uint8 RGB image. Large LBP detections on fur, grass or
    a starfish's texture pass the skin check; they do not pass this."""
    cascade = _haar_face_cascade(model)
    if cascade is None:
        return False
    h, w = rgb.shape[:2]
    half = 0.8 * face.width
    x0, x1 = int(max(face.x - half, 0)), int(min(face.x + half, w))
    y0, y1 = int(max(face.y - half, 0)), int(min(face.y + half, h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return False
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    scale = side / max(grey.shape)
    grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    smallest = int(0.45 * side)
    return len(cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=3, minSize=(smallest, smallest))) > 0


def model_faces(
    rgb: np.ndarray,
    min_skin: float = 0.3,
    max_height: float = 0.25,
    min_reach: float = 0.75,
    close_up_share: float = CLOSE_UP_SHARE,
    close_up_height: float = 0.45,
    weak_min_share: float = 0.045,
    **detect,
) -> list[Face]:
    """Faces of a model posing for the shot in an h×w×3 uint8 RGB image, all skin-coloured (≥ `min_skin`):
    - standing figures: face centre above `max_height` of the frame with the figure below reaching at least
      `min_reach` of its height — a full- or three-quarter-length shot, not a small person in a scene;
    - only when there is none, standing figures again from a finer search that takes a single detection
      (faces `weak_min_share`..0.15 of the height, searched at ~1.5× the first pass's scale): street
      photos whose face the first pass missed. A lone LBP hit is weak evidence, so both of OpenCV's Haar
      frontal-face models must confirm it (haar_confirms with "alt" and "alt2");
    - only when there is still none, a detection pass over more of the frame and sizes, which also takes
      close-ups (head and shoulders, a portrait): a face `close_up_share` to half of the frame's height,
      centre above `close_up_height`. Its faces must be confirmed by a second detector (haar_confirms): the
      wider search is where the LBP model fires on texture.
    Each later pass runs only when the earlier ones found nothing, so it cannot change what they find."""
    h = rgb.shape[0]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    def standing(face: Face) -> bool:
        return face.y <= max_height * h and face.y + (FIGURE_BOTTOM - 0.8) * face.width >= min_reach * h

    first = detect_faces(grey, **{"search_height": max_height + 0.15, **detect})
    found = [f for f in first if standing(f) and skin_share(rgb, f) >= min_skin]
    if found:
        return found
    fine = {**detect, "search_height": max_height + 0.1, "min_share": weak_min_share, "max_share": 0.15}
    fine["min_neighbours"] = 1
    found = [
        f
        for f in detect_faces(grey, **fine)
        if standing(f)
        and skin_share(rgb, f) >= min_skin
        and haar_confirms(rgb, f, model="alt")
        and haar_confirms(rgb, f)
    ]
    if found:
        return found
    # The wider pass starts well below close-up size: overlapping detections at more scales are what confirm
    # a face (min_neighbours), and starting at close_up_share lost half the true close-ups. From 0.12 (not the
    # first pass's 0.07) it adds ~7 ms per photo instead of ~28 ms and kept nearly all of eval-dev's gain.
    wide = {**detect, "search_height": close_up_height + 0.15, "min_share": 0.12, "max_share": 0.5}
    return [
        f
        for f in detect_faces(grey, **wide)
        if (standing(f) or (f.width >= close_up_share * h and f.y <= close_up_height * h))
        and skin_share(rgb, f) >= min_skin
        and haar_confirms(rgb, f)
    ]


def person_prior(
    shape: tuple[int, int], face: Face, core: float = 0.6, margin: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
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
