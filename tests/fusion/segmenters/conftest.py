"""Fixtures shared by the segmenter tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.helpers import network_blocked


@pytest.fixture(scope="module")
def no_network() -> Iterator[None]:
    """Use as `pytestmark = pytest.mark.usefixtures("no_network")`: the whole module runs network-blocked."""
    with network_blocked():
        yield
