"""Honest results: measure a finished cut and say whether a person should look at it before it is used.

A doubtful cut is never passed off as good. Every result carries `needs_review` and the stable reason codes
below (`REASONS`, each with one sentence a seller can read); the store integration holds flagged cuts back.

Three pure functions on numpy arrays:
- `require_content(image)`: a photo of one flat colour has nothing to cut out → NoProductError (`no_product`),
  raised before any segmentation, instead of a centre-crop "success".
- `measure_cut(confidence, alpha, image)` → CutMeasures: a few numbers from the finished cut, measured on a
  copy at most MEASURE_SIDE px a side. They do not depend on the output background, so they are stored with
  the item and a theme swap re-judges without touching pixels.
- `judge(measures, plain_background)` → Review(needs_review, reasons).

How the thresholds were set: on the 230 foreground photos of eval-dev, cut by the classical backend, and on
the studio-style composites built from them (fusion.evaluation.composites), comparing each cut with its human
mask (a "bad" cut: IoU < 0.7). Most measures are far from the thresholds on every good cut; the outline test
is the one that separates good from bad lifestyle cuts (see docs/how-it-works.md for the numbers). The same
thresholds apply to every backend (they judge the cut, not how it was made), but only classical cuts were
available to calibrate them: re-check them on labelled photos when a model backend is installed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import cv2
import numpy as np

from fusion.errors import NoProductError

# ------------------------------------------------------------------------------------------ reason codes

# Stable codes (API field `review_reasons`, CLI `--json`); the order here is the order they are reported in.
REASONS: dict[str, str] = {
    "uniform_photo": "the photo shows no distinct object (noise, one texture, or a subject that blends into it)",
    "low_confidence": "the segmenter was unsure which part of the photo is the product",
    "empty": "the cut-out is almost empty",
    "near_full": "the cut-out covers almost the whole photo, so little background was removed",
    "sliver": "the cut-out is only a thin sliver",
    "weak_outline": "much of the cut's outline runs through areas that look the same on both sides",
    "backdrop_not_uniform": (
        "the photo's backdrop is busy and parts of the outline are faint; on a plain background any "
        "leftover of it will show"
    ),
}

# ------------------------------------------------------------------------------------------- thresholds

# A photo counts as "one colour" (no_product) when no CELL_PX-px cell's mean colour is more than STRUCTURE_DE
# from the photo's typical colour AND its pixels spread less than BLANK_SPREAD_DE (JPEG and sensor noise on a
# blank backdrop stay well under 3). With the cells uniform but the pixels spread (noise, a plain fabric
# texture) the cut goes ahead, flagged uniform_photo: a close-up of a fabric is a product, pure noise is not,
# and only a person can tell. Averaging 64×64 px divides i.i.d. noise by 64, so even full-range RGB noise
# leaves every cell within ~5 ΔE; a real subject moves its cells by tens of ΔE (eval-dev: all but one of 460
# photos above 12; the exception, a camouflaged snake on sand, is flagged), and a clearly coloured object of
# 0.3% of the frame (smaller ones are flagged `empty` anyway) still moves a cell by more than 10. Small photos
# keep MIN_CELLS cells along their shorter side.
CELL_PX = 64
MIN_CELLS = 4
STRUCTURE_DE = 8.0
BLANK_SPREAD_DE = 3.0
# The selection's own confidence: below this it fell back (heatmap too weak or flat: 0.1-0.2) or broke a
# near-tie with little contrast. Classical, eval-dev: every studio cut scores above 0.88; the 4 of 230
# lifestyle cuts under 0.5 are all bad.
LOW_CONFIDENCE = 0.5
# Share of the frame the cut keeps (alpha > 0.5). eval-dev cuts keep 3-74% (5th-95th percentile 8-44%);
# under 0.5% is a few specks, over 90% means the background was barely touched.
EMPTY_SHARE = 0.005
NEAR_FULL_SHARE = 0.90
# Width of the cut's widest part (twice the largest distance from inside it to its edge) as a share of the
# photo's shorter side. Every eval-dev cut is at least 0.10 wide; under 0.04 is a strip, not a product.
SLIVER_WIDTH = 0.04
# The outline test: at each pixel of the cut's edge (edges on the photo's frame excluded), the mean colour just
# inside is compared with the mean colour just outside (Gaussian windows of OUTLINE_SCALE × the shorter side).
# A true outline separates different things; an outline through sky or fur has the same colour on both sides.
# WEAK_EDGE_DE (CIELAB ΔE76, ~4 "just noticeable differences") marks a weak edge pixel. More than
# WEAK_OUTLINE_SHARE weak edge → weak_outline: on eval-dev 23 of 230 lifestyle cuts, 21 of them bad
# (IoU < 0.7), and 0 of 230 studio cuts.
OUTLINE_SCALE = 0.01
WEAK_EDGE_DE = 10.0
WEAK_OUTLINE_SHARE = 0.20
# Plain outputs (white, a colour, transparent) show any leftover of the old backdrop, so they get a stricter
# outline test when the backdrop around the cut is busy: the 90th percentile ΔE from the backdrop's median
# colour in a band BACKDROP_BAND × the shorter side wide just outside the cut. Studio backdrops (gradients,
# floor shadows, sensor noise, JPEG) are mostly under 14 (90th percentile; at most 24); lifestyle scenes are
# mostly above 20 (median 37). Busy alone says nothing about the cut (on eval-dev, cuts on busy backdrops are
# no worse than the rest), so it is combined with a weak share over WEAK_OUTLINE_SHARE_PLAIN: 71 of 230
# lifestyle cuts flagged, 58 of them bad; 0 studio.
BACKDROP_BAND = 0.04
BUSY_BACKDROP_DE = 20.0
WEAK_OUTLINE_SHARE_PLAIN = 0.08
# Measures are taken on a copy at most this many pixels a side (the thresholds are relative to the photo's
# size; this keeps the cost to ~10 ms on a 1 MP photo and ~90 ms, mostly the downscale, on a 24 MP one).
MEASURE_SIDE = 512
_MIN_EDGE_PX = 20  # fewer edge pixels than this (off the frame): no outline to judge
_MIN_BAND_PX = 50  # fewer backdrop pixels around the cut than this: no backdrop to judge
_SURE_BACKDROP = 0.05  # alpha below this is backdrop when sampling it
_FRAME_PX = 2  # edge pixels this close to the photo's frame are the frame, not an outline


# ------------------------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class CutMeasures:
    """What `judge` needs to know about one cut, independent of the output background (JSON-ready).

    confidence:    the selection's confidence, 0..1 (1.0 for an input's own transparency).
    coverage:      share of the frame the cut keeps (alpha > 0.5).
    width:         the cut's widest part / the photo's shorter side.
    weak_outline:  share of the cut's outline with the same colour on both sides, or None (no image, or no
                   outline off the frame).
    backdrop_spread: 90th percentile ΔE of the backdrop around the cut from its median colour, or None.
    structure:     largest ΔE of a cell's mean colour from the photo's typical colour, or None (no image).
    None marks a measure that does not apply: an input's own transparency is not judged by the pixels under it.
    """

    confidence: float
    coverage: float
    width: float
    weak_outline: float | None = None
    backdrop_spread: float | None = None
    structure: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {name: (None if value is None else round(float(value), 4)) for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CutMeasures":
        """The inverse of `to_dict`; ValueError when a field is missing or not a number."""
        values: dict[str, float | None] = {}
        for spec in fields(cls):
            value = data.get(spec.name)
            optional = spec.default is None
            if value is None and optional:
                values[spec.name] = None
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                values[spec.name] = float(value)
            else:
                raise ValueError(f"cut measure {spec.name!r} is missing or not a number")
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Review:
    """The verdict on one cut. reasons: codes from REASONS, in REASONS order; needs_review ⇔ any reason."""

    needs_review: bool
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [code for code in self.reasons if code not in REASONS]
        if unknown:
            raise ValueError(f"unknown review reason {unknown[0]!r}; known: {', '.join(REASONS)}")
        if self.needs_review != bool(self.reasons):
            raise ValueError("needs_review must be True exactly when there are reasons")

    @property
    def messages(self) -> tuple[str, ...]:
        """One sentence per reason, same order."""
        return tuple(REASONS[code] for code in self.reasons)

    def metadata(self, measures: CutMeasures | None = None, plain_background: bool | None = None) -> dict:
        """The fields every result's metadata carries: needs_review, review_reasons, and `review` (the
        sentences, and what was measured and judged against)."""
        detail: dict[str, Any] = {"messages": list(self.messages)}
        if plain_background is not None:
            detail["plain_background"] = plain_background
        if measures is not None:
            detail["measures"] = measures.to_dict()
        return {"needs_review": self.needs_review, "review_reasons": list(self.reasons), "review": detail}


# ------------------------------------------------------------------------------------------------ pixels


_LAB_SCALE = np.array([100.0 / 255.0, 1.0, 1.0], np.float32)
_LAB_OFFSET = np.array([0.0, 128.0, 128.0], np.float32)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """…×3 uint8 sRGB → float32 CIELAB (L 0..100, a and b ±127), so distances are ΔE76. OpenCV's 8-bit
    conversion (steps of 0.4 in L, 1 in a and b) is ~20× faster than its float one and fine at these thresholds."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2Lab).astype(np.float32)
    return lab * _LAB_SCALE - _LAB_OFFSET


