"""Connecting stores to API keys against the fake shop: scopes checked, token sealed at rest, listings without
tokens, isolation between keys, disconnect; and the migration that adds the table."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from service.db import Database, repo
from service.db.schema import Base
from service.store.catalogue import pull_products
from service.store.connections import (
    StoreEndpointRules,
    StoreNotFoundError,
    connect_store,
    disconnect_store,
    list_stores,
    open_store_client,
)
from service.store.secrets import SecretBox
from service.store.shopify_api import StoreAuthError, StoreConfigError, StoreScopeError
from tests.fakestore import FakeShopify


def rules(shop: FakeShopify) -> StoreEndpointRules:
    return StoreEndpointRules(allow_hosts=(shop.allow_host,), timeout=10)


def test_the_migration_adds_store_connections_matching_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        assert "store_connections" in inspect(connection).get_table_names()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_connect_keeps_the_token_sealed_and_lists_without_it(database: Database, key_ids: dict, box: SecretBox,
                                                             shop: FakeShopify) -> None:
    store = connect_store(database, box, key_ids["a"], "Fake-Shop", shop.token, api_url=shop.api_url,
                          rules=rules(shop))
    assert store.shop_domain == "fake-shop.myshopify.com" and store.key_id == key_ids["a"]
    assert set(store.scopes) == {"read_products", "write_products", "write_files"}
    with database.engine.connect() as connection:
        raw = [tuple(row) for row in connection.execute(text("SELECT * FROM store_connections"))]
    assert len(raw) == 1 and shop.token not in repr(raw)
    assert list_stores(database, key_ids["a"]) == [store]
    assert shop.token not in repr(list_stores(database))
    # The sealed token opens again into a working client.
    with open_store_client(database, box, store.id, key_ids["a"], rules=rules(shop)) as client:
        assert len(list(pull_products(client))) == 30


def test_connecting_again_replaces_the_token_of_the_same_connection(database: Database, key_ids: dict,
                                                                    box: SecretBox, shop: FakeShopify) -> None:
    first = connect_store(database, box, key_ids["a"], "fake-shop", shop.token, api_url=shop.api_url,
                          rules=rules(shop))
    again = connect_store(database, box, key_ids["a"], "fake-shop.myshopify.com", shop.token,
                          api_url=shop.api_url, rules=rules(shop))
    assert again.id == first.id and again.connected_at >= first.connected_at
    assert len(list_stores(database)) == 1


def test_a_refused_token_is_a_clear_error_and_nothing_is_stored(database: Database, key_ids: dict, box: SecretBox,
                                                                shop: FakeShopify) -> None:
    with pytest.raises(StoreAuthError) as caught:
        connect_store(database, box, key_ids["a"], "fake-shop", "shpat_not_it", api_url=shop.api_url,
                      rules=rules(shop))
    assert "invalid or was revoked" in str(caught.value) and "shpat_not_it" not in str(caught.value)
    assert list_stores(database) == []


def test_a_missing_scope_is_named(database: Database, key_ids: dict, box: SecretBox, shop: FakeShopify) -> None:
    shop.scopes = ("read_products", "write_products")
    with pytest.raises(StoreScopeError) as caught:
        connect_store(database, box, key_ids["a"], "fake-shop", shop.token, api_url=shop.api_url,
                      rules=rules(shop))
    assert "write_files" in str(caught.value) and "read_products" not in str(caught.value)
    assert caught.value.missing == ("write_files",) and list_stores(database) == []
    shop.scopes = ("write_products", "write_files")  # write_products grants read_products
    connect_store(database, box, key_ids["a"], "fake-shop", shop.token, api_url=shop.api_url, rules=rules(shop))


def test_a_local_api_url_needs_the_allow_list(database: Database, key_ids: dict, box: SecretBox,
                                              shop: FakeShopify) -> None:
    with pytest.raises(StoreConfigError):
        connect_store(database, box, key_ids["a"], "fake-shop", shop.token, api_url=shop.api_url)
    assert shop.requests == 0


def test_keys_see_and_disconnect_only_their_own_stores(database: Database, key_ids: dict, box: SecretBox,
                                                       shop: FakeShopify) -> None:
    store = connect_store(database, box, key_ids["a"], "fake-shop", shop.token, api_url=shop.api_url,
                          rules=rules(shop))
    assert list_stores(database, key_ids["b"]) == []
    with pytest.raises(StoreNotFoundError):
        disconnect_store(database, store.id, key_ids["b"])
    with pytest.raises(StoreNotFoundError):
        open_store_client(database, box, store.id, key_ids["b"], rules=rules(shop))
    disconnect_store(database, store.id, key_ids["a"])
    assert list_stores(database) == []
    with database.engine.connect() as connection:
        sealed = connection.execute(text("SELECT token_sealed FROM store_connections")).scalar()
    assert sealed is None
    with pytest.raises(StoreNotFoundError):
        disconnect_store(database, store.id, key_ids["a"])


def test_a_revoked_key_cannot_connect(database: Database, key_ids: dict, box: SecretBox, shop: FakeShopify) -> None:
    with database.session() as db:
        repo.revoke_key(db, key_ids["b"])
    with pytest.raises(StoreNotFoundError, match="no active API key"):
        connect_store(database, box, key_ids["b"], "fake-shop", shop.token, api_url=shop.api_url,
                      rules=rules(shop))
    assert shop.requests == 0
