"""Tiny random-init CLIPSeg and OneFormer for tests (see service.bench.random_models)."""

from __future__ import annotations

from pathlib import Path

from service.bench.random_models import build_random_models


def build_tiny_models(model_dir: Path, seed: int = 0) -> Path:
    """Write the tiny models into `model_dir` as the production loader expects; a few seconds."""
    return build_random_models(model_dir, scale="tiny", seed=seed)
