"""Find the product noun in a cleaned title ("women leather chelsea boot" → boot).

English product titles put the product's name at the end of their first noun phrase: "Ceramic Coffee Mug
with Lid" → the phrase before "with" → its run of nouns "coffee? mug" → the last noun, "mug". So:
1. segments in order ("Boot – Black, Size 7": the first segment that names a product wins);
2. inside a segment, the words before a preposition (for/with/in...), one conjunct at a time ("Shampoo and
   Conditioner" → shampoo), then the words after it ("Ride On Balance Bike" → bike);
3. the first run of consecutive product nouns; its last specific noun is the product. Generic nouns (toy,
   set, kit, model) count only when nothing specific is found ("Rocket Scale Model Kit" → rocket); an
   accessory head keeps its owner ("laptop stand", "toothbrush holder").
Colour and material words never name the product unless nothing else does ("Hand Cream" → cream).
When no known noun is found, the last content word of the first segment is returned as a guess
(`known=False`), so a catalogue in another language still gets a usable prompt.
Clauses about what comes with the product ("w/ Gig Bag", "incl. Charger", "Cream + Roller", "and Free
Strap", "Batteries Included") are read only after all of that, guess included: they list accessories.
Counts ("Pages", "Servings") never name the product.
"""

from __future__ import annotations

from dataclasses import dataclass

from prompting import lexicon
from prompting.attributes import attribute_kind
from prompting.cleaning import BREAK, CleanedTitle

_IRREGULAR_SINGULARS = {
    "knives": "knife", "shelves": "shelf", "scarves": "scarf", "leaves": "leaf", "halves": "half",
    "wolves": "wolf", "loaves": "loaf", "feet": "foot", "teeth": "tooth", "mice": "mouse", "geese": "goose",
    "children": "child", "men": "man", "women": "woman", "dice": "die", "wives": "wife",
}


@dataclass(frozen=True)
class NounMatch:
    """The product noun and where it was found (segment index, token span [start, end))."""

    noun: str
    category: str
    segment: int = -1
    start: int = 0
    end: int = 0
    known: bool = True  # False: a guess (no lexicon word in the title)


def singular_candidates(word: str, plural_only: bool = True) -> tuple[str, ...]:
    """Possible singular forms of `word`, most likely first (the word itself comes last).

    plural_only=False also singularises words like "glasses", for compounds ("wine glasses" → wine glass).
    """
    if plural_only and word in lexicon.PLURAL_ONLY:
        return (word,)
    candidates = []
    if word in _IRREGULAR_SINGULARS:
        candidates.append(_IRREGULAR_SINGULARS[word])
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        # Most likely rule first: it is the answer for words outside the lexicon.
        if word.endswith("ies"):
            candidates.extend((word[:-3] + "y", word[:-1]))
        elif word.endswith(("ches", "shes", "xes", "sses", "zes")):
            candidates.extend((word[:-2], word[:-1]))
        elif word.endswith("ves"):
            candidates.extend((word[:-1], word[:-3] + "f", word[:-3] + "fe"))
        else:
            candidates.extend((word[:-1], word[:-2]) if word.endswith("es") else (word[:-1],))
    candidates.append(word)
    return tuple(candidates)


def singular(word: str) -> str:
    """Singular form of an English noun; a known product noun wins when rules disagree (hoodies → hoodie)."""
    candidates = singular_candidates(word)
    for candidate in candidates:
        if candidate in lexicon.NOUN_CATEGORY or candidate in lexicon.ALIASES:
            return candidate
    return candidates[0]


def _canonical(name: str) -> str:
    return lexicon.ALIASES.get(name, name)


def _lookup(word: str) -> str:
    """The canonical product noun for one title word, or ""."""
    for candidate in (word, *singular_candidates(word)):
        if candidate in lexicon.ALIASES:
            return lexicon.ALIASES[candidate]
        if candidate in lexicon.NOUN_CATEGORY or candidate in lexicon.ACCESSORY_HEADS:
            return candidate
    return ""


@dataclass(frozen=True)
class _Unit:
    noun: str  # "" for a word that ends a run
    kind: str  # specific | generic | accessory | transparent | break | other
    start: int
    end: int


