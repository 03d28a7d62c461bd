"""The evaluation's composite families (fusion/evaluation/composites.py): studio, cast shadow, pale on pale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fusion.evaluation.composites import (
    FAMILIES,
    CastShadow,
    bleach,
    cast_shadow,
    make_composite,
    pale_style,
    studio_composite,
)

LUMA = np.array([0.299, 0.587, 0.114])


def photo_with_object(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 240×180 photo: a textured object on a random background, dark below and shaded from light grey to
    white above (as a white collar or a saucer's rim catches the light)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (240, 180, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:240, :180]
    mask = ((yy - 120) / 80) ** 2 + ((xx - 90) / 50) ** 2 <= 1
    body = np.where(yy < 130, 250 - 0.9 * (yy - 40), 80.0)[..., None] + rng.normal(0, 8, (240, 180, 3))
    image[mask] = np.clip(body[mask], 0, 255).astype(np.uint8)
    return image, mask


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_deterministic_per_name_and_differs_between_names(family: str) -> None:
    image, mask = photo_with_object()
    a, truth_a = make_composite(image, mask, "ccp_0001", family)
    b, truth_b = make_composite(image, mask, "ccp_0001", family)
    assert a.dtype == np.uint8 and a.shape[:2] == truth_a.shape and truth_a.dtype == bool
    assert np.array_equal(a, b) and np.array_equal(truth_a, truth_b)
    others = [make_composite(image, mask, f"sod_{i}", family)[0] for i in range(4)]
    assert any(o.shape != a.shape or not np.array_equal(o, a) for o in others)


def test_the_studio_family_is_the_plain_studio_composite_and_families_differ() -> None:
    image, mask = photo_with_object()
    studio, truth = make_composite(image, mask, "ccp_0001", "studio")
    plain, plain_truth = studio_composite(image, mask, "ccp_0001")
    assert np.array_equal(studio, plain) and np.array_equal(truth, plain_truth)
    shadow, _ = make_composite(image, mask, "ccp_0001", "shadow")
    pale, _ = make_composite(image, mask, "ccp_0001", "pale")
    assert shadow.shape != studio.shape or not np.array_equal(shadow, studio)
    assert pale.shape != studio.shape or not np.array_equal(pale, studio)


def test_unknown_family_lists_the_valid_ones() -> None:
    image, mask = photo_with_object()
    with pytest.raises(ValueError, match="studio, shadow, pale"):
        make_composite(image, mask, "ccp_0001", "neon")


@pytest.mark.parametrize("name", ["ccp_0001", "sod_2", "x_3", "y_4", "z_5", "ccp_0675"])
def test_shadow_family_casts_a_deep_shadow_the_truth_leaves_out(name: str) -> None:
    image, mask = photo_with_object()
    out, truth = make_composite(image, mask, name, "shadow")
    assert abs(int(truth.sum()) - int(mask.sum())) <= 0.02 * mask.sum()  # the truth is the object, as pasted
    assert not np.concatenate([truth[0], truth[-1], truth[:, 0], truth[:, -1]]).any()
    luma = out.astype(np.float32) @ LUMA
    outside = ~cv2.dilate(truth.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    backdrop = np.quantile(luma[outside], 0.9)
    # A real cast shadow, not only the soft contact shadow: a sizeable patch ≥ 25 % darker than the backdrop.
    assert (outside & (luma < 0.75 * backdrop)).sum() > 0.05 * truth.sum()


def test_floor_shadow_runs_from_the_foot_sideways_and_behind() -> None:
    mask = np.zeros((200, 300), bool)
    mask[50:150, 130:170] = True
    floor = CastShadow("floor", direction=1, length=0.8, squash=0.3, opacity=0.5, hard_sigma=0.002, soft_sigma=0.01)
    shadow = cast_shadow(mask, floor)
    assert 0.45 <= shadow.max() <= 0.5
    ys, xs = np.nonzero((shadow > 0.2) & ~mask)
    assert ys.max() <= 152 and ys.min() >= 150 - 0.3 * 100 - 4  # on the floor: above the foot, foreshortened
    assert xs.min() >= 165 and xs.max() > 200  # to the right of the object, as `direction` says
    wall = cast_shadow(mask, CastShadow("wall", -1, 0.1, 0.03, 0.4, 0.002, 0.01))
    ys, xs = np.nonzero(wall > 0.2)
    assert xs.min() < 125 and ys.min() < 50  # moved left and up onto the sweep


def test_pale_family_bleaches_parts_close_to_a_near_white_backdrop_and_keeps_them_in_the_truth() -> None:
    image, mask = photo_with_object()
    for name in ("ccp_0001", "sod_2", "x_3", "y_4"):
        out, truth = make_composite(image, mask, name, "pale")
        assert abs(int(truth.sum()) - int(mask.sum())) <= 0.02 * mask.sum()  # pale parts are in the truth
        frame = np.concatenate([out[:3].reshape(-1, 3), out[-3:].reshape(-1, 3)])
        assert np.median(frame, axis=0).min() >= 233  # near-white sweep (noise and JPEG aside)
        luma = out.astype(np.float32) @ LUMA
        sweep = float(np.median(frame @ LUMA))
        inner = cv2.erode(truth.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        close = inner & (np.abs(luma - sweep) <= 22)
        assert close.sum() >= 0.1 * inner.sum()  # some object parts within ~20 levels of the backdrop …
        assert (inner & (luma < sweep - 60)).sum() >= 0.2 * inner.sum()  # … while its dark parts stay dark


def test_bleach_maps_the_lightest_share_just_under_the_sweep() -> None:
    image, mask = photo_with_object()
    style = pale_style("ccp_0001")
    sweep = np.full(image.shape, 245.0, np.float32)
    out = bleach(image.astype(np.float32), mask, sweep, style)
    luma = out @ LUMA.astype(np.float32)
    light = mask & (np.mgrid[:240, :180][0] < 60)  # the lightest tenth
    gap = 245.0 - np.median(luma[light])
    assert style.gap - 4 <= gap <= style.gap + style.spread + 4
    assert (luma[mask] <= 245.0).all()  # never lighter than the sweep: a white part, not a hole
