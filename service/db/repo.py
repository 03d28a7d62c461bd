"""Every read and write the service makes, as explicit functions over a SQLAlchemy session.

The caller owns the transaction: `with database.session() as db: ...` commits on exit. State changes that
workers race for (claim, finish, fail, requeue) are single conditional UPDATEs whose row count says who won,
so an item is never claimed twice and a worker whose claim was taken away cannot overwrite the new result.
Lookups by a key's caller take the key id and return None for rows the key does not own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from fusion.errors import InvalidOptionError
from service.db.schema import ITEM_STATES, ApiKey, Artifact, Item, Job, new_id, utcnow
from service.engine.blobstore import is_digest

KEY_PREFIX = "pc_"  # recognisable in logs and by secret scanners
MAX_ATTEMPTS = 3  # claims before an item that keeps dying with its worker is failed instead of re-queued
FINISHED = ("done", "failed")


@dataclass(frozen=True)
class ArtifactRef:
    """A blob already in the ArtifactStore, with what is known about it."""

    digest: str
    size: int | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class NewItem:
    """One item to create. `original` is the uploaded image when there is no `source_url` to fetch."""

    ref: str = ""
    title: str = ""
    prompt: str = ""
    source_url: str | None = None
    original: ArtifactRef | None = None


# --- API keys -------------------------------------------------------------------------------------------------


def _hash_key(plain_key: str) -> str:
    # Keys are 32 random bytes: a fast hash is enough (nothing to brute-force), a slow KDF would only cost latency.
    return hashlib.sha256(plain_key.encode("utf-8")).hexdigest()


def create_key(db: Session, store: str) -> tuple[ApiKey, str]:
    """A new key for `store`. Returns the row and the plain key, which is not stored and cannot be shown again."""
    store = store.strip()
    if not store or len(store) > 200 or any(ch in store for ch in "\r\n\t"):
        raise InvalidOptionError("store name must be 1–200 characters on one line")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(id=new_id(), store=store, prefix=plain[:8], key_hash=_hash_key(plain), created_at=utcnow())
    db.add(row)
    db.flush()
    return row, plain


def find_key(db: Session, plain_key: str) -> ApiKey | None:
    """The active key matching `plain_key`; None when unknown or revoked. Hashes are compared in constant time."""
    if not plain_key or len(plain_key) > 200:
        return None
    digest = _hash_key(plain_key)
    found = None
    for row in db.scalars(select(ApiKey).where(ApiKey.prefix == plain_key[:8])):
        if hmac.compare_digest(row.key_hash, digest):
            found = row
    return found if found is not None and found.revoked_at is None else None


KEY_REVOKED = "key_revoked"


def revoke_key(db: Session, key_id: str) -> bool:
    """Revoke a key (idempotent: the first revocation time is kept) and stop its work: its queued items fail
    with `key_revoked` (an item being cut finishes its cut), and its jobs' webhooks not yet sent never will be.
    False when no key has that id."""
    row = db.get(ApiKey, key_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    now = utcnow()
    jobs = set(db.scalars(select(Item.job_id).where(Item.key_id == key_id, Item.state == "queued").distinct()))
    db.execute(update(Item).where(Item.key_id == key_id, Item.state == "queued")
               .values(state="failed", error_code=KEY_REVOKED, updated_at=now,
                       error_message="stopped before it was cut: the API key was revoked")
               .execution_options(synchronize_session=False))
    db.execute(update(Job).where(Job.key_id == key_id, Job.callback_url.is_not(None), Job.webhook_state.is_(None))
               .values(webhook_state="failed", webhook_error="not sent: the API key was revoked")
               .execution_options(synchronize_session=False))
    for job_id in jobs - {None}:
        refresh_job_state(db, job_id)
    return True


def list_keys(db: Session) -> list[ApiKey]:
    return list(db.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


# --- jobs and items -------------------------------------------------------------------------------------------


def _new_item(key_id: str, new: NewItem, render: Mapping[str, Any], job_id: str | None, position: int,
              now: datetime) -> Item:
    return Item(
        id=new_id(), key_id=key_id, job_id=job_id, position=position, ref=new.ref, title=new.title,
        prompt=new.prompt, source_url=new.source_url, state="queued", attempts=0, render=dict(render), meta={},
        version=0, created_at=now, updated_at=now,
    )


def _add_original(db: Session, item: Item, new: NewItem) -> None:
    if new.original is not None:
        ref = new.original
        add_artifact(db, item.id, "original", ref.digest, ref.size, ref.content_type, version=0)


def create_job(db: Session, key_id: str, items: Iterable[NewItem], render: Mapping[str, Any],
               callback_url: str | None = None) -> Job:
    """A queued job whose items (positions 0..n-1) all start with `render`."""
    items = list(items)
    if not items:
        raise InvalidOptionError("a job needs at least one item")
    now = utcnow()
    job = Job(id=new_id(), key_id=key_id, state="queued", render=dict(render), original_render=dict(render),
              callback_url=callback_url, webhook_state=None, created_at=now, updated_at=now)
    db.add(job)
    db.flush()  # the job row must exist before items reference it
    rows = [_new_item(key_id, new, render, job.id, position, now) for position, new in enumerate(items)]
    db.add_all(rows)
    db.flush()
    for row, new in zip(rows, items, strict=True):
        _add_original(db, row, new)
    db.flush()
    return job


def create_item(db: Session, key_id: str, item: NewItem, render: Mapping[str, Any], *,
                claimed_by: str | None = None) -> Item:
    """A single item outside any job (POST /v1/cutouts). With `claimed_by` it starts already claimed (running) by
    that worker, so a synchronous request can process it and then finish_item / fail_item it like a worker."""
    now = utcnow()
    row = _new_item(key_id, item, render, None, 0, now)
    if claimed_by is not None:
        row.state, row.claimed_by, row.claimed_at, row.attempts = "running", claimed_by, now, 1
    db.add(row)
    db.flush()
    _add_original(db, row, item)
    db.flush()
    return row


def get_job(db: Session, key_id: str, job_id: str) -> Job | None:
    """The job, or None when it does not exist or belongs to another key (the caller answers 404 either way)."""
    return db.scalar(select(Job).where(Job.id == job_id, Job.key_id == key_id))


def get_item(db: Session, key_id: str, item_id: str) -> Item | None:
    """The item, or None when it does not exist or belongs to another key."""
    return db.scalar(select(Item).where(Item.id == item_id, Item.key_id == key_id))


def load_item(db: Session, item_id: str) -> Item | None:
    """The item whatever its key: for workers, which act on ids they claimed, never for request handlers."""
    return db.get(Item, item_id)


def list_jobs(db: Session, key_id: str, limit: int = 100, offset: int = 0) -> list[Job]:
    """The key's jobs, newest first."""
    query = (select(Job).where(Job.key_id == key_id).order_by(Job.created_at.desc(), Job.id)
             .limit(limit).offset(offset))
    return list(db.scalars(query))


