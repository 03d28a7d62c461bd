"""Per-stage timings of the whole path (decode → cut → compose → encode) on real photos."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import cv2
import numpy as np

from fusion.compose import Background, Framing, compose
from fusion.feather import FeatherOptions
from fusion.imageio import decode_image, encode_image
from fusion.pipeline import cut
from fusion.protocol import Segmenter
from prompting.types import PromptSet


@dataclass(frozen=True)
class StageTimes:
    """Median seconds per stage over all runs, plus the per-image totals."""

    stages: dict[str, float]
    total_median: float
    totals: tuple[float, ...]
    image_shape: tuple[int, int]
    working_shape: tuple[int, int]


def resize_longest(image: np.ndarray, longest: int) -> np.ndarray:
    """H×W×3 uint8 → resized so max(H, W) == longest (area interpolation down, cubic up)."""
    h, w = image.shape[:2]
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def time_pipeline(
    encoded_images: list[bytes],
    segmenter: Segmenter,
    background: Background,
    framing: Framing = Framing(),
    feather_options: FeatherOptions = FeatherOptions(),
    repeat: int = 3,
    output_format: str = "jpeg",
) -> StageTimes:
    """Run every image `repeat` times through all stages; medians per stage across all runs."""
    per_stage: dict[str, list[float]] = {}
    totals: list[float] = []
    shape = working = (0, 0)
    for data in encoded_images:
        for _ in range(repeat):
            start = time.perf_counter()
            decoded = decode_image(data, max_pixels=200_000_000)
            decoded_at = time.perf_counter()
            cutout = cut(decoded.rgb, PromptSet(), segmenter, feather_options)
            composed_at = time.perf_counter()
            pixels = compose(cutout.foreground, cutout.alpha, background, framing)
            compose_end = time.perf_counter()
            encode_image(pixels, output_format)
            end = time.perf_counter()
            stages = {"decode": decoded_at - start, **cutout.timings, "compose": compose_end - composed_at,
                      "encode": end - compose_end}
            for name, seconds in stages.items():
                per_stage.setdefault(name, []).append(seconds)
            totals.append(end - start)
            shape = decoded.rgb.shape[:2]
            working = cutout.mask.binary.shape[:2]
    return StageTimes(
        stages={name: statistics.median(values) for name, values in per_stage.items()},
        total_median=statistics.median(totals),
        totals=tuple(totals),
        image_shape=shape,
        working_shape=working,
    )
