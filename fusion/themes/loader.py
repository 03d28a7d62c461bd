"""Finding and reading theme files: the built-in TOML files, custom theme folders, lookup by name or path."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Iterable

from fusion.errors import InvalidThemeError, UnknownThemeError
from fusion.themes.schema import Theme, parse_theme

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


def load_theme_file(path: str | Path) -> Theme:
    """Read and validate one theme file. Raises InvalidThemeError (unreadable, bad TOML, bad field)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidThemeError(f"cannot read theme file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidThemeError(f"theme file {path} is not valid TOML: {exc}") from None
    return parse_theme(data, source=str(path), default_name=path.stem)


def _theme_files(extra_dirs: Iterable[str | Path]) -> list[Path]:
    """Built-in files first, then each extra folder in order (later files override same-named themes)."""
    files = sorted(BUILTIN_DIR.glob("*.toml"))
    for folder in extra_dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise InvalidThemeError(f"theme folder {folder} does not exist or is not a folder")
        files.extend(sorted(folder.glob("*.toml")))
    return files


def list_themes(extra_dirs: Iterable[str | Path] = ()) -> list[Theme]:
    """Every built-in theme plus those in `extra_dirs` (a custom theme may replace a built-in of the same name),
    sorted by name. A broken file raises InvalidThemeError so a store finds out about it."""
    themes: dict[str, Theme] = {}
    for path in _theme_files(extra_dirs):
        theme = load_theme_file(path)
        themes[theme.name] = theme
    return [themes[name] for name in sorted(themes)]


def load_theme(name_or_path: str | Path, extra_dirs: Iterable[str | Path] = ()) -> Theme:
    """A theme by name (built-in or from `extra_dirs`) or by the path of a .toml file.

    Unknown name → UnknownThemeError listing the valid names.
    """
    extra_dirs = tuple(extra_dirs)
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise InvalidThemeError(f"theme file {candidate} does not exist")
        return load_theme_file(candidate)
    name = str(name_or_path).strip().lower()
    # Cheap path: a file named after the theme, searched last-folder-first so custom files win.
    for path in reversed(_theme_files(extra_dirs)):
        if path.stem == name:
            theme = load_theme_file(path)
            if theme.name == name:
                return theme
    themes = {theme.name: theme for theme in list_themes(extra_dirs)}
    if name in themes:
        return themes[name]
    raise UnknownThemeError(f"unknown theme {str(name_or_path)!r}; choose one of {', '.join(sorted(themes))}")
