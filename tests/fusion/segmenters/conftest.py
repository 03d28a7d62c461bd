"""Fixtures shared by the segmenter tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers import network_blocked


@pytest.fixture(scope="module")
def no_network() -> Iterator[None]:
    """Use as `pytestmark = pytest.mark.usefixtures("no_network")`: the whole module runs network-blocked."""
    with network_blocked():
        yield


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir: Path) -> Path:
    """The session's tiny random-init CLIPSeg + OneFormer folder (tests/conftest.py builds it once)."""
    return tiny_model_dir
