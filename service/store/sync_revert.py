"""Undo a sync: each published photo of ours is taken off and the store's original put back where ours is —
byte-identical (the bytes saved before the sync changed anything are uploaded again), with its alt text and
variant links. With policy add-first the original never left, so taking ours off is enough.

Newest first, so a product with several of our photos gets its positions back in order. A refusal for one
product leaves that item published with the reason; a revoked token stops the revert (the sync says why) and
it can be run again.
"""

from __future__ import annotations

from service.db.schema import Sync, SyncItem
from service.store import sync_records as records
from service.store import writeback
from service.store.shopify_api import ShopifyClient
from service.store.sync import MIME, STOPPING, SyncContext
from service.store.sync_records import SyncStateError
from service.store.writeback import ProductWriteError

REVERTIBLE = ("done", "stopped", "failed", "reverting")


def revert_sync(context: SyncContext, sync_id: str, key_id: str | None = None,
                store_id: str | None = None) -> records.SyncSummary:
    with context.database.session() as db:
        sync = records.get_sync(db, sync_id, key_id, store_id)
        if sync.state not in REVERTIBLE:
            raise SyncStateError(f"sync {sync_id} is {sync.state}: only a finished sync can be reverted")
        sync.state = "reverting"
        owner, store = sync.key_id, sync.store_id
        published = [row.id for row in records.sync_items(db, sync_id, ["published"])]
    state, code, message = "reverted", None, None
    try:
        with context.open_client(store, owner) as client:
            for row_pk in reversed(published):
                with context.database.session() as db:
                    row = db.get(SyncItem, row_pk)
                try:
                    restored = _revert_one(context, client, row)
                except ProductWriteError as exc:
                    with context.database.session() as db:
                        records.set_item(db, row_pk, "published", f"revert failed: {exc}")
                    state, code, message = "reverting", exc.code, "some photos could not be put back; run it again"
                    continue
                with context.database.session() as db:
                    records.set_item(db, row_pk, "reverted", None, restored_media_id=restored)
    except STOPPING as exc:
        state, code, message = "reverting", exc.code, str(exc)
    with context.database.session() as db:
        if state == "reverted":
            records.finish(db, sync_id, "reverted")
        else:
            row = db.get(Sync, sync_id)
            row.state, row.error_code, row.error_message = state, code, message
            row.counts = records.counts(db, sync_id)
        return records.summary(db, records.get_sync(db, sync_id))


def _revert_one(context: SyncContext, client: ShopifyClient, row: SyncItem) -> str | None:
    """Take our photo off `row`'s product, the original back in its place first; returns the restored media id
    (None when the original had stayed)."""
    ours = row.new_media_id or ""
    marks = writeback.read_marks(client, row.product_id)
    restored = None
    if not row.original_kept:
        data = context.blobs.get(row.source_digest or "")
        name = f"{row.handle or 'original'}-{(row.source_digest or '')[:12]}.{_extension(row.source_type)}"
        source = writeback.upload(client, data, name, row.source_type or "image/jpeg")
        restored, order = writeback.add_media(client, row.product_id, source, row.alt)
        try:
            links = writeback.variant_links(client, row.product_id).get(ours, ())
            writeback.link_variants(client, row.product_id, restored, links)
            if ours in order and writeback.move_needed(order, restored, order.index(ours), [ours]):
                writeback.move_media(client, row.product_id, restored, order.index(ours))
        except ProductWriteError:
            writeback.delete_media(client, [restored])
            raise
    rest = {media_id: mark for media_id, mark in marks.items() if media_id != ours}
    writeback.write_marks(client, row.product_id, rest)
    writeback.delete_media(client, [ours])
    return restored


def _extension(content_type: str | None) -> str:
    return {value: key for key, value in MIME.items()}.get(content_type or "", "jpeg").replace("jpeg", "jpg")
