"""The marketplace main-image rule, as a pure check on a rendered image: a pure white (255, 255, 255)
background, the product filling at least 85% of the frame along its limiting side, and at least 1000 px on the
longest side (Amazon / Google Shopping main-image rules; Shopify storefronts show the main image in feeds).

Background = the outermost ring of pixels; product = the bounding box of the pixels that are not near white
(a soft edge or JPEG ringing is a few levels off 255, which must not count as product nor as background).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_FILL = 0.85
MIN_LONGEST_SIDE = 1000
MIN_WHITE_RING = 0.75  # share of the frame's outer ring that must be pure white (a product may touch it)
PRODUCT_LEVEL = 250  # a pixel with any channel below this is product (or shadow), not background


@dataclass(frozen=True)
class MarketplaceVerdict:
    """passed, and a stable code per failed rule: not_white_background | product_too_small | image_too_small."""

    passed: bool
    reasons: tuple[str, ...]
    fill: float  # the product box's share of the frame along its limiting side, 0..1
    white_ring: float  # share of the outer ring that is exactly 255 white


def check_main_image(rgb: np.ndarray, *, min_fill: float = MIN_FILL,
                     min_side: int = MIN_LONGEST_SIDE) -> MarketplaceVerdict:
    """Judge an H×W×3 uint8 image (the composited output, alpha already flattened) against the main-image rule."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 image, got shape {rgb.shape} dtype {rgb.dtype}")
    height, width = rgb.shape[:2]
    white = np.all(rgb == 255, axis=2)
    ring = np.concatenate([white[0], white[-1], white[1:-1, 0], white[1:-1, -1]])
    white_ring = float(ring.mean()) if ring.size else 0.0
    product = np.any(rgb < PRODUCT_LEVEL, axis=2)
    rows, cols = np.flatnonzero(product.any(axis=1)), np.flatnonzero(product.any(axis=0))
    if rows.size == 0:
        fill = 0.0
    else:
        box_w, box_h = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
        # +1 px: framing rounds the scaled product to whole pixels, so 85% can land half a pixel short
        fill = min(1.0, max((box_w + 1) / width, (box_h + 1) / height))
    reasons = []
    if white_ring < MIN_WHITE_RING:
        reasons.append("not_white_background")
    if fill < min_fill:
        reasons.append("product_too_small")
    if max(height, width) < min_side:
        reasons.append("image_too_small")
    return MarketplaceVerdict(not reasons, tuple(reasons), fill, white_ring)


def is_marketplace_look(render: dict) -> bool:
    """Whether a job's look is the marketplace one (plain white, no theme): only then is a main image held for
    failing the rule. A seller who chose a theme or a colour asked for something else on purpose."""
    background = str(render.get("background") or "white").strip().lower()
    return not render.get("theme") and background in ("white", "#ffffff", "#fff", "255,255,255")
