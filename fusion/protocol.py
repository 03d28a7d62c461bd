"""The Segmenter protocol every backend implements (classical now, neural next)."""

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
