"""A store's catalogue as promptcut needs it: products with their images, pulled page by page or, for large
catalogues, with one bulk operation (Shopify runs the query and hands back a JSONL file).

Which products: a Selection becomes one Shopify product search string. A collection is matched with the
`collection_id:` search term rather than by walking `collection(id:).products`, so one query and one paging
loop (and one bulk query) serve every kind of selection, combinable with tag / type / status.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fusion.errors import InvalidOptionError
from service.store import marker, queries
from service.store.marker import MediaMark
from service.store.shopify_api import ShopifyClient, StoreRequestError

# 19 products × 20 media, with our marks: a requested cost of 458 of the bucket's 1000 (2 + 19 × (4 + 20)).
PAGE_SIZE = 19
MEDIA_PER_PRODUCT = 20
log = logging.getLogger("promptcut.store.catalogue")
STATUSES = ("active", "draft", "archived")
# From this many products on, a selection is read with one bulk operation: it costs a few points whatever its
# size, where pages cost about 5 points a product (each product, media node and image is an object) — points a
# sync then has for writing back. Below it, pages answer sooner (no operation to wait for).
BULK_FROM = 200


@dataclass(frozen=True)
class StoreImage:
    """One image of a product: a MediaImage. `position` is its 0-based place among all the product's media."""

    media_id: str
    url: str
    alt: str
    position: int
    width: int | None
    height: int | None


@dataclass(frozen=True)
class StoreProduct:
    id: str  # gid://shopify/Product/…
    handle: str
    title: str
    product_type: str
    vendor: str
    tags: tuple[str, ...]
    status: str  # ACTIVE | DRAFT | ARCHIVED
    images: tuple[StoreImage, ...]
    # Our marks (service.store.marker) as read with the product; None when the answer did not carry them
    # (then whoever needs them reads them apart: never taken for "no marks").
    marks: Mapping[str, MediaMark] | None = None


@dataclass(frozen=True)
class Selection:
    """Which products to pull; every given criterion must hold. `query` is raw Shopify search syntax."""

    collection: str | None = None  # a collection id: numeric or gid://shopify/Collection/…
    tag: str | None = None
    product_type: str | None = None
    status: str | None = None  # active | draft | archived
    query: str | None = None


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def search_query(selection: Selection) -> str:
    """The Shopify search string for `selection` ("" = every product). Values are double-quoted, so a tag with
    spaces or quotes stays one term. Raises InvalidOptionError for a malformed collection id or status."""
    terms = []
    if selection.collection:
        numeric = selection.collection.strip().rsplit("/", 1)[-1]
        if not numeric.isdigit():
            raise InvalidOptionError(f"collection {selection.collection!r} is not a collection id")
        terms.append(f"collection_id:{numeric}")
    if selection.tag:
        terms.append(f"tag:{_quoted(selection.tag.strip())}")
    if selection.product_type:
        terms.append(f"product_type:{_quoted(selection.product_type.strip())}")
    if selection.status:
        status = selection.status.strip().lower()
        if status not in STATUSES:
            raise InvalidOptionError(f"status must be one of {', '.join(STATUSES)}")
        terms.append(f"status:{status}")
    if selection.query and selection.query.strip():
        terms.append(f"({selection.query.strip()})")
    return " AND ".join(terms)


def prompt_text(product: StoreProduct) -> str:
    """What to keep, for prompting: the title, then the product type and tags that say what the product is."""
    extra = [part for part in (product.product_type, *product.tags) if part and part.lower() not in
             product.title.lower()]
    return f"{product.title} ({', '.join(extra)})" if extra else product.title


# --- parsing ---------------------------------------------------------------------------------------------------


def _image(node: Mapping[str, Any], position: int) -> StoreImage | None:
    image = node.get("image") or {}
    if node.get("__typename") != "MediaImage" or not image.get("url"):
        return None  # a video or 3D model, or an image still processing: nothing to cut out
    return StoreImage(media_id=str(node["id"]), url=str(image["url"]), alt=str(node.get("alt") or ""),
                      position=position, width=image.get("width"), height=image.get("height"))


def _product(node: Mapping[str, Any], media: list[Mapping[str, Any]]) -> StoreProduct:
    images = tuple(image for position, item in enumerate(media) if (image := _image(item, position)))
    return StoreProduct(
        id=str(node["id"]), handle=str(node.get("handle") or ""), title=str(node.get("title") or ""),
        product_type=str(node.get("productType") or ""), vendor=str(node.get("vendor") or ""),
        tags=tuple(str(tag) for tag in node.get("tags") or ()), status=str(node.get("status") or ""),
        images=images, marks=marker.parse_marks((node.get("ourMarks") or {}).get("value"))
        if "ourMarks" in node else None,
    )


# --- paging ---------------------------------------------------------------------------------------------------


