"""Shared set-up of the store webhook tests: the service app on loopback, a fake shop (real photos) connected
to a key with a webhook secret, and deliveries signed the way Shopify signs them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from service.api.app import create_app
from service.db import Database, open_database, repo
from service.db.schema import StoreWebhook
from service.settings import Settings
from service.store.connections import StoreEndpointRules, connect_store
from service.store.secrets import SecretBox, secret_box
from service.store.webhooks import signature
from service.store.webhooks_config import WebhookChange, configure_webhooks
from tests.fakestore import FakeMedia, FakeProduct, FakeShopify
from tests.fakestore.catalogue import MEDIA_GID, PRODUCT_GID
from tests.helpers import sample_jpeg
from tests.service.api.test_api import WAIT_SECONDS, ServerThread
from tests.service.store.sync_fixtures import FAST_RETRY, serve_photos

APP_SECRET = "shpss_app_client_secret_0123456789"
LOOK = {"format": "png", "size": "200", "background": "#ffcc00"}  # a colour: not judged by the white rule
FINAL = ("done", "skipped", "ignored", "failed")


@dataclass
class WebhookWorld:
    url: str
    shop: FakeShopify
    settings: Settings
    database: Database
    box: SecretBox
    key_id: str
    api_key: str  # the key itself, for the store's own HTTP calls
    store_id: str

    def send(self, topic: str, payload: Any, *, secret: str | None = APP_SECRET, webhook_id: str | None = None,
             triggered_at: datetime | None = None, body: bytes | None = None,
             shop_domain: str | None = None) -> httpx.Response:
        """POST one delivery as Shopify would: the body's HMAC with `secret` (None: unsigned)."""
        raw = json.dumps(payload).encode() if body is None else body
        headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
                   "X-Shopify-Shop-Domain": shop_domain or self.shop.shop_domain,
                   "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()), "X-Shopify-API-Version": "2025-10",
                   "X-Shopify-Triggered-At": (triggered_at or datetime.now(timezone.utc)).isoformat()}
        if secret is not None:
            headers["X-Shopify-Hmac-Sha256"] = signature(secret, json.dumps(payload).encode())
        return httpx.post(f"{self.url}/v1/store-webhooks", content=raw, headers=headers, timeout=WAIT_SECONDS)

    def deliveries(self) -> int:
        with self.database.session() as db:
            return db.scalar(select(func.count()).select_from(StoreWebhook))

    def delivery(self, delivery_id: str) -> StoreWebhook | None:
        with self.database.session() as db:
            return db.get(StoreWebhook, delivery_id)

    def wait(self, delivery_id: str) -> StoreWebhook | None:
        """The delivery once the runner is through with it (None: it was deleted, as shop/redact does)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            row = self.delivery(delivery_id)
            if row is None or row.state in FINAL:
                return row
            time.sleep(0.05)
        raise AssertionError(f"delivery {delivery_id} still {row.state} after {WAIT_SECONDS} s")

    def configure(self, **change: Any) -> None:
        configure_webhooks(self.database, self.box, self.store_id, WebhookChange(**change))


def add_product(shop: FakeShopify, number: int, photo: str) -> FakeProduct:
    """A new product on the fake shop with one real photo (what a products/create announces)."""
    media = FakeMedia(id=f"{MEDIA_GID}{number * 10}", file_name=f"new-{number}.jpg", alt=f"photo of {number}")
    product = FakeProduct(id=f"{PRODUCT_GID}{number}", handle=f"new-{number}", title=f"Product {number}",
                          product_type="Mugs", media=[media])
    with shop.lock:
        shop.images[media.file_name] = sample_jpeg(photo, 160)
        shop.products[product.id] = product
    return product


def product_payload(shop: FakeShopify, product_id: str) -> dict[str, Any]:
    """A products/create|update body (REST shape) for the fake shop's product as it is now."""
    with shop.lock:
        product = shop.products[product_id]
        images = [{"id": 900 + position, "position": position + 1, "product_id": int(product.id.rsplit("/", 1)[-1]),
                   "src": f"{shop.url}/images/{media.file_name}", "alt": media.alt}
                  for position, media in enumerate(product.media) if media.file_name]
        return {"id": int(product.id.rsplit("/", 1)[-1]), "admin_graphql_api_id": product.id,
                "title": product.title, "handle": product.handle, "images": images,
                "image": images[0] if images else None}


def uploads(shop: FakeShopify) -> int:
    with shop.lock:
        return shop.upload_posts


@contextmanager
def webhook_world(tmp_path: Path, shop: FakeShopify, *, segmenter: Any = None, max_age: int = 48 * 3600,
                  auto_process: bool = False) -> Iterator[WebhookWorld]:
    """A store connected with a webhook secret, and the service serving it."""
    with prepared_world(tmp_path, shop, max_age=max_age, auto_process=auto_process) as offline:
        with served(offline, segmenter) as world:
            yield world


@contextmanager
def prepared_world(tmp_path: Path, shop: FakeShopify, *, max_age: int = 48 * 3600,
                   auto_process: bool = False) -> Iterator[WebhookWorld]:
    """The same, with no server running yet (url ""): `served` starts one, as often as wanted."""
    serve_photos(shop)
    settings = Settings(data_dir=tmp_path / "data", segmenter="classical", workers=1, queue_size=2,
                        secret_key="a shared secret", allow_http_urls=True, url_allow_hosts=[shop.allow_host],
                        store_api_allow_hosts=[shop.allow_host], store_webhook_max_age=max_age)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_database(settings.db_url)
    try:
        box = secret_box(settings.secret_key.get_secret_value(), settings.data_dir)
        with database.session() as db:
            key_row, api_key = repo.create_key(db, "corner shop")
            key_id = key_row.id
        rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), 10.0, FAST_RETRY)
        store = connect_store(database, box, key_id, shop.shop_name, shop.token, api_url=shop.api_url, rules=rules)
        configure_webhooks(database, box, store.id, WebhookChange(APP_SECRET, auto_process, dict(LOOK)))
        yield WebhookWorld("", shop, settings, database, box, key_id, api_key, store.id)
    finally:
        database.close()


@contextmanager
def served(world: WebhookWorld, segmenter: Any = None) -> Iterator[WebhookWorld]:
    with ServerThread(create_app(world.settings, segmenter=segmenter)) as server:
        yield replace(world, url=server.url)
