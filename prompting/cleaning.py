"""Real-world product titles → lower-case word segments without sizes, SKUs, pack counts, marketing or emoji.

Removed noise leaves a BREAK token behind, so words on either side of it are never read as one phrase
("Necklace 18\\" Chain" must not become "necklace chain"). Bracketed text is set aside (it is mostly noise,
but "(Black)" still carries a colour). Colour and material words are kept.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

BREAK = "¦"
MAX_TITLE_CHARS = 1000  # storefront titles are ≤ 255 chars; this bounds the work on pasted descriptions

_KEEP_SYMBOLS = frozenset("+×&%#\"'")
_DROP_ALWAYS = frozenset("\u200d\ufe0f\ufe0e")  # emoji joiners and variation selectors

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2033": '"', "\u2032": "'"})

_BRACKETS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|\{([^{}]*)\}|【([^【】]*)】|<([^<>]*)>")

_SIZE_VALUE = (
    r"(?:(?:us|uk|eu|au)\s*)?(?:\d[\w.,/-]*|x{0,3}[sml]|\d?x{1,3}l|xxs|xs|small|medium|large|"
    r"x-large|xx-large|extra[- ]large|one)\b"
)
_UNITS = (
    r"fl\.?\s*oz|oz|ounces?|ml|cl|l|liters?|litres?|qt|quarts?|gal(?:lons?)?|mg|g|grams?|kg|lbs?|pounds?|"
    r"mm|cm|m|meters?|metres?|in|inch(?:es)?|ft|feet|foot|\"|''|'|w|watts?|v|volts?|mah|gb|tb|mb|hz|mp|"
    r"ct|ctw|k|p|pcs?|yds?|yards?|degrees?|f|c|t|mos?|months?|yrs?|years?|y|iu"
)
_MARKETING = (
    r"free\s+(?:shipping|delivery|returns)|fast\s+(?:shipping|delivery)|ships?\s+(?:free|today|fast)|"
    r"best[\s-]?sellers?|top[\s-]rated|top\s+sellers?|new\s+arrivals?|brand\s+new|new\s+with\s+tags|new\s+in\s+box|"
    r"nwt|bnwt|nib|hot\s+(?:sale|item|deal)s?|on\s+sale|sale|clearance|limited\s+(?:edition|time(?:\s+offer)?)|"
    r"special\s+offer|deals?|discount(?:ed)?|\d+\s*%\s*off|exclusive|trending|latest|upgraded|"
    r"(?:premium|high|top)\s+quality|authentic|genuine|official|original|new|best|amazon'?s\s+choice|"
    r"(?:perfect|great|ideal|unique)\s+gifts?(?:\s+ideas?)?|gifts?\s+ideas?|"
    r"gifts?\s+for\s+(?:her|him|men|women|mom|mum|dad|kids|girls|boys|teens|wife|husband|friends?)|"
    r"(?:mother|father|valentine|christmas|xmas|birthday|holiday|easter)(?:'?s)?(?:\s+day)?\s+gifts?"
)

# Scale ratios ("1:144", "1/72 Scale", "Scale 1:35"), before the SKU pattern would read "Model 1:144" as an id.
# A slash ratio followed by a unit is a fraction ("1/16 inch") and is left to the measure pattern.
_RATIO = (
    r"(?:\bscale\s*)?\b(?:\d+\s*:\s*\d+|1\s*/\s*\d{2,})\b(?!\s*-?\s*(?:" + _UNITS + r")(?![a-z]))"
    r"(?:\s*-?\s*scale\b)?"
)
# "w/ Gig Bag", "w/o Box": spelt out before "/" splits the title into segments.
_ABBREVIATIONS = ((re.compile(r"(?<![\w/])w/o\b"), " without "), (re.compile(r"(?<![\w/])w/"), " with "))

_NOISE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        _RATIO,
        # SKUs and model numbers: a keyword followed by an id that contains a digit, or "#id".
        r"\b(?:sku|model|item|ref|part|mpn|upc|ean|asin|style|art)\.?\s*(?:no\.?|number|num|#)?\s*[:#.]?\s*"
        r"(?=[\w-]*\d)[\w-]+",
        r"#\s*[\w-]+",
        r"\b(?:" + _MARKETING + r")\b!*",
        r"\b(?:19|20)\d{2}(?:\s+model)?\b",  # years ("2024 model")
        # Pack counts and quantities.
        r"\b(?:set|pack|box|lot|bundle|case|kit|bag)\s+of\s+\d+\b",
        r"\b\d+\s*-?\s*(?:pack|packs|pk|pcs?|pieces?|pairs?|count|sets?|units?|rolls?|sheets?|shades|colors|colours|"
        r"pages?|pgs?|servings?|capsules?|caps|tablets|softgels?|gummies|pods?|wipes?|sachets?|refills?|"
        r"players?|persons?|people)\b",
        r"\bpairs?(?:\s+of)?\b|\b(?:multi|value|variety)[\s-]?pack\b|\bbulk\b",
        r"\b(?:x\d+|\d+x)\b",
        # Sizes: named sizes, "Size 10", letter sizes, shoe sizes, ranges like "0-3 months".
        r"\b(?:twin|full|queen|king|cal(?:ifornia)?\s+king|double|single|one|plus|petite|regular|standard|"
        r"official|travel|life|large|small|medium|big|pocket|mid|compact|true|full)[\s-]sized?\b",
        r"\b(?:size|sizes|sz)\s*[:#]?\s*" + _SIZE_VALUE,
        r"\b(?:xxs|xs|s|m|l|xl|xxl|xxxl|[2-6]xl|s/m|m/l|l/xl)\b",
        r"\b(?:us|uk|eu|au)\s*\d[\d.]*\b",
        r"\b\d+(?:\.\d+)?\s*-\s*\d+(?:\.\d+)?\s*(?:months?|mos?|years?|yrs?|y|t|m)\b",
        # Measures and dimensions ("12oz", "10.25 Inch", "18\"", "50x70cm", "13-inch").
        r"\d+(?:[.,/]\d+)?(?:\s*[x×*]\s*\d+(?:[.,/]\d+)?){0,2}\s*-?\s*(?:" + _UNITS + r")(?![a-z])",
        r"\d+(?:[.,/]\d+)?(?:\s*[x×*]\s*\d+(?:[.,/]\d+)?){1,2}",
        r"\b(?:ho|oo|n|o|z|tt|g)\s*-?\s*scale\b",  # model-railway gauges ("HO Scale")
    )
)

# Words dropped wherever they stand: leftovers of sizes and measures, shop talk.
_NOISE_WORDS = frozenset(
    "inch inches size sizes months years yrs ages age approx version lot multipack "
    "edition pcs pc piece pieces count".split()
)

_SEGMENT_SEPARATORS = re.compile(r"\s+[-–—]+\s+|[–—|,;:•·/\\!?]|\s+-|-\s+")
_TOKEN = re.compile(r"¦|&|\+|[^\W_]+(?:['-][^\W_]+)*")


@dataclass(frozen=True)
class CleanedTitle:
    """A title as word segments. segments: the title split at separators (" - ", "|", ",", ...), each a tuple
    of lower-case words with BREAK where noise was removed. asides: the words found inside brackets."""

    segments: tuple[tuple[str, ...], ...]
    asides: tuple[tuple[str, ...], ...] = ()

    @property
    def text(self) -> str:
        """Readable cleaned title ("leather chelsea boot, black")."""
        parts = (" ".join(word for word in segment if word != BREAK) for segment in self.segments)
        return ", ".join(part for part in parts if part)

    @property
    def empty(self) -> bool:
        return not any(word != BREAK for segment in self.segments for word in segment)


def strip_symbols(text: str) -> str:
    """NFKC-normalised text with emoji, pictographs and control characters replaced by spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        drop = char in _DROP_ALWAYS or (category[0] in "SC" and char not in _KEEP_SYMBOLS)
        kept.append(" " if drop else char)
    return "".join(kept)


