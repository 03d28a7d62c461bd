"""Title / typed prompt → PromptSet.

A seller's typed prompt overrides the title; both are kept so outputs can record them. Title cleaning and
noun extraction grow here (see the text-prompted path); today a title is used as one positive phrase.
"""

from __future__ import annotations

import re

from prompting.types import PromptSet

_SPACES = re.compile(r"\s+")


def _clean(text: str | None) -> str:
    return _SPACES.sub(" ", (text or "")).strip()


def build_prompts(title: str | None = None, prompt: str | None = None) -> PromptSet:
    """PromptSet from an optional title and an optional typed prompt (which wins)."""
    title, prompt = _clean(title), _clean(prompt)
    if prompt:
        return PromptSet(positives=(prompt,), title=title, prompt=prompt, source="prompt")
    if title:
        return PromptSet(positives=(title,), title=title, source="title")
    return PromptSet()
