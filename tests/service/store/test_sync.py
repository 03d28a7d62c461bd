"""`store sync` write-back against the fake shop over loopback, with the real job runner and the classical
segmenter: ours in the original's place with its alt text, add-first, variant links, reruns that change and
upload nothing, revert to the byte-identical originals."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from service.db import repo
from service.db.schema import Item, SyncItem
from service.store import marker
from service.store.sync_revert import revert_sync
from tests.fakestore import FakeShopify, sample_products
from tests.service.store.sync_fixtures import PUBLISH, Harness, harness_for


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with harness_for(tmp_path, sample_products(4)) as made:
        yield made


def media_files(shop: FakeShopify, product_id: str) -> list[str]:
    return [media.file_name for media in shop.products[product_id].media]


def test_sync_puts_ours_first_in_the_originals_place_with_its_alt_text(harness: Harness) -> None:
    shop = harness.shop
    before = {pid: [(m.id, m.alt) for m in product.media] for pid, product in shop.products.items()}
    summary = harness.sync(**PUBLISH)
    assert summary.state == "done", summary
    assert summary.counts["published"] == 4 and summary.counts["failed"] == 0
    assert shop.upload_posts == 4
    for product_id, media in before.items():
        now = shop.products[product_id].media
        assert len(now) == len(media)  # policy replace: ours in, the original out
        assert now[0].id != media[0][0] and now[0].file_name.split("-", 1)[1].startswith(marker.FILE_PREFIX)
        assert now[0].alt == media[0][1]  # alt text kept
        assert [m.id for m in now[1:]] == [m[0] for m in media[1:]]  # the other media untouched, in order
        marks = marker.parse_marks(shop.products[product_id].metafields[("promptcut", "media")]["value"])
        assert set(marks) == {now[0].id} and marks[now[0].id].original == media[0][0]
    with harness.database.session() as db:  # one promptcut job, whose items are the cuts
        items = db.query(Item).filter(Item.job_id == summary.job_id).all()
        assert len(items) == 4 and all(item.state == "done" for item in items)
        assert {item.title for item in items} >= {"Product 1001 (Mugs, sale)"}
    # what went up is the job's output, byte for byte
    uploaded = shop.images[shop.products["gid://shopify/Product/1001"].media[0].file_name]
    with harness.database.session() as db:
        row = db.query(SyncItem).filter(SyncItem.product_id == "gid://shopify/Product/1001").one()
        assert harness.services.store.get(repo.current_artifact(db, row.item_id, "output").digest) == uploaded


def test_add_first_keeps_the_original_right_after_ours(harness: Harness) -> None:
    shop = harness.shop
    original = [m.id for m in shop.products["gid://shopify/Product/1002"].media]
    summary = harness.sync(**PUBLISH, policy="add-first")
    assert summary.counts["published"] == 4
    now = [m.id for m in shop.products["gid://shopify/Product/1002"].media]
    assert now[1:] == original and now[0] not in original


def test_variant_links_follow_ours_before_the_original_goes(harness: Harness) -> None:
    shop = harness.shop
    product = shop.products["gid://shopify/Product/1001"]
    first, second = product.media[0].id, product.media[1].id
    product.variants = {"gid://shopify/ProductVariant/1": [first], "gid://shopify/ProductVariant/2": [second]}
    harness.sync(**PUBLISH)
    ours = product.media[0].id
    assert product.variants == {"gid://shopify/ProductVariant/1": [ours], "gid://shopify/ProductVariant/2": [second]}


def test_a_rerun_with_the_same_look_uploads_and_changes_nothing(harness: Harness) -> None:
    shop = harness.shop
    harness.sync(**PUBLISH, all_images=True)
    state = {pid: [(m.id, m.file_name, m.alt) for m in p.media] for pid, p in shop.products.items()}
    posts, mutations = shop.upload_posts, sum(shop.operations[name] for name in (
        "StagedUploadsCreate", "ProductAddMedia", "FileDelete", "ProductReorderMedia", "MetafieldsSet"))
    again = harness.sync(**PUBLISH, all_images=True)
    assert again.state == "done" and again.counts["unchanged"] == 8 and again.counts["published"] == 0
    assert again.job_id is None  # nothing cut: our own output is never cut again
    assert shop.upload_posts == posts
    assert sum(shop.operations[name] for name in ("StagedUploadsCreate", "ProductAddMedia", "FileDelete",
                                                  "ProductReorderMedia", "MetafieldsSet")) == mutations
    assert {pid: [(m.id, m.file_name, m.alt) for m in p.media] for pid, p in shop.products.items()} == state


def test_a_new_look_redoes_ours_from_the_saved_original(harness: Harness) -> None:
    shop = harness.shop
    harness.sync(**PUBLISH)
    first = [m.id for m in shop.products["gid://shopify/Product/1001"].media]
    swapped = harness.sync(render={"format": "png", "size": "200", "background": "#ffcc00"}, publish_all=True)
    assert swapped.counts["published"] == 4, swapped
    now = [m.id for m in shop.products["gid://shopify/Product/1001"].media]
    assert len(now) == len(first) and now[0] not in first and now[1:] == first[1:]


@pytest.mark.parametrize("policy", ["replace", "add-first"])
def test_revert_restores_the_byte_identical_originals_in_place(harness: Harness, policy: str) -> None:
    shop = harness.shop
    before = {pid: [(shop.images[m.file_name], m.alt) for m in p.media if m.file_name]
              for pid, p in shop.products.items()}
    links = {"gid://shopify/ProductVariant/9": [shop.products["gid://shopify/Product/1003"].media[0].id]}
    shop.products["gid://shopify/Product/1003"].variants = links
    summary = harness.sync(**PUBLISH, policy=policy, all_images=True)
    assert summary.counts["published"] == 8
    reverted = revert_sync(harness.context, summary.id)
    assert reverted.state == "reverted" and reverted.counts["reverted"] == 8, reverted
    after = {pid: [(shop.images[m.file_name], m.alt) for m in p.media if m.file_name]
             for pid, p in shop.products.items()}
    assert after == before
    product = shop.products["gid://shopify/Product/1003"]
    assert product.variants["gid://shopify/ProductVariant/9"] == [product.media[0].id]
    assert [m.content_type for m in product.media] == ["IMAGE", "VIDEO", "IMAGE"]  # positions around the video


def test_a_move_is_made_only_when_it_changes_the_order_the_product_ends_with() -> None:
    from service.store.writeback import move_needed

    # one photo replaced: ours was appended after it, and it goes: ours ends first without a move
    assert not move_needed(["orig", "ours"], "ours", 0, ["orig"])
    # the main photo of three replaced: ours must move to the front
    assert move_needed(["orig", "b", "c", "ours"], "ours", 0, ["orig"])
    # the last of three replaced: ours is already where it belongs
    assert not move_needed(["a", "b", "orig", "ours"], "ours", 2, ["orig"])
    # add-first keeps the original: ours goes in front of it
    assert move_needed(["orig", "ours"], "ours", 0, [])
