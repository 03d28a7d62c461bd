"""Where the product goes on the output canvas: crop to its alpha, scale to a fill ratio, align. Pure functions.

The marketplace main-image rule is the default: the product fills 85% of the canvas along its limiting
dimension, centred on a square canvas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from fusion.errors import InvalidOptionError, NoProductError

ALIGNMENTS = ("center", "bottom", "top")
_ALIGN_ALIASES = {"centre": "center", "middle": "center"}
# Alpha below this counts as background when finding the product's box (faint segmentation haze).
BOX_ALPHA = 0.05
# Connected blobs smaller than this share of all product pixels are stray specks, not part of the box.
SPECK_SHARE = 0.002
# Without a fixed output size the canvas is sized from the product (never upscaled), capped at this side.
MAX_DEFAULT_SIDE = 4096


@dataclass(frozen=True)
class Framing:
    """How to frame the product.

    crop:   True → crop to the product and scale it to `fill`; False → keep the photo's own canvas.
    fill:   share of the canvas (inside the margins) the product fills along its limiting dimension, 0.1..1.
    align:  center | bottom | top (vertical placement; horizontally always centred).
    margin: fraction of the canvas kept free on every side, 0..0.4.
    size:   fixed output (width, height) in pixels, or None to size the canvas from the product.
    shadow: contact shadow under the product; None = automatic (on for themed backgrounds).
    """

    crop: bool = True
    fill: float = 0.85
    align: str = "center"
    margin: float = 0.0
    size: tuple[int, int] | None = None
    shadow: bool | None = None

    def __post_init__(self) -> None:
        align = _ALIGN_ALIASES.get(str(self.align).lower(), str(self.align).lower())
        if align not in ALIGNMENTS:
            raise InvalidOptionError(f"align {self.align!r} is not one of {', '.join(ALIGNMENTS)}")
        object.__setattr__(self, "align", align)
        if not 0.1 <= self.fill <= 1.0:
            raise InvalidOptionError(f"fill must be between 0.1 and 1, got {self.fill}")
        if not 0.0 <= self.margin <= 0.4:
            raise InvalidOptionError(f"margin must be between 0 and 0.4, got {self.margin}")
        if self.size is not None:
            if len(self.size) != 2 or min(self.size) < 1:
                raise InvalidOptionError(f"size must be (width, height) in pixels, got {self.size}")
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))


@dataclass(frozen=True)
class Placement:
    """The affine placement of a crop of the source onto the output canvas.

    crop:   (x0, y0, x1, y1) source box (exclusive ends) that is placed.
    scale:  output pixels per source pixel.
    size:   (width, height) of the scaled crop on the canvas.
    offset: (x, y) canvas position of the scaled crop's top-left corner.
    canvas: (width, height) of the output.
    """

    crop: tuple[int, int, int, int]
    scale: float
    size: tuple[int, int]
    offset: tuple[int, int]
    canvas: tuple[int, int]


NO_PRODUCT_MESSAGE = (
    "no product found: the cut-out is empty (a fully transparent image, or nothing could be separated from "
    "the background)"
)


def require_product(alpha: np.ndarray) -> None:
    """Raise NoProductError when an H×W alpha in [0, 1] has no pixel above BOX_ALPHA: an empty cut-out would
    be written as a bare background (or an all-zero mask) that looks like a success."""
    if not bool((alpha > BOX_ALPHA).any()):
        raise NoProductError(NO_PRODUCT_MESSAGE)


def product_box(alpha: np.ndarray, threshold: float = BOX_ALPHA) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), exclusive ends, of the product in an H×W alpha in [0, 1].

    Pixels below `threshold` and tiny stray blobs (< SPECK_SHARE of the product's pixels) are ignored.
    Returns None when nothing is above the threshold.
    """
    solid = (alpha > threshold).astype(np.uint8)
    total = int(solid.sum())
    if total == 0:
        return None
    count, _, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = stats[1:][areas >= max(1, SPECK_SHARE * total)]
    if len(keep) == 0:  # only specks: keep them all rather than nothing
        keep = stats[1:]
    x0 = int(keep[:, cv2.CC_STAT_LEFT].min())
    y0 = int(keep[:, cv2.CC_STAT_TOP].min())
    x1 = int((keep[:, cv2.CC_STAT_LEFT] + keep[:, cv2.CC_STAT_WIDTH]).max())
    y1 = int((keep[:, cv2.CC_STAT_TOP] + keep[:, cv2.CC_STAT_HEIGHT]).max())
    return x0, y0, x1, y1


