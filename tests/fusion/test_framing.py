"""Framing geometry: product box, fill ratio, alignment, margins, canvas size, cover-fit."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.compose import Transparent, compose
from fusion.errors import InvalidOptionError
from fusion.framing import Framing, cover_fit, plan, product_box


def _product(width: int, height: int, canvas=(400, 500), at=(37, 61)) -> np.ndarray:
    alpha = np.zeros(canvas, np.float32)
    alpha[at[1]:at[1] + height, at[0]:at[0] + width] = 1.0
    return alpha


def _framed_box(alpha: np.ndarray, framing: Framing):
    fg = np.full(alpha.shape + (3,), 90, np.uint8)
    out = compose(fg, alpha, Transparent(), framing)
    box = product_box(out[..., 3].astype(np.float32) / 255.0, threshold=0.5)
    return out.shape[1], out.shape[0], box


@pytest.mark.parametrize(("pw", "ph"), [(100, 300), (300, 100), (200, 200), (57, 311), (333, 90)])
@pytest.mark.parametrize("size", [None, (1000, 1000), (1600, 1200), (300, 500)])
def test_fill_ratio_within_one_percent(pw, ph, size):
    alpha = _product(pw, ph, canvas=(420, 460))
    width, height, (x0, y0, x1, y1) = _framed_box(alpha, Framing(size=size))
    if size is not None:
        assert (width, height) == size
    ratio = max((x1 - x0) / width, (y1 - y0) / height)
    assert abs(ratio - 0.85) <= 0.01, ratio
    # centred horizontally and vertically
    assert abs((x0 + x1) / 2 - width / 2) <= 1.5 and abs((y0 + y1) / 2 - height / 2) <= 1.5


def test_default_canvas_is_square_and_never_upscales():
    alpha = _product(120, 200)
    placement = plan(alpha.shape, product_box(alpha), Framing())
    assert placement.scale == 1.0
    assert placement.canvas[0] == placement.canvas[1] == int(np.ceil(200 / 0.85))


def test_bottom_alignment_touches_the_bottom_margin():
    alpha = _product(150, 90)
    framing = Framing(size=(800, 600), align="bottom", margin=0.05)
    width, height, (x0, y0, x1, y1) = _framed_box(alpha, framing)
    assert abs(y1 - (height - 0.05 * height)) <= 1
    assert abs((x1 - x0) / (width * 0.9) - 0.85) <= 0.01  # fill counts inside the margins


def test_top_alignment_touches_the_top_margin():
    alpha = _product(150, 90)
    width, height, (x0, y0, x1, y1) = _framed_box(alpha, Framing(size=(800, 600), align="top", margin=0.1))
    assert abs(y0 - 60) <= 1


def test_no_crop_keeps_the_canvas():
    alpha = _product(150, 90)
    fg = np.full(alpha.shape + (3,), 90, np.uint8)
    out = compose(fg, alpha, Transparent(), Framing(crop=False))
    assert out.shape[:2] == alpha.shape
    assert (out[..., 3] == np.rint(alpha * 255)).all()
    fitted = compose(fg, alpha, Transparent(), Framing(crop=False, size=(800, 800)))
    assert fitted.shape[:2] == (800, 800)


def test_stray_specks_do_not_move_the_box():
    alpha = _product(100, 100, at=(150, 150))
    alpha[5:7, 5:7] = 1.0  # a 4-pixel speck far away
    alpha[390:400, 300:350] = 0.03  # faint haze
    assert product_box(alpha) == (150, 150, 250, 250)
    assert product_box(np.zeros((10, 10), np.float32)) is None


def test_cover_fit_geometry():
    wide = np.zeros((100, 200, 3), np.uint8)
    wide[..., 0] = np.arange(200, dtype=np.uint8)[None, :]
    out = cover_fit(wide, 100, 100)
    assert out.shape == (100, 100, 3)
    assert (out == wide[:, 50:150]).all()  # same scale: a centre crop
    tall = np.zeros((100, 50, 3), np.uint8)
    tall[..., 1] = np.arange(100, dtype=np.uint8)[:, None]
    out = cover_fit(tall, 200, 200)  # scaled ×4 to 200×400, rows 100..300 kept
    assert out.shape == (200, 200, 3)
    assert abs(int(out[0, 100, 1]) - 25) <= 1 and abs(int(out[199, 100, 1]) - 75) <= 1


@pytest.mark.parametrize(
    "kwargs", [{"fill": 0.0}, {"fill": 1.5}, {"margin": 0.5}, {"align": "left"}, {"size": (0, 100)}]
)
def test_framing_validation(kwargs):
    with pytest.raises(InvalidOptionError):
        Framing(**kwargs)


def test_align_alias():
    assert Framing(align="Centre").align == "center"
