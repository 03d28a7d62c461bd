"""Segmenter registry: a plain dict of builders, each importing its backend only when called.

`import fusion.segmenters` never imports torch or onnxruntime; a backend's builder imports its module lazily.
`auto` takes the best backend whose models are present: text-prompted neural > learned cut-out (salient) >
classical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fusion.errors import UnknownSegmenterError
from fusion.protocol import Segmenter
from fusion.segmenters.cutout_models import installed_cutout_models, require_cutout_model
from fusion.segmenters.models import (
    DEFAULT_MODEL_IDS,
    PULL_COMMAND,
    is_present,
    require_model,
)


def _build_classical(**options: Any) -> Segmenter:
    from fusion.segmenters.classical import ClassicalSegmenter  # deferred: a backend loads only when it is built

    return ClassicalSegmenter(**options)


def _build_neural(**options: Any) -> Segmenter:
    """NeuralSegmenter(model_dir, ...); imports torch/transformers only when its models load."""
    from fusion.segmenters.neural import NeuralSegmenter  # deferred: a backend loads only when it is built

    return NeuralSegmenter(**options)


def _build_salient(**options: Any) -> Segmenter:
    """SalientSegmenter(model_dir, model=None, threads=1): an ONNX cut-out model on ONNX Runtime."""
    from fusion.segmenters.salient import SalientSegmenter  # deferred: a backend loads only when it is built

    return SalientSegmenter(**options)


SEGMENTER_BUILDERS: dict[str, Callable[..., Segmenter]] = {
    "classical": _build_classical,
    "neural": _build_neural,
    "salient": _build_salient,
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


AUTO = "auto"
MODEL_BACKENDS = ("neural", "salient")  # the backends that run a model, with a thread count


def segmenter_choices() -> list[str]:
    """Names accepted by `choose_segmenter` / `--segmenter`: "auto" first, then the registered backends."""
    return [AUTO, *available_segmenters()]


@dataclass(frozen=True)
class SegmenterChoice:
    """A resolved backend: its registered `name`, the keyword `options` to build it with (hashable and
    picklable, so worker processes can rebuild it) and, when "auto" fell back, a one-line `notice`."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    notice: str | None = None

    def build(self) -> Segmenter:
        return get_segmenter(self.name, **dict(self.options))

    def with_options(self, **options: Any) -> "SegmenterChoice":
        merged = {**dict(self.options), **options}
        return SegmenterChoice(self.name, tuple(sorted(merged.items())), self.notice)

    def with_model_side(self, side: int) -> "SegmenterChoice":
        """Run a cut-out model (salient) at `side` px instead of its own input size; 0 or another backend: as is."""
        return self.with_options(input_side=side) if side and self.name == "salient" else self

    def with_threads(self, threads: int) -> "SegmenterChoice":
        """`threads` for a model backend (torch for neural, ONNX Runtime for salient); classical has none."""
        return self.with_options(threads=threads) if self.name in MODEL_BACKENDS else self


def choose_segmenter(name: str, model_dir: Path | str) -> SegmenterChoice:
    """Resolve `--segmenter auto|neural|salient|classical` against the model folder without loading anything.

    auto: neural when both its models are present in `model_dir` (config + weights on disk), else salient when a
    cut-out model is registered, else classical with a one-line notice. neural / salient: ModelNotFoundError
    (one line: folder + the command that gets the model) when a model is missing. Unknown names:
    UnknownSegmenterError listing the valid ones."""
    if name == AUTO:
        if all(is_present(model_dir, model_id) for model_id in DEFAULT_MODEL_IDS):
            return SegmenterChoice("neural", (("model_dir", Path(model_dir)),))
        if installed_cutout_models(model_dir):
            return SegmenterChoice("salient", (("model_dir", Path(model_dir)),))
        notice = (
            f"no models found in {model_dir}; using the classical segmenter ({PULL_COMMAND} for the text-prompted "
            f"models, `promptcut models add NAME FILE.onnx` for a cut-out model)"
        )
        return SegmenterChoice("classical", notice=notice)
    if name not in SEGMENTER_BUILDERS:
        valid = ", ".join(segmenter_choices())
        raise UnknownSegmenterError(f"unknown segmenter {name!r}; choose one of: {valid}")
    if name == "neural":
        for model_id in DEFAULT_MODEL_IDS:
            require_model(model_dir, model_id)
        return SegmenterChoice("neural", (("model_dir", Path(model_dir)),))
    if name == "salient":
        require_cutout_model(model_dir)
        return SegmenterChoice("salient", (("model_dir", Path(model_dir)),))
    return SegmenterChoice(name)


def resolve_segmenter(name: str, model_dir: Path | str) -> tuple[Segmenter, str | None]:
    """`choose_segmenter` then build it: (segmenter, notice or None). Loads no model weights."""
    choice = choose_segmenter(name, model_dir)
    return choice.build(), choice.notice


__all__ = [
    "AUTO",
    "SEGMENTER_BUILDERS",
    "SegmenterChoice",
    "available_segmenters",
    "choose_segmenter",
    "get_segmenter",
    "resolve_segmenter",
    "segmenter_choices",
]
