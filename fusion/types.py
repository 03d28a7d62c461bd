"""Frozen dataclasses passed between stages. Arrays are numpy; shapes/dtypes are documented per field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from fusion.review import CutMeasures, Review, judge


@dataclass(frozen=True)
class Evidence:
    """What a segmenter saw, at its working resolution (h, w), independent of the backend.

    image:    h×w×3 uint8 RGB, the image at working resolution (guide for selection and feathering).
    heatmap:  h×w float32 in [0, 1], probability that a pixel belongs to the product.
    labels:   h×w int32, region id per pixel (0..n-1). Regions are superpixels/graph-cut segments for the
              classical backend, semantic classes for the neural one.
    label_names: name per region id, or () when regions are anonymous.
    negative_heatmap: h×w float32 in [0, 1] of things to remove (negative prompts), or None.
    prior:    h×w float32 in [0, 1] spatial prior (centre/subject box) used to break ties.
    backend:  "classical", "neural", ...
    prompts_used: False when the backend cannot read text (it then says so in `notes`).
    notes:    human-readable remarks recorded in output metadata.
    hinted_labels: region ids whose class name is one of the prompts' label hints (the product's likely
              OneFormer classes); selection uses them to break ties and when the heatmap is too weak.
    """

    image: np.ndarray
    heatmap: np.ndarray
    labels: np.ndarray
    prior: np.ndarray
    backend: str
    label_names: tuple[str, ...] = ()
    negative_heatmap: np.ndarray | None = None
    prompts_used: bool = False
    notes: tuple[str, ...] = ()
    hinted_labels: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return self.heatmap.shape[0], self.heatmap.shape[1]


@dataclass(frozen=True)
class RegionScore:
    """Why one region was (not) kept. Scores are in [0, 1]."""

    label: int
    name: str
    score: float  # evidence for "product" (mean heatmap, minus negatives)
    coverage: float  # fraction of the region's pixels with heatmap > 0.5
    centre: float  # mean prior inside the region
    area: float  # fraction of the image
    chosen: bool


@dataclass(frozen=True)
class Mask:
    """A selection at working resolution, with its explanation.

    probability: h×w float32 in [0, 1], soft foreground probability after selection.
    binary:      h×w bool, the chosen product pixels.
    regions:     per-region scores, chosen ones first.
    tie_broken:  True when the centre prior decided between near-equal candidates.
    confidence:  0..1, how sure the selection is (low means "check this one").
    reason:      one line explaining the choice.
    """

    probability: np.ndarray
    binary: np.ndarray
    regions: tuple[RegionScore, ...]
    tie_broken: bool
    confidence: float
    reason: str

    def explain(self) -> dict:
        chosen = [r for r in self.regions if r.chosen]
        return {
            "chosen": [r.name or str(r.label) for r in chosen],
            "scores": {(r.name or str(r.label)): round(r.score, 3) for r in chosen},
            "tie_broken": self.tie_broken,
            "confidence": round(self.confidence, 3),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Cutout:
    """The product cut out at full resolution.

    image: H×W×3 uint8 sRGB, the decoded original (EXIF-rotated).
    alpha: H×W float32 in [0, 1].
    foreground: H×W×3 uint8, edge colours decontaminated (use with `alpha` when compositing).
    measures: what fusion.review measured of the cut (None only for a Cutout built by hand).
    """

    image: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    mask: Mask
    backend: str
    timings: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    measures: CutMeasures | None = None

    def review(self, plain_background: bool = True) -> Review:
        """Does this cut need a person's look before use? plain_background: the output is a flat colour or
        transparent (the stricter case), not a themed or picture backdrop. fusion.review says how it decides."""
        if self.measures is None:
            raise ValueError("this Cutout was built without measures; use fusion.pipeline to make one")
        return judge(self.measures, plain_background)

    def metadata(self, plain_background: bool = True) -> dict:
        """JSON-ready: backend, selection, timings_ms, notes, and the review (needs_review, review_reasons,
        review) for an output on a plain (default) or a themed background."""
        review = self.review(plain_background).metadata(self.measures, plain_background) if self.measures else {}
        return {
            "backend": self.backend,
            "selection": self.mask.explain(),
            "timings_ms": {k: round(v * 1000, 1) for k, v in self.timings.items()},
            "notes": list(self.notes),
            **review,
        }
