"""A connected store's webhook settings: the app's client secret (sealed with the SecretBox, bound to the row,
never shown), auto-process (default off) and the look auto-processed photos get (default: the sync's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fusion.errors import InvalidOptionError
from service.db import Database
from service.db.schema import StoreConnection
from service.store.connections import StoreNotFoundError
from service.store.secrets import SecretBox
from service.store.sync import SyncOptions
from service.store.webhooks import secret_context

MAX_SECRET_LENGTH = 500


@dataclass(frozen=True)
class WebhookConfig:
    """As shown to the store's owner: whether a secret is set, never the secret."""

    store_id: str
    secret_set: bool
    auto_process: bool
    look: dict[str, Any]  # the RenderRequest dict auto-processed photos are made with

    def to_json(self) -> dict[str, Any]:
        return {"store_id": self.store_id, "secret_set": self.secret_set, "auto_process": self.auto_process,
                "look": dict(self.look)}


@dataclass(frozen=True)
class WebhookChange:
    """What to change; None leaves a value as it is. `secret` "" removes the secret (webhooks then answer 401)."""

    secret: str | None = None
    auto_process: bool | None = None
    look: dict[str, Any] | None = None


def checked_look(look: dict[str, Any] | None) -> dict[str, Any]:
    """A look as a sync would use it (InvalidOptionError otherwise); None → the sync's default look."""
    return SyncOptions(render=dict(look or {})).checked().render


def webhook_config(database: Database, store_id: str, key_id: str | None = None) -> WebhookConfig:
    with database.session() as db:
        return _shown(_connection(db, store_id, key_id))


def configure_webhooks(database: Database, box: SecretBox, store_id: str, change: WebhookChange,
                       key_id: str | None = None) -> WebhookConfig:
    """Apply `change` to a connected store (of `key_id` when given); StoreNotFoundError otherwise."""
    look = checked_look(change.look) if change.look is not None else None
    secret = change.secret.strip() if change.secret is not None else None
    if secret is not None and len(secret) > MAX_SECRET_LENGTH:
        raise InvalidOptionError(f"the webhook secret is longer than {MAX_SECRET_LENGTH} characters")
    with database.session() as db:
        row = _connection(db, store_id, key_id)
        if secret is not None:
            row.webhook_secret_sealed = box.seal(secret, secret_context(row.id)) if secret else None
        if change.auto_process is not None:
            row.auto_process = change.auto_process
        if look is not None:
            row.default_look = look
        return _shown(row)


def _connection(db, store_id: str, key_id: str | None) -> StoreConnection:
    row = db.get(StoreConnection, store_id)
    if row is None or row.token_sealed is None or (key_id is not None and row.key_id != key_id):
        raise StoreNotFoundError(f"no connected store with id {store_id!r}")
    return row


def _shown(row: StoreConnection) -> WebhookConfig:
    return WebhookConfig(row.id, row.webhook_secret_sealed is not None, bool(row.auto_process),
                         dict(row.default_look) if row.default_look else checked_look(None))
