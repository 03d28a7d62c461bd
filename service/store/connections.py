"""Stores connected to API keys: connect (check the token's scopes, seal it, save it), list, disconnect, and
open a client for a connected store.

A connection belongs to one API key, as jobs and items do: every lookup takes the key id, and another key's
connection is "not found". The token is sealed with the server's SecretBox, bound to the row's id, and is never
returned by a listing. The shop is called before any row is written, and no database session is held open
while it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from fusion.errors import PromptcutError
from service.db import Database
from service.db.schema import ApiKey, StoreConnection, new_id, utcnow
from service.store import queries
from service.store.secrets import SecretBox
from service.store.shopify_api import (
    RetryPolicy,
    ShopifyClient,
    StoreScopeError,
    admin_url,
    shop_domain,
)

REQUIRED_SCOPES = ("read_products", "write_products", "write_files")

ClientFactory = Callable[[str, str], ShopifyClient]  # (endpoint, token) → client


class StoreNotFoundError(PromptcutError):
    """No connected store with that id for this key (or no active key with that id)."""

    code = "store_not_found"


@dataclass(frozen=True)
class ConnectedStore:
    """A connection as shown to its owner: never the token."""

    id: str
    key_id: str
    shop_domain: str
    api_url: str | None
    scopes: tuple[str, ...]
    connected_at: datetime


@dataclass(frozen=True)
class StoreEndpointRules:
    """The settings that decide where a store may be called (settings.store_api_allow_hosts, store_timeout)."""

    allow_hosts: tuple[str, ...] = ()
    timeout: float = 30.0
    retry: RetryPolicy = RetryPolicy()

    def client_factory(self) -> ClientFactory:
        return lambda endpoint, token: ShopifyClient(endpoint, token, timeout=self.timeout, retry=self.retry)


def _token_context(connection_id: str) -> str:
    return f"store_connections.token_sealed:{connection_id}"


def _shown(row: StoreConnection) -> ConnectedStore:
    return ConnectedStore(id=row.id, key_id=row.key_id, shop_domain=row.shop_domain, api_url=row.api_url,
                          scopes=tuple(row.scopes or ()), connected_at=row.connected_at)


def granted_scopes(client: ShopifyClient) -> tuple[str, ...]:
    """The token's access scopes; StoreScopeError naming each required one it lacks (write_x implies read_x)."""
    data = client.execute(queries.SHOP_ACCESS)
    installation = data.get("currentAppInstallation") or {}
    granted = tuple(sorted({str(scope.get("handle")) for scope in installation.get("accessScopes") or ()}))
    implied = set(granted) | {"read_" + scope.removeprefix("write_") for scope in granted
                              if scope.startswith("write_")}
    missing = [scope for scope in REQUIRED_SCOPES if scope not in implied]
    if missing:
        raise StoreScopeError(f"the access token lacks the scope{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)}: add {'them' if len(missing) > 1 else 'it'} to the app in the "
                              "Shopify admin, reinstall it and use the new token", missing)
    return granted


def connect_store(database: Database, box: SecretBox, key_id: str, shop: str, token: str, *,
                  api_url: str | None = None, rules: StoreEndpointRules = StoreEndpointRules(),
                  client_factory: ClientFactory | None = None) -> ConnectedStore:
    """Check the token against the shop (it must authenticate and hold REQUIRED_SCOPES), then save it sealed.
    Connecting a shop the key already connected replaces that connection's token (same id)."""
    domain = shop_domain(shop)
    endpoint = admin_url(domain, api_url or None, rules.allow_hosts)
    token = (token or "").strip()
    with database.session() as db:
        _active_key(db, key_id)
    with (client_factory or rules.client_factory())(endpoint, token) as client:
        scopes = granted_scopes(client)
    with database.session() as db:
        _active_key(db, key_id)
        row = db.scalar(select(StoreConnection).where(StoreConnection.key_id == key_id,
                                                      StoreConnection.shop_domain == domain))
        if row is None:
            row = StoreConnection(id=new_id(), key_id=key_id, shop_domain=domain)
            db.add(row)
        row.api_url = api_url or None
        row.token_sealed = box.seal(token, _token_context(row.id))
        row.scopes = list(scopes)
        row.connected_at = utcnow()
        row.disconnected_at = None
        db.flush()
        return _shown(row)


def list_stores(database: Database, key_id: str | None = None) -> list[ConnectedStore]:
    """Connected stores, oldest first: of one key, or (key_id None: the operator's view) of every key."""
    query = select(StoreConnection).where(StoreConnection.token_sealed.is_not(None))
    if key_id is not None:
        query = query.where(StoreConnection.key_id == key_id)
    with database.session() as db:
        rows = db.scalars(query.order_by(StoreConnection.connected_at, StoreConnection.id))
        return [_shown(row) for row in rows]


def disconnect_store(database: Database, connection_id: str, key_id: str | None = None) -> ConnectedStore:
    """Delete the sealed token of a connected store (of `key_id` when given). StoreNotFoundError otherwise."""
    with database.session() as db:
        row = _connected(db, connection_id, key_id)
        row.token_sealed = None
        row.disconnected_at = utcnow()
        return _shown(row)


def open_store_client(database: Database, box: SecretBox, connection_id: str, key_id: str, *,
                      rules: StoreEndpointRules = StoreEndpointRules(),
                      client_factory: ClientFactory | None = None) -> ShopifyClient:
    """A client for a connected store of `key_id` (the caller closes it). The endpoint is checked again
    against the current rules: an allow-list entry removed since connecting takes effect."""
    with database.session() as db:
        row = _connected(db, connection_id, key_id)
        token = box.open(row.token_sealed or "", _token_context(row.id))
        endpoint = admin_url(row.shop_domain, row.api_url, rules.allow_hosts)
    return (client_factory or rules.client_factory())(endpoint, token)


def _connected(db, connection_id: str, key_id: str | None) -> StoreConnection:
    row = db.get(StoreConnection, connection_id)
    if row is None or row.token_sealed is None or (key_id is not None and row.key_id != key_id):
        raise StoreNotFoundError(f"no connected store with id {connection_id!r}")
    return row


def _active_key(db, key_id: str) -> None:
    row = db.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        raise StoreNotFoundError(f"no active API key with id {key_id!r} (see `promptcut keys list`)")

