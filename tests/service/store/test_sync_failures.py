"""A sync when the store says no: one product's userErrors fail that product alone; a token revoked in the
middle of a product's write-back stops the sync with the reason and leaves that product's original in place;
cuts that need review or fail the marketplace rule are held, never uploaded."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

from service.db.schema import SyncItem
from tests.fakestore import sample_products
from tests.service.store.sync_fixtures import PUBLISH, Harness, harness_for


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with harness_for(tmp_path, sample_products(4)) as made:
        yield made


def rows(harness: Harness, sync_id: str) -> dict[str, SyncItem]:
    with harness.database.session() as db:
        return {row.product_id: row for row in db.query(SyncItem).filter(SyncItem.sync_id == sync_id)}


def test_a_product_with_user_errors_fails_alone(harness: Harness) -> None:
    shop = harness.shop
    locked = "gid://shopify/Product/1002"
    original = [m.id for m in shop.products[locked].media]
    shop.fail_product(locked, "Product is locked by another app")
    summary = harness.sync(**PUBLISH)
    assert summary.state == "done"
    assert (summary.counts["published"], summary.counts["failed"]) == (3, 1)
    failed = rows(harness, summary.id)[locked]
    assert failed.state == "failed" and "Product is locked by another app" in failed.reason
    assert [m.id for m in shop.products[locked].media] == original  # nothing of ours left behind


def test_a_token_revoked_mid_batch_stops_the_sync_and_keeps_the_originals_in_hand(harness: Harness) -> None:
    shop = harness.shop
    in_hand = ["gid://shopify/Product/1001", "gid://shopify/Product/1002"]
    originals = {pid: [m.id for m in shop.products[pid].media] for pid in in_hand}
    shop.revoke_after("ProductAddMedia", 2)  # ours is on 1001 and 1002 (one batch), nothing after goes through
    summary = harness.sync(**PUBLISH)
    assert summary.state == "stopped" and summary.error_code == "store_unauthorized"
    assert "refused the access token" in summary.error_message and shop.token not in summary.error_message
    assert summary.counts["published"] == 0 and summary.counts["planned"] == 4  # the batch was not finished
    for pid in in_hand:  # the original stays, first
        assert [m.id for m in shop.products[pid].media][: len(originals[pid])] == originals[pid]
    untouched = "gid://shopify/Product/1003"
    assert all("promptcut" not in m.file_name for m in shop.products[untouched].media)
    assert "stopped" in summary.line() and "refused the access token" in summary.line()
    shop.revoked = False  # the seller connects again: the rerun finishes, leaving no stray photo of ours
    again = harness.sync(**PUBLISH)
    assert again.state == "done" and again.counts["published"] == 4, again
    for pid in in_hand:
        files = [m.file_name for m in shop.products[pid].media]
        assert "promptcut" in files[0] and sum("promptcut" in name for name in files) == 1, files
        assert not set(originals[pid][:1]) & {m.id for m in shop.products[pid].media}


def test_cuts_failing_the_marketplace_rule_are_held_and_never_uploaded(harness: Harness) -> None:
    shop = harness.shop
    summary = harness.sync(render={"format": "png", "size": "200"})  # white, but 200 px < 1000 px
    assert summary.state == "done" and summary.counts["held"] == 4 and summary.counts["published"] == 0
    assert shop.upload_posts == 0 and shop.operations["ProductAddMedia"] == 0
    reasons = [row.reason for row in rows(harness, summary.id).values()]
    assert all("image_too_small" in reason or reason.startswith("needs review") for reason in reasons), reasons
    assert any("image_too_small" in reason for reason in reasons), reasons
    assert summary.line().startswith(f"sync {summary.id} done: 0 published, 4 held, 0 failed, 0 unchanged")


def test_a_cut_that_needs_review_is_held(harness: Harness) -> None:
    shop = harness.shop
    blank = "gid://shopify/Product/1004"
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)  # nothing to find
    canvas = Image.fromarray(noise)
    out = io.BytesIO()
    canvas.save(out, "PNG")
    with shop.lock:
        shop.images[shop.products[blank].media[0].file_name] = out.getvalue()
    summary = harness.sync(render={"format": "png", "size": "1000", "background": "#eeeeee"})
    row = rows(harness, summary.id)[blank]
    assert row.state == "held" and row.reason.startswith("needs review"), (row.state, row.reason)
    assert summary.counts["held"] >= 1 and shop.upload_posts == summary.counts["published"]
    assert all("promptcut" not in m.file_name for m in shop.products[blank].media)
