"""Segmenter registry: a plain dict of builders, each importing its backend only when called.

`import fusion.segmenters` never imports torch; a neural backend's builder imports it lazily.
"""

from __future__ import annotations

from typing import Any, Callable

from fusion.errors import UnknownSegmenterError
from fusion.protocol import Segmenter


def _build_classical(**options: Any) -> Segmenter:
    from fusion.segmenters.classical import ClassicalSegmenter

    return ClassicalSegmenter(**options)


def _build_neural(**options: Any) -> Segmenter:
    """NeuralSegmenter(model_dir, ...); imports torch/transformers only when its models load."""
    from fusion.segmenters.neural import NeuralSegmenter

    return NeuralSegmenter(**options)


SEGMENTER_BUILDERS: dict[str, Callable[..., Segmenter]] = {
    "classical": _build_classical,
    "neural": _build_neural,
}


def available_segmenters() -> list[str]:
    """Names accepted by `get_segmenter`, sorted."""
    return sorted(SEGMENTER_BUILDERS)


def get_segmenter(name: str = "classical", **options: Any) -> Segmenter:
    """Build the segmenter registered as `name` with backend-specific keyword `options`.

    Raises UnknownSegmenterError (listing the valid names) for an unregistered name."""
    try:
        builder = SEGMENTER_BUILDERS[name]
    except KeyError:
        valid = ", ".join(available_segmenters())
        raise UnknownSegmenterError(f"unknown segmenter {name!r}; choose one of: {valid}") from None
    return builder(**options)


__all__ = ["SEGMENTER_BUILDERS", "available_segmenters", "get_segmenter"]
