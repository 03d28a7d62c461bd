"""Review before publishing: the cuts a sync held back, and the seller's verdict on each.

    review_items  a sync's items (optionally of some states) with their job items and the reasons in plain words;
                  doubtful cuts (held because the cut itself was flagged) first
    approve       held → published: the item's CURRENT result (after any fix) is written back exactly as the sync
                  would have written it (sync.write_one), and the sync's counts follow
    skip          held → skipped: nothing is written; the store keeps its original

A key only reaches the syncs of its own stores (SyncNotFoundError otherwise, as for any sync). An item that is
not held, or whose cut is not done, is a ReviewStateError. Approving claims the item first (held → planned, in
one UPDATE that only a held row matches), so two approvals of one item never write it twice; when the store
refuses, the item is held again with the store's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from fusion.errors import PromptcutError
from service.db import repo
from service.db.schema import Item, Sync, SyncItem
from service.engine.result_meta import review_of
from service.jobs.payloads import item_json
from service.store import sync_records as records
from service.store.sync import SyncContext, write_one

DOUBTFUL_PREFIX = "needs review"  # sync._hold_reason: the cut itself was flagged
MARKETPLACE_PREFIX = "fails the marketplace main-image rule"
MARKETPLACE_WORDS = {
    "not_white_background": "The background is not pure white (marketplaces want 255, 255, 255).",
    "product_too_small": "The product fills less than 85% of the picture.",
    "image_too_small": "The picture is smaller than 1000 px on its longest side.",
}
OPEN_SYNC_STATES = ("done", "stopped", "failed")  # a sync still running or reverted takes no verdicts


class ReviewStateError(PromptcutError):
    """The item is not held (already approved, skipped, published…) or its cut is not ready; or the sync is
    still running or was reverted."""

    code = "sync_conflict"


@dataclass(frozen=True)
class ReviewItem:
    """One image of a sync as the seller reviews it: where it belongs in the store, why it was held (the
    stored reason and `reasons`, sentences), and the job item (`item`: the API's item JSON, or None when the
    image was never cut)."""

    item_id: str | None
    product_id: str
    handle: str
    main: bool
    state: str
    reason: str | None
    reasons: tuple[str, ...]
    doubtful: bool
    new_media_id: str | None
    item: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "product_id": self.product_id, "handle": self.handle, "main": self.main,
                "state": self.state, "reason": self.reason, "reasons": list(self.reasons),
                "doubtful": self.doubtful, "new_media_id": self.new_media_id, "item": self.item}


def plain_reasons(reason: str | None, item: Item | None) -> tuple[str, ...]:
    """The hold reason in sentences: the cut's own review messages for a doubtful cut, the broken rules for a
    marketplace refusal, else the stored reason as it is."""
    if not reason:
        return ()
    if reason.startswith(DOUBTFUL_PREFIX):
        _flagged, _codes, sentences = review_of(item.meta or {}) if item is not None else (False, [], [])
        return tuple(sentences) or ("The automatic check found this cut doubtful.",)
    if reason.startswith(MARKETPLACE_PREFIX):
        codes = reason.removeprefix(MARKETPLACE_PREFIX).strip(" ()").split(", ")
        return tuple(MARKETPLACE_WORDS.get(code, code) for code in codes if code)
    return (reason[0].upper() + reason[1:],)


def review_items(db: Session, key_id: str, store_id: str, sync_id: str,
                 states: list[str] | None = None) -> list[ReviewItem]:
    records.get_sync(db, sync_id, key_id, store_id)
    found = [_review_item(db, row) for row in records.sync_items(db, sync_id, states)]
    return sorted(found, key=lambda entry: not entry.doubtful)  # stable: sync order within each group


def _row(db: Session, key_id: str, store_id: str, sync_id: str, item_id: str) -> tuple[Sync, SyncItem]:
    sync = records.get_sync(db, sync_id, key_id, store_id)
    rows = [row for row in records.sync_items(db, sync_id) if row.item_id == item_id]
    if not rows:
        raise records.SyncNotFoundError(f"no item {item_id!r} in sync {sync_id}")
    if sync.state not in OPEN_SYNC_STATES:
        raise ReviewStateError(f"sync {sync_id} is {sync.state}: held cuts are reviewed once it has finished "
                               "and before it is reverted")
    if rows[0].state != "held":
        raise ReviewStateError(f"item {item_id} is {rows[0].state}, not held")
    return sync, rows[0]


def _review_item(db: Session, row: SyncItem) -> ReviewItem:
    item = db.get(Item, row.item_id) if row.item_id else None
    return ReviewItem(row.item_id, row.product_id, row.handle, row.main, row.state, row.reason,
                      plain_reasons(row.reason, item), (row.reason or "").startswith(DOUBTFUL_PREFIX), row.new_media_id,
                      item_json(item) if item is not None else None)


def skip(db: Session, key_id: str, store_id: str, sync_id: str, item_id: str) -> ReviewItem:
    """held → skipped; nothing is written to the store."""
    _sync, row = _row(db, key_id, store_id, sync_id, item_id)
    records.set_item(db, row.id, "skipped", "skipped by the seller")
    db.get(Sync, sync_id).counts = records.counts(db, sync_id)
    db.flush()
    return _review_item(db, row)


def approve(context: SyncContext, key_id: str, store_id: str, sync_id: str, item_id: str) -> ReviewItem:
    """held → published with the item's current result. A refusal by the store (ProductWriteError), a revoked token or
    an unreachable store (StoreAuthError, StoreUnavailableError) propagate and leave the item held as before."""
    with context.database.session() as db:
        sync, row = _row(db, key_id, store_id, sync_id, item_id)
        item = db.get(Item, item_id)
        output = repo.current_artifact(db, item_id, "output") if item is not None and item.state == "done" else None
        if output is None:
            raise ReviewStateError(f"item {item_id} has no finished cut to publish (it is "
                                   f"{item.state if item is not None else 'gone'})")
        claimed = db.execute(update(SyncItem).where(SyncItem.id == row.id, SyncItem.state == "held")
                             .values(state="planned")).rowcount
        if claimed != 1:
            raise ReviewStateError(f"item {item_id} is being approved already")
        row_pk, held_reason, digest = row.id, row.reason, output.digest
        render, policy = dict(sync.render), dict(sync.options)["policy"]
        owner = sync.key_id
        db.expunge(row)
    data = context.blobs.get(digest)
    try:
        with context.open_client(store_id, owner) as client:
            new_media = write_one(client, sync_id, row, data, render, policy)
    except BaseException:
        _finish(context, sync_id, row_pk, "held", held_reason)  # not published: held as before, to try again
        raise
    return _finish(context, sync_id, row_pk, "published", None, new_media_id=new_media)


def _finish(context: SyncContext, sync_id: str, row_pk: int, state: str, reason: str | None,
            **values: Any) -> ReviewItem:
    with context.database.session() as db:
        records.set_item(db, row_pk, state, reason, **values)
        db.get(Sync, sync_id).counts = records.counts(db, sync_id)
        db.flush()
        return _review_item(db, db.get(SyncItem, row_pk))
