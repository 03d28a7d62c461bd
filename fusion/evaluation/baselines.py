"""Reference methods our cut is compared against (in `promptcut eval` and `promptcut bench`).

A baseline is a pure function: H×W×3 uint8 RGB photo in, H×W bool foreground mask out, at full resolution.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from fusion.errors import InvalidOptionError

Baseline = Callable[[np.ndarray], np.ndarray]

GRABCUT_INSET = 5  # px between the image border and the initial rectangle
GRABCUT_ITERATIONS = 5


def grabcut_rect(image: np.ndarray) -> np.ndarray:
    """The classic semi-automatic baseline: OpenCV GrabCut initialised with a rectangle inset
    `GRABCUT_INSET` px from every border, `GRABCUT_ITERATIONS` iterations, at full resolution.

    image: H×W×3 uint8 RGB. Returns H×W bool (GC_FGD | GC_PR_FGD).
    """
    h, w = image.shape[:2]
    # Tiny images cannot afford the full inset; keep at least a 1-px background frame.
    inset = min(GRABCUT_INSET, max(1, (min(h, w) - 2) // 4))
    rect = (inset, inset, w - 2 * inset, h - 2 * inset)
    mask = np.zeros((h, w), np.uint8)
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    # GrabCut's colour GMMs do not care about channel order, so RGB is passed as is.
    cv2.grabCut(np.ascontiguousarray(image[..., :3], dtype=np.uint8), mask, rect, bgd_model, fgd_model,
                GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_RECT)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


BASELINES: dict[str, Baseline] = {
    "grabcut-rect": grabcut_rect,
}


def available_baselines() -> list[str]:
    return sorted(BASELINES)


def get_baseline(name: str) -> Baseline:
    """The baseline registered under `name`; InvalidOptionError listing the valid names otherwise."""
    try:
        return BASELINES[name]
    except KeyError:
        raise InvalidOptionError(
            f"unknown baseline {name!r}; choose one of: {', '.join(available_baselines())}"
        ) from None
