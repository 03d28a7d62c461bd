"""RenderRequest: every output option of a cut-out, validated once, stored as a plain dict (JSON) with a job.

Shared by the HTTP API (which maps remove.bg-style parameter names onto it) and the engine. Only names and
values travel here, never paths: a background is a colour or "transparent", a theme is a bare theme name, so
a request can never make the server read a file.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from fusion.colour import parse_colour
from fusion.compose import Background, Framing, Solid, Transparent
from fusion.errors import InvalidOptionError
from fusion.render import OutputOptions
from service.engine.options import parse_size

CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg", "mask": "image/png"}
_THEME_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TRANSPARENT = ("transparent", "none")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class RenderRequest:
    """Output options. Values are normalised on construction ("jpg" → "jpeg", "1000" → "1000x1000",
    "Centre" → "center", colour names kept as given but checked).

    format:     png | webp | jpeg (jpg) | mask (the 8-bit alpha at the photo's own size).
    quality:    1..100, for jpeg and webp.
    background: a colour (#rrggbb, #rgb, r,g,b, a name) or "transparent"; None → white unless a theme is set.
    theme:      a theme name (see `promptcut themes`); exclusive with background.
    size:       "WIDTHxHEIGHT" or "SIDE" for a fixed canvas; None → sized from the product.
    crop, fill, align, margin, shadow: fusion.framing.Framing's options (shadow None = on for themes).
    """

    format: str = "png"
    quality: int = 92
    background: str | None = None
    theme: str | None = None
    size: str | None = None
    crop: bool = True
    fill: float = 0.85
    align: str = "center"
    margin: float = 0.0
    shadow: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.format, str):
            raise InvalidOptionError("format must be a string such as png, webp, jpeg or mask")
        if not isinstance(self.quality, int) or isinstance(self.quality, bool):
            raise InvalidOptionError(f"quality must be a whole number between 1 and 100, got {self.quality!r}")
        options = OutputOptions(self.format, self.quality)  # checks format and quality range
        object.__setattr__(self, "format", options.format)
        for name in ("background", "theme", "size"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidOptionError(f"{name} must be a string or null, got {type(value).__name__}")
            if isinstance(value, str) and not value.strip():
                object.__setattr__(self, name, None)
        if self.theme is not None and self.background is not None:
            raise InvalidOptionError("give either a theme or a background, not both")
        if self.theme is not None:
            theme = self.theme.strip().lower()
            if not _THEME_NAME.match(theme):
                raise InvalidOptionError(f"theme {self.theme[:40]!r} is not a theme name (letters, digits, - and _)")
            object.__setattr__(self, "theme", theme)
        if self.background is not None:
            background = self.background.strip()
            if background.lower() in _TRANSPARENT:
                background = "transparent"
            else:
                parse_colour(background)  # InvalidOptionError with a one-line message
            object.__setattr__(self, "background", background)
        if self.size is not None:
            width, height = parse_size(self.size)  # type: ignore[misc]
            object.__setattr__(self, "size", f"{width}x{height}")
        if not isinstance(self.crop, bool):
            raise InvalidOptionError(f"crop must be true or false, got {self.crop!r}")
        if self.shadow is not None and not isinstance(self.shadow, bool):
            raise InvalidOptionError(f"shadow must be true, false or null, got {self.shadow!r}")
        for name in ("fill", "margin"):
            if not _is_number(getattr(self, name)):
                raise InvalidOptionError(f"{name} must be a number, got {getattr(self, name)!r}")
            object.__setattr__(self, name, float(getattr(self, name)))
        if not isinstance(self.align, str):
            raise InvalidOptionError(f"align must be center, bottom or top, got {self.align!r}")
        object.__setattr__(self, "align", self.framing.align)  # Framing checks fill, margin, align
        if self.format == "jpeg" and self.transparent:
            raise InvalidOptionError("jpeg cannot hold transparency; use png or webp, or choose a background")

    # ------------------------------------------------------------------------------------------------ views

    @property
    def transparent(self) -> bool:
        return self.background == "transparent"

    @property
    def framing(self) -> Framing:
        return Framing(crop=self.crop, fill=self.fill, align=self.align, margin=self.margin,
                       size=parse_size(self.size), shadow=self.shadow)

    @property
    def framing_key(self) -> dict[str, Any]:
        """What the framed layer depends on (everything but background, shadow and encoding)."""
        return {"crop": self.crop, "fill": self.fill, "align": self.align, "margin": self.margin, "size": self.size}

    @property
    def output_options(self) -> OutputOptions:
        return OutputOptions(self.format, self.quality)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return self.output_options.extension

    def plain_background(self) -> Background:
        """The background when there is no theme: Transparent or a Solid colour (white by default)."""
        if self.transparent:
            return Transparent()
        return Solid(parse_colour(self.background or "white"))

    # --------------------------------------------------------------------------------------------- dict I/O

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RenderRequest":
        """A dict (e.g. stored JSON) → RenderRequest; unknown keys are an InvalidOptionError."""
        if not isinstance(data, Mapping):
            raise InvalidOptionError("render options must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise InvalidOptionError(f"unknown render option {unknown[0]!r}; valid ones: {', '.join(sorted(known))}")
        return cls(**dict(data))
