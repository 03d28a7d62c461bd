"""What prompting shares with the model backends: the COCO-panoptic class list and a quiet model load.

The one module besides `prompting.types` that `fusion` may import from `prompting`: the class list names
OneFormer's labels and the label hints alike, so it has one home (the lower layer); no heavy import here.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator

_CLASS_INFO = "data/coco_panoptic.json"


@lru_cache(maxsize=1)
def coco_panoptic_classes() -> tuple[str, ...]:
    """The 133 COCO-panoptic class names in OneFormer's id order (ids 0-79 things, 80-132 stuff).

    Read from the shipped `prompting/data/coco_panoptic.json` (OneFormer's class-info format,
    {"0": {"name": "person", "isthing": 1}, ...}), which the neural backend passes to its processor.
    """
    info = json.loads(resources.files("prompting").joinpath(_CLASS_INFO).read_text(encoding="utf-8"))
    return tuple(info[str(i)]["name"] for i in range(len(info)))


def coco_class_info_path() -> Path:
    """Path of the shipped class-info JSON (for OneFormerImageProcessor(class_info_file=...))."""
    return Path(str(resources.files("prompting").joinpath(_CLASS_INFO)))


@contextmanager
def quiet_transformers_progress() -> Iterator[None]:
    """No "Loading weights" bar on stderr while a model loads (it would break JSON-lines output and
    progress bars); the previous setting is restored. Imports transformers only when entered."""
    from transformers.utils import logging as hf_logging  # deferred: heavy, neural backend only

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
