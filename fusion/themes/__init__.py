"""Seasonal and studio backdrops: small declarative TOML files (schema, loader), rendered procedurally (renderer)."""

from fusion.themes.loader import BUILTIN_DIR, list_themes, load_theme, load_theme_file
from fusion.themes.renderer import render_theme
from fusion.themes.schema import GRADIENT_DIRECTIONS, LAYER_FIELDS, Gradient, Theme, ThemeLayer, parse_theme

__all__ = [
    "BUILTIN_DIR",
    "GRADIENT_DIRECTIONS",
    "LAYER_FIELDS",
    "Gradient",
    "Theme",
    "ThemeLayer",
    "list_themes",
    "load_theme",
    "load_theme_file",
    "parse_theme",
    "render_theme",
]
