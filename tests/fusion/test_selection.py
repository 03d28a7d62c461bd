"""select() on hand-built Evidence: which regions it keeps and how it explains the choice."""

from __future__ import annotations

import numpy as np

from fusion.segmenters.saliency import centre_prior
from fusion.selection import MAX_REPORTED_REGIONS, select
from fusion.types import Evidence

H, W = 60, 80


def _evidence(labels: np.ndarray, heat_per_label: dict[int, float], negative: np.ndarray | None = None,
              hinted: tuple[int, ...] = ()) -> Evidence:
    heatmap = np.zeros(labels.shape, np.float32)
    for label, value in heat_per_label.items():
        heatmap[labels == label] = value
    return Evidence(
        image=np.zeros((*labels.shape, 3), np.uint8),
        heatmap=heatmap,
        labels=labels.astype(np.int32),
        prior=centre_prior(labels.shape),
        backend="test",
        negative_heatmap=negative,
        label_names=tuple(f"class{i}" for i in range(int(labels.max()) + 1)),
        hinted_labels=hinted,
    )


def _blocks() -> np.ndarray:
    """0 = background; 1 = centre block; 2 = block touching 1 on its right; 3 = corner block."""
    labels = np.zeros((H, W), np.int32)
    labels[20:40, 30:45] = 1
    labels[20:40, 45:55] = 2
    labels[2:14, 2:14] = 3
    return labels


def _chosen(mask) -> set[int]:
    return {r.label for r in mask.regions if r.chosen}


def test_clear_winner_is_kept_alone() -> None:
    mask = select(_evidence(_blocks(), {1: 0.9, 2: 0.05, 3: 0.1}))
    assert _chosen(mask) == {1}
    assert mask.regions[0].label == 1 and mask.regions[0].chosen
    assert mask.binary.sum() == (_blocks() == 1).sum()
    assert not mask.tie_broken
    assert mask.confidence > 0.5
    assert mask.probability.dtype == np.float32 and mask.probability.shape == (H, W)
    assert np.array_equal(mask.probability >= 0.5, mask.binary)


def test_product_spanning_two_touching_labels_keeps_both() -> None:
    mask = select(_evidence(_blocks(), {1: 0.8, 2: 0.6, 3: 0.05}))
    assert _chosen(mask) == {1, 2}
    assert not mask.tie_broken


def test_near_tie_between_separate_candidates_goes_to_the_centre() -> None:
    labels = np.zeros((H, W), np.int32)
    labels[22:38, 32:48] = 1  # centred
    labels[2:18, 2:18] = 2  # corner, slightly stronger evidence
    mask = select(_evidence(labels, {1: 0.40, 2: 0.42}))
    assert _chosen(mask) == {1}
    assert mask.tie_broken
    assert "centre" in mask.reason


def test_negative_heatmap_removes_a_segment() -> None:
    labels = _blocks()
    heat = {1: 0.8, 2: 0.8, 3: 0.0}
    assert _chosen(select(_evidence(labels, heat))) == {1, 2}
    negative = (labels == 2).astype(np.float32)
    mask = select(_evidence(labels, heat, negative))
    assert _chosen(mask) == {1}
    assert not mask.binary[labels == 2].any()


def test_uniform_heatmap_falls_back_to_centre_subject_with_low_confidence() -> None:
    labels = _blocks()
    mask = select(_evidence(labels, {0: 0.3, 1: 0.3, 2: 0.3, 3: 0.3}))
    assert 1 in _chosen(mask) and 3 not in _chosen(mask) and 0 not in _chosen(mask)
    assert mask.confidence < 0.3
    assert "centred subject" in mask.reason


def test_region_list_is_capped_and_chosen_first() -> None:
    labels = (np.arange(H * W).reshape(H, W) // 40).astype(np.int32)  # 120 small regions
    heat = {i: (0.9 if 50 <= i < 60 else 0.02) for i in range(int(labels.max()) + 1)}
    mask = select(_evidence(labels, heat))
    assert len(mask.regions) == MAX_REPORTED_REGIONS
    flags = [r.chosen for r in mask.regions]
    assert flags == sorted(flags, reverse=True) and sum(flags) == 10
    assert 0.0 <= mask.confidence <= 1.0


def test_near_tie_goes_to_the_hinted_class_over_the_centre() -> None:
    labels = np.zeros((H, W), np.int32)
    labels[22:38, 32:48] = 1  # centred
    labels[2:18, 2:18] = 2  # corner, but OneFormer calls it the product's class
    mask = select(_evidence(labels, {1: 0.42, 2: 0.40}, hinted=(2,)))
    assert _chosen(mask) == {2}
    assert mask.tie_broken and "label hint" in mask.reason


def test_a_clear_heatmap_winner_beats_a_hinted_class() -> None:
    mask = select(_evidence(_blocks(), {1: 0.9, 2: 0.05, 3: 0.1}, hinted=(3,)))
    assert _chosen(mask) == {1} and not mask.tie_broken


def test_weak_heatmap_keeps_the_hinted_regions_with_low_confidence() -> None:
    labels = _blocks()
    mask = select(_evidence(labels, {0: 0.3, 1: 0.3, 2: 0.3, 3: 0.3}, hinted=(3,)))
    assert _chosen(mask) == {3}
    assert mask.confidence < 0.3 and "class3" in mask.reason


def test_a_tiny_hinted_region_does_not_replace_the_centre_subject() -> None:
    labels = _blocks()
    labels[0, 0] = 4  # one pixel of a hinted class
    mask = select(_evidence(labels, {0: 0.3, 1: 0.3, 2: 0.3, 3: 0.3, 4: 0.3}, hinted=(4,)))
    assert 4 not in _chosen(mask) and "centred subject" in mask.reason
