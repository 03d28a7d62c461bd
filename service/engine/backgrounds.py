"""Backgrounds for the engine: a RenderRequest's theme/colour → Background, and rendered pixels per size, cached.

A catalogue theme swap puts thousands of products on the same theme. Canvases sized from each product differ
by a few pixels from item to item, and rendering a theme costs ~50–200 ms, so a theme is rendered once per
size BUCKET (each side rounded up to a multiple of THEME_BUCKET px) and every canvas in that bucket gets the
centred crop of it: a catalogue-wide swap renders a handful of backgrounds instead of one per item, and the
crop trims at most THEME_BUCKET − 1 px of theme border. Themes are looked up by name only (in the built-in
folder and the configured `theme_dirs`), once per name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Hashable, Iterable

import numpy as np

from fusion.compose import Background, Solid, Themed, Transparent
from fusion.themes import Theme, load_theme, render_theme
from service.engine.render_request import RenderRequest

DEFAULT_CAPACITY = 8  # rendered canvases kept (a 2000² canvas is 12 MB)
THEME_BUCKET = 128  # px: canvases whose sides round up to the same multiple share one rendered theme


def bucket_side(side: int) -> int:
    return -(-int(side) // THEME_BUCKET) * THEME_BUCKET


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
            key = ("theme", background.theme, bucket_side(width), bucket_side(height))
        else:
            raise TypeError(f"unsupported background {type(background).__name__}")
        with self._lock:
            rendered = self._pixels.get(key)
            if rendered is not None:
                self._pixels.move_to_end(key)
        if rendered is None:
            # Rendered outside the lock: two threads may both render a new size once; neither blocks the other.
            if isinstance(background, Solid):
                rendered = np.empty((height, width, 3), np.uint8)
                rendered[...] = background.rgb
            else:
                rendered = render_theme(background.theme, key[2], key[3])
            rendered.flags.writeable = False
            with self._lock:
                self._pixels[key] = rendered
                self._pixels.move_to_end(key)
                while len(self._pixels) > self.capacity:
                    self._pixels.popitem(last=False)
        return _centre_crop(rendered, width, height)


def _centre_crop(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centred width×height window of a bucket-sized render (contiguous, read-only; the array itself
    when it already has that size)."""
    full_height, full_width = pixels.shape[:2]
    if (full_width, full_height) == (width, height):
        return pixels
    y0, x0 = (full_height - height) // 2, (full_width - width) // 2
    window = np.ascontiguousarray(pixels[y0 : y0 + height, x0 : x0 + width])
    window.flags.writeable = False
    return window
