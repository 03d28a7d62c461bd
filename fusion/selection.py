"""Which label regions are the product: one rule for every backend.

Each region of `evidence.labels` is scored by the heatmap inside it (minus any negative heatmap).
Regions scoring at least half the best are candidates; touching candidates form groups (one product can
span several regions: shoe + sole, person + bag). The best group is kept, plus any other group the heatmap
clearly supports (a pair of earrings). When the two best separate groups are nearly equal and the
evidence for them is only moderate, a label hint decides if exactly one of them holds a hinted class (the
product's likely semantic class, from the title: "cup" for a mug), else the centre prior (`tie_broken`).
When the heatmap says nothing (weak or flat everywhere), the hinted regions are kept if there are any of a
plausible size, else the regions in the centre of the frame — both with low confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from fusion.segmenters.regions import adjacent_pairs
from fusion.types import Evidence, Mask, RegionScore

MAX_REPORTED_REGIONS = 32
CANDIDATE_SHARE = 0.5  # a candidate scores at least this share of the best region's score
STRONG_SCORE = 0.5  # mean heatmap at which a group is kept on its own evidence
TIE_MARGIN = 0.1  # groups whose scores differ by less than this share of the best are tied
WEAK_SCORE = 0.15  # best region below this: the heatmap found nothing
FLAT_CONTRAST = 0.1  # best region less than this above the image mean: the heatmap is flat
CENTRE_SUBJECT = 0.5  # prior level that marks the centred search area
HINT_MIN_AREA = 0.01  # hinted regions smaller than this share of the image are not a product on their own
EDGE_SOFTNESS = 0.7  # px (working resolution) of the ramp given to the mask edge


@dataclass(frozen=True)
class RegionStats:
    """Per-region measurements; every array has one entry per label id (n)."""

    score: np.ndarray  # mean of heatmap − negative_heatmap, clipped to [0, 1]
    coverage: np.ndarray  # share of pixels with net heatmap > 0.5
    centre: np.ndarray  # mean prior
    central: np.ndarray  # share of pixels where the prior is above CENTRE_SUBJECT
    area: np.ndarray  # share of the image
    pixels: np.ndarray  # pixel count


def region_stats(evidence: Evidence) -> RegionStats:
    """Measure every label region of `evidence` (ids absent from the map get zero area)."""
    labels = evidence.labels.ravel()
    n = int(labels.max()) + 1
    net = evidence.heatmap.astype(np.float32)
    if evidence.negative_heatmap is not None:
        net = net - evidence.negative_heatmap.astype(np.float32)
    net = np.clip(net, 0.0, 1.0).ravel()
    pixels = np.bincount(labels, minlength=n).astype(np.float64)
    safe = np.maximum(pixels, 1.0)
    return RegionStats(
        score=np.bincount(labels, net, n) / safe,
        coverage=np.bincount(labels, (net > 0.5).astype(np.float64), n) / safe,
        centre=np.bincount(labels, evidence.prior.ravel().astype(np.float64), n) / safe,
        central=np.bincount(labels, (evidence.prior.ravel() >= CENTRE_SUBJECT).astype(np.float64), n) / safe,
        area=pixels / labels.size,
        pixels=pixels,
    )


def _candidate_groups(labels: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Group id per region (−1 for non-candidates): candidates that touch share a group."""
    n = len(candidates)
    pairs = adjacent_pairs(labels)
    pairs = pairs[candidates[pairs[:, 0]] & candidates[pairs[:, 1]]]
    graph = sparse.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = csgraph.connected_components(graph, directed=False)
    return np.where(candidates, component, -1)


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = float(weights.sum())
    return float((values * weights).sum() / total) if total > 0 else 0.0


def _hinted_mask(evidence: Evidence, n: int) -> np.ndarray:
    """n bool: the regions whose class is one of the prompts' label hints."""
    hinted = np.zeros(n, bool)
    ids = [i for i in evidence.hinted_labels if 0 <= i < n]
    hinted[ids] = True
    return hinted


