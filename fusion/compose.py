"""Put a cut-out product on a new background: edge colour decontamination, backgrounds, alpha-over, shadow.

Arrays: colour images are H×W×3 uint8 sRGB; alpha is H×W float in [0, 1] (uint8 0..255 is accepted too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Union

import cv2
import numpy as np

from fusion.colour import parse_colour
from fusion.errors import InvalidOptionError, PromptcutError
from fusion.framing import Framing, Placement, apply_placement, cover_fit, plan, product_box, require_product
from fusion.imageio import load_image  # lazy: decoding lives at the edge
from fusion.themes import Theme, list_themes, load_theme, render_theme

__all__ = [
    "Background",
    "Framing",
    "ImageFill",
    "Placement",
    "Solid",
    "Themed",
    "Transparent",
    "compose",
    "contact_shadow",
    "decontaminate",
    "is_plain",
    "parse_background",
    "shadow_patch",
]

# ------------------------------------------------------------------------------------------- decontamination

# Alpha at or below/above these counts as sure background / sure foreground when estimating colours.
_SURE_BACKGROUND = 0.02
_SURE_FOREGROUND = 0.98
# Below this alpha the unmixing F = (I - (1-α)B)/α amplifies noise too much; fade to the nearby product colour.
_UNMIX_FROM, _UNMIX_FULL = 0.05, 0.3


_REMAP_ROW = 4096


def _fill_from(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Push-pull scattered-data fill: every pixel gets the weighted mean colour of the nearest weighted pixels.

    values: H×W×3 float32 weighted sums (colour·weight); weights: H×W float32 ≥ 0 (share of sure pixels).
    Returns H×W×3 float32 mean colours: a pixel with support keeps its own mean, a pixel far from any support
    takes the mean of a coarser pyramid level. O(N).
    """
    levels = [(values, weights)]
    while min(levels[-1][1].shape) > 1:
        colour, weight = levels[-1]
        h, w = weight.shape
        size = (max(1, (w + 1) // 2), max(1, (h + 1) // 2))
        levels.append((cv2.resize(colour, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(weight, size, interpolation=cv2.INTER_AREA)))
    colour, weight = levels[-1]
    estimate = colour / np.maximum(weight, 1e-6)[..., None]
    for colour, weight in reversed(levels[:-1]):
        h, w = weight.shape
        coarse = cv2.resize(estimate, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, 3)
        own = colour / np.maximum(weight, 1e-6)[..., None]
        # trust a pixel's own mean as far as it has support; otherwise take the coarser estimate
        trust = np.clip(weight * 4.0, 0.0, 1.0)[..., None]
        estimate = own * trust + coarse * (1.0 - trust)
    return estimate


def _mean_colour_near(image: np.ndarray, sure: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Mean colour of the nearest `sure` pixels of `image` (H×W×3 uint8), at flat pixel indices `index`.

    sure: H×W bool. Returns N×3 float32 in 0..255. The fill runs at half resolution (a colour estimate needs
    no finer detail) and full-size work stays in 8/16-bit cv2 calls, which keeps this to a few milliseconds.
    """
    height, width = sure.shape
    half = (max(1, (width + 1) // 2), max(1, (height + 1) // 2))
    mask = sure.view(np.uint8)
    # ×64 in 16 bits so the 2×2 averaging of masked colours keeps sub-level precision
    masked = cv2.multiply(cv2.copyTo(image, mask), 64, dtype=cv2.CV_16U)
    weighted = cv2.resize(masked, half, interpolation=cv2.INTER_AREA).astype(np.float32) / 64.0
    weight = cv2.resize(mask * np.uint8(64), half, interpolation=cv2.INTER_AREA).astype(np.float32) / 64.0
    weighted = weighted.reshape(half[1], half[0], 3)
    quarter = (max(1, (half[0] + 1) // 2), max(1, (half[1] + 1) // 2))
    coarse = _fill_from(cv2.resize(weighted, quarter, interpolation=cv2.INTER_AREA),
                        cv2.resize(weight, quarter, interpolation=cv2.INTER_AREA))
    # The finest push-pull step is evaluated only at the requested pixels.
    ys, xs = np.divmod(index, width)

    # cv2.remap needs maps under 32767 px a side: lay the requested points out in rows of _REMAP_ROW.
    count = len(index)
    rows = -(-count // _REMAP_ROW)
    padding = rows * _REMAP_ROW - count

    def sample(plane: np.ndarray) -> np.ndarray:
        ph, pw = plane.shape[:2]
        map_x = np.pad((xs.astype(np.float32) + 0.5) * (pw / width) - 0.5, (0, padding)).reshape(rows, _REMAP_ROW)
        map_y = np.pad((ys.astype(np.float32) + 0.5) * (ph / height) - 0.5, (0, padding)).reshape(rows, _REMAP_ROW)
        sampled = cv2.remap(plane, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return sampled.reshape(rows * _REMAP_ROW, -1)[:count]

    # Finest step: a normalised Gaussian average over a few pixels (local, so a background that changes
    # colour along the edge is followed); where no sure pixel is that close, the pyramid fill takes over.
    support = sample(cv2.GaussianBlur(weight, (0, 0), 1.5))
    own = sample(cv2.GaussianBlur(weighted, (0, 0), 1.5)) / np.maximum(support, 1e-6)
    trust = np.clip(support * 8.0, 0.0, 1.0)
    return own * trust + sample(coarse) * (1.0 - trust)


def decontaminate(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Remove the old background's colour from the product's soft edges.

    image: H×W×3 uint8 sRGB; alpha: H×W float in [0, 1] (or uint8 0..255).
    Returns H×W×3 uint8 foreground colours F such that F·α + B_new·(1−α) shows no halo of the old background.

    The local old background B and local product colour P are estimated from sure pixels (α≈0 / α≈1) with a
    push-pull fill; edge pixels are unmixed with F = (I − (1−α)·B)/α, faded towards P where α is too small to
    unmix reliably. Opaque pixels and fully transparent ones (whose colour never shows) are returned unchanged.
    """
    a = _unit_alpha(alpha, image.shape[:2])
    out = image.copy()
    index = np.flatnonzero((a > 0.0) & (a < _SURE_FOREGROUND))
    sure_background = a <= _SURE_BACKGROUND
    if len(index) == 0 or not sure_background.any():  # nothing to fix, or no old background to learn from
        return out
    sure_foreground = a >= _SURE_FOREGROUND
    flat = out.reshape(-1, 3)
    observed = flat[index].astype(np.float32)
    product = _mean_colour_near(image, sure_foreground, index) if sure_foreground.any() else observed
    old = _mean_colour_near(image, sure_background, index)
    a_edge = a.reshape(-1)[index][:, None]
    unmixed = np.clip((observed - (1.0 - a_edge) * old) / np.maximum(a_edge, 1e-3), 0.0, 255.0)
    trust = np.clip((a_edge - _UNMIX_FROM) / (_UNMIX_FULL - _UNMIX_FROM), 0.0, 1.0)
    flat[index] = np.rint(unmixed * trust + product * (1.0 - trust)).astype(np.uint8)
    return out


# ----------------------------------------------------------------------------------------------- backgrounds


@dataclass(frozen=True)
class Transparent:
    """Keep transparency: compose returns RGBA (straight alpha)."""


@dataclass(frozen=True)
class Solid:
    """A flat colour, (r, g, b) in 0..255."""

    rgb: tuple[int, int, int]

    def __post_init__(self) -> None:
        if len(self.rgb) != 3 or any(not 0 <= int(v) <= 255 for v in self.rgb):
            raise InvalidOptionError(f"colour must be three values in 0..255, got {self.rgb}")


@dataclass(frozen=True, eq=False)
class ImageFill:
    """A backdrop photo (H×W×3 uint8), cover-fitted to the output: scaled to cover it, centre-cropped."""

    rgb: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise InvalidOptionError("background image must be an H×W×3 uint8 RGB array")


@dataclass(frozen=True)
class Themed:
    """A procedural seasonal/studio theme, rendered at the output size."""

    theme: Theme


Background = Union[Transparent, Solid, ImageFill, Themed]


def is_plain(background: Background) -> bool:
    """True for a flat colour or transparency, where any leftover of the photo's own backdrop shows (the
    stricter review, fusion.review); False for a themed or picture backdrop."""
    return isinstance(background, (Solid, Transparent))


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def parse_background(spec: str, *, theme_dirs: Iterable[str | Path] = ()) -> Background:
    """A user's background spec → Background.

    Accepts "transparent", a colour ("white", "#rgb", "#rrggbb", "r,g,b", a CSS-ish name), an existing image
    file, or a theme ("theme:NAME", or a bare theme name). Raises InvalidOptionError (one line) otherwise.
    """
    text = (spec or "").strip()
    if not text:
        raise InvalidOptionError("background is empty: use white, transparent, a colour, an image file or a theme")
    lowered = text.lower()
    if lowered in ("transparent", "none"):
        return Transparent()
    try:
        return Solid(parse_colour(text))
    except InvalidOptionError as exc:
        colour_error = exc
    if lowered.startswith("theme:"):
        return Themed(load_theme(text[6:].strip(), extra_dirs=theme_dirs))
    path = Path(text).expanduser()
    if path.is_file():
        return ImageFill(load_image(path).rgb)
    if path.suffix.lower() in _IMAGE_SUFFIXES or "/" in text or "\\" in text:
        raise InvalidOptionError(f"background image {text!r} does not exist")
    if text.startswith("#") or "," in text:
        raise colour_error
    try:
        names = {theme.name for theme in list_themes(theme_dirs)}
    except PromptcutError:
        names = set()
    if lowered in names:
        return Themed(load_theme(lowered, extra_dirs=theme_dirs))
    raise InvalidOptionError(
        f"background {text!r} is not a colour (#rrggbb, r,g,b or a name like white), 'transparent', "
        "an image file or a theme name"
    )


def _background_pixels(background: Background, width: int, height: int) -> np.ndarray:
    """height×width×3 float32 in 0..255."""
    if isinstance(background, Solid):
        return np.broadcast_to(np.asarray(background.rgb, np.float32), (height, width, 3))
    if isinstance(background, ImageFill):
        return cover_fit(background.rgb, width, height).astype(np.float32)
    if isinstance(background, Themed):
        return render_theme(background.theme, width, height).astype(np.float32)
    raise InvalidOptionError(f"unsupported background {type(background).__name__}")


# ------------------------------------------------------------------------------------------------- compositing


def _unit_alpha(alpha: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Alpha as H×W float32 in [0, 1]; uint8 input is divided by 255."""
    if alpha.shape[:2] != tuple(shape) or alpha.ndim != 2:
        raise InvalidOptionError(f"alpha shape {alpha.shape} does not match the image {tuple(shape)}")
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) / 255.0
    return np.clip(alpha.astype(np.float32, copy=False), 0.0, 1.0)


def contact_shadow(alpha: np.ndarray, strength: float = 0.45) -> np.ndarray:
    """A soft elliptical contact shadow at the base of the product in a canvas alpha (h×w float32 in [0,1]).

    Returns h×w float32 shadow opacity in [0, strength]: a flat ellipse as wide as the product's base (between
    half and all of the product's width), heavily blurred, with a darker core where the product touches down.
    """
    shadow = np.zeros(alpha.shape, np.float32)
    patch = shadow_patch(alpha, strength)
    if patch is not None:
        (x, y), values = patch
        shadow[y:y + values.shape[0], x:x + values.shape[1]] = values
    return shadow


def shadow_patch(
    alpha: np.ndarray,
    strength: float = 0.45,
    origin: tuple[int, int] = (0, 0),
    canvas: tuple[int, int] | None = None,
) -> tuple[tuple[int, int], np.ndarray] | None:
    """The part of `contact_shadow` that is not zero: ((x, y), h×w float32 opacity), or None (no product).

    alpha: a crop (h×w float32 in [0, 1]) of a canvas of shape `canvas` (height, width; default: the crop
    itself) whose top-left corner sits at `origin` (x, y) on it; the canvas must be transparent outside the
    crop. The patch is in canvas coordinates, clipped to the canvas. Only the shadow's own neighbourhood is
    drawn and blurred (the blur is wide, ~4σ; a whole canvas costs tens of ms, the patch a few).
    """
    box = product_box(alpha, threshold=0.5)
    if box is None:
        return None
    ox, oy = origin
    height, width = canvas if canvas is not None else alpha.shape[:2]
    x0, y0, x1, y1 = box
    box_width, box_height = x1 - x0, y1 - y0
    foot = alpha[max(y0, y1 - max(2, box_height // 15)):y1, x0:x1] > 0.5
    cols = np.nonzero(foot.any(axis=0))[0]
    base = (cols.max() - cols.min() + 1) if len(cols) else box_width
    centre_x = ox + x0 + ((cols.min() + cols.max()) / 2 if len(cols) else box_width / 2)
    bottom = oy + y1
    span = float(np.clip(base * 1.15, 0.5 * box_width, 1.05 * box_width))
    ellipses = []
    for share, height_ratio, opacity, blur in ((1.0, 0.10, 0.55, 0.35), (0.7, 0.045, 0.9, 0.25)):
        rx, ry = span * share / 2, max(1.0, span * share * height_ratio / 2)
        sigma = max(0.8, ry * blur * 2)
        centre = (int(round(centre_x)), int(round(bottom - ry * 0.25)))
        ellipses.append((centre, (int(round(rx)), int(round(ry))), opacity, sigma))
    # Everything the blurred ellipses can reach: the ellipse box plus the Gaussian's support (OpenCV uses a
    # kernel radius of 4σ for float images) and a margin; beyond it a whole-canvas blur is zero anyway.
    reach = [(c, (a[0] + math.ceil(4 * s) + 3, a[1] + math.ceil(4 * s) + 3)) for c, a, _, s in ellipses]
    rx0 = max(0, min(c[0] - r[0] for c, r in reach))
    ry0 = max(0, min(c[1] - r[1] for c, r in reach))
    rx1 = min(width, max(c[0] + r[0] for c, r in reach) + 1)
    ry1 = min(height, max(c[1] + r[1] for c, r in reach) + 1)
    if rx1 <= rx0 or ry1 <= ry0:
        return None
    shadow = np.zeros((ry1 - ry0, rx1 - rx0), np.float32)
    for (cx, cy), axes, opacity, sigma in ellipses:
        shadow = 1.0 - (1.0 - shadow) * (
            1.0 - _blurred_ellipse(shadow.shape, (cx - rx0, cy - ry0), axes, opacity, sigma)
        )
    return (rx0, ry0), np.clip(shadow * strength, 0.0, 1.0)


# Wide blurs run on a coarser grid keeping at least this many grid px per sigma: the result is smooth at the
# scale of sigma, so it stays within about one level of 255 of the full-resolution blur (tested).
_BLUR_SAMPLES = 4


def _blurred_ellipse(shape: tuple[int, int], centre: tuple[int, int], axes: tuple[int, int], value: float,
                     sigma: float) -> np.ndarray:
    """A filled anti-aliased ellipse of `value` blurred by a Gaussian of `sigma` px: h×w float32.

    A wide blur runs on a grid `factor` times coarser (area-averaged down, bilinearly upsampled back): a
    30 px sigma over a 1000 px shadow costs a few ms instead of tens."""
    height, width = shape
    factor = max(1, int(sigma // _BLUR_SAMPLES))
    padded = (-(-height // factor) * factor, -(-width // factor) * factor)
    layer = np.zeros(padded, np.float32)
    cv2.ellipse(layer, centre, axes, 0, 0, 360, value, -1, cv2.LINE_AA)
    if factor == 1:
        return cv2.GaussianBlur(layer, (0, 0), sigma)
    small = cv2.resize(layer, (padded[1] // factor, padded[0] // factor), interpolation=cv2.INTER_AREA)
    # the area average already blurred by a box of `factor` px (variance factor²/12): take it off sigma
    small = cv2.GaussianBlur(small, (0, 0), math.sqrt(max(sigma**2 - factor**2 / 12, 1e-6)) / factor)
    return cv2.resize(small, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)[:height, :width]


def premultiplied_crop(
    foreground: np.ndarray, alpha: np.ndarray, framing: Framing
) -> tuple[Placement, np.ndarray, np.ndarray]:
    """Plan the framing and cut out the placed box: (placement, alpha crop h×w float32, premultiplied colour
    h×w×3 float32). Only the placed crop is ever premultiplied (a 24-MP photo's float copy is ~300 MB)."""
    if foreground.ndim != 3 or foreground.shape[2] != 3 or foreground.dtype != np.uint8:
        raise InvalidOptionError(f"foreground must be H×W×3 uint8, got {foreground.shape} {foreground.dtype}")
    a = _unit_alpha(alpha, foreground.shape[:2])
    require_product(a)
    placement = plan(a.shape, product_box(a) if framing.crop else None, framing)
    x0, y0, x1, y1 = placement.crop
    a = a[y0:y1, x0:x1]
    return placement, a, foreground[y0:y1, x0:x1].astype(np.float32) * a[..., None]


def compose(foreground: np.ndarray, alpha: np.ndarray, background: Background, framing: Framing) -> np.ndarray:
    """Frame the product and composite it: out = F·α + B·(1−α), rounded to uint8.

    foreground: H×W×3 uint8 (decontaminated colours); alpha: H×W float in [0, 1] (or uint8).
    Returns h×w×4 uint8 straight-alpha RGBA for Transparent, else h×w×3 uint8 RGB; h×w is the framed canvas.
    A contact shadow is added when framing.shadow is True, or when it is None and the background is a theme.
    """
    placement, a, premultiplied = premultiplied_crop(foreground, alpha, framing)
    x0, y0, x1, y1 = placement.crop
    colour, cover = apply_placement(replace(placement, crop=(0, 0, x1 - x0, y1 - y0)), premultiplied, a)
    width, height = placement.canvas
    wants_shadow = framing.shadow if framing.shadow is not None else isinstance(background, Themed)
    shadow = contact_shadow(cover) if wants_shadow else None
    if isinstance(background, Transparent):
        return _transparent(colour, cover, shadow)
    under = _background_pixels(background, width, height)
    if shadow is not None:
        under = under * (1.0 - shadow[..., None])
    out = colour + under * (1.0 - cover[..., None])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _transparent(colour: np.ndarray, cover: np.ndarray, shadow: np.ndarray | None) -> np.ndarray:
    """Premultiplied colour + coverage (+ optional black shadow beneath) → straight-alpha RGBA uint8."""
    if shadow is not None:
        # black shadow under the product: it adds coverage but no colour
        cover = cover + shadow * (1.0 - cover)
    rgb = colour / np.maximum(cover, 1e-6)[..., None]
    rgba = np.empty(cover.shape + (4,), np.uint8)
    rgba[..., :3] = np.clip(np.rint(rgb), 0, 255)
    rgba[..., 3] = np.clip(np.rint(cover * 255.0), 0, 255)
    return rgba
