"""Compositing arithmetic, edge decontamination, backgrounds and the contact shadow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fusion.compose import (
    ImageFill,
    Solid,
    Themed,
    Transparent,
    compose,
    contact_shadow,
    decontaminate,
    parse_background,
)
from fusion.errors import InvalidOptionError, NoProductError, UnknownThemeError
from fusion.framing import Framing
from fusion.themes import render_theme

KEEP = Framing(crop=False, shadow=False)


def _flat(colour, shape=(4, 4)):
    return np.broadcast_to(np.asarray(colour, np.uint8), shape + (3,)).copy()


def test_alpha_over_is_exact():
    alpha = np.full((4, 4), 0.25, np.float32)
    out = compose(_flat((200, 0, 0)), alpha, Solid((0, 0, 100)), KEEP)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert (out == (50, 0, 75)).all()


def test_alpha_extremes_and_uint8_alpha():
    alpha = np.array([[0, 255], [128, 64]], np.uint8)
    out = compose(_flat((10, 20, 30), (2, 2)), alpha, Solid((250, 240, 230)), KEEP)
    assert tuple(out[0, 0]) == (250, 240, 230)
    assert tuple(out[0, 1]) == (10, 20, 30)
    a = 128 / 255
    expected = np.rint(np.array([10, 20, 30]) * a + np.array([250, 240, 230]) * (1 - a))
    assert tuple(out[1, 0]) == tuple(expected.astype(int))


def test_transparent_gives_straight_rgba():
    alpha = np.array([[0.0, 1.0], [0.5, 0.2]], np.float32)
    fg = _flat((200, 100, 50), (2, 2))
    out = compose(fg, alpha, Transparent(), KEEP)
    assert out.shape == (2, 2, 4)
    assert list(out[..., 3].ravel()) == [0, 255, 128, 51]
    assert (out[1, :, :3] == (200, 100, 50)).all() and (out[0, 1, :3] == (200, 100, 50)).all()


def _soft_disc(size=256, radius=80, ramp=8.0):
    yy, xx = np.mgrid[:size, :size]
    d = np.hypot(xx - size / 2, yy - size / 2)
    return np.clip((radius - d) / ramp + 0.5, 0, 1).astype(np.float32)


def _mix(alpha, fg, bg):
    fg = np.asarray(fg, np.float32)
    bg = np.broadcast_to(np.asarray(bg, np.float32), alpha.shape + (3,))
    return np.rint(alpha[..., None] * fg + (1 - alpha[..., None]) * bg).astype(np.uint8)


def _green_excess_on_white(fg, alpha):
    """G − B of edge pixels composited on white: a red product has none, a green halo shows up here."""
    on_white = compose(fg, alpha, Solid((255, 255, 255)), KEEP).astype(np.int32)
    edge = (alpha > 0.02) & (alpha < 0.98)
    return (on_white[..., 1] - on_white[..., 2])[edge]


def test_decontaminate_removes_green_halo():
    alpha = _soft_disc()
    image = _mix(alpha, (200, 20, 20), (20, 200, 40))
    naive = _green_excess_on_white(image, alpha)
    clean = _green_excess_on_white(decontaminate(image, alpha), alpha)
    assert naive.max() > 30  # the metric sees the halo when nothing is done
    assert clean.max() <= 3, clean.max()
    assert abs(clean.mean()) < 1.0


def test_decontaminate_uses_the_local_background():
    # left half green, right half blue: each edge must lose its own neighbour's colour
    alpha = _soft_disc()
    bg = np.zeros(alpha.shape + (3,), np.float32)
    bg[:, :128] = (20, 200, 40)
    bg[:, 128:] = (30, 40, 220)
    image = np.rint(alpha[..., None] * np.float32([200, 20, 20]) + (1 - alpha[..., None]) * bg).astype(np.uint8)
    fg = decontaminate(image, alpha)
    columns = np.arange(alpha.shape[1])[None, :]
    edge = (alpha > 0.1) & (alpha < 0.9) & (np.abs(columns - 128) >= 8)  # away from the backdrop's seam
    error = np.abs(fg[edge].astype(int) - (200, 20, 20)).max(axis=1)
    assert np.percentile(error, 95) <= 6 and error.max() <= 15, (np.percentile(error, 95), error.max())
    naive = np.abs(image[edge].astype(int) - (200, 20, 20)).max(axis=1)
    assert np.percentile(naive, 95) > 40


def test_decontaminate_keeps_opaque_pixels_and_shape():
    alpha = _soft_disc()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, alpha.shape + (3,), dtype=np.uint8)
    out = decontaminate(image, alpha)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (out[alpha >= 0.98] == image[alpha >= 0.98]).all()
    # no background at all (product fills the frame): colours are left alone
    full = np.ones(alpha.shape, np.float32) * 0.5
    assert (decontaminate(image, full) == image).all()


def test_image_fill_background_is_cover_fitted():
    backdrop = np.zeros((100, 200, 3), np.uint8)
    backdrop[:, :, 1] = np.arange(200, dtype=np.uint8)[None, :]
    alpha = np.zeros((50, 50), np.float32)
    alpha[0, 0] = 1.0  # a one-pixel product in the corner: the rest shows the backdrop
    out = compose(_flat((0, 0, 0), (50, 50)), alpha, ImageFill(backdrop), KEEP)
    assert out.shape == (50, 50, 3)
    # the centre column of the backdrop lands in the centre of the output
    assert abs(int(out[25, 25, 1]) - 100) <= 3


@pytest.mark.parametrize(
    ("spec", "rgb"),
    [
        ("white", (255, 255, 255)),
        ("  White ", (255, 255, 255)),
        ("#f80", (255, 136, 0)),
        ("#FF8800", (255, 136, 0)),
        ("255,136,0", (255, 136, 0)),
        ("255, 136, 0", (255, 136, 0)),
        ("navy", (0, 0, 128)),
        ("light grey", (211, 211, 211)),
    ],
)
def test_parse_background_colours(spec, rgb):
    assert parse_background(spec) == Solid(rgb)


def test_parse_background_other_kinds(tmp_path):
    assert parse_background("transparent") == Transparent()
    assert isinstance(parse_background("theme:halloween"), Themed)
    assert parse_background("halloween").theme.name == "halloween"
    picture = tmp_path / "backdrop.png"
    cv2.imwrite(str(picture), np.full((20, 30, 3), 77, np.uint8))
    fill = parse_background(str(picture))
    assert isinstance(fill, ImageFill) and fill.rgb.shape == (20, 30, 3)


@pytest.mark.parametrize("spec", ["", "#ggg", "#12345", "300,0,0", "1,2", "nosuchcolour", "missing/backdrop.png"])
def test_parse_background_errors(spec):
    with pytest.raises(InvalidOptionError) as info:
        parse_background(spec)
    assert "\n" not in str(info.value) and str(info.value)


def test_parse_background_unknown_theme():
    with pytest.raises(UnknownThemeError, match="halloween"):
        parse_background("theme:nope")


def _standing_box(size=(200, 120)):
    alpha = np.zeros(size, np.float32)
    alpha[40:160, 30:90] = 1.0
    return alpha


def test_contact_shadow_sits_under_the_product():
    alpha = np.zeros((300, 300), np.float32)
    alpha[60:220, 100:200] = 1.0
    shadow = contact_shadow(alpha)
    assert shadow.max() > 0.2
    ys, xs = np.nonzero(shadow > 0.05)
    assert ys.min() > 180 and ys.max() < 260  # at the base, not around the whole product
    assert 0.5 * 100 <= xs.max() - xs.min() + 1 <= 1.6 * 100
    assert abs(xs.mean() - 150) < 3


def test_shadow_on_theme_by_default_and_off_on_request():
    from fusion.themes import load_theme

    theme = load_theme("studio-white")
    fg, alpha = _flat((40, 40, 40), (200, 120)), _standing_box()
    framing = Framing(size=(300, 300), align="bottom", margin=0.1)
    with_shadow = compose(fg, alpha, Themed(theme), framing).astype(int)
    without = compose(fg, alpha, Themed(theme), Framing(size=(300, 300), align="bottom", margin=0.1, shadow=False))
    plain = render_theme(theme, 300, 300).astype(int)
    below = slice(271, 280)  # just under the product's bottom edge (margin 30 px)
    assert (plain[below] - with_shadow[below]).max() > 20
    assert (without[below].astype(int) == plain[below]).all()


def test_compose_rejects_mismatched_alpha():
    with pytest.raises(InvalidOptionError):
        compose(_flat((1, 2, 3), (4, 4)), np.zeros((5, 4), np.float32), Solid((0, 0, 0)), KEEP)


@pytest.mark.parametrize("framing", [KEEP, Framing()], ids=["keep-canvas", "crop"])
def test_empty_cutout_is_an_error_not_a_bare_background(framing):
    # Alpha at most 0.04 everywhere (below the product threshold): no output may pass for a cut-out.
    alpha = np.full((8, 8), 0.04, np.float32)
    with pytest.raises(NoProductError, match="no product found"):
        compose(_flat((10, 20, 30), (8, 8)), alpha, Solid((255, 255, 255)), framing)
    alpha[3, 3] = 0.5
    assert compose(_flat((10, 20, 30), (8, 8)), alpha, Solid((255, 255, 255)), framing).ndim == 3


def test_decontaminate_handles_edges_longer_than_opencv_map_limit() -> None:
    # More than 32767 edge pixels (a large product at 24 MP has far more): cv2.remap's map-size limit.
    height, width = 600, 40_000
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 1] = 200
    alpha = np.zeros((height, width), np.float32)
    alpha[300:, :] = 1.0
    alpha[299, :] = 0.5
    image[300:] = (200, 0, 0)
    image[299] = (100, 100, 0)  # half product red, half old green
    out = decontaminate(image, alpha)
    assert out.shape == image.shape
    assert out[299, :, 1].max() < 60, "edge pixels keep the old green background"
