"""The queue of recorded webhook deliveries, in the database (store_webhooks): claimed atomically, so a
delivery is worked by one runner at a time even with several servers on one database, and taken back after a
restart (recover) or when its claim expired (requeue_stale)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.db.schema import StoreWebhook, utcnow

MAX_ATTEMPTS = 3  # a delivery interrupted this many times (it kills the process?) is failed, not retried
# Finished deliveries are kept this long (days), to recognise a duplicate: Shopify retries one for 48 hours.
KEEP_DAYS = 7
FINISHED = ("done", "skipped", "ignored", "failed")


def next_queued(db: Session, limit: int = 10) -> list[str]:
    """The oldest queued deliveries' ids."""
    return list(db.scalars(select(StoreWebhook.id).where(StoreWebhook.state == "queued")
                           .order_by(StoreWebhook.received_at, StoreWebhook.id).limit(limit)))


def claim(db: Session, delivery_id: str, worker: str) -> bool:
    """queued → running for `worker`; False when another runner took it first."""
    result = db.execute(update(StoreWebhook)
                        .where(StoreWebhook.id == delivery_id, StoreWebhook.state == "queued")
                        .values(state="running", claimed_by=worker[:200], claimed_at=utcnow(),
                                attempts=StoreWebhook.attempts + 1)
                        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def finish(db: Session, delivery_id: str, worker: str, state: str, reason: str, sync_id: str | None) -> None:
    """Record how a claimed delivery ended (nothing when the claim was lost, or shop/redact deleted it)."""
    db.execute(update(StoreWebhook)
               .where(StoreWebhook.id == delivery_id, StoreWebhook.claimed_by == worker[:200],
                      StoreWebhook.state == "running")
               .values(state=state, reason=reason, sync_id=sync_id, finished_at=utcnow())
               .execution_options(synchronize_session=False))


def recover(db: Session, claimed_by_prefix: str | None = None) -> int:
    """After a restart: running deliveries (of this server's prefix, when given) go back to queued."""
    conditions = [StoreWebhook.state == "running"]
    if claimed_by_prefix is not None:
        conditions.append(StoreWebhook.claimed_by.startswith(claimed_by_prefix, autoescape=True))
    return _requeue(db, conditions)


def requeue_stale(db: Session, cutoff: datetime) -> int:
    """Running deliveries whose claim is older than `cutoff` (their server died) go back to queued."""
    return _requeue(db, [StoreWebhook.state == "running", StoreWebhook.claimed_at < cutoff])


def _requeue(db: Session, conditions: list) -> int:
    given_up = db.execute(update(StoreWebhook).where(*conditions, StoreWebhook.attempts >= MAX_ATTEMPTS)
                          .values(state="failed", finished_at=utcnow(),
                                  reason=f"interrupted {MAX_ATTEMPTS} times; not retried")
                          .execution_options(synchronize_session=False))
    requeued = db.execute(update(StoreWebhook).where(*conditions)
                          .values(state="queued", claimed_by=None, claimed_at=None)
                          .execution_options(synchronize_session=False))
    return given_up.rowcount + requeued.rowcount


def purge_finished(db: Session, before: datetime) -> int:
    """Delete finished deliveries received before `before` (no duplicate of them can come any more)."""
    result = db.execute(delete(StoreWebhook).where(StoreWebhook.state.in_(FINISHED), StoreWebhook.received_at < before)
                        .execution_options(synchronize_session=False))
    return result.rowcount