def _structure(image: np.ndarray, cell_px: float) -> float:
    """How far the most different cell's mean colour (cells of `cell_px`, at least MIN_CELLS along the shorter
    side) is from the median cell colour, in ΔE. image: H×W×3 uint8."""
    height, width = image.shape[:2]
    cell = max(1.0, min(cell_px, min(height, width) / MIN_CELLS))
    grid = (max(1, round(width / cell)), max(1, round(height / cell)))
    cells = _lab(cv2.resize(np.ascontiguousarray(image), grid, interpolation=cv2.INTER_AREA)).reshape(-1, 3)
    return float(np.linalg.norm(cells - np.median(cells, axis=0), axis=1).max())


def photo_structure(image: np.ndarray) -> tuple[float, float]:
    """(structure, spread) of an H×W×3 uint8 photo, both CIELAB ΔE.

    structure: how far the most different cell's mean colour (CELL_PX px, or a MIN_CELLS-th of the shorter
        side for small photos) is from the median cell colour.
    spread: the largest per-channel standard deviation of the pixels (on a sample of at most ~250k).
    """
    height, width = image.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(height * width / 250_000))))
    sample = _lab(image[::step, ::step]).reshape(-1, 3)
    return _structure(image, CELL_PX), float(sample.std(axis=0).max())


