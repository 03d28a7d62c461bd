"""Fixtures of the store tests: a fake Shopify shop over loopback and a migrated SQLite database with keys."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from service.db import Database, open_database, repo
from service.store.secrets import SecretBox, derive_key
from tests.fakestore import FakeShopify, sample_products


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    with FakeShopify(sample_products(30)) as fake:
        yield fake


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    opened = open_database(f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}")
    yield opened
    opened.close()


@pytest.fixture
def key_ids(database: Database) -> dict[str, str]:
    """Two stores' API key ids: "a" and "b"."""
    with database.session() as db:
        return {name: repo.create_key(db, f"store-{name}")[0].id for name in ("a", "b")}


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(derive_key("test secret"), "test")
