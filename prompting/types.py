"""The one type `fusion` imports from `prompting`."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PromptSet:
    """What to keep and what to drop, derived from a title or typed by a seller.

    positives: phrases naming the product ("boot", "black leather boot", "a photo of a black leather boot").
    negatives: phrases naming things to remove even if they touch the product ("hand", "mannequin").
    label_hints: semantic label names (COCO panoptic, as OneFormer spells them) most likely to hold the
        product, best first; label_scores: their similarity scores (same order).
    hint_method: "embedding" (all-MiniLM-L6-v2), "lexical" (synonym table + word overlap) or "none".
    source: "title", "prompt" (typed by a seller; it overrides the title) or "none" (nothing usable: the
        segmenter falls back to its no-prompt behaviour).
    noun / category / attributes: what the title was read as ("boot", "shoes", ("black", "leather"));
    cleaned: the title without sizes, SKUs, pack counts, marketing and emoji.
    """

    positives: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    label_hints: tuple[str, ...] = ()
    title: str = ""
    prompt: str = ""
    source: str = "none"
    noun: str = ""
    category: str = ""
    attributes: tuple[str, ...] = ()
    cleaned: str = ""
    label_scores: tuple[float, ...] = ()
    hint_method: str = "none"

    @property
    def empty(self) -> bool:
        return not self.positives

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
