"""Clicks to fix a cut, measured the way interactive segmentation is (`promptcut eval --clicks N`).

The standard simulated user: after each result, find the largest connected error region (missed product or
wrongly kept background, taken separately), click at its interior point farthest from the region's boundary
(the image border counts as boundary), "keep" in missed product and "remove" in kept background. The cut is
redone from the stored segmentation with all clicks so far (`fusion.corrections`), exactly as the service does
it for a seller. Reported: NoC@85 / NoC@90, the clicks needed to reach that IoU (0 = the automatic cut already
did; the cap when never reached), and mean IoU after 1, 3 and 5 clicks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from fusion.corrections import Click, Corrections, apply_corrections
from fusion.evaluation.metrics import iou
from fusion.feather import FeatherOptions
from fusion.pipeline import cut_from_mask, segment
from fusion.protocol import Segmenter
from fusion.selection import select
from prompting.types import PromptSet

THRESHOLDS = (0.85, 0.90)
REPORTED_AFTER = (1, 3, 5)  # mean IoU after this many clicks
STOP_AT = 0.90  # the user stops once this IoU is reached and the reported counts are covered


def next_click(prediction: np.ndarray, truth: np.ndarray) -> Click | None:
    """The simulated user's next click for a H×W bool `prediction` against bool `truth`, or None when
    nothing is wrong."""
    best: tuple[int, np.ndarray, bool] | None = None
    for keep, error in ((True, truth & ~prediction), (False, prediction & ~truth)):
        count, parts, stats, _ = cv2.connectedComponentsWithStats(error.astype(np.uint8), connectivity=8)
        if count <= 1:
            continue
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[largest, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            best = (area, parts == largest, keep)
    if best is None:
        return None
    _, region, keep = best
    # Pad with background so the frame's edge counts as the region's boundary.
    inside = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    return Click(float(x) + 0.5, float(y) + 0.5, keep)


@dataclass(frozen=True)
class ClickRun:
    """One simulated session: the automatic alpha (H×W float32), IoU after 0, 1, … clicks, the seconds the
    automatic cut took and the seconds of each correction (corrections + feathering, as the service does)."""

    automatic: np.ndarray
    scores: tuple[float, ...]
    seconds: float
    click_seconds: tuple[float, ...]


def simulate(
    image: np.ndarray,
    truth: np.ndarray,
    prompts: PromptSet,
    segmenter: Segmenter,
    max_clicks: int,
    feather_options: FeatherOptions = FeatherOptions(),
) -> ClickRun:
    """Segment `image` once, then click up to `max_clicks` times. Stops early once IoU ≥ STOP_AT and every
    reported count is covered: later entries would only repeat a solved item, and `noc` / `iou_after` carry
    the last value forward."""
    height, width = truth.shape
    start = time.perf_counter()
    evidence = segment(image, prompts, segmenter, feather_options)
    base = select(evidence)
    automatic = cut_from_mask(image, base, evidence.backend, feather_options).alpha
    seconds = time.perf_counter() - start
    scores = [iou(automatic, truth)]
    prediction = automatic >= 0.5
    clicks: list[Click] = []
    click_seconds: list[float] = []
    while len(clicks) < max_clicks and not (scores[-1] >= STOP_AT and len(clicks) >= max(REPORTED_AFTER)):
        click = next_click(prediction, truth)
        if click is None:
            break
        clicks.append(click)
        start = time.perf_counter()
        mask = apply_corrections(evidence, base, Corrections(tuple(clicks)), (width, height))
        alpha = cut_from_mask(image, mask, evidence.backend, feather_options).alpha
        click_seconds.append(time.perf_counter() - start)
        prediction = alpha >= 0.5
        scores.append(iou(prediction, truth))
    return ClickRun(automatic, tuple(scores), seconds, tuple(click_seconds))


def noc(scores: Sequence[float], threshold: float, cap: int) -> int:
    """Clicks until IoU ≥ threshold (0 = already before any click); `cap` when never reached."""
    for clicks, value in enumerate(scores):
        if value >= threshold:
            return min(clicks, cap)
    return cap


def iou_after(scores: Sequence[float], clicks: int) -> float:
    """IoU after `clicks` clicks; the last value when the user stopped earlier (solved or nothing left)."""
    return float(scores[min(clicks, len(scores) - 1)])


@dataclass(frozen=True)
class ClickSummary:
    """One method over one group of items: mean NoC per threshold and mean IoU after 1, 3, 5 clicks."""

    kind: str
    source: str
    method: str
    count: int
    cap: int
    noc85: float
    noc90: float
    iou_after: tuple[float, ...]  # after REPORTED_AFTER clicks
    failed90: int  # items that never reached 0.90 within the cap


def summarise_clicks(kind: str, source: str, method: str, runs: Sequence[Sequence[float]], cap: int) -> ClickSummary:
    return ClickSummary(
        kind=kind, source=source, method=method, count=len(runs), cap=cap,
        noc85=float(np.mean([noc(r, THRESHOLDS[0], cap) for r in runs])),
        noc90=float(np.mean([noc(r, THRESHOLDS[1], cap) for r in runs])),
        iou_after=tuple(float(np.mean([iou_after(r, k) for r in runs])) for k in REPORTED_AFTER),
        failed90=sum(noc(r, THRESHOLDS[1], cap) >= cap and max(r) < THRESHOLDS[1] for r in runs),
    )