def _compound_at(words: tuple[str, ...], i: int) -> tuple[str, int]:
    for length in (4, 3, 2):
        window = words[i : i + length]
        if len(window) < length:
            continue
        for last in singular_candidates(window[-1], plural_only=False):
            key = (*window[:-1], last)
            if key in lexicon.COMPOUNDS:
                return _canonical(lexicon.COMPOUNDS[key]), length
    return "", 0


def _modifier_at(words: tuple[str, ...], i: int) -> int:
    """Length of a modifier phrase at words[i] that another word follows ("remote control car"), else 0."""
    for phrase in lexicon.MODIFIER_PHRASES:
        end = i + len(phrase)
        if words[i:end] == phrase and end < len(words) and words[end] != BREAK:
            return len(phrase)
    return 0


def _kind(noun: str) -> str:
    if noun in lexicon.ACCESSORY_HEADS:
        return "accessory"  # before generic: "toothbrush holder" is a holder, not a toothbrush
    return "generic" if noun in lexicon.GENERIC else "specific"


def _names_nothing(word: str) -> bool:
    """Removed noise, people ("women") and counts ("pages"): never the product."""
    return word == BREAK or word in lexicon.AUDIENCE or word in lexicon.COUNT_WORDS


def _units(words: tuple[str, ...], offset: int, attributes_name: bool) -> list[_Unit]:
    units, i = [], 0
    while i < len(words):
        word = words[i]
        compound, length = _compound_at(words, i)
        if compound:
            units.append(_Unit(compound, _kind(compound), offset + i, offset + i + length))
            i += length
            continue
        length = _modifier_at(words, i)
        if length:
            units.append(_Unit("", "other", offset + i, offset + i + length))
            i += length
            continue
        kind, length = attribute_kind(words, i)
        if kind and not (attributes_name and length == 1 and _lookup(word)):
            units.append(_Unit("", "other", offset + i, offset + i + length))
            i += length
            continue
        noun = "" if _names_nothing(word) else _lookup(word)
        if noun and i + 1 < len(words) and words[i + 1] in lexicon.PATTERN_WORDS:
            noun = ""  # "unicorn print": a description, not the product
        if word == BREAK:
            units.append(_Unit("", "break", offset + i, offset + i + 1))
        elif noun:
            units.append(_Unit(noun, _kind(noun), offset + i, offset + i + 1))
        elif word in lexicon.MODEL_WORDS:
            units.append(_Unit("", "transparent", offset + i, offset + i + 1))
        else:
            units.append(_Unit("", "other", offset + i, offset + i + 1))
        i += 1
    return units


def _runs(units: list[_Unit]) -> list[list[_Unit]]:
    """Runs of consecutive nouns. An accessory separated from the noun before it only by removed noise or
    model words still belongs to it ("iPhone 15 Pro Max Case" → phone case)."""
    runs: list[list[_Unit]] = [[]]
    only_noise_since_last_noun = False
    for unit in units:
        if unit.kind == "transparent":
            continue
        if unit.noun:
            if unit.kind == "accessory" and not runs[-1] and only_noise_since_last_noun and len(runs) > 1:
                runs.pop()
            runs[-1].append(unit)
            only_noise_since_last_noun = True
        else:
            only_noise_since_last_noun = only_noise_since_last_noun and unit.kind == "break"
            if runs[-1]:
                runs.append([])
    return [run for run in runs if run]


def _category(noun: str, owner: str = "") -> str:
    return lexicon.NOUN_CATEGORY.get(noun) or lexicon.NOUN_CATEGORY.get(owner) or "other"


def _head_of(run: list[_Unit]) -> NounMatch | None:
    named = [unit for unit in run if unit.kind in ("specific", "accessory")]
    if not named:
        return None
    head = named[-1]
    if head.kind == "accessory" and len(named) > 1:
        owner = named[-2]
        noun = _canonical(f"{owner.noun} {head.noun}")
        category = lexicon.NOUN_CATEGORY.get(noun) or _category(owner.noun)
        return NounMatch(noun, category, start=owner.start, end=head.end)
    return NounMatch(head.noun, _category(head.noun), start=head.start, end=head.end)


def _windows(words: tuple[str, ...]) -> list[tuple[int, tuple[str, ...]]]:
    """(offset, words) to search in order: each conjunct before the first preposition, then the rest."""
    end = next((i for i, word in enumerate(words) if i > 0 and word in lexicon.PHRASE_ENDERS), len(words))
    windows, start = [], 0
    for i in range(end + 1):
        if i == end or words[i] in lexicon.CONJUNCTIONS:
            if i > start:
                windows.append((start, words[start:i]))
            start = i + 1
    if end < len(words):
        windows.append((end + 1, words[end + 1 :]))
    return windows


