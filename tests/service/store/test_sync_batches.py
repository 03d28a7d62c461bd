"""Write-backs in batches: the calls that take lists carry the whole batch, a refusal of a batched call is pinned
on its product alone, and write-backs overlap the cutting instead of following it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Iterator

import pytest

from service.bench.fakestore import operations
from service.db.schema import SyncItem
from service.store import marker
from service.store.sync import MIN_BATCH
from service.store.sync_revert import revert_sync
from tests.fakestore import sample_products
from tests.service.store.sync_fixtures import PUBLISH, Harness, harness_for

PRODUCTS = 12
LOCKED = "gid://shopify/Product/1005"


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with harness_for(tmp_path, sample_products(PRODUCTS, images_per_product=1), photo_side=96) as made:
        yield made


def refuse_for(monkeypatch: pytest.MonkeyPatch, name: str, product_id: str, owner: Callable[[dict], list[str]]) -> None:
    """The fake shop refuses the whole `name` call (all or nothing) while it touches `product_id`."""
    resolve = operations.RESOLVERS[name]

    def refusing(store, variables: dict):
        if product_id in owner(variables):
            field = {"MetafieldsSet": "metafieldsSet", "FileDelete": "fileDelete"}[name]
            return {field: {"userErrors": [{"field": ["id"], "message": "Product is locked by another app",
                                            "code": "INVALID"}]}}, 10, 10
        return resolve(store, variables)

    monkeypatch.setitem(operations.RESOLVERS, name, refusing)


def states(harness: Harness, sync_id: str) -> dict[str, SyncItem]:
    with harness.database.session() as db:
        return {row.product_id: row for row in db.query(SyncItem).filter(SyncItem.sync_id == sync_id)}


def test_list_taking_calls_carry_the_whole_batch_and_nothing_is_read_apart(harness: Harness) -> None:
    summary = harness.sync(**PUBLISH)
    calls = harness.shop.operations
    assert summary.state == "done" and summary.counts["published"] == PRODUCTS
    batches = -(-PRODUCTS // MIN_BATCH)  # at most: a batch goes once it holds MIN_BATCH and the cuts lag
    assert calls["ProductAddMedia"] == PRODUCTS
    assert 1 <= calls["StagedUploadsCreate"] <= batches and calls["MetafieldsSet"] <= batches
    assert calls["FileDelete"] <= batches
    assert calls["ProductMetafield"] == 0  # marks came with the catalogue page and with productUpdate's answer


@pytest.mark.parametrize("refused", ["MetafieldsSet", "FileDelete"])
def test_a_batched_call_refused_for_one_product_fails_that_product_alone(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, refused: str) -> None:
    shop = harness.shop
    first = harness.sync(**PUBLISH)  # every product has ours and its mark
    before = [(m.id, m.file_name) for m in shop.products[LOCKED].media]
    marks_before = shop.products[LOCKED].metafields[(marker.NAMESPACE, marker.KEY)]["value"]
    if refused == "MetafieldsSet":
        refuse_for(monkeypatch, refused, LOCKED, lambda v: [str(e["ownerId"]) for e in v["metafields"]])
    else:
        doomed = shop.products[LOCKED].media[0].id
        refuse_for(monkeypatch, refused, LOCKED, lambda v: [LOCKED] if doomed in v["fileIds"] else [])
    second = harness.sync(render={"format": "png", "size": "200", "background": "#ffcc00"}, publish_all=True)
    rows = states(harness, second.id)
    assert first.counts["published"] == PRODUCTS and second.state == "done"
    assert second.counts["published"] == PRODUCTS - 1 and second.counts["failed"] == 1
    assert rows[LOCKED].state == "failed" and "locked by another app" in rows[LOCKED].reason
    assert [(m.id, m.file_name) for m in shop.products[LOCKED].media] == before  # ours taken off again
    assert shop.products[LOCKED].metafields[(marker.NAMESPACE, marker.KEY)]["value"] == marks_before


def test_write_backs_overlap_the_cutting(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    cuts: list[tuple[float, float]] = []
    attached: list[float] = []
    process = harness.context.process

    def slow_cut(item_id: str) -> None:
        start = time.monotonic()
        process(item_id)
        time.sleep(0.05)  # cuts slower than the writer's bookkeeping: the writer catches up after each one
        cuts.append((start, time.monotonic()))

    resolve = operations.RESOLVERS["ProductAddMedia"]

    def timed_attach(store, variables: dict):
        attached.append(time.monotonic())
        return resolve(store, variables)

    monkeypatch.setitem(operations.RESOLVERS, "ProductAddMedia", timed_attach)
    harness.context = dataclasses.replace(harness.context, process=slow_cut)
    summary = harness.sync(**PUBLISH)
    assert summary.counts["published"] == PRODUCTS and len(cuts) == PRODUCTS
    during_a_cut = [moment for moment in attached if any(start < moment < end for start, end in cuts)]
    assert during_a_cut, "no photo was attached while a product was being cut"


def test_a_revert_puts_originals_back_in_batches_and_a_refused_product_stays_published(harness: Harness) -> None:
    shop = harness.shop

    def contents(pid: str) -> list[bytes | str]:  # each photo's bytes (a video: its id)
        return [shop.images[m.file_name] if m.file_name else m.id for m in shop.products[pid].media]

    originals = {pid: contents(pid) for pid in shop.products}
    synced = harness.sync(**PUBLISH)
    ours_on_locked = [m.id for m in shop.products[LOCKED].media]
    staged = shop.operations["StagedUploadsCreate"]
    shop.fail_product(LOCKED, "Product is locked by another app")
    reverted = revert_sync(harness.context, synced.id)
    assert reverted.state == "reverting" and reverted.counts["reverted"] == PRODUCTS - 1, reverted
    assert states(harness, synced.id)[LOCKED].state == "published"
    assert "revert failed" in states(harness, synced.id)[LOCKED].reason
    assert [m.id for m in shop.products[LOCKED].media] == ours_on_locked  # nothing of the revert left on it
    for pid, media in originals.items():
        if pid != LOCKED:  # byte-identical originals back, in place, and nothing of ours
            assert contents(pid) == media
    assert shop.operations["StagedUploadsCreate"] == staged + 1  # one batch (productUpdate refused one product)
    shop.user_errors.clear()
    staged = shop.operations["StagedUploadsCreate"]
    again = revert_sync(harness.context, synced.id)
    assert again.state == "reverted" and shop.operations["StagedUploadsCreate"] == staged + 1
    assert contents(LOCKED) == originals[LOCKED]


def test_photos_still_processing_are_awaited_before_variants_are_linked_and_originals_go(harness: Harness) -> None:
    shop = harness.shop
    shop.media_polls_to_ready = 2  # as on Shopify: productUpdate answers before the photo is processed
    product = shop.products["gid://shopify/Product/1002"]
    product.variants = {"gid://shopify/ProductVariant/1": [product.media[0].id]}
    summary = harness.sync(**PUBLISH)
    assert summary.counts["published"] == PRODUCTS, summary  # variant links of non-ready media are refused
    ours = product.media[0]
    assert ours.status == "READY" and "promptcut" in ours.file_name and len(product.media) == 1
    assert product.variants == {"gid://shopify/ProductVariant/1": [ours.id]}
    assert 2 <= shop.operations["MediaStatus"] <= 2 * -(-PRODUCTS // MIN_BATCH)  # one query per batch and poll


def test_a_photo_the_store_cannot_process_fails_its_product_which_keeps_its_original(harness: Harness) -> None:
    shop = harness.shop
    shop.media_polls_to_ready = 1
    shop.failing_processing.add(LOCKED)
    original = [(m.id, m.file_name) for m in shop.products[LOCKED].media]
    summary = harness.sync(**PUBLISH)
    row = states(harness, summary.id)[LOCKED]
    assert summary.counts["published"] == PRODUCTS - 1 and row.state == "failed", summary
    assert "could not process the new photo (failed)" in row.reason
    assert [(m.id, m.file_name) for m in shop.products[LOCKED].media] == original
    assert marker.KEY not in {key for _, key in shop.products[LOCKED].metafields}
