"""Backgrounds for the engine: a RenderRequest's theme/colour → Background, and rendered pixels per size, cached.

A catalogue theme swap puts thousands of products on the same theme at the same canvas size: the theme is
rendered once per (theme, size) and every item reuses the read-only pixels. Themes are looked up by name
only (in the built-in folder and the configured `theme_dirs`), once per name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Hashable, Iterable

import numpy as np

from fusion.compose import Background, Solid, Themed, Transparent
from fusion.themes import Theme, load_theme, render_theme
from service.render_request import RenderRequest

DEFAULT_CAPACITY = 8  # rendered canvases kept (a 2000² canvas is 12 MB)


class BackgroundCache:
    """Thread-safe. `resolve(render)` → Background (UnknownThemeError for a missing theme);
    `pixels(background, width, height)` → read-only height×width×3 uint8, or None for Transparent."""

    def __init__(self, theme_dirs: Iterable[str | Path] = (), capacity: int = DEFAULT_CAPACITY) -> None:
        self.theme_dirs = tuple(Path(folder) for folder in theme_dirs)
        self.capacity = max(1, int(capacity))
        self._themes: dict[str, Theme] = {}
        self._pixels: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def theme(self, name: str) -> Theme:
        with self._lock:
            cached = self._themes.get(name)
        if cached is not None:
            return cached
        theme = load_theme(name, extra_dirs=self.theme_dirs)  # RenderRequest allows bare names only
        with self._lock:
            self._themes[name] = theme
        return theme

    def resolve(self, render: RenderRequest) -> Background:
        if render.theme is not None:
            return Themed(self.theme(render.theme))
        return render.plain_background()

    def pixels(self, background: Background, width: int, height: int) -> np.ndarray | None:
        if isinstance(background, Transparent):
            return None
        if isinstance(background, Solid):
            key: Hashable = ("solid", background.rgb, width, height)
        elif isinstance(background, Themed):
            key = ("theme", background.theme, width, height)
        else:
            raise TypeError(f"unsupported background {type(background).__name__}")
        with self._lock:
            cached = self._pixels.get(key)
            if cached is not None:
                self._pixels.move_to_end(key)
                return cached
        # Rendered outside the lock: two threads may both render a new size once; neither blocks the other.
        if isinstance(background, Solid):
            rendered = np.empty((height, width, 3), np.uint8)
            rendered[...] = background.rgb
        else:
            rendered = render_theme(background.theme, width, height)
        rendered.flags.writeable = False
        with self._lock:
            self._pixels[key] = rendered
            self._pixels.move_to_end(key)
            while len(self._pixels) > self.capacity:
                self._pixels.popitem(last=False)
        return rendered
