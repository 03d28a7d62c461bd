"""Studio-style catalogue composites with known masks, built from a real foreground and its mask.

No real product photos on studio backdrops with true masks are available, so the evaluation pastes the
dataset's foregrounds onto what a catalogue shot looks like: a plain white/grey/coloured or gradient backdrop,
a soft floor shadow, sensor noise and a JPEG re-encode. Everything random is seeded by the image name, so
a composite is the same on every run and machine. Pure numpy/cv2; nothing is written to disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

BACKDROPS = ("white", "grey", "colour", "gradient")
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
    alpha = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), sigmaX=0.6)[..., None]
    composite = pixels.astype(np.float32) * alpha + backdrop * (1.0 - alpha)
    rng = np.random.default_rng(style.seed + 1)  # separate stream from the style draws
    composite += rng.normal(0.0, style.noise_sigma, composite.shape).astype(np.float32)
    out = np.clip(np.rint(composite), 0, 255).astype(np.uint8)
    return jpeg_roundtrip(out, style.jpeg_quality), truth
