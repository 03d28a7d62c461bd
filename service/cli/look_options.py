"""The look options shared by the commands that render photos (`replace`, `store csv`): background, framing and
edge. One definition each, so their names, defaults and help stay the same everywhere."""

from __future__ import annotations

from typing import Any, Optional

import typer


def theme_option() -> Optional[str]:
    return typer.Option(None, "--theme", help="Built-in or custom theme name (see `promptcut themes`).")


def background_option() -> Optional[str]:
    return typer.Option(
        None, "--background", help="white (default), transparent, a colour (#rrggbb, r,g,b, name) or an image file."
    )


def theme_dir_option() -> list:
    return typer.Option([], "--theme-dir", help="Folder of custom theme files (repeatable).")


def quality_option() -> int:
    return typer.Option(92, "--quality", help="JPEG/WebP quality, 1-100.")


def fill_option() -> float:
    return typer.Option(0.85, "--fill", help="Share of the canvas the product fills (0.1-1).")


def size_option() -> Optional[str]:
    return typer.Option(None, "--size", help="Output size WIDTHxHEIGHT or N for a square.")


def crop_option() -> bool:
    return typer.Option(
        True, "--crop/--no-crop", help="Frame the product (crop, scale to --fill) or keep the photo's canvas."
    )


def align_option() -> str:
    return typer.Option("center", "--align", help="center | bottom | top.")


def margin_option() -> float:
    return typer.Option(0.0, "--margin", help="Margin as a fraction of the canvas (0-0.4).")


def shadow_option() -> Optional[bool]:
    return typer.Option(None, "--shadow/--no-shadow", help="Contact shadow (default: on for themes).")


def edge_option() -> Any:
    return typer.Option("guided", "--edge", help="guided | threshold | otsu | blur.")