def job_items(db: Session, job_id: str) -> list[Item]:
    """A job's items in position order (authorise the job first with get_job)."""
    return list(db.scalars(select(Item).where(Item.job_id == job_id).order_by(Item.position, Item.id)))


def job_counts(db: Session, job_id: str) -> dict[str, int]:
    """Items per state, every state present."""
    counts = dict.fromkeys(ITEM_STATES, 0)
    rows = db.execute(select(Item.state, func.count()).where(Item.job_id == job_id).group_by(Item.state))
    for state, count in rows:
        counts[state] = count
    return counts


def lock_key(db: Session, key_id: str) -> None:
    """Hold the key's row until the transaction ends (PostgreSQL: SELECT … FOR UPDATE), so a check and the write
    it allows are one step across servers. SQLite has no row locks (one server: the caller's lock suffices)."""
    db.execute(select(ApiKey.id).where(ApiKey.id == key_id).with_for_update())


def count_active_jobs(db: Session, key_id: str) -> int:
    """Jobs of this key not finished yet (queued or running)."""
    query = select(func.count()).select_from(Job).where(Job.key_id == key_id, Job.state.in_(("queued", "running")))
    return db.scalar(query) or 0


def count_queued_items(db: Session, key_id: str) -> int:
    """Items of this key waiting for a worker."""
    query = select(func.count()).select_from(Item).where(Item.key_id == key_id, Item.state == "queued")
    return db.scalar(query) or 0


def count_items_by_state(db: Session) -> dict[str, int]:
    """Items per state over every key (for metrics)."""
    counts = dict.fromkeys(ITEM_STATES, 0)
    for state, count in db.execute(select(Item.state, func.count()).group_by(Item.state)):
        counts[state] = count
    return counts