def plan(shape: tuple[int, int], box: tuple[int, int, int, int] | None, framing: Framing) -> Placement:
    """Placement of the product box of a source of `shape` (H, W) under `framing`.

    crop=True: the box is scaled so it fills `framing.fill` of the area inside the margins along its limiting
    dimension. Without a fixed size the canvas is a square sized so the product keeps its pixels (scale 1,
    never upscaled; only huge products are scaled down to MAX_DEFAULT_SIDE).
    crop=False (or no product): the whole source is kept, scaled to fit inside a fixed size if one is given.
    """
    height, width = shape
    if not framing.crop or box is None:
        return _keep_canvas(width, height, framing)
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    inner = framing.fill * (1.0 - 2.0 * framing.margin)  # usable share of each canvas side
    if framing.size is None:
        side = math.ceil(max(bw, bh) / inner)
        scale = 1.0
        if side > MAX_DEFAULT_SIDE:
            scale, side = MAX_DEFAULT_SIDE * inner / max(bw, bh), MAX_DEFAULT_SIDE
        canvas = (side, side)
    else:
        canvas = framing.size
        scale = inner * min(canvas[0] / bw, canvas[1] / bh)
    size = (max(1, round(bw * scale)), max(1, round(bh * scale)))
    cw, ch = canvas
    ox = round((cw - size[0]) / 2)
    top, bottom = framing.margin * ch, ch - framing.margin * ch
    if framing.align == "bottom":
        oy = round(bottom - size[1])
    elif framing.align == "top":
        oy = round(top)
    else:
        oy = round((ch - size[1]) / 2)
    return Placement(crop=box, scale=scale, size=size, offset=(ox, oy), canvas=canvas)


def _keep_canvas(width: int, height: int, framing: Framing) -> Placement:
    if framing.size is None:
        return Placement((0, 0, width, height), 1.0, (width, height), (0, 0), (width, height))
    cw, ch = framing.size
    scale = min(cw / width, ch / height)
    size = (min(cw, max(1, round(width * scale))), min(ch, max(1, round(height * scale))))
    offset = ((cw - size[0]) // 2, (ch - size[1]) // 2)
    return Placement((0, 0, width, height), scale, size, offset, (cw, ch))


def apply_placement(
    placement: Placement, premultiplied: np.ndarray, alpha: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Place premultiplied colour (H×W×3 float32, colour·alpha in 0..255) and alpha (H×W float32 in [0, 1]).

    Returns canvas-sized (h×w×3, h×w) float32 arrays, zero outside the product. Resampling premultiplied
    colour keeps old background colour from bleeding into the edges.
    """
    x0, y0, x1, y1 = placement.crop
    colour, cover = premultiplied[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    if (x1 - x0, y1 - y0) != placement.size:
        shrinking = placement.scale < 1.0
        method = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        colour = cv2.resize(colour, placement.size, interpolation=method)
        cover = cv2.resize(cover, placement.size, interpolation=method)
    cw, ch = placement.canvas
    out_colour = np.zeros((ch, cw, 3), np.float32)
    out_alpha = np.zeros((ch, cw), np.float32)
    ox, oy = placement.offset
    # clip the paste to the canvas (rounding can push a full-bleed product one pixel out)
    sx0, sy0 = max(0, -ox), max(0, -oy)
    dx0, dy0 = max(0, ox), max(0, oy)
    w = min(placement.size[0] - sx0, cw - dx0)
    h = min(placement.size[1] - sy0, ch - dy0)
    if w > 0 and h > 0:
        out_colour[dy0:dy0 + h, dx0:dx0 + w] = colour[sy0:sy0 + h, sx0:sx0 + w]
        out_alpha[dy0:dy0 + h, dx0:dx0 + w] = np.clip(cover[sy0:sy0 + h, sx0:sx0 + w], 0.0, 1.0)
    return out_colour, out_alpha


def cover_fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale `image` (H×W×3 uint8) to cover width×height, then centre-crop: h×w×3 uint8, no bars, no stretch."""
    ih, iw = image.shape[:2]
    scale = max(width / iw, height / ih)
    sw, sh = max(width, math.ceil(iw * scale - 1e-6)), max(height, math.ceil(ih * scale - 1e-6))
    if (sw, sh) != (iw, ih):
        method = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
        image = cv2.resize(image, (sw, sh), interpolation=method)
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width])
