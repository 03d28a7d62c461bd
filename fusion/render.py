"""Cutout → output file bytes: a product on a background (jpeg/png/webp), an RGBA cut-out, or an alpha mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.compose import Background, Framing, Transparent, compose
from fusion.errors import InvalidOptionError
from fusion.framing import require_product
from fusion.imageio import encode_image
from fusion.types import Cutout

OUTPUT_FORMATS = ("png", "webp", "jpeg", "mask")
_EXTENSIONS = {"png": "png", "webp": "webp", "jpeg": "jpg", "mask": "png"}
_ALIASES = {"jpg": "jpeg"}


@dataclass(frozen=True)
class OutputOptions:
    """format: png | webp | jpeg | mask (8-bit single-channel alpha at the input's size). quality: 1..100."""

    format: str = "png"
    quality: int = 92

    def __post_init__(self) -> None:
        fmt = _ALIASES.get(self.format.lower(), self.format.lower())
        if fmt not in OUTPUT_FORMATS:
            raise InvalidOptionError(f"unknown format {self.format!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
        if not 1 <= self.quality <= 100:
            raise InvalidOptionError(f"quality must be between 1 and 100, got {self.quality}")
        object.__setattr__(self, "format", fmt)

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.format]


def alpha_to_mask(alpha: np.ndarray) -> np.ndarray:
    """H×W float alpha in [0, 1] → H×W uint8 in 0..255 (rounded)."""
    return np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)


def check_combination(background: Background, options: OutputOptions) -> None:
    """Refuse combinations that would silently lose information, before any work is done."""
    if options.format == "jpeg" and isinstance(background, Transparent):
        raise InvalidOptionError("jpeg cannot hold transparency; use --format png or webp, or choose a background")


def render(cutout: Cutout, background: Background, framing: Framing, options: OutputOptions) -> bytes:
    """Encode the requested output. Masks are at the input's own size and ignore framing and background."""
    check_combination(background, options)
    if options.format == "mask":
        require_product(cutout.alpha)  # other formats are checked where the product is framed
        return encode_image(alpha_to_mask(cutout.alpha), "png")
    pixels = compose(cutout.foreground, cutout.alpha, background, framing)
    return encode_image(pixels, options.format, quality=options.quality)
