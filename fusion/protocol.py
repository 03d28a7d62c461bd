"""The Segmenter protocol every backend implements (classical and neural; a learned cut-out backend is planned)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from fusion.types import Evidence
from prompting.types import PromptSet


@runtime_checkable
class Segmenter(Protocol):
    name: str

    def segment(self, image: np.ndarray, prompts: PromptSet) -> Evidence:
        """image: H×W×3 uint8 RGB at full resolution. The backend picks its own working resolution
        (never full resolution for large inputs) and returns Evidence at that resolution."""
        ...


@runtime_checkable
class Repromptable(Protocol):
    """Optional: a backend that can redo only its prompt-dependent evidence (a seller retyped the prompt)."""

    name: str

    def reprompt(self, evidence: Evidence, prompts: PromptSet) -> Evidence:
        """`evidence` came from this backend's `segment` (possibly stored and reloaded). Returns Evidence for
        `prompts` at the same working resolution, reusing whatever does not depend on the text (the label
        map, the working image, the prior)."""
        ...
