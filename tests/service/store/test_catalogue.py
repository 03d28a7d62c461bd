"""Pulling a catalogue from the fake shop: cursor pagination, selections as search strings, the bulk operation,
and the text handed to prompting."""

from __future__ import annotations

from collections import Counter

import pytest

from fusion.errors import InvalidOptionError
from service.store.catalogue import (
    PAGE_SIZE,
    BulkPolling,
    Selection,
    StoreProduct,
    parse_bulk_jsonl,
    prompt_text,
    pull_products,
    pull_products_bulk,
    pull_selection,
    search_query,
)
from service.store.shopify_api import ShopifyClient, StoreRequestError
from tests.fakestore import FakeShopify, LeakyBucket, sample_products


@pytest.fixture
def big_shop():
    # A bucket that refills at once: these tests are about what is returned, test_shopify_api about pacing.
    with FakeShopify(sample_products(500), bucket=LeakyBucket(restore_rate=1_000_000)) as fake:
        yield fake


def test_pagination_returns_every_product_exactly_once(big_shop: FakeShopify) -> None:
    with ShopifyClient(big_shop.api_url, big_shop.token) as client:
        products = list(pull_products(client, page_size=40))
    counts = Counter(product.id for product in products)
    assert len(counts) == 500 and set(counts.values()) == {1}
    assert set(counts) == set(big_shop.products)
    assert big_shop.operations["ProductsPage"] == 13  # ceil(500 / 40): no page fetched twice


def test_products_carry_their_images_in_media_order(shop: FakeShopify) -> None:
    with ShopifyClient(shop.api_url, shop.token) as client:
        products = {product.handle: product for product in pull_products(client)}
    third = products["product-1003"]  # image, video, image
    assert [image.position for image in third.images] == [0, 2]
    assert [image.media_id for image in third.images] == [media.id for media in shop.products[third.id].media
                                                          if media.content_type == "IMAGE"]
    first = products["product-1001"]
    assert first.title == "Product 1001" and first.product_type == "Mugs" and first.tags == ("sale",)
    assert first.status == "ACTIVE" and first.vendor == "Fake Vendor"
    image = first.images[0]
    assert (image.alt, image.width, image.height) == ("photo 0 of product 1001", 64, 48)
    with ShopifyClient(shop.api_url, shop.token) as client:
        assert client.download(image.url).startswith(b"\x89PNG")


def test_a_selection_is_one_search_string() -> None:
    assert search_query(Selection()) == ""
    selection = Selection(collection="gid://shopify/Collection/42", tag='12" vinyl', product_type="Records",
                          status="ACTIVE", query="vendor:Acme OR vendor:Beta")
    assert search_query(selection) == ('collection_id:42 AND tag:"12\\" vinyl" AND product_type:"Records" '
                                       'AND status:active AND (vendor:Acme OR vendor:Beta)')
    with pytest.raises(InvalidOptionError):
        search_query(Selection(collection="summer"))
    with pytest.raises(InvalidOptionError):
        search_query(Selection(status="deleted"))


@pytest.mark.parametrize("selection", [
    Selection(collection="2"),
    Selection(tag="summer sale", status="active"),
    Selection(product_type="Lamps", query='title:"Product 10"'),
])
def test_selections_pull_exactly_the_matching_products(shop: FakeShopify, selection: Selection) -> None:
    with ShopifyClient(shop.api_url, shop.token) as client:
        pulled = [product.id for product in pull_products(client, selection, page_size=4)]
    expected = {product.id for product in shop.products.values() if
                (selection.collection is None or 2 in product.collections)
                and (selection.tag is None or selection.tag in product.tags)
                and (selection.status is None or product.status == "ACTIVE")
                and (selection.product_type is None or product.product_type == selection.product_type)
                and (selection.query is None or "Product 10" in product.title)}
    assert 0 < len(pulled) < len(shop.products)
    assert sorted(pulled) == sorted(expected)


def test_the_bulk_operation_returns_what_pagination_returns(big_shop: FakeShopify) -> None:
    naps: list[float] = []
    with ShopifyClient(big_shop.api_url, big_shop.token) as client:
        paged = list(pull_products(client))
        bulk = pull_products_bulk(client, polling=BulkPolling(interval=0.5), sleep=naps.append)
        tagged = pull_products_bulk(client, Selection(tag="sale"), sleep=naps.append)
    assert bulk == paged and len(bulk) == 500
    assert tagged == [product for product in paged if "sale" in product.tags]
    assert naps == [0.5, 2.0]  # polled while RUNNING, at the chosen interval
    assert big_shop.tokens_sent_to_files == 0  # the result file is fetched without the API token


def test_a_bulk_result_with_an_orphan_line_is_refused() -> None:
    with pytest.raises(StoreRequestError):
        parse_bulk_jsonl('{"id": "gid://shopify/MediaImage/1", "__parentId": "gid://shopify/Product/9"}\n')


def test_prompt_text_adds_type_and_tags_not_already_in_the_title() -> None:
    product = StoreProduct(id="gid://shopify/Product/1", handle="mug", title="Blue Ceramic Mug",
                           product_type="Mugs", vendor="v", tags=("kitchen", "mug", "gift"), status="ACTIVE",
                           images=())
    assert prompt_text(product) == "Blue Ceramic Mug (Mugs, kitchen, gift)"
    assert prompt_text(StoreProduct("1", "h", "Lamp", "", "", (), "ACTIVE", ())) == "Lamp"


FAST = BulkPolling(interval=0.01)


@pytest.mark.parametrize("selection, bulk", [(Selection(), True), (Selection(tag="sale"), False)])
def test_a_large_selection_is_read_with_one_bulk_operation_a_small_one_by_pages(
        big_shop: FakeShopify, selection: Selection, bulk: bool) -> None:
    big_shop.products["gid://shopify/Product/1001"].metafields[("promptcut", "media")] = {
        "id": "gid://shopify/Metafield/1", "namespace": "promptcut", "key": "media", "type": "json",
        "value": '{"gid://shopify/MediaImage/7": {"source": "ab", "look": "cd", "original": "x", "sync": "s"}}'}
    with ShopifyClient(big_shop.api_url, big_shop.token) as client:
        chosen = list(pull_selection(client, selection, bulk_from=200, polling=FAST))
        paged = list(pull_products(client, selection))
    assert chosen == paged and big_shop.operations["BulkProductsRun"] == (1 if bulk else 0)
    assert (len(paged) >= 200) == bulk  # 500 products; 125 are tagged sale
    marked = [product for product in chosen if product.marks]
    assert [product.marks["gid://shopify/MediaImage/7"].look for product in marked] == ["cd"]  # 1001 is in both
    assert all(product.marks is not None for product in chosen)  # read with the product: never "unknown"


def test_a_bulk_operation_the_store_will_not_run_falls_back_to_pages(big_shop: FakeShopify) -> None:
    big_shop.bulk = {"id": "gid://shopify/BulkOperation/99", "status": "RUNNING", "polls_left": 99, "jsonl": "",
                     "count": 0}  # another bulk query of ours is in progress
    with ShopifyClient(big_shop.api_url, big_shop.token) as client:
        products = list(pull_selection(client, Selection(), bulk_from=200, polling=FAST))
    assert len(products) == 500 and big_shop.operations["ProductsPage"] == -(-500 // PAGE_SIZE)
