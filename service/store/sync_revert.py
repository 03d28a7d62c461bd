"""Undo a sync: each published photo of ours is taken off and the store's original put back where ours is —
byte-identical (the bytes saved before the sync changed anything are uploaded again), with its alt text and
variant links. With policy add-first the original never left, so taking ours off is enough.

Newest first, so a product with several of our photos gets its positions back in order; in batches of different
products (write_batch: the calls that take lists carry the batch). A refusal for one product leaves that item
published with the reason; a revoked token stops the revert (the sync says why) and it can be run again.
"""

from __future__ import annotations

from service.db.schema import Sync, SyncItem
from service.store import sync_records as records
from service.store import writeback
from service.store.shopify_api import ShopifyClient
from service.store.sync import MIME, STOPPING, SyncContext
from service.store.sync_records import SyncStateError
from service.store.write_batch import BATCH_SIZE, WriteTask, write_batch
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
            pending: list[SyncItem] = []
            for row_pk in reversed(published):
                with context.database.session() as db:
                    row = db.get(SyncItem, row_pk)
                if pending and (len(pending) == BATCH_SIZE or any(p.product_id == row.product_id for p in pending)):
                    failed = _put_back(context, client, pending)
                    pending = []
                    if failed:
                        state, code, message = "reverting", failed, "some photos could not be put back; run it again"
                if row.original_kept:
                    failed = _put_back(context, client, [row])
                    if failed:
                        state, code, message = "reverting", failed, "some photos could not be put back; run it again"
                else:
                    pending.append(row)
            failed = _put_back(context, client, pending)
            if failed:
                state, code, message = "reverting", failed, "some photos could not be put back; run it again"
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


def _put_back(context: SyncContext, client: ShopifyClient, rows: list[SyncItem]) -> str | None:
    """Revert `rows` (different products, or one add-first row); returns the error code when the store refused
    any of them (those stay published, with the reason)."""
    if not rows:
        return None
    if rows[0].original_kept:
        try:
            _take_ours_off(client, rows[0])
            outcomes: list[str | None | ProductWriteError] = [None]
        except ProductWriteError as exc:
            outcomes = [exc]
    else:
        outcomes = list(write_batch(client, [original_task(row, context.blobs.get(row.source_digest or ""))
                                             for row in rows]))
    failed = None
    for row, outcome in zip(rows, outcomes, strict=True):
        with context.database.session() as db:
            if isinstance(outcome, ProductWriteError):
                records.set_item(db, row.id, "published", f"revert failed: {outcome}")
                failed = outcome.code
            else:
                records.set_item(db, row.id, "reverted", None, restored_media_id=outcome)
    return failed


def original_task(row: SyncItem, data: bytes) -> WriteTask:
    """The store's original, byte-identical, back in place of our photo of it: ours and its mark go, the
    variants ours shows show the original again. Its file name is not ours (a later sync must cut it)."""
    ours, digest = row.new_media_id or "", row.source_digest or ""
    name = f"{row.handle or 'original'}-{digest[:12]}.{_extension(row.source_type)}"
    return WriteTask(row.product_id, data, name, row.source_type or "image/jpeg", row.alt or "", (ours,), (ours,),
                     None, variant_ids=None, forget=(ours,), source=digest)


def _take_ours_off(client: ShopifyClient, row: SyncItem) -> None:
    """Add-first: the original never left, so our photo and its mark go."""
    ours = row.new_media_id or ""
    marks = writeback.read_marks(client, row.product_id)
    writeback.write_marks(client, row.product_id, {media_id: m for media_id, m in marks.items() if media_id != ours})
    writeback.delete_media(client, [ours])


def _extension(content_type: str | None) -> str:
    return {value: key for key, value in MIME.items()}.get(content_type or "", "jpeg").replace("jpeg", "jpg")
