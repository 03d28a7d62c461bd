"""fusion.corrections: clicks and a box applied to stored evidence, without segmenting again."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fusion.corrections import Box, Click, Corrections, apply_corrections
from fusion.errors import InvalidOptionError
from fusion.segmenters.classical import ClassicalSegmenter
from fusion.selection import select
from prompting.types import PromptSet

WIDTH, HEIGHT = 800, 600
RED = (slice(150, 450), slice(200, 400))  # rows, columns of the red product
BLUE = (slice(200, 400), slice(450, 600))  # a second product beside it


@pytest.fixture(scope="module")
def two_products():
    """A pale backdrop with a red and a blue block (grain added), its evidence and the automatic selection."""
    rng = np.random.default_rng(0)
    image = np.full((HEIGHT, WIDTH, 3), 235, np.uint8)
    image[RED] = (200, 40, 40)
    image[BLUE] = (40, 40, 200)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    evidence = ClassicalSegmenter().segment(image, PromptSet())
    return evidence, select(evidence)


def share(mask, where) -> float:
    """Share of the photo-pixel rectangle `where` that the working-resolution mask keeps."""
    full = cv2.resize(mask.binary.astype(np.uint8), (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
    return float(full[where].mean())


BACKDROP = (slice(0, 100), slice(0, WIDTH))


def test_the_automatic_cut_keeps_both_products(two_products):
    _, base = two_products
    assert share(base, RED) > 0.95 and share(base, BLUE) > 0.95 and share(base, BACKDROP) < 0.01


def test_a_remove_click_takes_out_the_whole_product_it_lands_on_and_nothing_else(two_products):
    evidence, base = two_products
    mask = apply_corrections(evidence, base, Corrections((Click(520, 300, False),)), (WIDTH, HEIGHT))
    assert share(mask, BLUE) < 0.05
    assert share(mask, RED) > 0.95 and share(mask, BACKDROP) < 0.01
    assert mask.confidence == 1.0 and "corrected by 1 click" in mask.reason


def test_a_keep_click_brings_a_removed_part_back_and_later_clicks_win(two_products):
    evidence, base = two_products
    removed = Corrections((Click(520, 300, False),))
    restored = removed.plus(Corrections((Click(500, 250, True),)))
    mask = apply_corrections(evidence, base, restored, (WIDTH, HEIGHT))
    assert share(mask, BLUE) > 0.9 and share(mask, RED) > 0.95 and share(mask, BACKDROP) < 0.01


def test_a_keep_click_on_the_backdrop_does_not_flood_the_products_colours(two_products):
    evidence, base = two_products
    mask = apply_corrections(evidence, base, Corrections((Click(100, 550, True),)), (WIDTH, HEIGHT))
    # the click's own spot is product now, but the reach stays near it: the top of the frame stays clear
    assert share(mask, (slice(540, 560), slice(90, 110))) > 0.5
    assert share(mask, BACKDROP) < 0.01


def test_a_box_removes_everything_outside_it(two_products):
    evidence, base = two_products
    mask = apply_corrections(evidence, base, Corrections(box=Box(150, 100, 430, 500)), (WIDTH, HEIGHT))
    assert share(mask, RED) > 0.95 and share(mask, BLUE) < 0.01


def test_no_corrections_give_the_automatic_selection_back(two_products):
    evidence, base = two_products
    assert apply_corrections(evidence, base, Corrections(), (WIDTH, HEIGHT)) is base


@pytest.mark.parametrize("corrections", [
    Corrections((Click(WIDTH, 10, True),)),
    Corrections((Click(-1, 10, False),)),
    Corrections(box=Box(10, 10, WIDTH + 1, 20)),
    Corrections(box=Box(50, 10, 40, 20)),
    Corrections(tuple(Click(1, 1, True) for _ in range(101))),
])
def test_corrections_outside_the_photo_or_too_many_are_refused(two_products, corrections):
    evidence, base = two_products
    with pytest.raises(InvalidOptionError):
        apply_corrections(evidence, base, corrections, (WIDTH, HEIGHT))


def test_corrections_round_trip_through_json_and_refuse_malformed_input():
    corrections = Corrections((Click(1.5, 2, True), Click(3, 4, False)), Box(0, 0, 10, 10))
    assert Corrections.from_dict(corrections.to_dict()) == corrections
    for bad in ({"points": "x"}, {"points": [{"x": 1, "y": 2}]}, {"points": [{"x": "1", "y": 2, "keep": True}]},
                {"points": [{"x": float("nan"), "y": 2, "keep": True}]}, {"box": [1, 2, 3, 4]}, []):
        with pytest.raises(InvalidOptionError):
            Corrections.from_dict(bad)