def jobs_with_stale_renders(db: Session, since: datetime) -> list[tuple[str, str]]:
    """(job id, key id) of jobs changed since `since` with a done item that does not show the job's render yet:
    a theme swap a stopped server had not finished."""
    stale = []
    for job in db.scalars(select(Job).where(Job.updated_at >= since).order_by(Job.updated_at)):
        render = dict(job.render or {})
        items = db.scalars(select(Item.render).where(Item.job_id == job.id, Item.state == "done"))
        if any(dict(item_render or {}) != render for item_render in items):
            stale.append((job.id, job.key_id))
    return stale


def set_job_render(db: Session, job_id: str, render: Mapping[str, Any]) -> None:
    """The job's current render (a theme swap); original_render is never changed."""
    db.execute(update(Job).where(Job.id == job_id).values(render=dict(render), updated_at=utcnow())
               .execution_options(synchronize_session=False))
    _expire(db, Job, job_id)


# --- the work queue -------------------------------------------------------------------------------------------


def _expire(db: Session, model: type, row_id: object) -> None:
    """Forget a cached ORM object after a bulk UPDATE so the next access reloads it."""
    obj = db.identity_map.get(identity_key(model, row_id))
    if obj is not None:
        db.expire(obj)


@dataclass(frozen=True)
class QueuedTurn:
    item_id: str
    key_id: str
    turn: int  # 1 for the key's next item when nothing of the key runs; + 1 per item of the key running


def queued_turns(db: Session, limit: int) -> list[QueuedTurn]:
    """Queued items, taking the stores (API keys) in turn: every store's oldest queued item first, then every
    store's second, … — so one store's 500-item catalogue never holds another store's 3 items for minutes. Items
    a store already has running count as turns taken: with one free slot, a store with nothing running goes
    before a store that already fills the other workers. Within a store: oldest first, then by job position.
    Equal turns come oldest first; the dispatcher breaks those ties by which store it served last."""
    running = (select(Item.key_id, func.count().label("running")).where(Item.state == "running")
               .group_by(Item.key_id).subquery())
    turn = func.row_number().over(partition_by=Item.key_id, order_by=(Item.created_at, Item.position, Item.id))
    queued = (select(Item.id, Item.key_id, Item.created_at, Item.position,
                     (turn + func.coalesce(running.c.running, 0)).label("turn"))
              .join(running, running.c.key_id == Item.key_id, isouter=True)
              .where(Item.state == "queued").subquery())
    query = (select(queued.c.id, queued.c.key_id, queued.c.turn)
             .order_by(queued.c.turn, queued.c.created_at, queued.c.position, queued.c.id).limit(limit))
    return [QueuedTurn(item_id, key_id, int(turn)) for item_id, key_id, turn in db.execute(query)]


