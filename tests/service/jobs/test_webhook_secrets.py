"""Each key's own webhook signing secret (service.jobs.webhook_secrets) on a real SQLite file and PostgreSQL: made
with the key, stored only sealed, rotated with a grace period, legacy keys, a server key that changed; and the
signature header carrying several v1 entries (service.net.webhooks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from fusion.errors import InvalidOptionError
from service.db import Database, open_database, repo
from service.db.schema import ApiKey, utcnow
from service.jobs.webhook_secrets import (
    SECRET_PREFIX,
    IssuedKey,
    KeyNotFoundError,
    SigningSecretError,
    issue_key,
    rotate_secret,
    signing_secrets,
    uses_legacy_secret,
)
from service.net.webhooks import secret_for_key, sign, verify
from service.store.secrets import SecretBox, derive_key
from tests.helpers import temporary_postgres_database

BODY = b'{"event":"job.finished"}'


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        opened = open_database(f"sqlite:///{tmp_path / 'promptcut.db'}")
        yield opened
        opened.close()
        return
    with temporary_postgres_database() as url:
        opened = open_database(url)
        yield opened
        opened.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(derive_key("the server key"), "test")


def _issue(database: Database, box: SecretBox) -> IssuedKey:
    with database.session() as db:
        return issue_key(db, box, "Corner Shop")


def _secrets(database: Database, box: SecretBox, key_id: str, **when) -> tuple[str, ...]:
    with database.session() as db:
        return signing_secrets(db.get(ApiKey, key_id), lambda: box, **when)


def _rotate(database: Database, box: SecretBox, key_id: str, grace: timedelta = timedelta(hours=24), **when):
    with database.session() as db:
        return rotate_secret(db, box, key_id, grace, **when)


def test_a_new_key_signs_with_its_own_secret_not_with_its_hash(database: Database, box: SecretBox) -> None:
    issued = _issue(database, box)
    assert issued.webhook_secret.startswith(SECRET_PREFIX) and len(issued.webhook_secret) > 40
    assert issued.key not in repr(issued) and issued.webhook_secret not in repr(issued)
    signed = sign(_secrets(database, box, issued.id), BODY)
    assert verify(issued.webhook_secret, BODY, signed)
    assert not verify(secret_for_key(issued.key), BODY, signed)  # a database read no longer forges it
    with database.session() as db:
        row = db.get(ApiKey, issued.id)
        assert not uses_legacy_secret(row)
        assert repo.find_key(db, issued.key).id == issued.id  # the key itself still authenticates
    assert _issue(database, box).webhook_secret != issued.webhook_secret


def test_the_secret_is_stored_only_sealed(database: Database, box: SecretBox) -> None:
    issued = _issue(database, box)
    rotated = _rotate(database, box, issued.id)
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_keys")).all()
    stored = " ".join(str(value) for row in rows for value in row)
    for secret in (issued.webhook_secret, rotated.webhook_secret):
        assert secret not in stored and secret.removeprefix(SECRET_PREFIX) not in stored


def test_the_sqlite_file_holds_no_plaintext_secret(tmp_path: Path, box: SecretBox) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'promptcut.db'}")
    issued = _issue(database, box)
    rotated = _rotate(database, box, issued.id)
    database.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("promptcut.db*"))  # with any -wal / -journal
    assert issued.id.encode() in raw  # the file is readable as such: the search below means something
    for secret in (issued.webhook_secret, rotated.webhook_secret):
        assert secret.removeprefix(SECRET_PREFIX).encode() not in raw


def test_during_the_grace_both_secrets_sign_and_after_it_only_the_new_one(database: Database,
                                                                         box: SecretBox) -> None:
    issued = _issue(database, box)
    now = utcnow()
    rotated = _rotate(database, box, issued.id, timedelta(hours=2), now=now)
    assert rotated.previous_valid_until == now + timedelta(hours=2)

    during = sign(_secrets(database, box, issued.id, now=now + timedelta(hours=1)), BODY)
    assert during.count("v1=") == 2
    assert verify(rotated.webhook_secret, BODY, during) and verify(issued.webhook_secret, BODY, during)

    after = sign(_secrets(database, box, issued.id, now=now + timedelta(hours=2, seconds=1)), BODY)
    assert after.count("v1=") == 1
    assert verify(rotated.webhook_secret, BODY, after) and not verify(issued.webhook_secret, BODY, after)


def test_no_grace_retires_the_old_secret_at_once_and_only_one_previous_is_kept(database: Database,
                                                                            box: SecretBox) -> None:
    issued = _issue(database, box)
    at_once = _rotate(database, box, issued.id, timedelta(0))
    assert at_once.previous_valid_until is None
    assert _secrets(database, box, issued.id) == (at_once.webhook_secret,)

    second = _rotate(database, box, issued.id)
    third = _rotate(database, box, issued.id)
    assert _secrets(database, box, issued.id) == (third.webhook_secret, second.webhook_secret)


def test_a_legacy_key_signs_with_its_hash_until_rotated(database: Database, box: SecretBox) -> None:
    with database.session() as db:
        row, plain = repo.create_key(db, "made before 0007")  # no secret of its own, as migrated keys
        key_id = row.id
    with database.session() as db:
        assert uses_legacy_secret(db.get(ApiKey, key_id))
    assert verify(secret_for_key(plain), BODY, sign(_secrets(database, box, key_id), BODY))

    rotated = _rotate(database, box, key_id)
    during = sign(_secrets(database, box, key_id), BODY)
    assert verify(rotated.webhook_secret, BODY, during) and verify(secret_for_key(plain), BODY, during)
    later = sign(_secrets(database, box, key_id, now=rotated.previous_valid_until + timedelta(seconds=1)), BODY)
    assert not verify(secret_for_key(plain), BODY, later)
    with database.session() as db:
        assert not uses_legacy_secret(db.get(ApiKey, key_id))


def test_a_changed_server_key_is_a_clear_error_never_another_secret(database: Database, box: SecretBox) -> None:
    issued = _issue(database, box)
    other = SecretBox(derive_key("a new server key"), "test")
    with pytest.raises(SigningSecretError) as refused:
        _secrets(database, other, issued.id)
    assert "cannot be opened" in str(refused.value) and "server key changed" in str(refused.value)
    assert refused.value.code == "webhook_secret_unavailable"

    # Rotating under the new server key is the cure: the unreadable old secret is dropped, not honoured.
    rotated = _rotate(database, other, issued.id)
    assert rotated.previous_valid_until is None
    assert _secrets(database, other, issued.id) == (rotated.webhook_secret,)


def test_a_sealed_secret_cannot_be_moved_to_another_key(database: Database, box: SecretBox) -> None:
    first, second = _issue(database, box), _issue(database, box)
    with database.session() as db:
        db.get(ApiKey, second.id).webhook_secret_sealed = db.get(ApiKey, first.id).webhook_secret_sealed
    with pytest.raises(SigningSecretError):
        _secrets(database, box, second.id)


def test_rotation_refuses_revoked_and_unknown_keys_and_odd_grace_periods(database: Database, box: SecretBox) -> None:
    issued = _issue(database, box)
    for grace in (timedelta(hours=-1), timedelta(days=31)):
        with pytest.raises(InvalidOptionError):
            _rotate(database, box, issued.id, grace)
    with database.session() as db:
        repo.revoke_key(db, issued.id)
    for key_id in (issued.id, "no-such-key"):
        with pytest.raises(KeyNotFoundError):
            _rotate(database, box, key_id)


def test_verify_accepts_any_v1_entry_and_one_timestamp_only() -> None:
    header = sign(("new-secret", "old-secret"), BODY, timestamp=1_000_000)
    assert header.startswith("t=1000000,v1=") and header.count(",v1=") == 2
    for secret in ("new-secret", "old-secret"):
        assert verify(secret, BODY, header, now=1_000_010)
    assert not verify("third-secret", BODY, header, now=1_000_010)
    assert not verify("new-secret", BODY + b" ", header, now=1_000_010)
    assert not verify("new-secret", BODY, header, now=1_000_000 + 301)
    assert not verify("new-secret", BODY, header + ",t=1000001", now=1_000_010)  # which time was signed?
    assert not verify("new-secret", BODY, "t=1000000", now=1_000_010)
    assert sign("one", BODY, 5) == sign(["one"], BODY, 5)
