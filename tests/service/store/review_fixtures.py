"""A finished sync with cuts held for review, served by the real app on loopback against the fake shop: product
1001 (a mug photo, cut to 300 px: fails the marketplace main-image rule) and 1002 (a flat blue block on grey: a
doubtful cut). Shared by the API tests and the browser test of the seller page's "Held for review"."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

from service.api.app import create_app
from service.db import open_database, repo
from service.settings import Settings
from tests.fakestore import FakeShopify, sample_products
from tests.helpers import sample_jpeg
from tests.service.api.test_api import ServerThread

MUG, FLAT = "gid://shopify/Product/1001", "gid://shopify/Product/1002"


def flat_photo(side: int = 160) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (side, side), (120, 120, 120))
    ImageDraw.Draw(image).rectangle([2, 2, side - 3, side - 3], fill=(30, 30, 200))
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@dataclass
class HeldSync:
    shop: FakeShopify
    url: str
    keys: dict[str, str]  # "a" owns the store, "b" is another seller
    store_id: str
    sync_id: str

    def client(self, who: str = "a") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-Api-Key": self.keys[who]}, timeout=120)

    @property
    def sync_path(self) -> str:
        return f"/v1/stores/{self.store_id}/syncs/{self.sync_id}"

    def file_names(self, product_id: str) -> list[str]:
        with self.shop.lock:
            return [media.file_name for media in self.shop.products[product_id].media]


@contextmanager
def held_sync(tmp_path: Path) -> Iterator[HeldSync]:
    with FakeShopify(sample_products(2, images_per_product=1)) as shop:
        with shop.lock:
            shop.images["p1001-0.png"] = sample_jpeg("coffee-cup.jpg", 160)
            shop.images["p1002-0.png"] = flat_photo()
        settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=4,
                            secret_key="a shared secret", store_api_allow_hosts=[shop.allow_host],
                            allow_http_urls=True, url_allow_hosts=[shop.allow_host])
        database = open_database(settings.db_url)
        with database.session() as db:
            keys = {name: repo.create_key(db, f"store-{name}")[1] for name in ("a", "b")}
        database.close()
        with ServerThread(create_app(settings)) as server:
            with httpx.Client(base_url=server.url, headers={"X-Api-Key": keys["a"]}, timeout=120) as a:
                store = a.post("/v1/stores", json={"shop": shop.shop_name, "token": shop.token,
                                                   "api_url": shop.api_url}).json()
                started = a.post(f"/v1/stores/{store['id']}/syncs", json={"size": "300", "format": "png"})
                assert started.status_code == 202, started.text
                path = f"/v1/stores/{store['id']}/syncs/{started.json()['id']}"
                deadline = time.monotonic() + 120
                while (body := a.get(path).json())["state"] == "running":
                    assert time.monotonic() < deadline, body
                    time.sleep(0.1)
                assert body["state"] == "done" and body["counts"]["held"] == 2, body
            yield HeldSync(shop, server.url, keys, store["id"], body["id"])
