"""The theme file schema: frozen Theme/Gradient/ThemeLayer dataclasses and validation of a parsed TOML document.

A theme is a base gradient plus an ordered list of layers (bokeh, snowflakes, confetti, stripes, hearts,
petals, sparkles, glow, floor, vignette); `parse_theme` checks every field and names the first bad one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fusion.colour import RGB, parse_colour
from fusion.errors import InvalidOptionError, InvalidThemeError

GRADIENT_DIRECTIONS = ("vertical", "horizontal", "diagonal", "radial")


@dataclass(frozen=True)
class Gradient:
    """Base fill: evenly spaced colour stops along `direction` (radial: centre → corners)."""

    colours: tuple[RGB, ...]
    direction: str = "vertical"


@dataclass(frozen=True)
class ThemeLayer:
    """One procedural layer. Lengths are fractions of the canvas short side unless noted.

    kind:     bokeh | snowflakes | confetti | hearts | petals | sparkles | stripes | glow | floor | vignette
    colours:  element colours (picked at random per element; floor: horizon → bottom; glow: one colour)
    density:  elements per square of the short side (scattered kinds)
    size:     (min, max) element size (radius for round things)
    opacity:  0..1 multiplier for the whole layer
    calm:     0..1, how strongly scattered elements avoid the centre of the canvas
    blur:     softness, as a fraction of element size (bokeh) or of the short side (others)
    angle:    degrees (stripes direction; max random tilt for confetti/hearts/petals)
    width:    stripe width (fraction of short side)
    gap:      gap between stripes (fraction of short side)
    height:   floor band height (fraction of canvas height)
    position: (x, y) in canvas fractions (glow centre)
    radius:   glow radius, or vignette inner radius (fraction of half-diagonal)
    seed:     added to the theme seed, so layers differ
    """

    kind: str
    colours: tuple[RGB, ...] = ()
    density: float = 20.0
    size: tuple[float, float] = (0.01, 0.03)
    opacity: float = 1.0
    calm: float = 0.7
    blur: float = 0.0
    angle: float = 0.0
    width: float = 0.05
    gap: float = 0.05
    height: float = 0.25
    position: tuple[float, float] = (0.5, 0.5)
    radius: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class Theme:
    """A backdrop. `source` is the file it was loaded from (for listings and error messages)."""

    name: str
    title: str
    description: str
    base: Gradient
    layers: tuple[ThemeLayer, ...] = ()
    seed: int = 0
    source: str = ""


_SCATTER_FIELDS = {"colours", "density", "size", "opacity", "calm", "blur", "angle", "seed"}
LAYER_FIELDS: dict[str, set[str]] = {
    "bokeh": _SCATTER_FIELDS,
    "snowflakes": _SCATTER_FIELDS,
    "confetti": _SCATTER_FIELDS,
    "hearts": _SCATTER_FIELDS,
    "petals": _SCATTER_FIELDS,
    "sparkles": _SCATTER_FIELDS,
    "stripes": {"colours", "opacity", "calm", "angle", "width", "gap", "blur", "seed"},
    "glow": {"colours", "opacity", "position", "radius", "blur", "seed"},
    "floor": {"colours", "opacity", "height", "blur", "seed"},
    "vignette": {"colours", "opacity", "radius", "seed"},
}
_THEME_FIELDS = {"name", "title", "description", "seed", "base", "layers"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _bad(source: str, field: str, problem: str) -> InvalidThemeError:
    return InvalidThemeError(f"theme file {source}: field '{field}' {problem}")


def _number(raw: dict, key: str, field: str, source: str, low: float, high: float, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(source, field, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise _bad(source, field, f"must be between {low} and {high}, got {value}")
    return float(value)


def _pair(raw: dict, key: str, field: str, source: str, low: float, high: float, default: tuple) -> tuple:
    value = raw.get(key, default)
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise _bad(source, field, f"must be a list of two numbers, got {value!r}")
    pair = tuple(_number({"v": v}, "v", field, source, low, high, 0.0) for v in value)
    return pair


def _colours(raw: dict, field: str, source: str, required: bool) -> tuple[RGB, ...]:
    value = raw.get("colours", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or (required and not value):
        raise _bad(source, field, "must be a non-empty list of colours such as [\"#ffffff\", \"#dde3ea\"]")
    parsed = []
    for item in value:
        try:
            parsed.append(parse_colour(str(item)))
        except InvalidOptionError:
            raise _bad(source, field, f"has {item!r}, which is not a colour (#rrggbb, r,g,b or a name)") from None
    return tuple(parsed)


def _parse_layer(raw: Any, index: int, source: str) -> ThemeLayer:
    where = f"layers[{index}]"
    if not isinstance(raw, dict):
        raise _bad(source, where, "must be a table ([[layers]])")
    kind = raw.get("kind")
    if kind not in LAYER_FIELDS:
        raise _bad(source, f"{where}.kind", f"must be one of {', '.join(LAYER_FIELDS)}, got {kind!r}")
    allowed = LAYER_FIELDS[kind] | {"kind"}
    for key in raw:
        if key not in allowed:
            raise _bad(source, f"{where}.{key}", f"is not a {kind} setting (allowed: {', '.join(sorted(allowed))})")
    size = _pair(raw, "size", f"{where}.size", source, 0.0, 2.0, ThemeLayer.size)
    if size[0] > size[1]:
        raise _bad(source, f"{where}.size", f"must be [min, max] with min <= max, got {list(size)}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _bad(source, f"{where}.seed", f"must be an integer, got {seed!r}")
    return ThemeLayer(
        kind=kind,
        colours=_colours(raw, f"{where}.colours", source, required=kind != "vignette"),
        density=_number(raw, "density", f"{where}.density", source, 0.0, 2000.0, ThemeLayer.density),
        size=size,
        opacity=_number(raw, "opacity", f"{where}.opacity", source, 0.0, 1.0, ThemeLayer.opacity),
        calm=_number(raw, "calm", f"{where}.calm", source, 0.0, 1.0, ThemeLayer.calm),
        blur=_number(raw, "blur", f"{where}.blur", source, 0.0, 2.0, ThemeLayer.blur),
        angle=_number(raw, "angle", f"{where}.angle", source, -360.0, 360.0, ThemeLayer.angle),
        width=_number(raw, "width", f"{where}.width", source, 0.001, 2.0, ThemeLayer.width),
        gap=_number(raw, "gap", f"{where}.gap", source, 0.0, 2.0, ThemeLayer.gap),
        height=_number(raw, "height", f"{where}.height", source, 0.0, 1.0, ThemeLayer.height),
        position=_pair(raw, "position", f"{where}.position", source, -1.0, 2.0, ThemeLayer.position),
        radius=_number(raw, "radius", f"{where}.radius", source, 0.0, 4.0, ThemeLayer.radius),
        seed=seed,
    )


def parse_theme(data: dict, source: str = "<memory>", default_name: str = "") -> Theme:
    """A parsed TOML document → Theme. Raises InvalidThemeError naming the first bad field."""
    for key in data:
        if key not in _THEME_FIELDS:
            raise _bad(source, key, f"is not a theme setting (allowed: {', '.join(sorted(_THEME_FIELDS))})")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(source, "name", f"must be lowercase letters, digits, '-' or '_', got {name!r}")
    text = {}
    for key in ("title", "description"):
        value = data.get(key, name if key == "title" else "")
        if not isinstance(value, str):
            raise _bad(source, key, f"must be a string, got {value!r}")
        text[key] = value
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _bad(source, "seed", f"must be an integer, got {seed!r}")
    base = data.get("base")
    if not isinstance(base, dict):
        raise _bad(source, "base", "is missing: add a [base] table with colours = [...] and direction")
    for key in base:
        if key not in ("colours", "direction"):
            raise _bad(source, f"base.{key}", "is not a base setting (allowed: colours, direction)")
    direction = base.get("direction", "vertical")
    if direction not in GRADIENT_DIRECTIONS:
        raise _bad(source, "base.direction", f"must be one of {', '.join(GRADIENT_DIRECTIONS)}, got {direction!r}")
    gradient = Gradient(colours=_colours(base, "base.colours", source, required=True), direction=direction)
    layers = data.get("layers", [])
    if not isinstance(layers, list):
        raise _bad(source, "layers", "must be a list of [[layers]] tables")
    return Theme(
        name=name,
        title=text["title"],
        description=text["description"],
        base=gradient,
        layers=tuple(_parse_layer(raw, i, source) for i, raw in enumerate(layers)),
        seed=seed,
        source=source,
    )
