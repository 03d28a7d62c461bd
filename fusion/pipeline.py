"""One image through the stages: segment → select → feather → decontaminate. Backend-agnostic.

The stages after segmentation are callable on their own (`cut_from_evidence`, `cut_from_mask`): a reprompt
starts from stored evidence, and an unchanged selection skips feathering altogether.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from fusion.compose import decontaminate
from fusion.feather import FeatherOptions, feather, sharpen
from fusion.protocol import Segmenter
from fusion.review import measure_cut, require_content
from fusion.selection import select
from fusion.types import Cutout, Evidence, Mask
from prompting.types import PromptSet

# Input alpha counts as "already cut out" when at least this share of pixels is transparent.
_OWN_ALPHA_MIN_TRANSPARENT = 0.02


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def has_own_cutout(alpha: np.ndarray | None) -> bool:
    """True when an input's own alpha (H×W uint8) already separates product from background."""
    return alpha is not None and float((alpha < 128).mean()) >= _OWN_ALPHA_MIN_TRANSPARENT


def cut(
    image: np.ndarray,
    prompts: PromptSet,
    segmenter: Segmenter,
    feather_options: FeatherOptions = FeatherOptions(),
) -> Cutout:
    """Cut the product out of `image` (H×W×3 uint8 sRGB, full resolution).

    Returns a Cutout with a full-resolution float32 alpha in [0, 1], decontaminated foreground colours and the
    review measures. Raises NoProductError, before segmenting, for a photo of one flat colour.
    """
    timings: dict[str, float] = {}
    evidence = segment(image, prompts, segmenter, feather_options, timings)
    return cut_from_evidence(image, evidence, feather_options, timings)


def segment(
    image: np.ndarray,
    prompts: PromptSet,
    segmenter: Segmenter,
    feather_options: FeatherOptions = FeatherOptions(),
    timings: dict[str, float] | None = None,
) -> Evidence:
    """The expensive stage alone (the service stores its Evidence): NoProductError for a photo of one flat
    colour, the optional sharpening, then the segmenter. Stage times are added to `timings` when given."""
    timings = {} if timings is None else timings
    with _timed(timings, "review"):
        require_content(image)  # segmenting a blank photo would return a made-up centre crop
    source = image
    if feather_options.sharpen > 0:
        with _timed(timings, "sharpen"):
            source = sharpen(image, feather_options.sharpen)
    with _timed(timings, "segment"):
        return segmenter.segment(source, prompts)


def cut_from_evidence(
    image: np.ndarray,
    evidence: Evidence,
    feather_options: FeatherOptions = FeatherOptions(),
    timings: dict[str, float] | None = None,
) -> Cutout:
    """select → feather → decontaminate from Evidence already computed for `image` (H×W×3 uint8, full
    resolution): a fresh segmentation, or a stored one with new prompt-dependent heatmaps (a reprompt).
    Stage times are added to `timings` when given."""
    timings = {} if timings is None else timings
    with _timed(timings, "select"):
        mask = select(evidence)
    return cut_from_mask(image, mask, evidence.backend, feather_options, timings, evidence.notes)


def cut_from_mask(
    image: np.ndarray,
    mask: Mask,
    backend: str,
    feather_options: FeatherOptions = FeatherOptions(),
    timings: dict[str, float] | None = None,
    notes: tuple[str, ...] = (),
) -> Cutout:
    """feather → decontaminate → review measures: a working-resolution selection of `image` → full-resolution
    Cutout."""
    timings = {} if timings is None else timings
    with _timed(timings, "feather"):
        alpha = feather(image, mask, feather_options)
    with _timed(timings, "decontaminate"):
        foreground = decontaminate(image, alpha)
    with _timed(timings, "review"):
        measures = measure_cut(mask.confidence, alpha, image)
    return Cutout(
        image=image,
        alpha=alpha,
        foreground=foreground,
        mask=mask,
        backend=backend,
        timings=timings,
        notes=notes,
        measures=measures,
    )


def cut_from_own_alpha(image: np.ndarray, alpha: np.ndarray) -> Cutout:
    """A Cutout from an input that already carries transparency (H×W uint8): no segmentation is run,
    so a seller's hand-made cut-out is never replaced by a worse automatic one. Its review judges only the
    shape of the cut (empty, near-full, sliver), not the pixels under the transparency."""
    timings: dict[str, float] = {}
    soft = alpha.astype(np.float32) / 255.0
    with _timed(timings, "decontaminate"):
        foreground = decontaminate(image, soft)
    with _timed(timings, "review"):
        measures = measure_cut(1.0, soft, None)
    own = Mask(
        probability=soft,
        binary=soft >= 0.5,
        regions=(),
        tie_broken=False,
        confidence=1.0,
        reason="the input image's own transparency was used",
    )
    return Cutout(
        image=image,
        alpha=soft,
        foreground=foreground,
        mask=own,
        backend="input-alpha",
        timings=timings,
        notes=("input already had transparency; segmentation skipped",),
        measures=measures,
    )
