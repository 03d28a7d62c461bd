"""Each API key's webhook signing secret: made with the key and shown once, kept only sealed with the server's
SecretBox (bound to the key's id, so one key's sealed secret cannot be pasted into another key's row), rotated
with a grace period during which the secret it replaced still signs next to the new one.

Keys made before migration 0007 have no secret of their own: they sign with the legacy secret, the SHA-256 of
the key — which is also their key_hash, so a database read is enough to forge them — until rotated.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fusion.errors import InvalidOptionError, PromptcutError
from service.db import repo
from service.db.schema import ApiKey, utcnow
from service.store.secrets import SecretBox, SecretKeyError

log = logging.getLogger("promptcut.webhooks")

SECRET_PREFIX = "whsec_"  # recognisable in logs and by secret scanners, like the keys' "pc_"
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=30)

BoxFactory = Callable[[], SecretBox]  # the server's SecretBox, built only when a sealed secret is needed


class KeyNotFoundError(PromptcutError):
    """No active API key with that id (unknown or revoked)."""

    code = "key_not_found"


class SigningSecretError(PromptcutError):
    """A key's sealed signing secret cannot be opened: the server key changed or was lost, or the row is damaged.
    The message is for the key's owner (it ends up in the job's webhook_error); the log gets the details."""

    code = "webhook_secret_unavailable"


@dataclass(frozen=True)
class IssuedKey:
    """A new key and its signing secret: both are shown once and cannot be read back."""

    id: str
    store: str
    key: str = field(repr=False)
    webhook_secret: str = field(repr=False)


@dataclass(frozen=True)
class RotatedSecret:
    webhook_secret: str = field(repr=False)
    previous_valid_until: datetime | None  # None: the replaced secret stopped signing at once


def issue_key(db: Session, box: SecretBox, store: str) -> IssuedKey:
    """A new API key for `store` with a signing secret of its own."""
    row, plain = repo.create_key(db, store)
    secret = _new_secret()
    row.webhook_secret_sealed = box.seal(secret, _context(row.id))
    db.flush()
    return IssuedKey(id=row.id, store=row.store, key=plain, webhook_secret=secret)


def rotate_secret(db: Session, box: SecretBox, key_id: str, grace: timedelta = DEFAULT_GRACE, *,
                  now: datetime | None = None) -> RotatedSecret:
    """Give an active key a new signing secret; the one it replaces keeps signing next to it for `grace` (0:
    retired at once). Only one previous secret is kept: rotating again within the grace retires the older one.
    A current secret that cannot be opened (the server key changed) is simply dropped: rotating is the cure."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise InvalidOptionError(f"the grace period must be 0 to {MAX_GRACE.days * 24} hours")
    # Locked (PostgreSQL) so two rotations at once chain: the second keeps the first's secret as its previous.
    row = db.get(ApiKey, key_id, with_for_update=True, populate_existing=True)
    if row is None or row.revoked_at is not None:
        raise KeyNotFoundError(f"no active API key with id {key_id!r}")
    now = now or utcnow()
    previous = _replaced_secret(row, box) if grace > timedelta(0) else None
    secret = _new_secret()
    row.webhook_secret_sealed = box.seal(secret, _context(row.id))
    row.previous_secret_sealed = previous
    row.previous_secret_valid_until = now + grace if previous is not None else None
    db.flush()
    return RotatedSecret(webhook_secret=secret, previous_valid_until=row.previous_secret_valid_until)


def uses_legacy_secret(key: ApiKey) -> bool:
    """True for a key made before keys had secrets of their own, never rotated since."""
    return key.webhook_secret_sealed is None


def signing_secrets(key: ApiKey, box: BoxFactory, now: datetime | None = None) -> tuple[str, ...]:
    """The secrets a webhook of `key` is signed with, newest first: its own, plus the one it replaced while that
    is within its grace period; the legacy secret for a key without one. SigningSecretError when a sealed
    secret cannot be opened — never a fallback to another secret."""
    if uses_legacy_secret(key):
        return (key.key_hash,)
    now = now or utcnow()
    try:
        opened = box()
        current = opened.open(key.webhook_secret_sealed, _context(key.id))
        if not _previous_honoured(key, now):
            return (current,)
        return (current, opened.open(key.previous_secret_sealed, _context(key.id)))
    except SecretKeyError as error:
        log.warning("API key %s: its webhook signing secret cannot be opened: %s", key.id, error)
        raise SigningSecretError("not sent: the key's signing secret cannot be opened (the server key changed); "
                                 "the operator can restore the server key, or the key's owner rotate the "
                                 "secret") from None


def _previous_honoured(key: ApiKey, now: datetime) -> bool:
    until = key.previous_secret_valid_until
    return key.previous_secret_sealed is not None and until is not None and now < until


def _replaced_secret(row: ApiKey, box: SecretBox) -> str | None:
    """The key's current secret sealed for keeping as its previous one; None when it cannot be opened."""
    if uses_legacy_secret(row):
        return box.seal(row.key_hash, _context(row.id))  # receivers hold the legacy value: honour it a while
    try:
        box.open(row.webhook_secret_sealed, _context(row.id))
    except SecretKeyError as error:
        log.warning("API key %s: the signing secret being rotated out cannot be opened, so it is dropped at once: "
                    "%s", row.id, error)
        return None
    return row.webhook_secret_sealed  # same context for both columns: moved as it is


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _context(key_id: str) -> str:
    return f"api_keys.webhook_secret:{key_id}"
