"""The syncs and sync_items tables: create, read, update, summarise. The caller owns the transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fusion.errors import PromptcutError
from service.db.schema import StoreConnection, Sync, SyncItem, new_id, utcnow

# skipped: the seller's verdict on a held cut (service.store.review): nothing written
ITEM_STATES = ("planned", "published", "held", "failed", "unchanged", "reverted", "skipped")
SUMMARY_STATES = ("published", "held", "failed", "unchanged")


class SyncNotFoundError(PromptcutError):
    code = "sync_not_found"


class SyncStateError(PromptcutError):
    """The sync is not in a state that allows this (reverting a sync still running, or already reverted)."""

    code = "sync_conflict"


@dataclass(frozen=True)
class SyncSummary:
    id: str
    store_id: str
    job_id: str | None
    state: str
    counts: dict[str, int]  # published, held, failed, unchanged, reverted, skipped, planned
    error_code: str | None
    error_message: str | None
    created_at: datetime
    finished_at: datetime | None
    reverted_at: datetime | None

    def line(self) -> str:
        """The CLI's one-line summary."""
        counts = ", ".join(f"{self.counts.get(name, 0)} {name}" for name in SUMMARY_STATES)
        extra = "".join(f", {self.counts[name]} {name}" for name in ("skipped", "reverted") if self.counts.get(name))
        why = f" — {self.error_message}" if self.error_message else ""
        return f"sync {self.id} {self.state}: {counts}{extra}{why}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "store_id": self.store_id, "job_id": self.job_id, "state": self.state,
                "counts": dict(self.counts), "error": None if not self.error_code else {
                    "code": self.error_code, "message": self.error_message},
                "created_at": self.created_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "reverted_at": self.reverted_at.isoformat() if self.reverted_at else None}


def create_sync(db: Session, key_id: str, store_id: str, options: dict, render: dict, look: str) -> Sync:
    store = db.get(StoreConnection, store_id)
    if store is None or store.key_id != key_id or store.token_sealed is None:
        raise SyncNotFoundError(f"no connected store with id {store_id!r}")
    row = Sync(id=new_id(), key_id=key_id, store_id=store_id, job_id=None, state="running", options=dict(options),
               render=dict(render), look=look, counts={}, created_at=utcnow())
    db.add(row)
    db.flush()
    return row


def get_sync(db: Session, sync_id: str, key_id: str | None = None, store_id: str | None = None) -> Sync:
    row = db.get(Sync, sync_id)
    if row is None or (key_id is not None and row.key_id != key_id) or (store_id is not None and
                                                                        row.store_id != store_id):
        raise SyncNotFoundError(f"no sync with id {sync_id!r}")
    return row


def recent_syncs(db: Session, key_id: str, store_id: str, limit: int = 20) -> list[Sync]:
    """A store's syncs, newest first (SyncNotFoundError when the store is not one of key_id's)."""
    store = db.get(StoreConnection, store_id)
    if store is None or store.key_id != key_id:
        raise SyncNotFoundError(f"no connected store with id {store_id!r}")
    query = select(Sync).where(Sync.store_id == store_id, Sync.key_id == key_id)
    return list(db.scalars(query.order_by(Sync.created_at.desc(), Sync.id.desc()).limit(limit)))


def sync_items(db: Session, sync_id: str, states: Iterable[str] | None = None) -> list[SyncItem]:
    query = select(SyncItem).where(SyncItem.sync_id == sync_id)
    if states is not None:
        query = query.where(SyncItem.state.in_(list(states)))
    return list(db.scalars(query.order_by(SyncItem.id)))


def set_item(db: Session, item_pk: int, state: str, reason: str | None = None, **values: Any) -> None:
    row = db.get(SyncItem, item_pk)
    assert row is not None and state in ITEM_STATES
    row.state, row.reason, row.updated_at = state, reason, utcnow()
    for name, value in values.items():
        setattr(row, name, value)


def finish(db: Session, sync_id: str, state: str, error_code: str | None = None,
           error_message: str | None = None) -> None:
    row = db.get(Sync, sync_id)
    row.state, row.error_code, row.error_message = state, error_code, error_message
    row.counts = counts(db, sync_id)
    if state == "reverted":
        row.reverted_at = utcnow()
    else:
        row.finished_at = row.finished_at or utcnow()


INTERRUPTED = "interrupted"  # error code of a sync whose process ended while it ran
INTERRUPTED_MESSAGE = ("the server stopped while this sync ran; run the same sync again: products already "
                       "published are recognised and skipped, the rest are cut and written back")


def stop_interrupted(db: Session) -> list[str]:
    """Syncs still "running" when the only server on this database starts: their process ended (a restart, a
    killed CLI run), so they are stopped with a reason that says what to do. A rerun is safe: it uploads nothing
    for products already done. Returns their ids."""
    rows = db.scalars(select(Sync).where(Sync.state == "running")).all()
    for row in rows:
        finish(db, row.id, "stopped", INTERRUPTED, INTERRUPTED_MESSAGE)
    return [row.id for row in rows]


def counts(db: Session, sync_id: str) -> dict[str, int]:
    found = Counter(item.state for item in sync_items(db, sync_id))
    return {state: found.get(state, 0) for state in ITEM_STATES}


def summary(db: Session, row: Sync) -> SyncSummary:
    return SyncSummary(row.id, row.store_id, row.job_id, row.state, counts(db, row.id), row.error_code,
                       row.error_message, row.created_at, row.finished_at, row.reverted_at)


def store_owner(db: Session, store_id: str) -> str:
    """The key a connected store belongs to (the operator's CLI names stores by id alone)."""
    store = db.get(StoreConnection, store_id)
    if store is None or store.token_sealed is None:
        raise SyncNotFoundError(f"no connected store with id {store_id!r}")
    return store.key_id
