"""Parse user-facing option strings (sizes, background/theme) into library types. Shared by CLI and API."""

from __future__ import annotations

import re
from pathlib import Path

from fusion.compose import Background, Themed, parse_background
from fusion.errors import InvalidOptionError
from fusion.themes import load_theme

_SIZE = re.compile(r"^\s*(\d{1,5})\s*(?:[x×X,]\s*(\d{1,5}))?\s*$")
MAX_OUTPUT_SIDE = 10_000


def parse_size(spec: str | None) -> tuple[int, int] | None:
    """'1200' → (1200, 1200); '1600x1200' → (1600, 1200) (width × height); None → None."""
    if spec is None or spec == "":
        return None
    match = _SIZE.match(spec)
    if not match:
        raise InvalidOptionError(f"size {spec!r} is not WIDTHxHEIGHT or a single number, e.g. 1600x1200 or 1000")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    if not (16 <= width <= MAX_OUTPUT_SIDE and 16 <= height <= MAX_OUTPUT_SIDE):
        raise InvalidOptionError(f"size {spec!r}: each side must be between 16 and {MAX_OUTPUT_SIDE} pixels")
    return width, height


def resolve_background(theme: str | None, background: str | None, theme_dirs: tuple[Path, ...] = ()) -> Background:
    """A theme name or a background spec (colour, 'transparent', image file); white when neither is given."""
    if theme and background:
        raise InvalidOptionError("give either a theme or a background, not both")
    if theme:
        return Themed(load_theme(theme, extra_dirs=theme_dirs))
    return parse_background(background or "white", theme_dirs=theme_dirs)