def _choose_by_heatmap(
    stats: RegionStats, labels: np.ndarray, hinted: np.ndarray
) -> tuple[np.ndarray, bool, str]:
    """Chosen regions (n bool), whether a tie was broken (by a label hint or the centre prior), and the reason."""
    best = float(stats.score.max())
    candidates = (stats.score >= CANDIDATE_SHARE * best) & (stats.pixels > 0)
    group_of = _candidate_groups(labels, candidates)
    groups = np.unique(group_of[group_of >= 0])
    group_score = np.array([_weighted_mean(stats.score[group_of == g], stats.pixels[group_of == g]) for g in groups])
    group_centre = np.array([_weighted_mean(stats.centre[group_of == g], stats.pixels[group_of == g]) for g in groups])
    group_hinted = np.array([bool(hinted[group_of == g].any()) for g in groups])
    order = np.argsort(-group_score, kind="stable")
    leader, tie_broken, decider = order[0], False, "the centre prior"
    if len(order) > 1:
        runner = order[1]
        tied = group_score[leader] - group_score[runner] < TIE_MARGIN * group_score[leader]
        both_strong = group_score[runner] >= STRONG_SCORE
        if tied and not both_strong:
            if group_hinted[leader] != group_hinted[runner]:
                leader, decider = (leader if group_hinted[leader] else runner), "a label hint"
            else:
                leader = runner if group_centre[runner] > group_centre[leader] else leader
            tie_broken = True
    kept = {int(groups[leader])}
    if not tie_broken:
        kept |= {int(g) for g, s in zip(groups, group_score, strict=True) if s >= STRONG_SCORE}
    chosen = np.isin(group_of, list(kept))
    parts = f"{int(chosen.sum())} region(s) in {len(kept)} group(s)"
    if tie_broken:
        reason = f"kept {parts}; {decider} decided between near-equal candidates"
    else:
        reason = f"kept {parts} with mean heatmap ≥ {CANDIDATE_SHARE * best:.2f}"
    return chosen, tie_broken, reason


def _choose_centre_subject(stats: RegionStats) -> np.ndarray:
    """Regions of the centred subject: those mostly inside the centred search area (prior ≥
    CENTRE_SUBJECT), else the single most central region."""
    chosen = (stats.central > 0.5) & (stats.pixels > 0)
    if not chosen.any():
        chosen = np.zeros(len(stats.score), bool)
        chosen[int(np.argmax(np.where(stats.pixels > 0, stats.centre, -1.0)))] = True
    return chosen


def soft_probability(binary: np.ndarray, softness: float = EDGE_SOFTNESS) -> np.ndarray:
    """h×w bool → h×w float32 in [0, 1] that crosses 0.5 on the mask edge with a ramp of a few px
    (the band the feather step refines against the full-resolution image)."""
    return np.clip(cv2.GaussianBlur(binary.astype(np.float32), (0, 0), softness), 0.0, 1.0)


def _region_scores(stats: RegionStats, chosen: np.ndarray, names: tuple[str, ...]) -> tuple[RegionScore, ...]:
    present = np.flatnonzero(stats.pixels > 0)
    ranked = sorted(present, key=lambda r: (not chosen[r], -stats.score[r], -stats.area[r]))
    return tuple(
        RegionScore(
            label=int(r),
            name=names[r] if r < len(names) else "",
            score=float(stats.score[r]),
            coverage=float(stats.coverage[r]),
            centre=float(stats.centre[r]),
            area=float(stats.area[r]),
            chosen=bool(chosen[r]),
        )
        for r in ranked[:MAX_REPORTED_REGIONS]
    )


def select(evidence: Evidence) -> Mask:
    """Pick the product's regions from any backend's Evidence → Mask at working resolution."""
    stats = region_stats(evidence)
    best = float(stats.score.max())
    contrast = best - _weighted_mean(stats.score, stats.pixels)
    hinted = _hinted_mask(evidence, len(stats.score)) & (stats.pixels > 0)
    if best < WEAK_SCORE or contrast < FLAT_CONTRAST:
        tie_broken = False
        if stats.area[hinted].sum() >= HINT_MIN_AREA:
            chosen, confidence = hinted, 0.2
            names = ", ".join(sorted({evidence.label_names[i] for i in np.flatnonzero(hinted)
                                      if i < len(evidence.label_names)})) or "the hinted classes"
            reason = f"heatmap too weak or flat to decide; kept the regions labelled {names} (check this one)"
        else:
            chosen, confidence = _choose_centre_subject(stats), 0.1
            reason = "heatmap too weak or flat to decide; kept the centred subject (check this one)"
    else:
        chosen, tie_broken, reason = _choose_by_heatmap(stats, evidence.labels, hinted)
        inside = _weighted_mean(stats.score[chosen], stats.pixels[chosen])
        outside = _weighted_mean(stats.score[~chosen], stats.pixels[~chosen])
        confidence = float(np.clip(inside - outside, 0.0, 1.0)) * (0.6 if tie_broken else 1.0)
    binary = chosen[evidence.labels]
    return Mask(
        probability=soft_probability(binary),
        binary=binary,
        regions=_region_scores(stats, chosen, evidence.label_names),
        tie_broken=tie_broken,
        confidence=confidence,
        reason=reason,
    )
