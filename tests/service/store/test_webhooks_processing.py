"""What the background runner does with recorded deliveries, over loopback against the fake shop: auto-process
publishes a new product's photo (the answer having come back before the cut), our own write-back's update and
an already-held photo trigger nothing, shop/redact deletes the store's data, a delivery survives a restart."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select, update

from service.db.schema import Artifact, Item, Job, StoreConnection, StoreWebhook, Sync, SyncItem
from service.store.webhooks import WebhookHeaders, receive_webhook, signature
from tests.fakestore import FakeShopify
from tests.service.api.test_api import GatedSegmenter
from tests.service.store.webhooks_harness import (
    APP_SECRET,
    add_product,
    prepared_world,
    product_payload,
    served,
    uploads,
    webhook_world,
)


def _main_file(shop: FakeShopify, product_id: str) -> str:
    with shop.lock:
        return shop.products[product_id].media[0].file_name


def test_the_answer_comes_before_the_cut_and_the_new_products_photo_is_published(tmp_path: Path,
                                                                                  shop: FakeShopify) -> None:
    segmenter = GatedSegmenter()
    with webhook_world(tmp_path, shop, segmenter=segmenter, auto_process=True) as world:
        product = add_product(shop, 2001, "coffee-cup.jpg")
        answer = world.send("products/create", product_payload(shop, product.id))
        # The gate is still closed: had the endpoint waited for the cut, no answer would have come back.
        assert answer.status_code == 200 and answer.json()["state"] == "queued", answer.text
        assert segmenter.entered.acquire(timeout=60), "the runner never started the cut"
        assert world.delivery(answer.json()["id"]).state == "running" and uploads(shop) == 0
        segmenter.gate.set()
        row = world.wait(answer.json()["id"])
        assert row.state == "done" and "1 published" in row.reason, row.reason
        assert _main_file(shop, product.id).startswith("u") and "promptcut-" in _main_file(shop, product.id)
        assert len(shop.products[product.id].media) == 1  # policy replace: the original is gone


def test_the_update_our_own_write_back_causes_triggers_nothing(tmp_path: Path, shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop, auto_process=True) as world:
        product = add_product(shop, 2002, "coffee-cup.jpg")
        created = world.wait(world.send("products/create", product_payload(shop, product.id)).json()["id"])
        assert created.state == "done" and "promptcut-" in _main_file(shop, product.id), created.reason
        written = uploads(shop)
        update_ = world.send("products/update", product_payload(shop, product.id))  # what Shopify sends next
        row = world.wait(update_.json()["id"])
        assert row.state == "ignored" and "is ours" in row.reason and row.sync_id is None
        assert uploads(shop) == written
        with world.database.session() as db:
            assert len(db.scalars(select(Sync)).all()) == 1


def test_a_held_photo_is_not_cut_again_on_every_product_update(tmp_path: Path, shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop, auto_process=True) as world:
        product = add_product(shop, 2003, "rocket.jpg")  # the classical cut of this photo needs review
        first = world.wait(world.send("products/create", product_payload(shop, product.id)).json()["id"])
        assert first.state == "done" and "1 held" in first.reason, first.reason
        again = world.wait(world.send("products/update", product_payload(shop, product.id)).json()["id"])
        assert again.state == "ignored" and "already cut with this look (held)" in again.reason
        assert uploads(shop) == 0 and _main_file(shop, product.id) == "new-2003.jpg"
        world.configure(look={"format": "png", "size": "200", "background": "#00ccff"})  # a new look: cut again
        third = world.wait(world.send("products/update", product_payload(shop, product.id)).json()["id"])
        assert third.state == "done" and third.sync_id not in (None, first.sync_id), third.reason


def test_shop_redact_deletes_the_stores_rows_and_saved_files_only(tmp_path: Path, shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop, auto_process=True) as world:
        product = add_product(shop, 2004, "coffee-cup.jpg")
        world.wait(world.send("products/create", product_payload(shop, product.id)).json()["id"])
        world.send("customers/redact", {"customer": {"id": 1}})
        with world.database.session() as db:
            sync = db.scalars(select(Sync)).one()
            digests = {row.source_digest for row in db.scalars(select(SyncItem))}
            digests |= {row.digest for row in db.scalars(select(Artifact))}
            other_job = Job(key_id=world.key_id, render={}, original_render={})  # not the store's: stays
            db.add(other_job)
        blobs = [world.settings.artifacts_dir / d[:2] / d[2:4] / d for d in digests]
        assert blobs and all(path.is_file() for path in blobs)

        answer = world.send("shop/redact", {"shop_id": 954889, "shop_domain": shop.shop_domain})
        assert answer.status_code == 200 and answer.json()["state"] == "queued"
        assert world.wait(answer.json()["id"]) is None  # the delivery itself went with the store's rows
        with world.database.session() as db:
            assert db.get(StoreConnection, world.store_id) is None
            for model in (Sync, SyncItem, StoreWebhook, Artifact, Item):
                assert db.scalars(select(model)).all() == [], model.__name__
            assert db.get(Job, sync.job_id) is None and db.get(Job, other_job.id) is not None
        assert not any(path.exists() for path in blobs)
        again = world.send("products/update", product_payload(shop, product.id))
        assert again.status_code == 401  # the secret went too


def test_a_delivery_left_running_by_a_killed_server_is_processed_after_a_restart(tmp_path: Path,
                                                                                  shop: FakeShopify) -> None:
    with prepared_world(tmp_path, shop, auto_process=True) as offline:
        product = add_product(shop, 2005, "coffee-cup.jpg")
        body = json.dumps(product_payload(shop, product.id)).encode()
        headers = WebhookHeaders("products/create", shop.shop_domain, signature(APP_SECRET, body), "killed-1",
                                 "2025-10", datetime.now(timezone.utc).isoformat())
        receipt = receive_webhook(offline.database, offline.box, headers, body)
        with offline.database.session() as db:  # claimed by a worker of a server that was killed
            db.execute(update(StoreWebhook).where(StoreWebhook.id == receipt.id)
                       .values(state="running", claimed_by="dead-host:1:abc:promptcut-store-webhooks",
                               attempts=1))
        with served(offline) as world:
            row = world.wait(receipt.id)
        assert row.state == "done" and row.attempts == 2 and "1 published" in row.reason, row.reason
        assert "promptcut-" in _main_file(shop, product.id)


def test_finished_deliveries_are_forgotten_after_the_retry_window_and_queued_ones_never(tmp_path: Path,
                                                                                    shop: FakeShopify) -> None:
    from datetime import timedelta

    from service.store.webhooks_queue import KEEP_DAYS, purge_finished

    with prepared_world(tmp_path, shop, auto_process=False) as offline:
        ids = {}
        for name in ("old-done", "old-queued", "new-done"):
            body = json.dumps(product_payload(shop, "gid://shopify/Product/1001")).encode()
            headers = WebhookHeaders("products/update", shop.shop_domain, signature(APP_SECRET, body), name,
                                     "2025-10", datetime.now(timezone.utc).isoformat())
            ids[name] = receive_webhook(offline.database, offline.box, headers, body).id
        now = datetime.now(timezone.utc)
        with offline.database.session() as db:
            for name, state, age in (("old-done", "done", KEEP_DAYS + 1), ("old-queued", "queued", KEEP_DAYS + 1),
                                     ("new-done", "done", KEEP_DAYS - 1)):
                db.execute(update(StoreWebhook).where(StoreWebhook.id == ids[name])
                           .values(state=state, received_at=now - timedelta(days=age)))
        with offline.database.session() as db:
            assert purge_finished(db, now - timedelta(days=KEEP_DAYS)) == 1
        with offline.database.session() as db:
            left = set(db.scalars(select(StoreWebhook.webhook_id)))
        assert left == {"old-queued", "new-done"}
