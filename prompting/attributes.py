"""Colour and material words: kept in prompts ("black leather boot"), never taken for the product noun."""

from __future__ import annotations

_BASE_COLOURS = """
    black white grey gray silver gold red blue green yellow orange pink purple violet brown beige tan cream
    ivory navy teal turquoise aqua cyan magenta burgundy maroon wine khaki olive mustard camel charcoal
    champagne coral lavender lilac mint sage emerald ruby nude taupe cognac rust copper bronze indigo
    multicolor multicolour rainbow clear transparent natural blush fuchsia plum mauve peach
""".split()
_COLOUR_MODIFIERS = (
    "light dark pale deep bright hot baby navy royal forest olive hunter sky dusty rose off neon"
).split()
_MULTIWORD_COLOURS = [
    "rose gold", "space grey", "space gray", "off white", "off-white", "sky blue", "navy blue", "jet black",
]

_MATERIALS = """
    leather suede cotton linen wool merino cashmere silk satin velvet denim canvas nylon polyester fleece
    knit tulle lace chiffon jersey corduroy tweed ceramic porcelain stoneware earthenware glass crystal
    wood wooden bamboo oak walnut acacia pine teak marble granite stone concrete steel aluminum aluminium
    brass titanium plastic silicone rubber resin acrylic rattan wicker jute straw cork felt paper vinyl
    enamel enameled pearl diamond moissanite jade quartz sterling boucle plush faux vegan
""".split()
_MULTIWORD_MATERIALS = [
    "stainless steel", "cast iron", "sterling silver", "faux leather", "vegan leather", "carbon fiber",
    "carbon fibre", "olive wood", "solid wood", "cable knit", "memory foam", "faux fur",
]

COLOURS: frozenset[str] = frozenset(_BASE_COLOURS)
MATERIALS: frozenset[str] = frozenset(_MATERIALS)
# Longest first so "stainless steel" beats "steel" and "navy blue" beats "navy".
PHRASES: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        [(tuple(p.split()), "material") for p in _MULTIWORD_MATERIALS]
        + [(tuple(p.split()), "colour") for p in _MULTIWORD_COLOURS]
        + [((m, c), "colour") for m in _COLOUR_MODIFIERS for c in _BASE_COLOURS if m != c],
        key=lambda item: -len(item[0]),
    )
)


def attribute_kind(tokens: tuple[str, ...], start: int) -> tuple[str, int]:
    """("colour" | "material" | "", number of tokens) for the attribute starting at tokens[start]."""
    for phrase, kind in PHRASES:
        if tuple(tokens[start : start + len(phrase)]) == phrase:
            return kind, len(phrase)
    word = tokens[start]
    if word in COLOURS:
        return "colour", 1
    if word in MATERIALS:
        return "material", 1
    return "", 0