def pull_products(client: ShopifyClient, selection: Selection = Selection(), *, page_size: int = PAGE_SIZE,
                  media_per_product: int = MEDIA_PER_PRODUCT) -> Iterator[StoreProduct]:
    """Every selected product, page by page (cursor pagination, sorted by id so pages never overlap)."""
    search = search_query(selection)
    after: str | None = None
    while True:
        data = client.execute(queries.PRODUCTS_PAGE, {"first": page_size, "after": after, "query": search or None,
                                                      "mediaFirst": media_per_product})
        connection = data.get("products") or {}
        for node in connection.get("nodes") or ():
            yield _product(node, list((node.get("media") or {}).get("nodes") or ()))
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return
        after = page.get("endCursor")
        if not after:
            raise StoreRequestError(f"{client.shown}: a products page said there was more but gave no cursor")


def count_products(client: ShopifyClient, selection: Selection = Selection()) -> int:
    """How many products the selection holds (Shopify may cap the count: then at least that many)."""
    data = client.execute(queries.PRODUCTS_COUNT, {"query": search_query(selection) or None})
    return int((data.get("productsCount") or {}).get("count") or 0)


def pull_selection(client: ShopifyClient, selection: Selection = Selection(), *, bulk_from: int = BULK_FROM,
                   polling: "BulkPolling | None" = None) -> Iterator[StoreProduct]:
    """Every selected product: page by page for a small selection, one bulk operation for a large one (pages
    again when the store will not run it, e.g. another bulk query of ours is in progress)."""
    if count_products(client, selection) >= bulk_from:
        try:
            products = pull_products_bulk(client, selection, polling=polling or SYNC_POLLING)
        except StoreRequestError as exc:
            log.warning("%s: reading the catalogue page by page instead: %s", client.shown, exc)
        else:
            yield from products
            return
    yield from pull_products(client, selection)


# --- bulk -----------------------------------------------------------------------------------------------------

BULK_DONE = "COMPLETED"
BULK_FAILED = ("FAILED", "CANCELED", "CANCELLED", "EXPIRED")


@dataclass(frozen=True)
class BulkPolling:
    interval: float = 2.0  # seconds between status checks
    timeout: float = 3600.0


SYNC_POLLING = BulkPolling(interval=1.0)  # a sync waits on it before it can cut anything


def pull_products_bulk(client: ShopifyClient, selection: Selection = Selection(), *,
                       polling: BulkPolling = BulkPolling(), sleep: Callable[[float], None] = time.sleep,
                       clock: Callable[[], float] = time.monotonic) -> list[StoreProduct]:
    """Every selected product through one bulk operation: start it, poll it until it completes, download the
    JSONL result and put children (media lines, which carry `__parentId`) back under their product."""
    started = client.execute(queries.BULK_PRODUCTS_RUN,
                             {"query": queries.bulk_products_query(search_query(selection))})
    run = started.get("bulkOperationRunQuery") or {}
    problems = run.get("userErrors") or []
    if problems:
        raise StoreRequestError(f"{client.shown}: the bulk operation was refused: "
                                f"{' '.join(str(problems[0].get('message', '')).split())[:200]}")
    operation_id = str((run.get("bulkOperation") or {}).get("id") or "")
    if not operation_id:
        raise StoreRequestError(f"{client.shown}: the bulk operation did not start")
    deadline = clock() + polling.timeout
    while True:
        node = client.execute(queries.BULK_OPERATION_STATUS, {"id": operation_id}).get("node") or {}
        status = node.get("status")
        if status == BULK_DONE:
            break
        if status in BULK_FAILED:
            raise StoreRequestError(f"{client.shown}: the bulk operation ended {status} "
                                    f"({node.get('errorCode') or 'no error code'})")
        if clock() > deadline:
            raise StoreRequestError(f"{client.shown}: the bulk operation did not finish in {polling.timeout:.0f} s")
        sleep(polling.interval)
    url = node.get("url")
    if not url:
        return []  # Shopify gives no file when nothing matched
    return parse_bulk_jsonl(client.download(str(url)).decode("utf-8"))


def parse_bulk_jsonl(text: str) -> list[StoreProduct]:
    """Products from a bulk result: a product line, then (anywhere after it) lines with `__parentId` = its id."""
    order: list[str] = []
    nodes: dict[str, Mapping[str, Any]] = {}
    media: dict[str, list[Mapping[str, Any]]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise StoreRequestError(f"the bulk result's line {number} is not JSON") from None
        parent = row.get("__parentId")
        if parent is None:
            order.append(str(row["id"]))
            nodes[str(row["id"])] = row
            media.setdefault(str(row["id"]), [])
        elif parent in media:
            media[parent].append(row)
        else:
            raise StoreRequestError(f"the bulk result's line {number} names a parent it has not listed")
    return [_product(nodes[product_id], media[product_id]) for product_id in order]
