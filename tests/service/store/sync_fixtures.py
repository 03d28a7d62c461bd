"""Shared set-up of the sync tests: a fake shop whose images are real sample photos, a connected store, and
the job runner in-process with the classical segmenter (the CLI's way of running a sync)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fusion.segmenters import choose_segmenter
from service.db import Database, open_database, repo
from service.jobs.runtime import Services
from service.jobs.store_syncs import local_services, sync_context
from service.settings import Settings
from service.store.connections import StoreEndpointRules, connect_store
from service.store.secrets import SecretBox, derive_key
from service.store.shopify_api import RetryPolicy
from service.store.sync import SyncContext, SyncOptions, run_sync, start_sync
from service.store.sync_records import SyncSummary
from tests.fakestore import FakeShopify
from tests.helpers import sample_jpeg

PHOTOS = ("coffee-cup.jpg", "rocket.jpg", "chelsea-cat.jpg", "astronaut.jpg")
PUBLISH = {"render": {"format": "png", "size": "200"}, "publish_all": True}  # every cut written back
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.5)


def serve_photos(shop: FakeShopify, side: int = 160) -> None:
    """Every image of the fake shop becomes a real (small) photo, so cuts have something to find."""
    photos = [sample_jpeg(name, side) for name in PHOTOS]
    with shop.lock:
        for index, name in enumerate(sorted(shop.images)):
            shop.images[name] = photos[index % len(photos)]


@dataclass
class Harness:
    shop: FakeShopify
    database: Database
    services: Services
    context: SyncContext
    key_id: str
    store_id: str

    def sync(self, **options) -> SyncSummary:
        sync_id = start_sync(self.database, self.key_id, self.store_id, SyncOptions(**options))
        return run_sync(self.context, sync_id)


def make_harness(tmp_path: Path, shop: FakeShopify) -> Harness:
    settings = Settings(data_dir=tmp_path / "data", segmenter="classical", allow_http_urls=True,
                        url_allow_hosts=[shop.allow_host], store_api_allow_hosts=[shop.allow_host])
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_database(settings.db_url)
    with database.session() as db:
        key_id = repo.create_key(db, "corner shop")[0].id
    box = SecretBox(derive_key("test secret"), "test")
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), 10.0, FAST_RETRY)
    store = connect_store(database, box, key_id, shop.shop_name, shop.token, api_url=shop.api_url, rules=rules)
    segmenter = choose_segmenter("classical", settings.models).build()
    services = local_services(settings, database, segmenter)
    return Harness(shop, database, services, sync_context(services, box, rules), key_id, store.id)


@contextmanager
def harness_for(tmp_path: Path, products: list, *, photo_side: int = 160) -> Iterator[Harness]:
    """A served fake shop of `products` with real photos, connected and ready to sync; closed afterwards."""
    with FakeShopify(products) as shop:
        serve_photos(shop, photo_side)
        made = make_harness(tmp_path, shop)
        try:
            yield made
        finally:
            made.services.pool.shutdown(timeout=5)
            made.database.close()
