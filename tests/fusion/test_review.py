"""Honest results (fusion.review): a uniform photo is no_product or needs review, never a "successful" blank or
full-frame cut; every cut carries needs_review with stable reasons; the thresholds behave as documented."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fusion.errors import NoProductError
from fusion.imageio import load_image
from fusion.pipeline import cut, cut_from_own_alpha
from fusion.review import (
    BUSY_BACKDROP_DE,
    EMPTY_SHARE,
    LOW_CONFIDENCE,
    NEAR_FULL_SHARE,
    REASONS,
    SLIVER_WIDTH,
    STRUCTURE_DE,
    WEAK_OUTLINE_SHARE,
    WEAK_OUTLINE_SHARE_PLAIN,
    CutMeasures,
    Review,
    judge,
    measure_cut,
    require_content,
    review_cut,
)
from fusion.segmenters import get_segmenter
from prompting import build_prompts
from tests.helpers import SAMPLES

SHAPE = (240, 360)
TITLES = {row["file"]: row["title"] for row in csv.DictReader((SAMPLES / "titles.csv").open(encoding="utf-8"))}


@pytest.fixture(scope="module")
def classical():
    return get_segmenter("classical")


def _flat(value) -> np.ndarray:
    return np.full((*SHAPE, 3), value, np.uint8)


def _noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)


def _box_photo() -> tuple[np.ndarray, np.ndarray]:
    """A red box on a white backdrop, and its exact mask."""
    image = _flat(250)
    truth = np.zeros(SHAPE, bool)
    truth[60:180, 120:240] = True
    image[truth] = (200, 40, 30)
    return image, truth


def _good(**changes) -> CutMeasures:
    values = {"confidence": 0.9, "coverage": 0.3, "width": 0.5, "weak_outline": 0.01, "backdrop_spread": 5.0,
              "structure": 60.0}
    return CutMeasures(**{**values, **changes})


# ------------------------------------------------------------------------------------- uniform photos


@pytest.mark.parametrize("value", [255, 0, 128, (200, 30, 30)], ids=["white", "black", "grey", "red"])
def test_a_photo_of_one_flat_colour_is_no_product_not_a_centre_crop(classical, value) -> None:
    with pytest.raises(NoProductError) as caught:
        cut(_flat(value), build_prompts(title="white coffee mug"), classical)
    assert caught.value.code == "no_product" and "flat colour" in str(caught.value)


def test_sensor_noise_and_jpeg_on_a_blank_backdrop_are_still_no_product() -> None:
    rng = np.random.default_rng(1)
    grey = np.clip(128 + rng.normal(0, 1.5, (*SHAPE, 3)), 0, 255).astype(np.uint8)
    with pytest.raises(NoProductError):
        require_content(grey)


def test_uniform_noise_is_cut_but_needs_review(classical) -> None:
    cutout = cut(_noise(), build_prompts(title="white coffee mug"), classical)
    review = cutout.review()
    assert review.needs_review and "uniform_photo" in review.reasons
    assert cutout.measures is not None and cutout.measures.structure < STRUCTURE_DE
    metadata = cutout.metadata()
    assert metadata["needs_review"] is True and "uniform_photo" in metadata["review_reasons"]
    assert metadata["review"]["messages"][0] == REASONS[metadata["review_reasons"][0]]


def test_small_objects_and_real_photos_are_content() -> None:
    image = _flat(255)
    image[100:112, 170:182] = (30, 30, 200)  # 0.17% of the frame
    require_content(image)
    require_content(load_image(SAMPLES / "coffee-cup.jpg").rgb)


# ------------------------------------------------------------------------------------- real photos


def test_a_clean_product_photo_needs_no_review(classical) -> None:
    image = load_image(SAMPLES / "coffee-cup.jpg").rgb
    cutout = cut(image, build_prompts(title=TITLES["coffee-cup.jpg"]), classical)
    assert cutout.review(plain_background=True) == Review(False, ())
    assert cutout.review(plain_background=False) == Review(False, ())
    metadata = cutout.metadata()
    assert metadata["needs_review"] is False and metadata["review_reasons"] == []


@pytest.mark.parametrize("name", ["chelsea-cat.jpg", "rocket.jpg"])
def test_cuts_whose_outline_runs_through_look_alike_colours_need_review(classical, name) -> None:
    """The classical cat and rocket cuts are visibly wrong (a patch of fur; a block of sky with the rocket)."""
    image = load_image(SAMPLES / name).rgb
    cutout = cut(image, build_prompts(title=TITLES[name]), classical)
    assert "weak_outline" in cutout.review(plain_background=False).reasons
    assert cutout.metadata()["needs_review"] is True


def test_a_busy_backdrop_is_judged_more_strictly_for_a_plain_output(classical) -> None:
    image = load_image(SAMPLES / "rocket.jpg").rgb
    cutout = cut(image, build_prompts(title=TITLES["rocket.jpg"]), classical)
    assert "backdrop_not_uniform" in cutout.review(plain_background=True).reasons
    assert "backdrop_not_uniform" not in cutout.review(plain_background=False).reasons
    assert cutout.metadata(plain_background=False)["review"]["plain_background"] is False


# ------------------------------------------------------------------------------------- measures


def test_an_exact_cut_of_a_clear_object_measures_well() -> None:
    image, truth = _box_photo()
    measures = measure_cut(0.95, truth.astype(np.float32), image)
    assert measures.coverage == pytest.approx(truth.mean(), abs=0.01)
    assert measures.width == pytest.approx(120 / 240, abs=0.02)
    assert measures.weak_outline == 0.0 and measures.backdrop_spread < 1.0
    assert judge(measures, plain_background=True) == Review(False, ())


def test_a_cut_through_a_uniform_area_has_a_weak_outline() -> None:
    image, truth = _box_photo()
    wrong = np.zeros(SHAPE, np.float32)
    wrong[40:200, 10:110] = 1.0  # a block of the white backdrop beside the box
    assert review_cut(0.95, wrong, image, plain_background=False).reasons == ("weak_outline",)


def test_shapes_of_doubtful_cuts() -> None:
    image, _truth = _box_photo()
    speck = np.zeros(SHAPE, np.float32)
    speck[100:104, 150:154] = 1.0
    assert "empty" in review_cut(0.95, speck, image, True).reasons
    full = np.ones(SHAPE, np.float32)
    full[:4] = 0.0
    assert "near_full" in review_cut(0.95, full, image, True).reasons
    strip = np.zeros(SHAPE, np.float32)
    strip[20:220, 100:104] = 1.0
    assert "sliver" in review_cut(0.95, strip, image, True).reasons


def test_an_inputs_own_transparency_is_judged_by_its_shape_only() -> None:
    image = _noise()  # the pixels under a seller's own cut-out say nothing about it
    _box, truth = _box_photo()
    cutout = cut_from_own_alpha(image, np.where(truth, 255, 0).astype(np.uint8))
    assert cutout.measures.confidence == 1.0
    assert cutout.measures.weak_outline is None and cutout.measures.structure is None
    assert cutout.review() == Review(False, ())
    rounded_corners = np.full(SHAPE, 255, np.uint8)
    rounded_corners[:10, :10] = rounded_corners[-10:, -10:] = 0  # a rectangle: nothing was cut out
    assert cut_from_own_alpha(image, rounded_corners).review().reasons == ("near_full",)


# ------------------------------------------------------------------------------------- the verdict


def test_judge_thresholds_and_reason_order() -> None:
    assert judge(_good(), True) == Review(False, ())
    assert judge(_good(confidence=LOW_CONFIDENCE - 0.01), True).reasons == ("low_confidence",)
    assert judge(_good(confidence=LOW_CONFIDENCE), True).reasons == ()
    assert judge(_good(coverage=EMPTY_SHARE / 2), True).reasons == ("empty",)
    assert judge(_good(coverage=(NEAR_FULL_SHARE + 1) / 2), True).reasons == ("near_full",)
    assert judge(_good(width=SLIVER_WIDTH / 2), True).reasons == ("sliver",)
    assert judge(_good(weak_outline=WEAK_OUTLINE_SHARE + 0.01), False).reasons == ("weak_outline",)
    busy = _good(weak_outline=WEAK_OUTLINE_SHARE_PLAIN + 0.01, backdrop_spread=BUSY_BACKDROP_DE + 1)
    assert judge(busy, True).reasons == ("backdrop_not_uniform",)
    assert judge(busy, False).reasons == ()
    assert judge(_good(backdrop_spread=BUSY_BACKDROP_DE + 1), True).reasons == ()  # busy alone is not a fault
    everything = _good(structure=1.0, confidence=0.1, coverage=0.95, weak_outline=0.5, backdrop_spread=40.0)
    assert judge(everything, True).reasons == (
        "uniform_photo", "low_confidence", "near_full", "weak_outline", "backdrop_not_uniform")
    assert list(REASONS)[:3] == ["uniform_photo", "low_confidence", "empty"]


def test_review_and_measures_are_checked_and_round_trip() -> None:
    with pytest.raises(ValueError):
        Review(True, ("not_a_reason",))
    with pytest.raises(ValueError):
        Review(False, ("empty",))
    review = Review(True, ("empty",))
    assert review.messages == (REASONS["empty"],)
    assert review.metadata()["review_reasons"] == ["empty"] and review.metadata()["needs_review"] is True
    measures = _good(weak_outline=None, backdrop_spread=None, structure=None)
    assert CutMeasures.from_dict(measures.to_dict()) == measures
    with pytest.raises(ValueError):
        CutMeasures.from_dict({"confidence": 0.5, "coverage": "lots", "width": 0.2})
