"""Migration 0007 (each key's own webhook signing secret) on a database 0006 left with a key in it: the key keeps
authenticating and signs with the legacy secret until rotated. On a real SQLite file and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from sqlalchemy import text

from service.db import migrate_database, open_database, repo
from service.db.schema import ApiKey
from service.jobs.webhook_secrets import rotate_secret, signing_secrets, uses_legacy_secret
from service.store.secrets import SecretBox, derive_key
from tests.service.db.test_migrate import _revision, _upgrade_to, database_url  # noqa: F401 — the fixture

OLD_KEY = "pc_made-by-promptcut-at-0006-xxxxxxxxxxxxxxx"


def test_upgrading_from_0006_keeps_keys_on_the_legacy_secret_until_rotated(database_url: str) -> None:  # noqa: F811
    _upgrade_to(database_url, "0006")
    key_hash = hashlib.sha256(OLD_KEY.encode()).hexdigest()
    database = open_database(database_url, migrate=False)
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO api_keys (id, store, prefix, key_hash, created_at) "
                                "VALUES ('old-key', 'old shop', :prefix, :hash, :created)"),
                           {"prefix": OLD_KEY[:8], "hash": key_hash,
                            "created": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    database.close()

    done = migrate_database(database_url)
    assert (done.before, done.after) == ("0006", "0007") and _revision(database_url) == "0007"

    database = open_database(database_url, migrate=False, require_current=True)
    box = SecretBox(derive_key("server key"), "test")
    try:
        with database.session() as db:
            row = repo.find_key(db, OLD_KEY)
            assert row is not None and row.id == "old-key"
            assert uses_legacy_secret(row) and row.previous_secret_valid_until is None
            assert signing_secrets(row, lambda: box) == (key_hash,)
            rotated = rotate_secret(db, box, row.id)
        with database.session() as db:
            assert signing_secrets(db.get(ApiKey, "old-key"), lambda: box) == (rotated.webhook_secret, key_hash)
    finally:
        database.close()
