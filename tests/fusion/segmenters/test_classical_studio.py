"""The classical backend on studio shots: a key light's cast shadow is dropped, pale parts on a pale sweep are kept.

The photos are drawn here (no evaluation code): a textured object on a plain backdrop, lit so that it throws a
hard-ish, offset shadow, or with a white part a few levels off a white sweep, plus sensor noise.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fusion.segmenters.classical import ClassicalSegmenter, backdrop_relative
from fusion.segmenters.saliency import fine_texture
from fusion.selection import select
from prompting.types import PromptSet

H, W = 480, 640


def _texture(rng: np.random.Generator, shape: tuple[int, int], amplitude: float) -> np.ndarray:
    """H×W float32 fabric-like texture of about ±amplitude levels: fine noise plus a weave."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    weave = np.sin(xs / 1.7) * np.sin(ys / 2.3)
    fine = cv2.GaussianBlur(rng.normal(0.0, 1.0, shape).astype(np.float32), (0, 0), 0.8)
    return (amplitude * (0.5 * weave + fine)).astype(np.float32)


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.rint(image + rng.normal(0.0, 2.0, image.shape)), 0, 255).astype(np.uint8)


def _cut(image: np.ndarray) -> np.ndarray:
    """The classical backend + selection → H×W bool at the photo's size."""
    mask = select(ClassicalSegmenter().segment(image, PromptSet()))
    return cv2.resize(mask.probability, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5


def shadow_photo(level: int = 238, darkness: float = 0.45, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A brown textured bottle standing on a plain sweep, its silhouette thrown `darkness` deep onto the sweep
    beside and behind it (a key light from the front left), hard near the object and softer further away.
    Returns (H×W×3 uint8 photo, H×W bool object, H×W bool shadow visible outside the object)."""
    rng = np.random.default_rng(seed)
    obj = np.zeros((H, W), np.uint8)
    cv2.ellipse(obj, (300, 330), (70, 90), 0, 0, 360, 1, -1)  # body
    cv2.rectangle(obj, (280, 130), (320, 260), 1, -1)  # neck
    obj = obj.astype(bool)
    moved = np.zeros((H, W), np.float32)
    moved[:, 55:] = obj[:, :-55]  # the silhouette, 55 px to the right …
    moved = np.roll(moved, -25, axis=0)  # … and 25 px up, on the sweep behind
    shadow = 0.6 * cv2.GaussianBlur(moved, (0, 0), 1.5) + 0.4 * cv2.GaussianBlur(moved, (0, 0), 6.0)
    backdrop = np.full((H, W, 3), level, np.float32) * (1.0 - darkness * shadow)[..., None]
    body = np.float32([150, 95, 60])[None, None, :] + _texture(rng, (H, W), 14.0)[..., None]
    image = np.where(obj[..., None], body, backdrop)
    return _finish(image, rng), obj, (shadow > 0.5) & ~obj


def pale_photo(level: int = 246, gap: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A figure in a dark top and white tights on a white sweep: the tights are `gap` levels darker than the
    sweep, with a faint weave. Returns (H×W×3 uint8 photo, H×W bool figure, H×W bool pale part)."""
    rng = np.random.default_rng(seed)
    top = np.zeros((H, W), np.uint8)
    cv2.ellipse(top, (320, 150), (80, 100), 0, 0, 360, 1, -1)
    legs = np.zeros((H, W), np.uint8)
    cv2.rectangle(legs, (262, 220), (305, 440), 1, -1)
    cv2.rectangle(legs, (335, 220), (378, 440), 1, -1)
    top, legs = top.astype(bool), legs.astype(bool) & ~top.astype(bool)
    backdrop = np.full((H, W, 3), level, np.float32)
    dark = np.float32([40, 45, 70])[None, None, :] + _texture(rng, (H, W), 10.0)[..., None]
    tights = np.full((H, W, 3), level - gap, np.float32) + _texture(rng, (H, W), 3.0)[..., None]
    image = np.where(top[..., None], dark, np.where(legs[..., None], tights, backdrop))
    return _finish(image, rng), top | legs, legs


def grey_product_photo(extra: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A matte grey box, smooth and shaded (lit from the right), on a white sweep: alone, with a printed red
    logo, or with a small black handle. Returns (H×W×3 uint8 photo, H×W bool product)."""
    rng = np.random.default_rng(seed)
    body = np.zeros((H, W), np.uint8)
    cv2.rectangle(body, (250, 120), (390, 400), 1, -1)
    part = np.zeros((H, W), np.uint8)
    if extra == "logo":
        cv2.rectangle(part, (290, 220), (350, 260), 1, -1)
    elif extra == "handle":
        cv2.ellipse(part, (410, 250), (30, 60), 0, 0, 360, 1, 12)
    body, part = body.astype(bool), part.astype(bool)
    xs = np.mgrid[0:H, 0:W][1].astype(np.float32)
    shade = 150.0 * (0.8 + 0.4 * np.clip((xs - 250) / 140, 0, 1))
    image = np.where(body[..., None], np.dstack([shade] * 3), 242.0)
    colour = np.float32([200, 30, 40]) if extra == "logo" else np.float32([20, 20, 20])
    image = np.where(part[..., None], colour, image)
    return _finish(image, rng), body | part


@pytest.mark.parametrize("extra", ["alone", "logo", "handle"])
def test_a_smooth_grey_product_is_not_taken_for_a_shadow(extra: str) -> None:
    image, product = grey_product_photo(extra)
    cut = _cut(image)
    assert (cut & product).sum() / (cut | product).sum() > 0.95


@pytest.mark.parametrize("darkness", [0.35, 0.55])
def test_a_cast_shadow_on_the_sweep_is_dropped(darkness: float) -> None:
    image, obj, shadow = shadow_photo(darkness=darkness)
    cut = _cut(image)
    assert (cut & shadow).sum() < 0.05 * shadow.sum()  # the shadow is not product …
    assert (cut & obj).sum() > 0.95 * obj.sum()  # … the bottle is
    assert (cut & obj).sum() / (cut | obj).sum() > 0.9


@pytest.mark.parametrize("level, gap", [(246, 12), (238, 18)])
def test_pale_parts_on_a_pale_sweep_are_kept(level: int, gap: int) -> None:
    image, figure, pale = pale_photo(level=level, gap=gap)
    cut = _cut(image)
    assert (cut & pale).sum() > 0.85 * pale.sum()  # the white tights stay …
    assert (cut & figure).sum() / (cut | figure).sum() > 0.85  # … and the sweep around them does not join


def test_fine_texture_ignores_ramps_and_outlines_but_not_grain() -> None:
    ys, xs = np.mgrid[0:60, 0:80].astype(np.float32)
    ramp = 0.5 + 0.004 * xs + 0.003 * ys  # a penumbra-like gradient
    step = np.where(xs + 0.4 * ys > 40, 0.6, 1.0).astype(np.float32)  # a slanted outline
    grain = 0.8 + 0.02 * np.random.default_rng(0).normal(size=xs.shape).astype(np.float32)  # weave, fur, print
    assert fine_texture(ramp).max() < 1e-3
    assert fine_texture(step).max() < 1e-3
    assert np.median(fine_texture(grain)) > 0.004


def test_backdrop_relative_makes_the_backdrop_mid_grey_and_stretches_faint_differences() -> None:
    backdrop = np.full((4, 4, 3), 240.0, np.float32)
    image = np.full((4, 4, 3), 240, np.uint8)
    image[0, 0] = 228  # 5 % darker than the sweep
    relative = backdrop_relative(image, backdrop)
    assert relative[1, 1].tolist() == [128, 128, 128]
    assert 128 - int(relative[0, 0, 0]) >= 24  # 12 levels become more than one 16-level colour bin
