"""Product titles and seller prompts → what to keep (PromptSet)."""

from prompting.build import build_prompts
from prompting.types import PromptSet

__all__ = ["PromptSet", "build_prompts"]