NO_CONTENT_MESSAGE = "no product found: the photo is a single flat colour, so there is nothing to cut out"


def require_content(image: np.ndarray) -> None:
    """Raise NoProductError when an H×W×3 uint8 photo is one flat colour (all white, all black, all grey...):
    segmenting it would return a made-up centre crop."""
    structure, spread = photo_structure(image)
    if structure < STRUCTURE_DE and spread < BLANK_SPREAD_DE:
        raise NoProductError(NO_CONTENT_MESSAGE)


def _shrunk(alpha: np.ndarray, image: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    height, width = alpha.shape
    scale = MEASURE_SIDE / max(height, width)
    if scale >= 1.0:
        return alpha, image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    return small, (None if image is None else cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _weak_outline(lab: np.ndarray, solid: np.ndarray, short: int) -> float | None:
    """Share of the edge of `solid` (h×w bool) where the mean Lab colour just inside ≈ just outside."""
    edge = solid & ~cv2.erode(solid.view(np.uint8), _disc(1)).astype(bool)
    edge[:_FRAME_PX], edge[-_FRAME_PX:], edge[:, :_FRAME_PX], edge[:, -_FRAME_PX:] = False, False, False, False
    if int(edge.sum()) < _MIN_EDGE_PX:
        return None
    sigma = max(1.5, OUTLINE_SCALE * short)
    inside = solid.astype(np.float32)
    weight_in = cv2.GaussianBlur(inside, (0, 0), sigma)[edge]
    sum_in = cv2.GaussianBlur(lab * inside[..., None], (0, 0), sigma)[edge]
    sum_all = cv2.GaussianBlur(lab, (0, 0), sigma)[edge]  # blur(lab·(1−m)) = blur(lab) − blur(lab·m)
    colour_in = sum_in / np.maximum(weight_in, 1e-6)[:, None]
    colour_out = (sum_all - sum_in) / np.maximum(1.0 - weight_in, 1e-6)[:, None]
    return float((np.linalg.norm(colour_in - colour_out, axis=1) < WEAK_EDGE_DE).mean())


def _backdrop_spread(lab: np.ndarray, alpha: np.ndarray, solid: np.ndarray, short: int) -> float | None:
    """90th percentile ΔE from the median colour of the backdrop in a band just outside the cut."""
    gap = max(1, round(0.01 * short))
    band = max(2, round(BACKDROP_BAND * short))
    outer = cv2.dilate(solid.view(np.uint8), _disc(gap + band)).astype(bool)
    inner = cv2.dilate(solid.view(np.uint8), _disc(gap)).astype(bool)
    ring = outer & ~inner & (alpha < _SURE_BACKDROP)
    if int(ring.sum()) < _MIN_BAND_PX:
        return None
    pixels = lab[ring]
    return float(np.percentile(np.linalg.norm(pixels - np.median(pixels, axis=0), axis=1), 90))


def measure_cut(confidence: float, alpha: np.ndarray, image: np.ndarray | None) -> CutMeasures:
    """Measure a finished cut.

    confidence: the selection's confidence in [0, 1]. alpha: H×W float in [0, 1] (or uint8), full resolution.
    image: the H×W×3 uint8 photo the alpha was cut from, or None when the alpha did not come from its pixels
    (an input's own transparency): then only the shape of the cut is measured.
    """
    if alpha.dtype == np.uint8:
        alpha = alpha.astype(np.float32) * np.float32(1.0 / 255.0)
    small_alpha, small_image = _shrunk(np.ascontiguousarray(alpha, dtype=np.float32), image)
    # the cells of the full photo, taken from the copy (its pixels are already averages of the full photo's)
    scale = small_alpha.shape[0] / alpha.shape[0]
    structure = None if small_image is None else _structure(small_image, CELL_PX * scale)
    solid = np.ascontiguousarray(small_alpha > 0.5)
    short = min(solid.shape)
    coverage = float(solid.mean())
    reach = cv2.distanceTransform(solid.view(np.uint8), cv2.DIST_L2, 5) if coverage > 0 else np.zeros(1)
    width = 2.0 * float(reach.max()) / short
    weak = spread = None
    if small_image is not None and 0.0 < coverage < 1.0:
        lab = _lab(small_image)
        weak = _weak_outline(lab, solid, short)
        spread = _backdrop_spread(lab, small_alpha, solid, short)
    return CutMeasures(
        confidence=float(confidence),
        coverage=coverage,
        width=min(width, 1.0),
        weak_outline=weak,
        backdrop_spread=spread,
        structure=structure,
    )


# --------------------------------------------------------------------------------------------- verdict


def judge(measures: CutMeasures, plain_background: bool) -> Review:
    """The verdict on a measured cut. plain_background: the output is a flat colour or transparent (where
    leftovers of the old backdrop show), not a themed or picture backdrop."""
    m = measures
    found = set()
    if m.structure is not None and m.structure < STRUCTURE_DE:
        found.add("uniform_photo")
    if m.confidence < LOW_CONFIDENCE:
        found.add("low_confidence")
    if m.coverage < EMPTY_SHARE:
        found.add("empty")
    elif m.coverage > NEAR_FULL_SHARE:
        found.add("near_full")
    elif m.width < SLIVER_WIDTH:
        found.add("sliver")
    if m.weak_outline is not None:
        if m.weak_outline > WEAK_OUTLINE_SHARE:
            found.add("weak_outline")
        busy = m.backdrop_spread is not None and m.backdrop_spread > BUSY_BACKDROP_DE
        if plain_background and busy and m.weak_outline > WEAK_OUTLINE_SHARE_PLAIN:
            found.add("backdrop_not_uniform")
    reasons = tuple(code for code in REASONS if code in found)
    return Review(needs_review=bool(reasons), reasons=reasons)


def review_cut(confidence: float, alpha: np.ndarray, image: np.ndarray | None, plain_background: bool) -> Review:
    """measure_cut then judge: the verdict on one cut in one call."""
    return judge(measure_cut(confidence, alpha, image), plain_background)
