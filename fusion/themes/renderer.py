"""Procedural rendering of a Theme at any size: the base gradient and each layer's painter, composited.

Element positions and sizes are fractions of the canvas (sizes of its short side) drawn from a seeded
generator, so a theme looks the same at every output size and renders identically every time. Scattered
layers avoid the centre (`calm`), where the product goes.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import cv2
import numpy as np

from fusion.colour import RGB
from fusion.errors import InvalidOptionError
from fusion.themes.schema import Gradient, Theme, ThemeLayer

# Soft layers are smooth, so they are rendered at most this large and upsampled: keeps 4K backdrops fast.
_SOFT_SIDE = 640
_SOFT_KINDS = {"bokeh", "glow", "floor", "vignette"}

# premultiplied colour h×w×3 and coverage h×w: float32 in [0, 1], or uint8 0..255 for crisp drawn layers
LayerPixels = tuple[np.ndarray, np.ndarray]


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / max(edge1 - edge0, 1e-6), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _unit(colour: RGB) -> np.ndarray:
    return np.asarray(colour, np.float32) / 255.0


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as canvas fractions, shapes (1, w) and (h, 1)."""
    xs = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, :]
    ys = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
    return xs, ys


def _centre_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """0 at the canvas centre, 1 at the middle of each edge, ~1.41 in the corners."""
    return np.sqrt(((x - 0.5) * 2.0) ** 2 + ((y - 0.5) * 2.0) ** 2)


def _calm_weight(calm: float, distance: np.ndarray) -> np.ndarray:
    """Acceptance weight for elements: low in the middle (where the product sits), 1 near the edges."""
    return (1.0 - calm) + calm * _smoothstep(0.45, 1.0, distance)


def _interpolate(stops: tuple[RGB, ...], t: np.ndarray) -> np.ndarray:
    """Evenly spaced colour stops sampled at t ∈ [0, 1] → t.shape + (3,) float32 in [0, 1]."""
    colours = np.asarray(stops, np.float32) / 255.0
    if len(colours) == 1:
        return np.broadcast_to(colours[0], t.shape + (3,)).astype(np.float32)
    positions = np.linspace(0.0, 1.0, len(colours))
    flat = t.reshape(-1)
    out = np.stack([np.interp(flat, positions, colours[:, c]) for c in range(3)], axis=-1)
    return out.reshape(t.shape + (3,)).astype(np.float32)


def _render_gradient(gradient: Gradient, width: int, height: int) -> np.ndarray:
    """h×w×3 float32 in [0, 1]."""
    xs, ys = _grid(width, height)
    if gradient.direction == "vertical":
        return np.broadcast_to(_interpolate(gradient.colours, ys), (height, width, 3)).copy()
    if gradient.direction == "horizontal":
        return np.broadcast_to(_interpolate(gradient.colours, xs), (height, width, 3)).copy()
    if gradient.direction == "diagonal":
        t = (xs + ys) / 2.0
    else:  # radial, centre slightly above the middle where a product's body usually is
        t = np.clip(np.sqrt(((xs - 0.5) * 2.0) ** 2 + ((ys - 0.45) * 2.0) ** 2) / 1.45, 0.0, 1.0)
    return _interpolate(gradient.colours, t)


