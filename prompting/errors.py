"""Typed errors raised by `prompting`. One-line messages a seller or support engineer can act on.

`prompting` sits below `fusion` (whose PromptcutError is the service-wide base), so it keeps its own base;
the CLI maps it the same way (`error: ...`, exit status 2).
"""

from __future__ import annotations


class PromptingError(Exception):
    """Base class. `code` is a stable machine-readable identifier."""

    code = "prompting_error"


class LabelModelError(PromptingError):
    """The sentence-embedding model for label hints is missing or cannot be loaded."""

    code = "label_model_unavailable"


class InvalidHintMethodError(PromptingError):
    code = "invalid_hint_method"
