"""The graph cut against brute force: on grids small enough to try every labelling, min_cut's answer has the
lowest energy, with and without fixed pixels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fusion.segmenters.graphcut import contrast_weights, min_cut


def energy(labels: np.ndarray, cost_fg: np.ndarray, cost_bg: np.ndarray, pairwise) -> float:
    flat = labels.ravel()
    unary = np.where(flat, cost_fg.ravel(), cost_bg.ravel()).sum()
    return float(unary + sum(weight[flat[a] != flat[b]].sum() for a, b, weight in pairwise))


def rounding_slack(cost_fg: np.ndarray, pairwise) -> float:
    """Capacities are rounded to 1/16: each unary and pairwise term may be off by 1/32."""
    return (cost_fg.size + sum(len(weight) for _, _, weight in pairwise)) / 32.0


def brute_force_minimum(cost_fg, cost_bg, pairwise, free: np.ndarray, fixed: np.ndarray) -> float:
    positions = np.flatnonzero(free.ravel())
    best = np.inf
    for bits in itertools.product((False, True), repeat=len(positions)):
        labels = fixed.ravel().copy()
        labels[positions] = bits
        best = min(best, energy(labels.reshape(free.shape), cost_fg, cost_bg, pairwise))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_min_cut_finds_the_lowest_energy_labelling(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    cost_fg, cost_bg = rng.uniform(0, 4, (3, 4)), rng.uniform(0, 4, (3, 4))
    pairwise = contrast_weights(rgb, strength=3.0)
    free, fixed = np.ones((3, 4), bool), np.zeros((3, 4), bool)
    found = min_cut(cost_fg, cost_bg, pairwise)
    best = brute_force_minimum(cost_fg, cost_bg, pairwise, free, fixed)
    assert energy(found, cost_fg, cost_bg, pairwise) <= best + rounding_slack(cost_fg, pairwise)


@pytest.mark.parametrize("seed", range(4))
def test_fixed_pixels_keep_their_label_and_the_free_ones_are_optimal(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    rgb = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    cost_fg, cost_bg = rng.uniform(0, 4, (4, 4)), rng.uniform(0, 4, (4, 4))
    pairwise = contrast_weights(rgb, strength=3.0)
    free = rng.random((4, 4)) < 0.6
    fixed = rng.random((4, 4)) < 0.5
    found = min_cut(cost_fg, cost_bg, pairwise, free=free, fixed=fixed)
    assert np.array_equal(found[~free], fixed[~free])
    best = brute_force_minimum(cost_fg, cost_bg, pairwise, free, fixed)
    assert energy(found, cost_fg, cost_bg, pairwise) <= best + rounding_slack(cost_fg, pairwise)


@pytest.mark.parametrize("band", [False, True])
def test_every_pixel_preferring_one_label_gets_it(band: bool) -> None:
    # With no arc into the sink (all free pixels prefer foreground, no background neighbour), OR-tools
    # used to report an empty source side: everything background, the worst labelling there is.
    rgb = np.random.default_rng(3).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    pairwise = contrast_weights(rgb, strength=1.0)
    free = np.zeros((6, 7), bool)
    free[1:5, 2:6] = True
    fixed = np.ones((6, 7), bool)
    options = {"free": free, "fixed": fixed} if band else {}
    assert min_cut(np.zeros((6, 7)), np.ones((6, 7)), pairwise, **options).all()
    assert not min_cut(
        np.ones((6, 7)), np.zeros((6, 7)), pairwise, **({"free": free, "fixed": ~fixed} if band else {})
    ).any()


def test_a_strong_edge_is_where_the_cut_goes() -> None:
    # Left half dark, right half bright; weak unaries lean each half its own way; the cut follows the edge.
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, 4:] = 255
    lean = np.zeros((8, 8))
    lean[:, :4] = 0.3
    found = min_cut(cost_fg=lean, cost_bg=0.3 - lean, pairwise=contrast_weights(rgb, strength=2.0))
    assert found[:, 4:].all() and not found[:, :4].any()


@pytest.mark.parametrize("diagonal", [True, False])
def test_contrast_weights_link_every_neighbour_pair_once_with_grabcuts_weight(diagonal: bool) -> None:
    # Expected values by an explicit loop over pixels: each 4- (or 8-) neighbour pair once, weight
    # strength·exp(-β‖Δc‖²)/distance with β = 1 / (2·mean ‖Δc‖² over all pairs).
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    h, w = rgb.shape[:2]
    steps = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if diagonal else [])
    expected = {}
    for y, x in itertools.product(range(h), range(w)):
        for dy, dx in steps:
            if 0 <= y + dy < h and 0 <= x + dx < w:
                d2 = float(np.sum((rgb[y, x].astype(float) - rgb[y + dy, x + dx]) ** 2))
                expected[(y * w + x, (y + dy) * w + x + dx)] = (d2, float(np.hypot(dy, dx)))
    beta = 1.0 / (2.0 * np.mean([d2 for d2, _ in expected.values()]))
    strength = 3.0 * (1.0 if diagonal else 1.0 + 1.0 / np.sqrt(2.0))
    found = {
        (int(a), int(b)): float(weight)
        for pairs, others, weights in contrast_weights(rgb, strength=3.0, diagonal=diagonal)
        for a, b, weight in zip(pairs, others, weights, strict=True)
    }
    assert found.keys() == expected.keys()
    for pair, (d2, distance) in expected.items():
        assert found[pair] == pytest.approx(strength * np.exp(-beta * d2) / distance, rel=1e-5)
