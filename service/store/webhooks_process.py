"""Work off one recorded products/create or products/update delivery: with the store's auto-process on, the
product's main image is cut and written back (or held) by a sync of that one product, with the store's look.

Nothing happens — no store call, no cut, no upload — when the delivery cannot lead to new work:
  - the product's main image is ours (its file name starts `promptcut-`): the update our own write-back caused,
    or a photo we already made; our output is never cut again;
  - the main image was already cut with the store's current look (a sync item of this store for that very
    media: published, held or unchanged): an edit of the price or the description changes nothing;
  - auto-process is off, or the store is disconnected (the delivery stays recorded, as `skipped`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from service.db.schema import StoreConnection, StoreWebhook, Sync, SyncItem
from service.store.catalogue import Selection, pull_products
from service.store.marker import is_our_url, look_hash
from service.store.sync import SyncContext, SyncOptions, run_sync, start_sync
from service.store.webhooks_config import checked_look

HANDLED = ("planned", "published", "held", "unchanged", "skipped")  # needs no new cut (a skip is a verdict)


@dataclass(frozen=True)
class Outcome:
    """How a delivery ended: state done | skipped | ignored | failed, why, and the sync it ran (if any)."""

    state: str
    reason: str
    sync_id: str | None = None


@dataclass(frozen=True)
class ProductTask:
    """What a product delivery is processed with, read from its row and its store's row."""

    store_id: str
    key_id: str
    product_id: str
    image_urls: tuple[str, ...]
    connected: bool
    auto_process: bool
    look: dict


def product_task(context: SyncContext, delivery_id: str) -> ProductTask:
    with context.database.session() as db:
        row = db.get(StoreWebhook, delivery_id)
        store = db.get(StoreConnection, row.store_id)
        product = dict(row.product or {})
        return ProductTask(store.id, store.key_id, str(product.get("id", "")),
                           tuple(str(url) for url in product.get("images") or ()), store.token_sealed is not None,
                           bool(store.auto_process), dict(store.default_look or checked_look(None)))


def process_product(context: SyncContext, delivery_id: str) -> Outcome:
    task = product_task(context, delivery_id)
    if not task.image_urls:
        return Outcome("ignored", "the product has no image")
    if is_our_url(task.image_urls[0]):
        return Outcome("ignored", "the product's main image is ours")
    if not task.connected:
        return Outcome("skipped", "the store is disconnected")
    if not task.auto_process:
        return Outcome("skipped", "auto-process is off for this store")
    selection = Selection(query=f"id:{task.product_id.rsplit('/', 1)[-1]}")
    with context.open_client(task.store_id, task.key_id) as client:
        products = [product for product in pull_products(client, selection) if product.id == task.product_id]
    if not products or not products[0].images:
        return Outcome("ignored", "the store shows no image for the product (yet)")
    main = products[0].images[0]
    if is_our_url(main.url):
        return Outcome("ignored", "the product's main image is ours")
    earlier = _handled(context, task, main.media_id)
    if earlier is not None:
        return Outcome("ignored", f"the main image was already cut with this look ({earlier})")
    sync_id = start_sync(context.database, task.key_id, task.store_id, SyncOptions(selection, task.look))
    summary = run_sync(context, sync_id)
    return Outcome("done" if summary.state == "done" else "failed", summary.line(), sync_id)


def _handled(context: SyncContext, task: ProductTask, media_id: str) -> str | None:
    """The state of an earlier sync item of this store for `media_id` made with the store's look, if any."""
    with context.database.session() as db:
        return db.scalar(select(SyncItem.state).join(Sync, Sync.id == SyncItem.sync_id)
                         .where(Sync.store_id == task.store_id, Sync.look == look_hash(task.look),
                                SyncItem.product_id == task.product_id, SyncItem.media_id == media_id,
                                SyncItem.state.in_(HANDLED))
                         .order_by(SyncItem.id.desc()).limit(1))
