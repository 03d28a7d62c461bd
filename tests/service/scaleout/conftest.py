"""Fixtures of the scale-out tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.service.scaleout.processes import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of the test's own on a loopback port (it can be stopped and started again)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
