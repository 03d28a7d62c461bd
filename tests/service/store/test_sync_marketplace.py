"""The marketplace main-image rule as a pure function, and which looks it applies to."""

from __future__ import annotations

import numpy as np
import pytest

from service.store.marketplace import check_main_image, is_marketplace_look


def framed(side: int, product: int, background: int = 255) -> np.ndarray:
    image = np.full((side, side, 3), background, np.uint8)
    start = (side - product) // 2
    image[start:start + product, start:start + product] = (120, 60, 30)
    return image


def test_a_white_1000px_frame_filled_to_85_percent_passes() -> None:
    verdict = check_main_image(framed(1000, 850))
    assert verdict.passed and verdict.reasons == () and verdict.white_ring == 1.0


@pytest.mark.parametrize(("image", "reason"), [
    (framed(1000, 700), "product_too_small"),
    (framed(999, 900), "image_too_small"),
    (framed(1000, 850, background=254), "not_white_background"),  # off-white is not white
])
def test_each_rule_fails_on_its_own(image: np.ndarray, reason: str) -> None:
    verdict = check_main_image(image)
    assert not verdict.passed and verdict.reasons == (reason,)


def test_an_empty_frame_fills_nothing_and_bad_input_is_refused() -> None:
    assert check_main_image(framed(1200, 0)).reasons == ("product_too_small",)
    with pytest.raises(ValueError):
        check_main_image(np.zeros((10, 10), np.uint8))


def test_only_the_plain_white_look_is_judged() -> None:
    assert is_marketplace_look({"background": None, "theme": None})
    assert is_marketplace_look({"background": "white"})
    assert not is_marketplace_look({"theme": "winter-holidays"})
    assert not is_marketplace_look({"background": "#ffcc00"})
