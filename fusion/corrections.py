"""A seller's clicks ("keep this", "remove this") and box, applied to a stored segmentation: no segmenter runs.

The cut is redone from the item's Evidence and its automatic selection (`Mask`) on a grid of at most GRID px.
Each click, in order, flips the connected superpixels on the other side of the current cut whose mean colour is
close to the clicked one's (SIMILAR, wider on a textured surface), no farther than REACH times the click's distance
to the nearest pixel already on its side: the error a click points at is about that wide. Then a graph cut, with a
disk round every click as a hard constraint and colour models learnt from the new belief, settles the edge in a
band of BAND px around what changed; everywhere else the automatic selection is kept pixel for pixel. A box says
"the product is inside": everything outside it is background and, where the cut is empty inside it, the
evidence there is taken as the product.

Coordinates are the photo's pixels (x right, y down, origin top-left) of the image as displayed (EXIF
rotation applied), whatever the working resolution of the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from skimage.segmentation import slic

from fusion.errors import InvalidOptionError
from fusion.segmenters.classical import split_regions
from fusion.segmenters.graphcut import colour_bins, colour_likelihood, contrast_weights, min_cut
from fusion.segmenters.saliency import region_graph, to_lab
from fusion.types import Evidence, Mask

MAX_CLICKS = 100  # per item, over every correction step: a seller never needs more, a script may send junk
GRID = 400  # longest side (px) of the grid the correction is solved on
SUPERPIXELS = 900  # regions of coherent colour on that grid: the units a click's spread is measured in...
SUPERPIXEL_GRID = 240  # ...found on a grid of at most this side (SLIC is most of a correction's time)
SEED_RADIUS = 0.012  # hard-constraint disk around a click, share of the grid's longest side
SIMILAR = 15.0  # Lab distance from the clicked region's mean colour within which regions count as its surface
TEXTURE = 1.5  # on a textured surface the reach in colour widens to this many times the clicked region's
#               median difference from its neighbours on the same side...
MAX_SIMILAR = 20.0  # ...up to this Lab distance
REACH = 3.0  # a click flips nothing farther than this many times its distance to the nearest pixel already
#              on its side of the cut: the error it points at is about that wide (one click on a thin sliver
#              must not flip a wide surface behind it)
BAND = 3  # px of the grid around what the clicks changed where a graph cut settles the edge
SMOOTHNESS = 12.0  # contrast-sensitive smoothing, as in the classical backend's graph cut
PRIOR_WEIGHT = 1.5  # weight of the belief against the colour models


@dataclass(frozen=True)
class Click:
    """One click: x, y in photo pixels; keep=True adds product there, False removes it."""

    x: float
    y: float
    keep: bool


@dataclass(frozen=True)
class Box:
    """The product lies inside [left, right) × [top, bottom), in photo pixels."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class Corrections:
    """Everything a seller said about one item, oldest click first (a later click wins where two disagree)."""

    clicks: tuple[Click, ...] = ()
    box: Box | None = None

    @property
    def empty(self) -> bool:
        return not self.clicks and self.box is None

    def plus(self, other: Corrections) -> Corrections:
        """These corrections followed by `other`'s clicks (and its box, when it has one)."""
        return Corrections(self.clicks + other.clicks, other.box if other.box is not None else self.box)

    def check(self, width: int, height: int) -> None:
        """InvalidOptionError when a click or the box lies outside a width × height photo, or is malformed."""
        if len(self.clicks) > MAX_CLICKS:
            raise InvalidOptionError(f"at most {MAX_CLICKS} clicks per item ({len(self.clicks)} given); "
                                     "undo some, or clear the corrections and start again")
        for click in self.clicks:
            if not (0 <= click.x < width and 0 <= click.y < height):
                raise InvalidOptionError(
                    f"click ({click.x:g}, {click.y:g}) is outside the {width}×{height} photo "
                    "(x from 0 to width, y from 0 to height, in the original photo's pixels)"
                )
        box = self.box
        if box is not None:
            if not (0 <= box.left < box.right <= width and 0 <= box.top < box.bottom <= height):
                raise InvalidOptionError(
                    f"box ({box.left:g}, {box.top:g}, {box.right:g}, {box.bottom:g}) must satisfy "
                    f"0 ≤ left < right ≤ {width} and 0 ≤ top < bottom ≤ {height} (the photo's pixels)"
                )

    def to_dict(self) -> dict[str, Any]:
        box = self.box
        return {
            "points": [{"x": c.x, "y": c.y, "keep": c.keep} for c in self.clicks],
            "box": None if box is None else {"left": box.left, "top": box.top, "right": box.right,
                                             "bottom": box.bottom},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Corrections:
        """The inverse of `to_dict`; InvalidOptionError (one line) for anything malformed."""
        if not isinstance(data, Mapping):
            raise InvalidOptionError("corrections must be an object with 'points' and/or 'box'")
        points = data.get("points") or []
        if not isinstance(points, list):
            raise InvalidOptionError("'points' must be a list of {x, y, keep}")
        clicks = tuple(_click(p) for p in points)
        raw_box = data.get("box")
        box = None if raw_box is None else _box(raw_box)
        return cls(clicks, box)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InvalidOptionError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _click(point: Any) -> Click:
    if not isinstance(point, Mapping) or not isinstance(point.get("keep"), bool):
        raise InvalidOptionError("each point must be {\"x\": number, \"y\": number, \"keep\": true|false}")
    return Click(_number(point.get("x"), "a point's x"), _number(point.get("y"), "a point's y"), point["keep"])


def _box(value: Any) -> Box:
    if not isinstance(value, Mapping):
        raise InvalidOptionError("'box' must be {\"left\", \"top\", \"right\", \"bottom\"} in photo pixels")
    return Box(*(_number(value.get(k), f"the box's {k}") for k in ("left", "top", "right", "bottom")))


# --------------------------------------------------------------------------------------------- the cut


def apply_corrections(evidence: Evidence, base: Mask, corrections: Corrections, photo_size: tuple[int, int]) -> Mask:
    """The automatic selection `base` of `evidence`, corrected by `corrections` given in the pixels of a
    photo of `photo_size` (width, height) → a new Mask at the evidence's working resolution.
    Raises InvalidOptionError for a click or box outside the photo."""
    width, height = photo_size
    corrections.check(width, height)
    if corrections.empty:
        return base
    h, w = evidence.shape
    factor = min(1.0, GRID / max(h, w))
    gh, gw = max(1, round(h * factor)), max(1, round(w * factor))
    image = cv2.resize(evidence.image, (gw, gh), interpolation=cv2.INTER_AREA) if factor < 1 else evidence.image
    probability = _resize(base.probability, (gh, gw))
    current = probability >= 0.5
    belief = probability.astype(np.float32).copy()
    sure_fg, sure_bg = np.zeros((gh, gw), bool), np.zeros((gh, gw), bool)
    touched = np.zeros((gh, gw), bool)
    sx, sy = gw / width, gh / height
    side = max(gh, gw)

    if corrections.box is not None:
        inside = _box_mask(corrections.box, sx, sy, (gh, gw))
        sure_bg |= ~inside
        touched |= current & ~inside
        if not (current & inside).any():  # nothing kept inside the box yet: the evidence there is the product
            heat = _resize(evidence.heatmap, (gh, gw))
            belief = np.where(inside, np.maximum(heat, 0.5), 0.0).astype(np.float32)
            touched |= inside
        else:
            belief = np.where(inside, belief, 0.0).astype(np.float32)

    lab = to_lab(image)
    regions = _superpixels(lab, min(SUPERPIXELS, max(1, gh * gw // 16)))
    radius = max(1, round(SEED_RADIUS * side))
    for click in corrections.clicks:
        x = min(gw - 1, int(click.x * sx))
        y = min(gh - 1, int(click.y * sy))
        flipped = _spread(regions, lab, current, (y, x), click.keep)
        disk = _disk((gh, gw), (y, x), radius)
        sure_fg = (sure_fg & ~disk) | (disk if click.keep else False)
        sure_bg = (sure_bg & ~disk) | (disk if not click.keep else False)
        current = np.where(flipped | disk, click.keep, current)
        touched |= flipped | disk
    belief = np.where(touched, np.where(current, 0.9, 0.1), belief).astype(np.float32)

    corrected = _cut(image, belief, sure_fg, sure_bg, touched, current, BAND)
    return _to_mask(base, corrected, probability >= 0.5, (h, w), len(corrections.clicks), corrections.box is not None)


def _superpixels(lab: np.ndarray, count: int) -> np.ndarray:
    """SLIC regions of an h×w×3 Lab image, found on a grid of at most SUPERPIXEL_GRID px (SLIC is most of a
    correction's time) and scaled back → h×w int32 ids. Not `saliency.superpixels`: that one converts RGB to Lab
    again, and the spread needs this Lab anyway (on 40 eval-dev photos it was also 0.2–0.3 clicks better)."""
    h, w = lab.shape[:2]
    factor = min(1.0, SUPERPIXEL_GRID / max(h, w))
    small = cv2.resize(lab, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    labels = slic(small, n_segments=count, compactness=10.0, start_label=0, convert2lab=False, channel_axis=-1,
                  enforce_connectivity=True).astype(np.int32)
    # nearest-neighbour upscaling keeps every id (each small pixel covers at least one full-size one)
    return labels if labels.shape == (h, w) else cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)


def _resize(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if values.shape == shape:
        return values.astype(np.float32, copy=False)
    interpolation = cv2.INTER_AREA if values.shape[0] > shape[0] else cv2.INTER_LINEAR
    return cv2.resize(values.astype(np.float32), (shape[1], shape[0]), interpolation=interpolation)


def _box_mask(box: Box, sx: float, sy: float, shape: tuple[int, int]) -> np.ndarray:
    inside = np.zeros(shape, bool)
    top, bottom = int(np.floor(box.top * sy)), int(np.ceil(box.bottom * sy))
    left, right = int(np.floor(box.left * sx)), int(np.ceil(box.right * sx))
    inside[top:max(bottom, top + 1), left:max(right, left + 1)] = True
    return inside


def _disk(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    disk = np.zeros(shape, np.uint8)
    cv2.circle(disk, (centre[1], centre[0]), radius, 1, -1)
    return disk.astype(bool)


def _spread(
    regions: np.ndarray, lab: np.ndarray, current: np.ndarray, start: tuple[int, int], keep: bool
) -> np.ndarray:
    """h×w bool: the pixels a click at `start` flips to `keep` — the connected regions on the other side of the
    current cut whose mean colour is within SIMILAR of the clicked region's. Measured against the clicked colour,
    not neighbour to neighbour, so a gradual transition (a blurred edge) cannot carry the spread away."""
    flipped = np.zeros(current.shape, bool)
    if current[start] == keep:
        return flipped
    nodes = split_regions(regions, current)  # each node lies wholly on one side of the current cut
    graph = region_graph(nodes, lab)
    side = np.bincount(nodes.ravel(), current.ravel().astype(np.float64), graph.count) > graph.size / 2
    seed = int(nodes[start])
    distance = np.linalg.norm(graph.colour - graph.colour[seed], axis=1)
    a, b = graph.edges[:, 0], graph.edges[:, 1]
    around = np.concatenate([b[a == seed], a[b == seed]])
    around = around[side[around] != keep]
    texture = float(np.median(distance[around])) if around.size else 0.0
    similar = (side != keep) & (distance < min(MAX_SIMILAR, max(SIMILAR, TEXTURE * texture)))
    usable = similar[a] & similar[b]
    matrix = sparse.csr_matrix((np.ones(int(usable.sum())), (a[usable], b[usable])), shape=(graph.count,) * 2)
    _, component = csgraph.connected_components(matrix, directed=False)
    reached = (similar & (component == component[seed]))[nodes]
    agreeing = (current == keep).astype(np.uint8)
    if agreeing.any():
        # distance of every pixel to the nearest one already on the click's side; the click's own sets the reach
        to_agreeing = cv2.distanceTransform(1 - agreeing, cv2.DIST_L2, 3)
        reach = REACH * float(to_agreeing[start])
        ys, xs = np.ogrid[: current.shape[0], : current.shape[1]]
        reached &= (ys - start[0]) ** 2 + (xs - start[1]) ** 2 <= reach**2
    return reached


def _cut(
    image: np.ndarray, belief: np.ndarray, sure_fg: np.ndarray, sure_bg: np.ndarray, touched: np.ndarray,
    current: np.ndarray, band: int,
) -> np.ndarray:
    """Graph cut over the pixels within `band` of what the corrections touched; the rest keeps `current`."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    free = cv2.dilate(touched.astype(np.uint8), kernel).astype(bool) & ~(sure_fg | sure_bg)
    fixed = (current | sure_fg) & ~sure_bg
    if not free.any():
        return fixed
    bins = colour_bins(image)
    p = np.clip(belief, 0.02, 0.98)
    cost_fg = -np.log(colour_likelihood(bins, belief)) - PRIOR_WEIGHT * np.log(p)
    cost_bg = -np.log(colour_likelihood(bins, 1.0 - belief)) - PRIOR_WEIGHT * np.log(1.0 - p)
    low = np.minimum(cost_fg, cost_bg)
    return min_cut(cost_fg - low, cost_bg - low, contrast_weights(image, SMOOTHNESS), free=free, fixed=fixed)


def _to_mask(
    base: Mask, corrected: np.ndarray, before: np.ndarray, shape: tuple[int, int], clicks: int, boxed: bool
) -> Mask:
    """The grid result back at working resolution: where the grid cut changed nothing, the base selection is
    kept pixel for pixel (its finer edge); where it changed, the upsampled correction."""
    changed = corrected != before
    if changed.shape != shape:
        changed = cv2.resize(changed.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        changed = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        soft = cv2.resize(corrected.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    else:
        soft = corrected.astype(np.float32)
    probability = np.where(changed, soft, base.probability).astype(np.float32)
    what = " and a box" if boxed and clicks else ("a box" if boxed else "")
    said = f"{clicks} click{'s' * (clicks != 1)}{what}" if clicks else what
    return Mask(
        probability=probability,
        binary=probability >= 0.5,
        regions=base.regions,
        tie_broken=base.tie_broken,
        confidence=1.0,  # a person said where the product is
        reason=f"{base.reason}; corrected by {said}",
    )