def _search(segment: tuple[str, ...], attributes_name: bool) -> NounMatch | None:
    generic: NounMatch | None = None
    for offset, window in _windows(segment):
        for run in _runs(_units(window, offset, attributes_name)):
            match = _head_of(run)
            if match:
                return match
            if generic is None:
                unit = run[-1]
                generic = NounMatch(unit.noun, _category(unit.noun), start=unit.start, end=unit.end)
    return generic


def _opens_clause(words: tuple[str, ...], i: int) -> bool:
    word, before = words[i], words[i - 1] if i > 0 else ""
    if word in lexicon.CLAUSE_OPENERS:
        return not (word == "with" and before in lexicon.DESCRIBED_WITH)  # "Compatible with iPhone 15 Case"
    joins_extra = word in lexicon.EXTRA_JOINERS or (word in lexicon.CONJUNCTIONS and words[i + 1 : i + 2] == ("free",))
    if not joins_extra or before == BREAK:
        return False  # after a removed number "plus" and "+" belong to it: "iPhone 15 Plus", "Ages 8+", "SPF 50+"
    return any(_lookup(word) for word in words[:i] if not _names_nothing(word))


def _clause_flags(words: tuple[str, ...]) -> list[bool]:
    """For each word: is it part of a clause about what comes with the product ("with Gig Bag", "incl.
    Charger", "+ Roller", "and Free Strap" up to the segment's end; "Batteries (Not) Included")?"""
    flags = [False] * len(words)
    for i in range(len(words)):
        if _opens_clause(words, i):
            flags[i:] = [True] * (len(words) - i)
            break
        if _ends_included(words, i):
            start = max(i - 2 if words[i - 1 : i] == ("not",) else i - 1, 0)
            flags[start : i + 1] = [True] * (i + 1 - start)
    return flags


def _ends_included(words: tuple[str, ...], i: int) -> bool:
    """Does words[i] end "Batteries (Not) Included"? Only at a phrase's end: "Teddy Bear Included Gift Bag"
    is a teddy bear."""
    after = words[i + 1] if i + 1 < len(words) else BREAK
    ends = after == BREAK or after in lexicon.CONJUNCTIONS or after in lexicon.PHRASE_ENDERS
    return words[i] == lexicon.INCLUDED and ends


def _split_clauses(segment: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the product's own words, the accessory-clause words), each as long as `segment` with the other's
    words replaced by BREAK, so token positions still index the segment."""
    flags = _clause_flags(segment)
    own = tuple(BREAK if flag else word for word, flag in zip(segment, flags, strict=True))
    clause = tuple(word if flag else BREAK for word, flag in zip(segment, flags, strict=True))
    return own, clause


def _find_known(segments: tuple[tuple[str, ...], ...]) -> NounMatch | None:
    for attributes_name in (False, True):  # colour/material words ("cream", "glass") only as a last resort
        for index, segment in enumerate(segments):
            match = _search(segment, attributes_name)
            if match:
                return NounMatch(match.noun, match.category, index, match.start, match.end)
    return None


def _guess(segments: tuple[tuple[str, ...], ...]) -> NounMatch | None:
    for index, segment in enumerate(segments):
        end = next((i for i, w in enumerate(segment) if i > 0 and w in lexicon.PHRASE_ENDERS), len(segment))
        for i in range(end - 1, -1, -1):
            word = segment[i]
            if not _names_nothing(word) and word not in lexicon.CONJUNCTIONS and not attribute_kind(segment, i)[0]:
                return NounMatch(singular(word), "other", index, i, i + 1, known=False)
    return None


def find_noun(cleaned: CleanedTitle) -> NounMatch | None:
    """The product noun of a cleaned title, or None when the title has no content words at all.

    Accessory clauses are read last: a guess at the title's own words beats a known noun in "w/ Gig Bag".
    """
    split = [_split_clauses(segment) for segment in (*cleaned.segments, *cleaned.asides)]
    own = tuple(words for words, _ in split)
    clauses = tuple(words for _, words in split)
    titled = len(cleaned.segments)  # guesses come from the title proper, not from its brackets
    return _find_known(own) or _guess(own[:titled]) or _find_known(clauses) or _guess(clauses[:titled])
