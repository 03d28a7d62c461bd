"""Studio-style catalogue composites with known masks, built from a real foreground and its mask.

No real product photos on studio backdrops with true masks are available, so the evaluation pastes the
dataset's foregrounds onto what a catalogue shot looks like: a plain white/grey/coloured or gradient backdrop,
a soft floor shadow, sensor noise and a JPEG re-encode. Everything random is seeded by the image name (and the
family), so a composite is the same on every run and machine. Pure numpy/cv2; nothing is written to disk.

Three families (`FAMILIES`, also the evaluation's kinds, each reported on its own rows):
- "studio": the object on a plain or gradient backdrop with a soft contact shadow (`studio_composite`).
- "shadow": the same, plus a directional cast shadow of the object's own silhouette, as a key light throws it:
  along the floor beside/behind the object, or on the sweep behind it (`shadow_composite`). The cut must drop
  it (the compositor draws its own); the ground truth is the object alone.
- "pale": the object on a near-white sweep with its lightest parts bleached towards the backdrop colour, a
  few levels from it (white tights, a white saucer rim: `pale_composite`). The cut must keep them; the ground
  truth is the whole object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

BACKDROPS = ("white", "grey", "colour", "gradient")
FAMILIES = ("studio", "shadow", "pale")  # composite families, in report order
MAX_SIDE = 1024  # px; a recentred canvas larger than this is scaled down (catalogue-upload size)


@dataclass(frozen=True)
class StudioStyle:
    """The random choices behind one composite (all drawn from the name's seed).

    top_rgb / bottom_rgb: backdrop colour at the top and bottom row (equal unless a gradient).
    margin: free space around the object as a fraction of the object's longer side (recentred only).
    shadow_opacity: darkest point of the floor shadow, 0..1.
    noise_sigma: gaussian sensor noise, in 8-bit levels.
    jpeg_quality: re-encode quality, 80..95.
    recentre: True = object cropped and centred on a new canvas; False = kept where it was.
    """

    backdrop: str
    top_rgb: tuple[int, int, int]
    bottom_rgb: tuple[int, int, int]
    margin: float
    shadow_opacity: float
    noise_sigma: float
    jpeg_quality: int
    recentre: bool
    seed: int


def seed_for(name: str) -> int:
    """A stable 64-bit seed from a name (Python's hash() is salted per process, so not that)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def _hsv_rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    pixel = np.array([[[h * 180.0, s * 255.0, v * 255.0]]], np.float32).round().astype(np.uint8)
    r, g, b = cv2.cvtColor(pixel, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def studio_style(name: str, touches_border: bool = False) -> StudioStyle:
    """Draw a style for `name`. An object cut by the photo's frame is always recentred, so the
    backdrop shows all round it (a catalogue shot never crops the product)."""
    seed = seed_for(name)
    rng = np.random.default_rng(seed)
    backdrop = BACKDROPS[int(rng.integers(len(BACKDROPS)))]
    if backdrop == "white":
        level = int(rng.integers(243, 256))
        top = bottom = (level, level, level)
    elif backdrop == "grey":
        level = int(rng.integers(190, 236))
        top = bottom = (level, level, level)
    elif backdrop == "colour":
        top = bottom = _hsv_rgb(float(rng.random()), float(rng.uniform(0.12, 0.45)), float(rng.uniform(0.78, 0.97)))
    else:  # vertical gradient: a light wall fading into a slightly darker floor (or the reverse)
        hue, sat = float(rng.random()), float(rng.uniform(0.0, 0.3))
        light, dark = float(rng.uniform(0.88, 1.0)), float(rng.uniform(0.62, 0.82))
        top, bottom = _hsv_rgb(hue, sat, light), _hsv_rgb(hue, sat, dark)
        if rng.random() < 0.3:
            top, bottom = bottom, top
    recentre = touches_border or bool(rng.random() < 0.7)
    return StudioStyle(
        backdrop=backdrop,
        top_rgb=top,
        bottom_rgb=bottom,
        margin=float(rng.uniform(0.06, 0.22)),
        shadow_opacity=float(rng.uniform(0.2, 0.5)),
        noise_sigma=float(rng.uniform(0.8, 3.0)),
        jpeg_quality=int(rng.integers(80, 96)),
        recentre=recentre,
        seed=seed,
    )


def render_backdrop(
    height: int, width: int, top_rgb: tuple[int, int, int], bottom_rgb: tuple[int, int, int]
) -> np.ndarray:
    """H×W×3 float32 in [0, 255]: a vertical linear gradient from `top_rgb` to `bottom_rgb`."""
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top = np.asarray(top_rgb, np.float32)[None, None, :]
    bottom = np.asarray(bottom_rgb, np.float32)[None, None, :]
    column = top * (1.0 - t) + bottom * t
    return np.broadcast_to(column, (height, width, 3)).copy()


_EDGE_CONTEXT = 4  # px of the photo kept around the mask, so the anti-aliased edge blends real neighbours


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def place_object(
    image: np.ndarray, mask: np.ndarray, margin: float, recentre: bool, max_side: int = MAX_SIDE
) -> tuple[np.ndarray, np.ndarray]:
    """Put the object on its own canvas.

    image: H×W×3 uint8, mask: H×W bool (must contain at least one pixel).
    recentre=False keeps the photo's canvas and the object's position. recentre=True centres the object's
    bounding box on a canvas with `margin` × (longer object side) free all round (half as much again below,
    where the floor shadow goes). The object keeps its own pixels unless the canvas would exceed `max_side`,
    then everything is scaled down to fit (to within a pixel of rounding).
    Returns (H'×W'×3 uint8 pixels, H'×W' bool mask). Pixels more than a few px outside the mask are black.
    """
    if not recentre:
        return image, mask
    y0, y1, x0, x1 = _bbox(mask)
    pad = int(round(margin * max(y1 - y0, x1 - x0))) + _EDGE_CONTEXT
    scale = max_side / max(_canvas(y1 - y0, x1 - x0, pad)[:2])
    if scale < 1.0:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # The mask is resized as coverage and re-thresholded so truth and pasted pixels stay aligned.
        mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
        if not mask.any():
            raise ValueError("object vanished when scaled to fit the canvas")
        y0, y1, x0, x1 = _bbox(mask)
        pad = max(_EDGE_CONTEXT, int(round(pad * scale)))
    oh, ow = y1 - y0, x1 - x0
    canvas_h, canvas_w, top, left = _canvas(oh, ow, pad)
    pixels = np.zeros((canvas_h, canvas_w, 3), np.uint8)
    placed = np.zeros((canvas_h, canvas_w), bool)
    placed[top:top + oh, left:left + ow] = mask[y0:y1, x0:x1]
    # Photo pixels around the object (clipped to the photo), for a natural blend at the edge.
    ey0, ey1 = max(0, y0 - _EDGE_CONTEXT), min(image.shape[0], y1 + _EDGE_CONTEXT)
    ex0, ex1 = max(0, x0 - _EDGE_CONTEXT), min(image.shape[1], x1 + _EDGE_CONTEXT)
    pixels[top - (y0 - ey0):top + oh + (ey1 - y1), left - (x0 - ex0):left + ow + (ex1 - x1)] = image[ey0:ey1, ex0:ex1]
    return pixels, placed


def _canvas(oh: int, ow: int, pad: int) -> tuple[int, int, int, int]:
    """(height, width, top, left) of a canvas around an oh×ow object with `pad` px free on each side and
    half as much again below, widened or heightened to at most 4:3 either way (catalogue frames are
    near-square, so a standing person gets backdrop beside them, not a sliver)."""
    h, w = oh + 2 * pad + pad // 2, ow + 2 * pad
    h2, w2 = max(h, int(np.ceil(0.75 * w))), max(w, int(np.ceil(0.75 * h)))
    return h2, w2, pad + (h2 - h) // 2, pad + (w2 - w) // 2


def floor_shadow(mask: np.ndarray, opacity: float) -> np.ndarray:
    """H×W float32 in [0, opacity]: how much to darken the backdrop under the object.

    A soft ellipse on the floor below the object's lowest pixels (its footprint), plus a tighter, darker
    contact line where it touches; mask: H×W bool with at least one pixel.
    """
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    bottom = int(ys.max())
    height = bottom - int(ys.min()) + 1
    foot = xs[ys >= bottom - max(2, height // 10)]  # columns of the lowest tenth: where it stands
    cx = 0.5 * (foot.min() + foot.max())
    half_w = max(3.0, 0.6 * (foot.max() - foot.min() + 1) + 0.05 * (xs.max() - xs.min() + 1))
    half_h = max(2.0, 0.12 * half_w)
    shadow = np.zeros((h, w), np.float32)
    cv2.ellipse(shadow, (int(round(cx)), bottom), (int(round(half_w)), int(round(half_h))), 0, 0, 360, 1.0, -1)
    soft = cv2.GaussianBlur(shadow, (0, 0), sigmaX=max(1.0, half_h * 1.2))
    contact = np.zeros((h, w), np.float32)
    cv2.ellipse(contact, (int(round(cx)), bottom), (int(round(half_w * 0.7)), max(1, int(round(half_h * 0.3)))),
                0, 0, 360, 1.0, -1)
    contact = cv2.GaussianBlur(contact, (0, 0), sigmaX=max(1.0, half_h * 0.4))
    return (np.clip(0.6 * soft + 0.6 * contact, 0.0, 1.0) * opacity).astype(np.float32)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """H×W×3 uint8 RGB → JPEG at `quality` → H×W×3 uint8 RGB (the artefacts a catalogue upload carries)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # only on an empty image, which callers never pass
        raise ValueError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def studio_composite(image: np.ndarray, mask: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A catalogue-style photo of the masked object, and its exact ground truth.

    image: H×W×3 uint8 RGB photo; mask: H×W bool foreground (non-empty); name: seeds every random choice.
    Returns (H'×W'×3 uint8 RGB composite, H'×W' bool ground-truth mask). The object's pixels are pasted with
    a slightly anti-aliased edge (as a real lens renders it); the truth is the hard mask it was pasted with.
    """
    mask = mask.astype(bool)
    if not mask.any():
        raise ValueError("studio composite needs a non-empty mask")
    touches = bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    style = studio_style(name, touches_border=touches)
    pixels, truth = place_object(image, mask, style.margin, style.recentre)
    h, w = truth.shape
    backdrop = render_backdrop(h, w, style.top_rgb, style.bottom_rgb)
    backdrop *= (1.0 - floor_shadow(truth, style.shadow_opacity))[..., None]
    return _finish(pixels.astype(np.float32), truth, backdrop, style), truth


def _finish(pixels: np.ndarray, truth: np.ndarray, backdrop: np.ndarray, style: StudioStyle) -> np.ndarray:
    """Paste `pixels` (H×W×3 float32, 0..255) over `backdrop` (same) through `truth` (H×W bool) with a slightly
    anti-aliased edge, add the style's sensor noise and JPEG re-encode → H×W×3 uint8 RGB."""
    alpha = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), sigmaX=0.6)[..., None]
    composite = pixels * alpha + backdrop * (1.0 - alpha)
    rng = np.random.default_rng(style.seed + 1)  # separate stream from the style draws
    composite += rng.normal(0.0, style.noise_sigma, composite.shape).astype(np.float32)
    out = np.clip(np.rint(composite), 0, 255).astype(np.uint8)
    return jpeg_roundtrip(out, style.jpeg_quality)


# --------------------------------------------------------------------------- cast shadows


@dataclass(frozen=True)
class CastShadow:
    """A key light's shadow of the object's own silhouette (every value drawn from the name's seed).

    surface: "floor" = projected along the floor from where the object stands: sheared sideways by `length`
        (horizontal run per unit of object height) and foreshortened by `squash` (its height per unit of object
        height), so it leaves the object's foot and runs behind and beside it;
        "wall" = thrown on the sweep just behind the object: the silhouette moved sideways by `length` and up by
        `squash` (fractions of the object's longer side).
    direction: +1 falls to the right, -1 to the left.
    opacity: darkening of the shadow's core, 0.3..0.6 (the backdrop keeps 40..70 % of its light); a floor
        shadow fades to 70 % of it at its far end.
    hard_sigma, soft_sigma: penumbra blur (fractions of the object's height) at the contact and at the far end;
        a wall shadow is blurred by `soft_sigma` throughout.
    """

    surface: str
    direction: int
    length: float
    squash: float
    opacity: float
    hard_sigma: float
    soft_sigma: float


def cast_shadow_style(name: str) -> CastShadow:
    """Draw the cast shadow for `name` (its own stream, so the backdrop style stays independent of it)."""
    rng = np.random.default_rng(seed_for(f"cast-shadow:{name}"))
    surface = "floor" if rng.random() < 0.65 else "wall"
    direction = 1 if rng.random() < 0.5 else -1
    if surface == "floor":
        length, squash = float(rng.uniform(0.25, 0.9)), float(rng.uniform(0.12, 0.4))
    else:
        length, squash = float(rng.uniform(0.05, 0.16)), float(rng.uniform(0.0, 0.06))
    return CastShadow(
        surface=surface,
        direction=direction,
        length=length,
        squash=squash,
        opacity=float(rng.uniform(0.3, 0.6)),
        hard_sigma=float(rng.uniform(0.001, 0.004)),
        soft_sigma=float(rng.uniform(0.008, 0.03)),
    )


def cast_shadow(mask: np.ndarray, shadow: CastShadow) -> np.ndarray:
    """H×W float32 in [0, shadow.opacity]: how much the key light's shadow darkens the backdrop.

    mask: H×W bool object (non-empty). The silhouette is warped onto the floor or the sweep (see CastShadow) and
    blurred into a penumbra that widens (and on the floor fades a little) away from the contact. On the floor,
    each separate part of the object (more than 1 % of it) casts its own shadow from its own lowest point, as
    things standing on the floor at different depths do. Where the object itself stands the shadow is hidden
    by it once the object is pasted over.
    """
    ys, xs = np.nonzero(mask)
    size = float(max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))
    if shadow.surface == "wall":
        height = float(ys.max() - ys.min() + 1)
        matrix = np.float32([[1.0, 0.0, shadow.direction * shadow.length * size], [0.0, 1.0, -shadow.squash * size]])
        silhouette = cv2.warpAffine(mask.astype(np.float32), matrix, mask.shape[::-1], flags=cv2.INTER_LINEAR)
        soft = cv2.GaussianBlur(silhouette, (0, 0), sigmaX=max(0.8, shadow.soft_sigma * height))
        return (np.clip(soft, 0.0, 1.0) * shadow.opacity).astype(np.float32)
    count, parts, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    total = np.zeros(mask.shape, np.float32)
    for part in range(1, count):
        if stats[part, cv2.CC_STAT_AREA] >= 0.01 * len(ys):
            total = np.maximum(total, _floor_shadow(parts == part, shadow))
    return (np.clip(total, 0.0, 1.0) * shadow.opacity).astype(np.float32)


def _floor_shadow(mask: np.ndarray, shadow: CastShadow) -> np.ndarray:
    """H×W float32 in [0, 1]: one part's silhouette projected along the floor from its lowest row (see
    CastShadow), hard at the foot and softer and a little fainter towards the far end."""
    h, w = mask.shape
    ys = np.nonzero(mask)[0]
    bottom, height = float(ys.max()), float(ys.max() - ys.min() + 1)
    shear = shadow.direction * shadow.length
    # x' = x + shear·(bottom − y), y' = bottom − squash·(bottom − y): the foot stays, the top lands far away.
    matrix = np.float32([[1.0, -shear, shear * bottom], [0.0, shadow.squash, (1.0 - shadow.squash) * bottom]])
    silhouette = cv2.warpAffine(mask.astype(np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    rows = np.arange(h, dtype=np.float32)[:, None]
    far = np.clip((bottom - rows) / max(shadow.squash * height, 1.0), 0.0, 1.0)  # 0 at the foot, 1 at the top
    soft = cv2.GaussianBlur(silhouette, (0, 0), sigmaX=max(0.8, shadow.soft_sigma * height))
    hard = cv2.GaussianBlur(silhouette, (0, 0), sigmaX=max(0.6, shadow.hard_sigma * height))
    return (hard * (1.0 - far) + soft * far) * (1.0 - 0.3 * far)


def shadow_composite(image: np.ndarray, mask: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The "shadow" family: a studio composite whose object also casts a directional shadow (`cast_shadow`) on
    the floor or the sweep, besides the soft contact shadow. The object is always recentred, with room for the
    shadow beside it. Same arguments and return as `studio_composite`; the truth is the object alone."""
    mask = mask.astype(bool)
    if not mask.any():
        raise ValueError("studio composite needs a non-empty mask")
    style = studio_style(f"shadow:{name}", touches_border=True)
    margin = float(np.random.default_rng(style.seed + 2).uniform(0.15, 0.3))
    pixels, truth = place_object(image, mask, margin, recentre=True)
    h, w = truth.shape
    backdrop = render_backdrop(h, w, style.top_rgb, style.bottom_rgb)
    backdrop *= (1.0 - floor_shadow(truth, style.shadow_opacity))[..., None]
    backdrop *= (1.0 - cast_shadow(truth, cast_shadow_style(name)))[..., None]
    return _finish(pixels.astype(np.float32), truth, backdrop, style), truth


# --------------------------------------------------------------------------- pale on pale


@dataclass(frozen=True)
class PaleStyle:
    """How the "pale" family bleaches an object towards its near-white sweep (drawn from the name's seed).

    top_rgb / bottom_rgb: the sweep at the top and bottom row, every channel ≥ 235 (a faint tint, a little
        darker or lighter towards the floor).
    share: fraction of the object's pixels, the lightest areas, that are bleached (0.15..0.45).
    gap: levels (luma) between the bleached parts' lightest pixels and the sweep behind them (8..16).
    spread: levels the bleached tones span below that (6..14), so their texture survives, compressed.
    whiten: how far their colour is moved to the sweep's own colour (0.6..1.0; 1 = the same white).
    """

    top_rgb: tuple[int, int, int]
    bottom_rgb: tuple[int, int, int]
    share: float
    gap: float
    spread: float
    whiten: float


def pale_style(name: str) -> PaleStyle:
    """Draw the pale-on-pale choices for `name`."""
    rng = np.random.default_rng(seed_for(f"pale-style:{name}"))
    level = int(rng.integers(240, 254))
    tint = rng.integers(-3, 4, 3)
    r, g, b = (int(np.clip(level + t, 235, 255)) for t in tint)
    floor = int(rng.integers(-5, 3))  # the floor a touch darker (or lighter) than the wall
    return PaleStyle(
        top_rgb=(r, g, b),
        bottom_rgb=(max(235, min(255, r + floor)), max(235, min(255, g + floor)), max(235, min(255, b + floor))),
        share=float(rng.uniform(0.15, 0.45)),
        gap=float(rng.uniform(8.0, 16.0)),
        spread=float(rng.uniform(6.0, 14.0)),
        whiten=float(rng.uniform(0.6, 1.0)),
    )


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def bleach(pixels: np.ndarray, truth: np.ndarray, backdrop: np.ndarray, style: PaleStyle) -> np.ndarray:
    """H×W×3 float32 (0..255): the object's lightest parts re-lit as white material on the sweep.

    pixels: H×W×3 float32 0..255; truth: H×W bool object; backdrop: H×W×3 float32, the sweep's colour.
    Parts are chosen on the luma smoothed over ~1 % of the object's size (so whole areas turn pale, not the
    light half of every hair): the lightest `share` of the object. Their smoothed luma is mapped to
    [sweep − gap − spread, sweep − gap], their fine texture kept at half its contrast, and their colour
    moved `whiten` of the way to the sweep's own. The onset is soft (±12 levels about the threshold), so a
    bleached part blends into the rest of the object instead of gaining a new edge."""
    luma = pixels @ _LUMA
    ys, xs = np.nonzero(truth)
    size = float(max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))
    weight_in = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), sigmaX=max(1.0, 0.01 * size))
    smooth = cv2.GaussianBlur(luma * truth, (0, 0), sigmaX=max(1.0, 0.01 * size)) / np.maximum(weight_in, 1e-3)
    smooth = np.where(truth, smooth, luma)
    inside = smooth[truth]
    threshold = float(np.quantile(inside, 1.0 - style.share))
    lightest = max(float(np.quantile(inside, 0.995)), threshold + 1.0)
    sweep = backdrop @ _LUMA
    u = np.clip((smooth - threshold) / (lightest - threshold), 0.0, 1.0)
    target = sweep - style.gap - style.spread * (1.0 - u) + (luma - smooth) / 2.0  # luma the pixel gets
    target = np.minimum(target, sweep - 2.0)
    own = pixels * (target / np.maximum(luma, 1.0))[..., None]  # its own colour at that luma
    white = backdrop * (target / np.maximum(sweep, 1.0))[..., None]  # the sweep's colour at that luma
    bleached = own * (1.0 - style.whiten) + white * style.whiten
    onset = np.clip((smooth - threshold + 12.0) / 24.0, 0.0, 1.0)
    weight = (onset * onset * (3.0 - 2.0 * onset))[..., None]  # smoothstep
    return np.clip(pixels * (1.0 - weight) + bleached * weight, 0.0, 255.0).astype(np.float32)


def pale_composite(image: np.ndarray, mask: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The "pale" family: the object on a near-white sweep (every channel ≥ 235) with its lightest parts
    bleached to within `gap`..`gap + spread` levels of it (`bleach`), a soft contact shadow, noise and JPEG.
    Same arguments and return as `studio_composite`; the truth is the whole object, pale parts included."""
    mask = mask.astype(bool)
    if not mask.any():
        raise ValueError("studio composite needs a non-empty mask")
    touches = bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    style = studio_style(f"pale:{name}", touches_border=touches)
    pale = pale_style(name)
    pixels, truth = place_object(image, mask, style.margin, style.recentre)
    h, w = truth.shape
    sweep = render_backdrop(h, w, pale.top_rgb, pale.bottom_rgb)
    backdrop = sweep * (1.0 - floor_shadow(truth, 0.5 * style.shadow_opacity))[..., None]
    return _finish(bleach(pixels.astype(np.float32), truth, sweep, pale), truth, backdrop, style), truth


COMPOSITES = {"studio": studio_composite, "shadow": shadow_composite, "pale": pale_composite}


def make_composite(
    image: np.ndarray, mask: np.ndarray, name: str, family: str = "studio"
) -> tuple[np.ndarray, np.ndarray]:
    """The `family` composite (one of FAMILIES) of the masked object; see `studio_composite` for the arguments
    and return. Raises ValueError for an unknown family, listing the valid ones."""
    try:
        build = COMPOSITES[family]
    except KeyError:
        raise ValueError(f"unknown composite family {family!r}; choose one of: {', '.join(FAMILIES)}") from None
    return build(image, mask, name)
