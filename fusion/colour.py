"""Colour parsing: the colour names and notations a seller may type (#rrggbb, #rgb, r,g,b, a name) → RGB."""

from __future__ import annotations

import re

from fusion.errors import InvalidOptionError

RGB = tuple[int, int, int]

# CSS-ish colour names a seller is likely to type; anything else can be given as #rrggbb.
COLOUR_NAMES: dict[str, RGB] = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "lightgrey": (211, 211, 211),
    "lightgray": (211, 211, 211),
    "darkgrey": (64, 64, 64),
    "darkgray": (64, 64, 64),
    "silver": (192, 192, 192),
    "red": (220, 38, 38),
    "crimson": (220, 20, 60),
    "orange": (255, 140, 0),
    "yellow": (255, 214, 0),
    "gold": (212, 175, 55),
    "green": (34, 139, 34),
    "mint": (189, 236, 204),
    "teal": (0, 128, 128),
    "blue": (30, 90, 200),
    "skyblue": (135, 206, 235),
    "navy": (0, 0, 128),
    "purple": (128, 0, 128),
    "lavender": (230, 230, 250),
    "pink": (255, 192, 203),
    "brown": (139, 69, 19),
    "beige": (245, 245, 220),
    "cream": (255, 253, 208),
    "ivory": (255, 255, 240),
}

_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_TRIPLE = re.compile(r"^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$")


def parse_colour(text: str) -> RGB:
    """'#f80', '#ff8800', '255,136,0' or a colour name → (r, g, b) ints in 0..255.

    Raises InvalidOptionError with a one-line message.
    """
    spec = text.strip()
    if match := _HEX.match(spec):
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    if match := _TRIPLE.match(spec):
        values = tuple(int(v) for v in match.groups())
        if any(v > 255 for v in values):
            raise InvalidOptionError(f"colour {text!r}: each of r,g,b must be between 0 and 255")
        return values  # type: ignore[return-value]
    key = spec.lower().replace(" ", "").replace("-", "")
    if key in COLOUR_NAMES:
        return COLOUR_NAMES[key]
    raise InvalidOptionError(f"{text!r} is not a colour: use #rrggbb, #rgb, r,g,b or a name such as white")
