"""POST /v1/store-webhooks over loopback: signatures checked before anything is recorded, duplicates and
replays, auto-process off, the privacy topics, and the store's webhook settings over HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from service.db import repo
from tests.fakestore import FakeShopify
from tests.service.store.webhooks_harness import APP_SECRET, add_product, product_payload, uploads, webhook_world


def test_a_signed_delivery_is_queued_and_with_auto_process_off_nothing_is_written(tmp_path: Path,
                                                                                    shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop) as world:
        product = add_product(shop, 2001, "coffee-cup.jpg")
        answer = world.send("products/create", product_payload(shop, product.id))
        assert answer.status_code == 200, answer.text
        receipt = answer.json()
        assert receipt["topic"] == "products/create" and receipt["state"] == "queued" and not receipt["duplicate"]
        row = world.wait(receipt["id"])
        assert row.state == "skipped" and "auto-process is off" in row.reason
        assert row.product == {"id": product.id, "images": [f"{shop.url}/images/new-2001.jpg"]}
        assert row.sync_id is None and uploads(shop) == 0
        assert shop.products[product.id].media[0].file_name == "new-2001.jpg"


def test_unsigned_forged_wrong_secret_and_tampered_deliveries_are_refused_with_nothing_recorded(
        tmp_path: Path, shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop, auto_process=True) as world:
        payload = product_payload(shop, next(iter(shop.products)))
        tampered = json.dumps({**payload, "title": "changed on the way"}).encode()
        answers = {
            "unsigned": world.send("products/update", payload, secret=None),
            "wrong secret": world.send("products/update", payload, secret="shpss_someone_else"),
            "tampered body": world.send("products/update", payload, body=tampered),
            "another shop": world.send("products/update", payload, shop_domain="other-shop.myshopify.com"),
        }
        forged = dict(payload)
        forged_headers = {"X-Shopify-Topic": "products/update", "X-Shopify-Shop-Domain": shop.shop_domain,
                          "X-Shopify-Webhook-Id": "forged-1", "X-Shopify-Hmac-Sha256": "bm90IGEgc2lnbmF0dXJl",
                          "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat()}
        answers["forged header"] = httpx.post(f"{world.url}/v1/store-webhooks", json=forged, headers=forged_headers,
                                              timeout=30)
        for case, answer in answers.items():
            assert answer.status_code == 401, (case, answer.text)
            assert answer.json()["error"]["code"] == "webhook_unauthorized", case
            assert APP_SECRET not in answer.text
        assert world.deliveries() == 0 and uploads(shop) == 0


def test_a_duplicate_webhook_id_is_answered_200_and_recorded_once(tmp_path: Path, shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop) as world:
        payload = product_payload(shop, next(iter(shop.products)))
        first = world.send("products/update", payload, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
        again = world.send("products/update", payload, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
        assert first.status_code == 200 and again.status_code == 200, again.text
        assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
        assert world.deliveries() == 1
        other = world.send("products/update", payload, webhook_id="another-delivery")
        assert other.status_code == 200 and not other.json()["duplicate"] and world.deliveries() == 2


def test_a_delivery_older_than_the_window_is_refused_and_a_recent_retry_accepted(tmp_path: Path,
                                                                                 shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop, max_age=3600) as world:
        payload = product_payload(shop, next(iter(shop.products)))
        now = datetime.now(timezone.utc)
        old = world.send("products/update", payload, triggered_at=now - timedelta(hours=2))
        assert old.status_code == 400 and old.json()["error"]["code"] == "webhook_too_old", old.text
        future = world.send("products/update", payload, triggered_at=now + timedelta(hours=1))
        assert future.status_code == 400 and future.json()["error"]["code"] == "webhook_too_old"
        assert world.deliveries() == 0
        retry = world.send("products/update", payload, triggered_at=now - timedelta(minutes=30))
        assert retry.status_code == 200 and world.deliveries() == 1


def test_privacy_webhooks_are_acknowledged_and_keep_no_customer_data(tmp_path: Path, shop: FakeShopify) -> None:
    customer = {"shop_domain": shop.shop_domain, "customer": {"id": 191167, "email": "john@example.com",
                                                              "phone": "555-625-1199"}, "orders_requested": [299938]}
    with webhook_world(tmp_path, shop) as world:
        for topic in ("customers/data_request", "customers/redact"):
            answer = world.send(topic, customer)
            assert answer.status_code == 200 and answer.json()["state"] == "done", answer.text
            row = world.delivery(answer.json()["id"])
            assert row.topic == topic and row.product is None and "no customer data" in row.reason
        unknown = world.send("orders/create", {"id": 1})
        assert unknown.status_code == 200 and unknown.json()["state"] == "ignored"


def test_webhook_settings_over_http_never_show_the_secret(tmp_path: Path, shop: FakeShopify) -> None:
    with webhook_world(tmp_path, shop) as world:
        with world.database.session() as db:
            other = {"X-Api-Key": repo.create_key(db, "someone else")[1]}
        own = {"X-Api-Key": world.api_key}
        url = f"{world.url}/v1/stores/{world.store_id}/webhooks"
        shown = httpx.get(url, headers=own, timeout=30)
        assert shown.status_code == 200, shown.text
        assert shown.json()["secret_set"] is True and shown.json()["auto_process"] is False
        assert shown.json()["look"]["background"] == "#ffcc00" and APP_SECRET not in shown.text

        changed = httpx.patch(url, headers=own, json={"auto_process": True, "look": {"size": "300"}}, timeout=30)
        assert changed.status_code == 200 and changed.json()["auto_process"] is True, changed.text
        assert changed.json()["secret_set"] is True and changed.json()["look"]["background"] != "#ffcc00"
        bad = httpx.patch(url, headers=own, json={"look": {"format": "gif"}}, timeout=30)
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "format"
        assert httpx.get(url, headers=other, timeout=30).status_code == 404
        assert httpx.patch(url, headers=other, json={"secret": "x"}, timeout=30).status_code == 404

        new_secret = httpx.patch(url, headers=own, json={"secret": "shpss_rotated"}, timeout=30)
        assert new_secret.status_code == 200 and "shpss_rotated" not in new_secret.text
        payload = product_payload(shop, next(iter(shop.products)))
        assert world.send("products/update", payload).status_code == 401
        assert world.send("products/update", payload, secret="shpss_rotated").status_code == 200
        removed = httpx.patch(url, headers=own, json={"secret": ""}, timeout=30)
        assert removed.json()["secret_set"] is False
        assert world.send("products/update", payload, secret="shpss_rotated").status_code == 401
