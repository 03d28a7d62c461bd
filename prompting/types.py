"""The one type `fusion` imports from `prompting`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptSet:
    """What to keep and what to drop, derived from a title or typed by a seller.

    positives: phrases naming the product ("boot", "a photo of a black leather boot").
    negatives: phrases naming things to remove even if they touch the product ("hand", "mannequin").
    label_hints: semantic label names (e.g. COCO panoptic) most likely to hold the product.
    source: "title", "prompt" (typed by a seller) or "none".
    """

    positives: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    label_hints: tuple[str, ...] = ()
    title: str = ""
    prompt: str = ""
    source: str = "none"

    @property
    def empty(self) -> bool:
        return not self.positives