def claim_item(db: Session, item_id: str, worker: str) -> bool:
    """Move a queued item to running for `worker`. True for exactly one of any number of concurrent claimers.

    `worker` must identify one worker thread of one process (e.g. "host:pid:thread"): finish_item / fail_item
    only succeed for the worker holding the claim. Commit before doing the work so others see the claim.
    """
    now = utcnow()
    result = db.execute(
        update(Item)
        .where(Item.id == item_id, Item.state == "queued")
        .values(state="running", claimed_by=worker, claimed_at=now, attempts=Item.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    _expire(db, Item, item_id)
    job_id = db.scalar(select(Item.job_id).where(Item.id == item_id))
    if job_id is not None:
        db.execute(update(Job).where(Job.id == job_id, Job.state == "queued")
                   .values(state="running", updated_at=now).execution_options(synchronize_session=False))
        _expire(db, Job, job_id)
    return True


def touch_claim(db: Session, item_id: str, worker: str) -> bool:
    """Move the claim's time forward (a heartbeat); False when `worker` no longer holds the item."""
    result = db.execute(update(Item).where(Item.id == item_id, Item.state == "running", Item.claimed_by == worker)
                        .values(claimed_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount == 1


def still_queued(db: Session, item_ids: Iterable[str]) -> set[str]:
    """Those of `item_ids` still waiting for a worker."""
    ids = list(item_ids)
    if not ids:
        return set()
    return set(db.scalars(select(Item.id).where(Item.id.in_(ids), Item.state == "queued")))


def _add_artifacts(db: Session, item_id: str, artifacts: Mapping[str, str | ArtifactRef]) -> None:
    version = db.scalar(select(Item.version).where(Item.id == item_id))  # the one just recorded
    for kind, value in artifacts.items():
        ref = value if isinstance(value, ArtifactRef) else ArtifactRef(value)
        add_artifact(db, item_id, kind, ref.digest, ref.size, ref.content_type, version=version)


def _after_item_change(db: Session, item_id: str) -> None:
    job_id = db.scalar(select(Item.job_id).where(Item.id == item_id))
    if job_id is not None:
        refresh_job_state(db, job_id)


def finish_item(db: Session, item_id: str, worker: str, artifacts: Mapping[str, str | ArtifactRef],
                metadata: Mapping[str, Any], render: Mapping[str, Any]) -> bool:
    """Record a result (version + 1, state done) and its artifacts — only if `worker` still holds the claim.
    False means the claim was lost (re-queued as stale): nothing is written."""
    if not _release_claim(db, item_id, worker, state="done", meta=dict(metadata), render=dict(render),
                          version=Item.version + 1, error_code=None, error_message=None):
        return False
    _add_artifacts(db, item_id, artifacts)
    _after_item_change(db, item_id)
    return True


def fail_item(db: Session, item_id: str, worker: str, code: str, message: str) -> bool:
    """Mark the item failed with a stable code and a one-line message — only if `worker` still holds the claim."""
    if not _release_claim(db, item_id, worker, state="failed", error_code=code[:64],
                          error_message=" ".join(message.split())[:2000]):
        return False
    _after_item_change(db, item_id)
    return True


def _release_claim(db: Session, item_id: str, worker: str, **values: Any) -> bool:
    """End `worker`'s claim on a running item with `values` — a no-op (False) when the claim is no longer its own,
    so a worker whose claim was taken away can never overwrite the item."""
    result = db.execute(
        update(Item)
        .where(Item.id == item_id, Item.state == "running", Item.claimed_by == worker)
        .values(claimed_by=None, claimed_at=None, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    _expire(db, Item, item_id)
    return True


def record_result(db: Session, item_id: str, artifacts: Mapping[str, str | ArtifactRef],
                  metadata: Mapping[str, Any], render: Mapping[str, Any], *, title: str | None = None,
                  prompt: str | None = None, expected_version: int | None = None) -> bool:
    """A new result for an item that is already done (reprompt, correction, theme swap): version + 1, new
    artifacts, and the new title/prompt when given. False when the item is not done, or — with
    `expected_version` — no longer at the version the result was computed from (another result landed in
    between: nothing is written, so neither silently overwrites the other)."""
    values: dict[str, Any] = {"meta": dict(metadata), "render": dict(render), "version": Item.version + 1,
                              "updated_at": utcnow()}
    if title is not None:
        values["title"] = title
    if prompt is not None:
        values["prompt"] = prompt
    conditions = [Item.id == item_id, Item.state == "done"]
    if expected_version is not None:
        conditions.append(Item.version == expected_version)
    result = db.execute(update(Item).where(*conditions).values(**values)
                        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    _expire(db, Item, item_id)
    _add_artifacts(db, item_id, artifacts)
    _after_item_change(db, item_id)
    return True


def _requeue(db: Session, conditions: list, max_attempts: int) -> int:
    """Running items matching `conditions` go back to queued; those already claimed `max_attempts` times fail."""
    running = [Item.state == "running", *conditions]
    job_ids = set(db.scalars(select(Item.job_id).where(*running).distinct())) - {None}
    now = utcnow()
    db.execute(
        update(Item)
        .where(*running, Item.attempts >= max_attempts)
        .values(state="failed", error_code="abandoned", claimed_by=None, claimed_at=None, updated_at=now,
                error_message=f"gave up after {max_attempts} attempts: processing stopped each time")
        .execution_options(synchronize_session=False)
    )
    result = db.execute(
        update(Item)
        .where(*running)
        .values(state="queued", claimed_by=None, claimed_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.expire_all()
    for job_id in sorted(job_ids):
        refresh_job_state(db, job_id)
    return result.rowcount


def requeue_stale(db: Session, older_than: datetime, *, max_attempts: int = MAX_ATTEMPTS) -> int:
    """Re-queue running items claimed before `older_than` (their worker is presumed dead: the lease expired).
    Returns how many were re-queued; items claimed `max_attempts` times are failed ("abandoned") instead."""
    return _requeue(db, [Item.claimed_at < older_than], max_attempts)


def recover_on_start(db: Session, *, claimed_by_prefix: str | None = None, max_attempts: int = MAX_ATTEMPTS) -> int:
    """After a restart: running items go back to queued (returns the count; see requeue_stale for max_attempts).

    With one server every running item was orphaned by the previous process. Several servers sharing a database
    must pass `claimed_by_prefix` (their own stable worker-name prefix) so they only take back their own items,
    and rely on requeue_stale for the rest. Webhooks left half-sent are also made due again.
    """
    conditions = []
    if claimed_by_prefix is not None:
        conditions.append(Item.claimed_by.startswith(claimed_by_prefix, autoescape=True))
    else:
        resend_interrupted_webhooks(db)
    return _requeue(db, conditions, max_attempts)


def resend_interrupted_webhooks(db: Session) -> None:
    """Job webhooks a stopped server was sending are due again (at least once)."""
    db.execute(update(Job).where(Job.webhook_state == "sending").values(webhook_state=None)
               .execution_options(synchronize_session=False))


def refresh_job_state(db: Session, job_id: str) -> Job:
    """Recompute a job's state from its items: done when every item is finished (failed only if all failed),
    queued while no item has been started, running otherwise."""
    # Lock the job row so two workers finishing the last two items cannot both count the other as unfinished
    # (PostgreSQL; SQLite already serialises writers).
    job = db.scalar(select(Job).where(Job.id == job_id).with_for_update().execution_options(populate_existing=True))
    if job is None:
        raise LookupError(f"no job {job_id}")
    counts = job_counts(db, job_id)
    total = sum(counts.values())
    if counts["done"] + counts["failed"] == total:
        state = "failed" if counts["failed"] == total else "done"
    elif counts["queued"] == total:
        state = "queued"
    else:
        state = "running"
    job.state = state
    job.updated_at = utcnow()
    db.flush()
    return job


# --- webhooks -------------------------------------------------------------------------------------------------


def jobs_awaiting_webhook(db: Session, limit: int = 100) -> list[str]:
    """Finished jobs with a callback URL whose webhook has not been attempted."""
    query = (select(Job.id).where(Job.state.in_(FINISHED), Job.callback_url.is_not(None),
                                  Job.webhook_state.is_(None)).order_by(Job.updated_at).limit(limit))
    return list(db.scalars(query))


def claim_webhook(db: Session, job_id: str) -> bool:
    """Take the right to send a finished job's webhook (True for exactly one caller); then set_webhook_state."""
    result = db.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_(FINISHED), Job.callback_url.is_not(None), Job.webhook_state.is_(None))
        .values(webhook_state="sending")
        .execution_options(synchronize_session=False)
    )
    _expire(db, Job, job_id)
    return result.rowcount == 1


def set_webhook_state(db: Session, job_id: str, delivered: bool, problem: str | None = None) -> None:
    """sent, or failed with why (`problem`: one line naming the host, never the URL's path)."""
    db.execute(update(Job).where(Job.id == job_id)
               .values(webhook_state="sent" if delivered else "failed",
                       webhook_error=None if delivered else (problem or "not delivered")[:300])
               .execution_options(synchronize_session=False))
    _expire(db, Job, job_id)


# --- artifacts ------------------------------------------------------------------------------------------------


def add_artifact(db: Session, item_id: str, kind: str, digest: str, size: int | None = None,
                 content_type: str | None = None, *, version: int | None = None) -> Artifact:
    """Record that `item_id` has a `kind` blob at `digest` in the ArtifactStore; it becomes the current one."""
    if not is_digest(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r:.80}")
    row = Artifact(item_id=item_id, kind=kind, digest=digest, size=size, content_type=content_type,
                   created_at=utcnow(), version=version)
    db.add(row)
    db.flush()
    return row


def current_artifacts(db: Session, item_id: str) -> dict[str, str]:
    """kind → digest of the newest artifact of each kind."""
    rows = db.execute(select(Artifact.kind, Artifact.digest).where(Artifact.item_id == item_id).order_by(Artifact.id))
    return {kind: digest for kind, digest in rows}


def artifact_at(db: Session, item_id: str, kind: str, version: int) -> Artifact | None:
    """The artifact of one kind that the item showed at `version`: the newest recorded at or before it. None
    when there is none — or only rows from before versions were recorded, which cannot be placed."""
    query = (select(Artifact).where(Artifact.item_id == item_id, Artifact.kind == kind,
                                    Artifact.version.is_not(None), Artifact.version <= version)
             .order_by(Artifact.id.desc()).limit(1))
    return db.scalar(query)


def current_artifact(db: Session, item_id: str, kind: str) -> Artifact | None:
    """The newest artifact row of one kind (with its size and content type), or None."""
    query = (select(Artifact).where(Artifact.item_id == item_id, Artifact.kind == kind)
             .order_by(Artifact.id.desc()).limit(1))
    return db.scalar(query)
