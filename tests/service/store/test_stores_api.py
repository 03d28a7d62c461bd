"""POST/GET/DELETE /v1/stores through the app on loopback (uvicorn), against the fake shop: the key's own
stores only, errors in the API's error shape, never the token."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from service.api.app import create_app
from service.db import open_database, repo
from service.settings import Settings
from tests.fakestore import FakeShopify
from tests.service.api.test_api import ServerThread


@pytest.fixture
def api(tmp_path: Path, shop: FakeShopify) -> Iterator[tuple[str, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=2,
                        secret_key="a shared secret", store_api_allow_hosts=[shop.allow_host])
    database = open_database(settings.db_url)
    with database.session() as db:
        keys = {name: repo.create_key(db, f"store-{name}")[1] for name in ("a", "b")}
    database.close()
    with ServerThread(create_app(settings)) as server:
        yield server.url, keys


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=30)


def test_connect_list_and_disconnect_own_stores_only(api, shop: FakeShopify) -> None:
    url, keys = api
    with client(url, keys["a"]) as a, client(url, keys["b"]) as b:
        created = a.post("/v1/stores", json={"shop": "fake-shop", "token": shop.token, "api_url": shop.api_url})
        assert created.status_code == 201, created.text
        store = created.json()
        assert store["shop"] == "fake-shop.myshopify.com" and "write_files" in store["scopes"]
        assert shop.token not in created.text

        listed = a.get("/v1/stores")
        assert listed.status_code == 200 and [s["id"] for s in listed.json()["stores"]] == [store["id"]]
        assert shop.token not in listed.text
        assert b.get("/v1/stores").json() == {"stores": []}

        other = b.delete(f"/v1/stores/{store['id']}")
        assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
        assert a.delete(f"/v1/stores/{store['id']}").status_code == 204
        assert a.get("/v1/stores").json() == {"stores": []}
        assert a.delete(f"/v1/stores/{store['id']}").status_code == 404


def test_connect_errors_use_the_error_shape(api, shop: FakeShopify) -> None:
    url, keys = api
    with client(url, keys["a"]) as a:
        bad_token = a.post("/v1/stores", json={"shop": "fake-shop", "token": "shpat_nope",
                                               "api_url": shop.api_url})
        assert bad_token.status_code == 422 and bad_token.json()["error"]["code"] == "store_unauthorized"
        assert bad_token.json()["error"]["field"] == "token" and "shpat_nope" not in bad_token.text

        shop.scopes = ("read_products", "write_products")
        scope = a.post("/v1/stores", json={"shop": "fake-shop", "token": shop.token, "api_url": shop.api_url})
        assert scope.status_code == 400 and scope.json()["error"]["code"] == "store_scope_missing"
        assert "write_files" in scope.json()["error"]["message"]

        bad_shop = a.post("/v1/stores", json={"shop": "evil.example.com", "token": shop.token})
        assert bad_shop.status_code == 400 and bad_shop.json()["error"]["code"] == "store_invalid"

        local = a.post("/v1/stores", json={"shop": "fake-shop", "token": shop.token,
                                           "api_url": "http://127.0.0.1:9/graphql.json"})
        assert local.status_code == 400 and "https" in local.json()["error"]["message"]
        assert a.get("/v1/stores").json() == {"stores": []}
    anonymous = httpx.get(f"{url}/v1/stores", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"


def test_the_webhook_secret_can_be_given_when_connecting(api, shop: FakeShopify) -> None:
    url, keys = api
    secret = "the app's client secret"
    with client(url, keys["a"]) as a:
        too_long = a.post("/v1/stores", json={"shop": "fake-shop", "token": shop.token, "api_url": shop.api_url,
                                              "webhook_secret": "x" * 501})
        assert too_long.status_code in (400, 422) and "error" in too_long.json()
        assert a.get("/v1/stores").json() == {"stores": []}  # refused before anything was connected
        created = a.post("/v1/stores", json={"shop": "fake-shop", "token": shop.token, "api_url": shop.api_url,
                                             "webhook_secret": secret})
        assert created.status_code == 201 and secret not in created.text
        settings = a.get(f"/v1/stores/{created.json()['id']}/webhooks")
        assert settings.status_code == 200 and settings.json()["secret_set"] is True
        assert secret not in settings.text
