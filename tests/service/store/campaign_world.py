"""Shared set-up of the campaign tests: a fake shop (real photos) whose products a sync has published (run
in-process, the CLI's way), the service app serving the same database on loopback with a fake clock and a
segmenter that counts its calls (a campaign must never call it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from fusion.segmenters import choose_segmenter
from service.api.app import create_app
from service.db import Database, open_database, repo
from service.jobs.store_campaigns import StoreCampaignRunner
from service.jobs.store_syncs import local_services, sync_context
from service.settings import Settings
from service.store.connections import StoreEndpointRules, connect_store
from service.store.secrets import secret_box
from service.store.sync import SyncOptions, run_sync, start_sync
from tests.fakestore import FakeShopify
from tests.service.api.test_api import WAIT_SECONDS, ServerThread
from tests.service.store.sync_fixtures import FAST_RETRY, serve_photos

LOOK = {"format": "png", "size": "200", "background": "#ffcc00"}  # png: the same layer encodes to the same bytes
THEME = "winter-holidays"
T0 = datetime(2025, 12, 1, 8, 0, tzinfo=timezone.utc)


class FakeClock:
    """The campaign schedule's clock: moves only when a test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


class CountingSegmenter:
    """The classical backend, counting every segmentation."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def segment(self, image, prompts):
        self.calls += 1
        return self._inner.segment(image, prompts)


@dataclass
class CampaignWorld:
    shop: FakeShopify
    settings: Settings
    database: Database
    key_id: str
    api_key: str
    store_id: str
    sync_id: str
    clock: FakeClock
    segmenter: CountingSegmenter
    url: str = ""
    runner: StoreCampaignRunner | None = None

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers={"X-Api-Key": self.api_key},
                             timeout=WAIT_SECONDS, **kwargs)

    def main_image(self, product_id: str) -> tuple[str, bytes]:
        """The product's first media id and the bytes the store serves for it."""
        with self.shop.lock:
            media = self.shop.products[product_id].media[0]
            return media.id, self.shop.images[media.file_name]


@contextmanager
def published_world(tmp_path: Path, shop: FakeShopify) -> Iterator[CampaignWorld]:
    """A connected store whose products' main images a sync (LOOK) has published; no server yet."""
    serve_photos(shop)
    settings = Settings(data_dir=tmp_path / "data", segmenter="classical", workers=1, queue_size=2,
                        secret_key="a shared secret", allow_http_urls=True, url_allow_hosts=[shop.allow_host],
                        store_api_allow_hosts=[shop.allow_host])
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_database(settings.db_url)
    try:
        box = secret_box(settings.secret_key.get_secret_value(), settings.data_dir)
        with database.session() as db:
            key_row, api_key = repo.create_key(db, "corner shop")
        rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), 10.0, FAST_RETRY)
        store = connect_store(database, box, key_row.id, shop.shop_name, shop.token, api_url=shop.api_url,
                              rules=rules)
        segmenter = CountingSegmenter(choose_segmenter("classical", settings.models).build())
        services = local_services(settings, database, segmenter)
        try:
            sync_id = start_sync(database, key_row.id, store.id, SyncOptions(render=dict(LOOK), publish_all=True))
            summary = run_sync(sync_context(services, box, rules), sync_id)
        finally:
            services.pool.shutdown(timeout=5)
        assert summary.state == "done" and summary.counts["published"] == len(shop.products), summary
        segmenter.calls = 0
        yield CampaignWorld(shop, settings, database, key_row.id, api_key, store.id, sync_id, FakeClock(), segmenter)
    finally:
        database.close()


@contextmanager
def served(world: CampaignWorld) -> Iterator[CampaignWorld]:
    """The service on the world's database (a new app instance each time: a restart)."""
    app = create_app(world.settings, segmenter=world.segmenter, clock=world.clock)
    with ServerThread(app) as server:
        world.url, world.runner = server.url, app.state.store_campaigns
        try:
            yield world
        finally:
            world.url, world.runner = "", None