def _expand_abbreviations(text: str) -> str:
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return text


def _remove_noise(text: str) -> str:
    for pattern in _NOISE_PATTERNS:
        text = pattern.sub(f" {BREAK} ", text)
    return text


def _words(segment: str) -> tuple[str, ...]:
    words = []
    for token in _TOKEN.findall(segment):
        token = token.removesuffix("'s").strip("'")
        if token in _NOISE_WORDS or any(char.isdigit() for char in token):
            token = BREAK  # stray numbers are model numbers, sizes or counts
        elif len(token) == 1 and token.isascii() and token.isalpha():
            token = BREAK  # leftovers of sizes and ids ("W32 L34")
        if token == BREAK and (not words or words[-1] == BREAK):
            continue
        words.append(token)
    while words and words[-1] == BREAK:
        words.pop()
    return tuple(words)


def _segments(text: str) -> tuple[tuple[str, ...], ...]:
    segments = (_words(part) for part in _SEGMENT_SEPARATORS.split(_remove_noise(text)))
    return tuple(segment for segment in segments if segment)


def clean_title(title: str, max_chars: int = MAX_TITLE_CHARS) -> CleanedTitle:
    """Split a raw title into cleaned word segments (see module docstring). Never raises; may be empty."""
    text = _expand_abbreviations(strip_symbols(title[: max_chars * 2])[:max_chars].lower())
    asides = [next(group for group in match.groups() if group is not None) for match in _BRACKETS.finditer(text)]
    text = _BRACKETS.sub(" , ", text)
    aside_segments = tuple(segment for aside in asides for segment in _segments(aside))
    return CleanedTitle(segments=_segments(text), asides=aside_segments)