def _scatter(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> list[tuple[float, float, float]]:
    """Element centres (x, y in pixels) and sizes (pixels), avoiding the centre as `calm` asks."""
    short = min(width, height)
    count = int(round(layer.density * width * height / (short * short)))
    wanted: list[tuple[float, float, float]] = []
    # Fixed number of draws (not "until enough"), so the result only depends on the seed and aspect ratio.
    xs, ys, keep = rng.random(count * 4), rng.random(count * 4), rng.random(count * 4)
    sizes = rng.uniform(layer.size[0], layer.size[1], count * 4)
    weight = _calm_weight(layer.calm, _centre_distance(xs, ys))
    for x, y, s in zip(xs[keep < weight], ys[keep < weight], sizes[keep < weight], strict=True):
        if len(wanted) == count:
            break
        wanted.append((float(x * width), float(y * height), float(s * short)))
    return wanted


def _pick(layer: ThemeLayer, rng: np.random.Generator) -> np.ndarray:
    return _unit(layer.colours[int(rng.integers(len(layer.colours)))])


def _render_bokeh(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """Out-of-focus light discs with a faint bright rim, accumulated like light (screen)."""
    colour = np.zeros((height, width, 3), np.float32)
    cover = np.zeros((height, width), np.float32)
    for cx, cy, r in _scatter(layer, rng, width, height):
        r = max(r, 1.0)
        strength = float(rng.uniform(0.25, 0.9))
        tint = _pick(layer, rng)
        edge = max(1.0, layer.blur * r)
        x0, x1 = max(int(cx - r - edge), 0), min(int(cx + r + edge) + 2, width)
        y0, y1 = max(int(cy - r - edge), 0), min(int(cy + r + edge) + 2, height)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = np.sqrt((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2)
        disc = np.clip((r - d) / edge + 0.5, 0.0, 1.0) * (0.7 + 0.3 * np.clip(d / r, 0, 1) ** 4) * strength
        # screen: light adds up but never exceeds 1
        colour[y0:y1, x0:x1] = 1.0 - (1.0 - colour[y0:y1, x0:x1]) * (1.0 - disc[..., None] * tint)
        cover[y0:y1, x0:x1] = 1.0 - (1.0 - cover[y0:y1, x0:x1]) * (1.0 - disc)
    # Less coverage than colour: the light partly adds to what is behind it, like real bokeh.
    return colour, cover * 0.6


class _Canvas:
    """Anti-aliased cv2 drawing into a premultiplied uint8 colour plane plus a coverage plane."""

    SHIFT = 4  # sub-pixel precision bits for cv2 drawing

    def __init__(self, width: int, height: int) -> None:
        self.colour = np.zeros((height, width, 3), np.uint8)
        self.cover = np.zeros((height, width), np.uint8)

    def _fixed(self, points: np.ndarray) -> np.ndarray:
        return np.round(points * (1 << self.SHIFT)).astype(np.int32).reshape(-1, 1, 2)

    def polygon(self, points: np.ndarray, rgb: np.ndarray, alpha: float) -> None:
        pts = [self._fixed(points)]
        cv2.fillPoly(self.colour, pts, tuple(float(v) for v in rgb * alpha * 255.0), cv2.LINE_AA, self.SHIFT)
        cv2.fillPoly(self.cover, pts, alpha * 255.0, cv2.LINE_AA, self.SHIFT)

    def line(self, p0, p1, rgb: np.ndarray, alpha: float, thickness: int) -> None:
        a, b = (tuple(int(v) for v in self._fixed(np.asarray(p, np.float32))[0, 0]) for p in (p0, p1))
        cv2.line(self.colour, a, b, tuple(float(v) for v in rgb * alpha * 255.0), thickness, cv2.LINE_AA, self.SHIFT)
        cv2.line(self.cover, a, b, alpha * 255.0, thickness, cv2.LINE_AA, self.SHIFT)

    def disc(self, centre, radius: float, rgb: np.ndarray, alpha: float) -> None:
        c = tuple(int(v) for v in self._fixed(np.asarray(centre, np.float32))[0, 0])
        r = max(int(round(radius * (1 << self.SHIFT))), 1)
        cv2.circle(self.colour, c, r, tuple(float(v) for v in rgb * alpha * 255.0), -1, cv2.LINE_AA, self.SHIFT)
        cv2.circle(self.cover, c, r, alpha * 255.0, -1, cv2.LINE_AA, self.SHIFT)

    def pixels(self, blur_px: float = 0.0) -> LayerPixels:
        """uint8 planes (0..255) as drawn, or float32 in [0, 1] when blurred."""
        if blur_px <= 0.3:
            return self.colour, self.cover
        colour = cv2.GaussianBlur(self.colour.astype(np.float32) / 255.0, (0, 0), blur_px)
        cover = cv2.GaussianBlur(self.cover.astype(np.float32) / 255.0, (0, 0), blur_px)
        return colour, cover


def _rotate(points: np.ndarray, degrees: float) -> np.ndarray:
    theta = math.radians(degrees)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], np.float32)
    return points @ rot.T


def _shape_layer(shape: Callable[[float], np.ndarray]) -> Callable:
    """A scattered layer of filled polygons: `shape(size)` gives the outline around (0, 0) in pixels."""

    def render(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
        canvas = _Canvas(width, height)
        for cx, cy, s in _scatter(layer, rng, width, height):
            tilt = float(rng.uniform(-layer.angle, layer.angle)) if layer.angle else 0.0
            points = _rotate(shape(max(s, 1.0)), tilt) + np.array([cx, cy], np.float32)
            canvas.polygon(points, _pick(layer, rng), float(rng.uniform(0.6, 1.0)))
        return canvas.pixels(layer.blur * min(width, height))

    return render


def _heart(size: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return (np.stack([x, y], axis=1) * (size / 16.0)).astype(np.float32)


def _petal(size: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    # a teardrop: round at one end, pointed at the other
    x = size * np.sin(t) * np.sin(t / 2) ** 0.8 * 0.55
    y = -size * np.cos(t)
    return np.stack([x, y], axis=1).astype(np.float32)


def _star4(size: float) -> np.ndarray:
    angles = np.arange(8) * (np.pi / 4)
    radii = np.where(np.arange(8) % 2 == 0, size, size * 0.22)
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1).astype(np.float32)


def _render_confetti(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """Paper strips and dots, randomly turned."""
    canvas = _Canvas(width, height)
    for cx, cy, s in _scatter(layer, rng, width, height):
        rgb, alpha = _pick(layer, rng), float(rng.uniform(0.75, 1.0))
        if rng.random() < 0.25:
            canvas.disc((cx, cy), s * 0.4, rgb, alpha)
            continue
        aspect = float(rng.uniform(0.25, 0.5))
        box = np.array([[-s, -s * aspect], [s, -s * aspect], [s, s * aspect], [-s, s * aspect]], np.float32) * 0.6
        tilt = float(rng.uniform(-180, 180))
        canvas.polygon(_rotate(box, tilt) + np.array([cx, cy], np.float32), rgb, alpha)
    return canvas.pixels(layer.blur * min(width, height))


def _render_snowflakes(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """Mostly soft round flakes, some six-armed crystals."""
    canvas = _Canvas(width, height)
    for cx, cy, s in _scatter(layer, rng, width, height):
        rgb, alpha = _pick(layer, rng), float(rng.uniform(0.55, 0.95))
        if rng.random() < 0.65 or s < 6:
            canvas.disc((cx, cy), max(s * 0.35, 0.8), rgb, alpha)
            continue
        thickness = max(1, int(round(s / 14)))
        turn = float(rng.uniform(0, 60))
        for k in range(6):
            theta = math.radians(turn + 60 * k)
            ux, uy = math.cos(theta), math.sin(theta)
            canvas.line((cx, cy), (cx + ux * s, cy + uy * s), rgb, alpha, thickness)
            for along, spread in ((0.5, 0.32), (0.75, 0.2)):
                bx, by = cx + ux * s * along, cy + uy * s * along
                for side in (-1, 1):
                    phi = theta + side * math.radians(45)
                    canvas.line((bx, by), (bx + math.cos(phi) * s * spread, by + math.sin(phi) * s * spread),
                                rgb, alpha, thickness)
    return canvas.pixels(layer.blur * min(width, height))


def _render_sparkles(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """Four-pointed glints with a small halo."""
    canvas = _Canvas(width, height)
    for cx, cy, s in _scatter(layer, rng, width, height):
        rgb, alpha = _pick(layer, rng), float(rng.uniform(0.6, 1.0))
        canvas.disc((cx, cy), max(s * 0.18, 0.8), rgb, alpha * 0.5)
        canvas.polygon(_rotate(_star4(max(s, 2.0)), float(rng.uniform(-12, 12))) + np.array([cx, cy], np.float32),
                       rgb, alpha)
    return canvas.pixels(layer.blur * min(width, height))


def _render_stripes(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """Parallel bands across the canvas (anti-aliased polygons), faded towards the centre by `calm`."""
    short = min(width, height)
    band, period = layer.width * short, (layer.width + layer.gap) * short
    theta = math.radians(layer.angle)
    across = np.array([math.cos(theta), math.sin(theta)], np.float32)  # stripe normal
    along = np.array([-across[1], across[0]], np.float32)
    reach = math.hypot(width, height)
    centre = np.array([width / 2, height / 2], np.float32)
    canvas = _Canvas(width, height)
    offset = float(rng.uniform(0, period))
    count = int(math.ceil(reach / period)) + 2
    for k in range(-count // 2 - 1, count // 2 + 2):
        start = k * period + offset - reach / 2
        corners = [centre + across * start - along * reach, centre + across * (start + band) - along * reach,
                   centre + across * (start + band) + along * reach, centre + across * start + along * reach]
        canvas.polygon(np.array(corners, np.float32), _unit(layer.colours[k % len(layer.colours)]), 1.0)
    colour, cover = canvas.pixels(layer.blur * short)
    return _fade_centre(colour, cover, layer.calm)


def _fade_centre(colour: np.ndarray, cover: np.ndarray, calm: float) -> LayerPixels:
    """Scale a layer's premultiplied colour and coverage by the calm weight → float32 planes in [0, 1]."""
    height, width = cover.shape
    small_w, small_h = _soft_size(width, height)
    xs, ys = _grid(small_w, small_h)
    weight = _upsample(_calm_weight(calm, _centre_distance(xs, ys)).astype(np.float32), width, height)
    unit = 1.0 / 255.0 if cover.dtype == np.uint8 else 1.0
    weight *= unit
    return colour.astype(np.float32) * weight[..., None], cover.astype(np.float32) * weight


def _render_glow(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """A soft round light (spotlight, sun, moon): Gaussian falloff; `blur` 0 gives a crisp-edged disc."""
    short = min(width, height)
    xs, ys = _grid(width, height)
    d = np.sqrt(((xs - layer.position[0]) * width) ** 2 + ((ys - layer.position[1]) * height) ** 2) / short
    if layer.blur > 0:
        cover = np.exp(-0.5 * (d / max(layer.radius, 1e-3)) ** 2 / max(layer.blur, 1e-3))
    else:
        cover = np.clip((layer.radius - d) * short + 0.5, 0.0, 1.0)
    cover = cover.astype(np.float32)
    return _unit(layer.colours[0]) * cover[..., None], cover


def _render_floor(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """A floor/table band at the bottom with a soft horizon, shaded from horizon colour to bottom colour."""
    _, ys = _grid(width, height)
    horizon = 1.0 - layer.height
    soft = max(layer.blur, 0.005)
    cover = np.broadcast_to(_smoothstep(horizon - soft, horizon + soft, ys), (height, width)).astype(np.float32)
    depth = np.clip((ys - horizon) / max(layer.height, 1e-3), 0.0, 1.0)
    shade = np.broadcast_to(_interpolate(layer.colours, depth[:, 0])[:, None, :], (height, width, 3))
    return shade * cover[..., None], cover.copy()


def _render_vignette(layer: ThemeLayer, rng: np.random.Generator, width: int, height: int) -> LayerPixels:
    """Darken (or tint) the edges and corners: keeps the eye on the product."""
    xs, ys = _grid(width, height)
    cover = _smoothstep(layer.radius, 1.45, _centre_distance(xs, ys)).astype(np.float32)
    tint = _unit(layer.colours[0]) if layer.colours else np.zeros(3, np.float32)
    return tint * cover[..., None], cover


_RENDERERS: dict[str, Callable[[ThemeLayer, np.random.Generator, int, int], LayerPixels]] = {
    "bokeh": _render_bokeh,
    "snowflakes": _render_snowflakes,
    "confetti": _render_confetti,
    "hearts": _shape_layer(_heart),
    "petals": _shape_layer(_petal),
    "sparkles": _render_sparkles,
    "stripes": _render_stripes,
    "glow": _render_glow,
    "floor": _render_floor,
    "vignette": _render_vignette,
}


def _soft_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, _SOFT_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _dither(height: int, width: int, seed: int) -> np.ndarray:
    """0.5 + ±0.5 LSB triangular noise (a tiled 128² pattern): added before truncating to uint8, it rounds
    and keeps 8-bit gradients from banding."""
    rng = np.random.default_rng(seed)
    tile = 0.5 + (rng.random((128, 128), np.float32) - rng.random((128, 128), np.float32)) * 0.5
    reps = (-(-height // 128), -(-width // 128))
    return np.tile(tile, reps)[:height, :width, None]


def _upsample(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    if plane.shape[:2] == (height, width):
        return plane
    return cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)


def _blend_sparse(out: np.ndarray, colour: np.ndarray, cover: np.ndarray, opacity: float) -> None:
    """out ← layer over out, touching only covered pixels (scattered layers cover a small share)."""
    unit = 1.0 / 255.0 if cover.dtype == np.uint8 else 1.0  # planes drawn in 8 bits or float
    index = np.flatnonzero(cover.reshape(-1))
    if len(index) > cover.size // 5:  # dense layer (stripes): a plain full-frame blend is cheaper
        out *= 1.0 - cover[..., None].astype(np.float32) * (opacity * unit)
        out += colour.astype(np.float32) * (opacity * unit)
        return
    flat = out.reshape(-1, 3)
    weight = cover.reshape(-1)[index, None].astype(np.float32) * (opacity * unit)
    flat[index] = flat[index] * (1.0 - weight) + colour.reshape(-1, 3)[index].astype(np.float32) * (opacity * unit)


def _flush(out: np.ndarray | None, colour: np.ndarray, cover: np.ndarray, width: int, height: int) -> np.ndarray:
    """Upsample a run of soft layers (premultiplied) and put it over `out` (None: the run holds the opaque base)."""
    colour = _upsample(colour, width, height)
    if out is None:
        return np.ascontiguousarray(colour, dtype=np.float32)
    out *= 1.0 - _upsample(cover, width, height)[..., None]
    out += colour
    return out


@lru_cache(maxsize=4)
def _render_cached(theme: Theme, width: int, height: int) -> np.ndarray:
    soft_w, soft_h = _soft_size(width, height)
    # Consecutive soft layers are composited together at low resolution ("over" is associative), then
    # upsampled once; sharp layers are drawn at full resolution.
    run_colour = _render_gradient(theme.base, soft_w, soft_h)
    run_cover = np.ones((soft_h, soft_w), np.float32)
    out: np.ndarray | None = None

    for index, layer in enumerate(theme.layers):
        rng = np.random.default_rng([theme.seed, layer.seed, index])
        if layer.kind in _SOFT_KINDS:
            colour, cover = _RENDERERS[layer.kind](layer, rng, soft_w, soft_h)
            weight = layer.opacity * cover
            run_colour = run_colour * (1.0 - weight[..., None]) + layer.opacity * colour
            run_cover = run_cover * (1.0 - weight) + weight
            continue
        out = _flush(out, run_colour, run_cover, width, height)
        run_colour = np.zeros((soft_h, soft_w, 3), np.float32)
        run_cover = np.zeros((soft_h, soft_w), np.float32)
        colour, cover = _RENDERERS[layer.kind](layer, rng, width, height)
        _blend_sparse(out, colour, cover, layer.opacity)
    if out is None or run_cover.any():
        out = _flush(out, run_colour, run_cover, width, height)
    out *= 255.0
    out += _dither(height, width, theme.seed)
    result = np.clip(out, 0, 255, out=out).astype(np.uint8)  # values are pre-offset by the dither
    result.flags.writeable = False
    return result


def render_theme(theme: Theme, width: int, height: int) -> np.ndarray:
    """Render `theme` as an height×width×3 uint8 sRGB image. Deterministic for a given theme and size.

    A small cache makes re-rendering the same theme at the same size (a catalogue swap) free.
    """
    if width < 1 or height < 1:
        raise InvalidOptionError(f"theme size must be positive, got {width}x{height}")
    return _render_cached(theme, int(width), int(height)).copy()
