"""Output options with the names a remove.bg / Photoroom user already knows → one validated RenderRequest.

Accepted (form fields for /v1/cutouts, JSON keys for /v1/jobs):
  format        png | webp | jpeg | jpg | mask | auto (= png)
  quality       1..100 (JPEG/WebP)
  bg_color      a colour: "81d4fa" (remove.bg style, no #), "#81d4fa", "#fff", "255,255,255", "white"
  background    "transparent" or a colour (synonym of bg_color; never a file: this is a network API)
  theme         a theme name (see `promptcut themes`)
  size          "1600x1200" | "1000" | auto / full / original (= the product's own size)
  crop          true | false
  fill | scale  0.1..1 or a percentage ("85%")
  position | align     center | top | bottom
  crop_margin | margin 0..0.4 or a percentage ("5%")
  add_shadow | shadow  true | false
Errors raise ApiError(400, "invalid_option", ..., field=<name>).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict

from fusion.colour import parse_colour
from fusion.errors import PromptcutError
from fusion.themes import list_themes
from service.api.errors import ApiError
from service.engine.engine import RenderRequest
from service.engine.options import parse_size

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_BARE_HEX = re.compile(r"^[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")
_THEME_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NATIVE_SIZE = {"auto", "full", "original", "none"}
_FORMAT_ALIASES = {"auto": "png", "jpg": "jpeg"}
FORMATS = ("png", "webp", "jpeg", "jpg", "mask", "auto")

# Synonym pairs: (remove.bg name, our name). Giving both with different values is an error.
_SYNONYMS = (("bg_color", "background"), ("scale", "fill"), ("position", "align"), ("crop_margin", "margin"),
             ("add_shadow", "shadow"))


class OutputOptions(BaseModel):
    """Output options (all optional). Values may be strings as in a form ("85%", "true")."""

    model_config = ConfigDict(extra="forbid")

    format: str | None = None
    quality: int | str | None = None
    bg_color: str | None = None
    background: str | None = None
    theme: str | None = None
    size: str | int | None = None
    crop: bool | str | None = None
    fill: float | str | None = None
    scale: float | str | None = None
    position: str | None = None
    align: str | None = None
    crop_margin: float | str | None = None
    margin: float | str | None = None
    add_shadow: bool | str | None = None
    shadow: bool | str | None = None


OPTION_NAMES = tuple(OutputOptions.model_fields)


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_option", message, field=field)


def _text(value: Any) -> str:
    return str(value).strip()


def _present(value: Any) -> bool:
    return value is not None and _text(value) != ""


def parse_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(field, f"{field} must be true or false, got {_text(value)[:40]!r}")


def parse_fraction(field: str, value: Any, low: float, high: float) -> float:
    """0.85, "0.85" or "85%" → 0.85, checked against [low, high]."""
    if isinstance(value, bool):
        raise _bad(field, f"{field} must be a number or a percentage")
    text = _text(value)
    try:
        number = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise _bad(
            field, f"{field} must be a number between {low:g} and {high:g} or a percentage, got {text[:40]!r}"
        ) from None
    if not low <= number <= high:  # NaN fails this too
        raise _bad(field, f"{field} must be between {low:g} and {high:g} ({low:.0%}..{high:.0%}), got {text[:40]!r}")
    return number


def parse_int(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise _bad(field, f"{field} must be a whole number")
    try:
        number = int(_text(value))
    except ValueError:
        raise _bad(
            field, f"{field} must be a whole number between {low} and {high}, got {_text(value)[:40]!r}"
        ) from None
    if not low <= number <= high:
        raise _bad(field, f"{field} must be between {low} and {high}, got {number}")
    return number


def parse_colour_option(field: str, value: Any) -> str:
    """A colour or "transparent", normalised. Never a file path (parse_background would read files)."""
    text = _text(value)
    if text.lower() in ("transparent", "none"):
        return "transparent"
    if _BARE_HEX.match(text):
        text = "#" + text

    try:
        parse_colour(text)
    except PromptcutError:
        raise _bad(field, f"{field} {_text(value)[:40]!r} is not a colour: use 81d4fa, #81d4fa, r,g,b, a name "
                   "such as white, or transparent") from None
    return text


@lru_cache(maxsize=1)
def theme_names() -> tuple[str, ...]:
    return tuple(theme.name for theme in list_themes())


def parse_theme(field: str, value: Any) -> str:
    name = _text(value).lower()
    if not _THEME_NAME.match(name) or name not in theme_names():
        raise ApiError(400, "unknown_theme", f"unknown theme {_text(value)[:40]!r}; choose one of "
                       f"{', '.join(theme_names())}", field=field)
    return name


def parse_size_option(field: str, value: Any, max_pixels: int) -> str | None:
    text = _text(value).lower()
    if text in _NATIVE_SIZE:
        return None

    try:
        width, height = parse_size(text)  # type: ignore[misc]
    except PromptcutError as exc:
        raise _bad(field, str(exc)) from None
    if width * height > max_pixels:
        raise _bad(field, f"size {text!r} is {width * height:,} pixels; the limit is {max_pixels:,}")
    return f"{width}x{height}"


def _pick(options: Mapping[str, Any], removebg: str, ours: str) -> tuple[str, Any] | None:
    a, b = options.get(removebg), options.get(ours)
    if _present(a) and _present(b) and _text(a).lower() != _text(b).lower():
        raise _bad(removebg, f"give either {removebg} or {ours}, not both")
    if _present(a):
        return removebg, a
    if _present(b):
        return ours, b
    return None


def refuse_theme_with_colour(options: Mapping[str, Any]) -> None:
    """A theme brings its own background, so a colour next to it is a contradiction: 400 naming `theme`, the same
    answer on every route that takes both (cut-outs, jobs, a job's theme swap)."""
    if _present(options.get("theme")) and any(_present(options.get(name)) for name in ("bg_color", "background")):
        raise _bad("theme", "give either a theme or a background colour, not both")


def render_options(options: Mapping[str, Any], *, max_pixels: int, base: Mapping[str, Any] | None = None) -> dict:
    """Output options (any of OPTION_NAMES; others are ignored here) → a RenderRequest dict, validated.

    `base` (a RenderRequest dict) supplies the values not given."""
    unknown = [name for name, value in options.items() if name not in OPTION_NAMES and _present(value)]
    if unknown:
        raise _bad(unknown[0], f"unknown option {unknown[0]!r}")
    render: dict[str, Any] = dict(base or {})

    if _present(options.get("format")):
        fmt = _text(options["format"]).lower()
        if fmt not in FORMATS:
            raise _bad("format", f"format {_text(options['format'])[:20]!r} is not one of {', '.join(FORMATS)}")
        render["format"] = _FORMAT_ALIASES.get(fmt, fmt)
    if _present(options.get("quality")):
        render["quality"] = parse_int("quality", options["quality"], 1, 100)

    background = _pick(options, "bg_color", "background")
    if background is not None:
        render["background"] = parse_colour_option(*background)
        render["theme"] = None
    if _present(options.get("theme")):
        refuse_theme_with_colour(options)
        render["theme"] = parse_theme("theme", options["theme"])
        render["background"] = None

    if _present(options.get("size")):
        render["size"] = parse_size_option("size", options["size"], max_pixels)
    if _present(options.get("crop")):
        render["crop"] = parse_bool("crop", options["crop"])
    if (fill := _pick(options, "scale", "fill")) is not None:
        render["fill"] = parse_fraction(fill[0], fill[1], 0.1, 1.0)
    if (align := _pick(options, "position", "align")) is not None:
        value = _text(align[1]).lower()
        value = {"centre": "center", "middle": "center"}.get(value, value)
        if value not in ("center", "top", "bottom"):
            raise _bad(align[0], f"{align[0]} must be center, top or bottom, got {_text(align[1])[:20]!r}")
        render["align"] = value
    if (margin := _pick(options, "crop_margin", "margin")) is not None:
        render["margin"] = parse_fraction(margin[0], margin[1], 0.0, 0.4)
    if (shadow := _pick(options, "add_shadow", "shadow")) is not None:
        render["shadow"] = parse_bool(shadow[0], shadow[1])

    if render.get("format") == "jpeg" and render.get("background") == "transparent":
        raise _bad("format", "jpeg cannot hold transparency; use png or webp, or choose a background colour")
    return validated(render)


def validated(render: Mapping[str, Any]) -> dict:
    """Run the engine's own validation (RenderRequest) so the stored dict is exactly what it accepts."""
    try:
        return RenderRequest.from_dict(dict(render)).to_dict()
    except PromptcutError as exc:
        raise ApiError(400, getattr(exc, "code", "invalid_option"), str(exc)) from None
