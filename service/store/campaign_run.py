"""Working a claimed campaign: plan it, apply the theme at its start, bring the evergreen look back at its end.

Every image is re-rendered FROM ITS STORED LAYER (the job item the sync cut: `CampaignContext.rerender`, the
engine's theme-swap path — no segmentation) and written back with the sync's own write-back (write_batch):
ours in place of ours, alt text, variant links, position and marker kept. The sync item's new_media_id follows
each write, so `store revert` of the sync still puts the store's original back.

    plan     (scheduled → applying) pulls the selection from the store; each selected product's published sync
             items become pending campaign items; a product tagged promptcut-no-campaign, or with no photo a
             sync published, is recorded as skipped. Planning and the state change are one transaction.
    apply    pending → applied (or failed: the product keeps its evergreen photo); then active until ends_at.
    revert   applied → reverted with the evergreen bytes recorded when it was applied — byte-identical to what
             the sync published; then done.

Resumable and idempotent per image: before writing, the product's marker is read; a photo of ours already in
the wanted look (the server died after the store took it but before we recorded it) is recorded, not written
twice. A refusal for one product (its userErrors) fails that image alone; a revoked token or an unreachable
store ends the pass and the campaign is tried again `retry` later, from where it stopped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from fusion.errors import PromptcutError
from service.db import repo
from service.db.schema import Campaign, CampaignItem, Item, Sync, SyncItem, utcnow
from service.store import writeback
from service.store.campaign import OPT_OUT_TAG
from service.store.catalogue import Selection, StoreProduct, pull_selection
from service.store.marker import MediaMark, look_hash
from service.store.shopify_api import ShopifyClient
from service.store.sync import STOPPING, SyncContext
from service.store.write_batch import (
    BATCH_SIZE,
    ContentTask,
    ProcessingFailedError,
    WriteTask,
    content_task,
    ours_task,
    replace_contents,
    write_batch,
)
from service.store.writeback import ProductWriteError

log = logging.getLogger("promptcut.store.campaign")

LIVE_SYNC_STATES = ("done", "stopped", "failed")  # a reverted (or reverting) sync's photos are not ours any more
NOT_PUBLISHED = "no photo of this product was published by a promptcut sync: run a sync first"


@dataclass(frozen=True)
class CampaignContext:
    """`rerender(artifacts, render) -> digest` renders a cut item's stored layers with another look (no
    segmentation) into the artifact store; `clock()` is now (UTC, aware); `retry` how long a store that
    refused us is left alone."""

    sync: SyncContext
    rerender: Callable[[Mapping[str, str], Mapping[str, Any]], str]
    clock: Callable[[], datetime]
    retry: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class PlannedImage:
    """One selected image: the sync item that published it (None: skipped, with the reason)."""

    product_id: str
    handle: str
    sync_item_id: int | None
    reason: str | None = None


def themed_render(render: Mapping[str, Any], theme: str) -> dict[str, Any]:
    """The sync's look with the campaign's theme instead of its background or theme (size, format… kept)."""
    return {**dict(render), "theme": theme, "background": None}


def plan_images(context: CampaignContext, client: ShopifyClient, store_id: str,
                selection: Selection) -> list[PlannedImage]:
    """What a campaign on `selection` covers now (reads the store, writes nothing)."""
    published = _published(context, store_id)
    planned: list[PlannedImage] = []
    for product in pull_selection(client, selection):
        rows = published.get(product.id, [])
        if _opted_out(product):
            planned.append(PlannedImage(product.id, product.handle, None, f"opted out (tag {OPT_OUT_TAG})"))
        elif not rows:
            planned.append(PlannedImage(product.id, product.handle, None, NOT_PUBLISHED))
        else:
            planned.extend(PlannedImage(product.id, product.handle, row_pk) for row_pk in rows)
    return planned


def _opted_out(product: StoreProduct) -> bool:
    return any(tag.strip().lower() == OPT_OUT_TAG for tag in product.tags)


def _published(context: CampaignContext, store_id: str) -> dict[str, list[int]]:
    """product id → its published sync items, the newest per store original (a later sync redid it)."""
    with context.sync.database.session() as db:
        query = (select(SyncItem.id, SyncItem.product_id, SyncItem.media_id).join(Sync, Sync.id == SyncItem.sync_id)
                 .where(Sync.store_id == store_id, Sync.state.in_(LIVE_SYNC_STATES), SyncItem.state == "published")
                 .order_by(SyncItem.id))
        newest = {(product_id, media_id): row_pk for row_pk, product_id, media_id in db.execute(query)}
    found: dict[str, list[int]] = {}
    for (product_id, _media), row_pk in sorted(newest.items(), key=lambda entry: entry[1]):
        found.setdefault(product_id, []).append(row_pk)
    return found


def work(context: CampaignContext, campaign_id: str) -> None:
    """One pass over a claimed campaign: whatever is due in its state. Never raises for a store's refusal."""
    with context.sync.database.session() as db:
        row = db.get(Campaign, campaign_id)
        state, store_id, key_id = row.state, row.store_id, row.key_id
    try:
        with context.sync.open_client(store_id, key_id) as client:
            if state == "scheduled":
                _plan(context, client, campaign_id)
                state = "applying"
            if state == "applying":
                _apply_all(context, client, campaign_id)
            elif state in ("active", "reverting"):
                _revert_all(context, client, campaign_id)
    except STOPPING as exc:
        _postpone(context, campaign_id, f"the store refused: {exc}")
    except PromptcutError as exc:
        _postpone(context, campaign_id, str(exc))


def _plan(context: CampaignContext, client: ShopifyClient, campaign_id: str) -> None:
    with context.sync.database.session() as db:
        row = db.get(Campaign, campaign_id)
        store_id, selection = row.store_id, Selection(**dict(row.selection or {}))
    planned = plan_images(context, client, store_id, selection)
    now = context.clock()
    with context.sync.database.session() as db:
        for image in planned:
            db.add(CampaignItem(campaign_id=campaign_id, sync_item_id=image.sync_item_id, product_id=image.product_id,
                                handle=image.handle, state="pending" if image.reason is None else "skipped",
                                reason=image.reason, updated_at=now))
        db.get(Campaign, campaign_id).state = "applying"


def _items(context: CampaignContext, campaign_id: str, state: str) -> list[int]:
    with context.sync.database.session() as db:
        query = select(CampaignItem.id).where(CampaignItem.campaign_id == campaign_id, CampaignItem.state == state)
        return list(db.scalars(query.order_by(CampaignItem.id)))


def _apply_all(context: CampaignContext, client: ShopifyClient, campaign_id: str) -> None:
    def steps() -> Iterator[_Step]:
        for item_pk in _items(context, campaign_id, "pending"):
            target = _target(context, item_pk)
            if target is None:
                _set(context, item_pk, "skipped", "the sync that published this photo was reverted")
                continue
            evergreen = target.published_output or context.rerender(target.artifacts, target.render)
            render = themed_render(target.render, target.theme)
            themed = context.rerender(target.artifacts, render)
            _set(context, item_pk, "pending", None, themed_digest=themed, evergreen_digest=evergreen)
            yield _Step(target, themed, render, evergreen)

    for step, outcome in _written(context, client, steps()):
        if isinstance(outcome, ProductWriteError):
            _set(context, step.target.campaign_item, "failed", str(outcome))
        else:
            _set(context, step.target.campaign_item, "applied", None, themed_media_id=outcome)
    now = context.clock()
    with context.sync.database.session() as db:
        row = db.get(Campaign, campaign_id)
        row.applied_at, row.error_message, row.claimed_by = now, None, None
        if row.state == "applying":
            row.state, row.due_at = "active", row.ends_at
        else:  # cancelled while it was being applied: bring the evergreen look back now
            row.due_at = now


def _revert_all(context: CampaignContext, client: ShopifyClient, campaign_id: str) -> None:
    with context.sync.database.session() as db:
        db.execute(update(Campaign).where(Campaign.id == campaign_id).values(state="reverting"))
        db.execute(update(CampaignItem).where(CampaignItem.campaign_id == campaign_id,
                                              CampaignItem.state == "pending")
                   .values(state="skipped", reason="cancelled before it was applied"))
    def steps() -> Iterator[_Step]:
        for item_pk in _items(context, campaign_id, "applied"):
            target = _target(context, item_pk)
            if target is None:
                _set(context, item_pk, "reverted", "the sync that published this photo was reverted meanwhile")
                continue
            with context.sync.database.session() as db:
                item = db.get(CampaignItem, item_pk)
                evergreen, themed = item.evergreen_digest or "", item.themed_digest or ""
            yield _Step(target, evergreen, target.render, themed)

    failures = 0
    for step, outcome in _written(context, client, steps()):
        if isinstance(outcome, ProductWriteError):
            failures += 1
            _set(context, step.target.campaign_item, "applied", f"the evergreen photo could not be put back: {outcome}")
        else:
            _set(context, step.target.campaign_item, "reverted", None)
    now = context.clock()
    with context.sync.database.session() as db:
        row = db.get(Campaign, campaign_id)
        row.claimed_by = None
        if failures:
            row.error_message = f"{failures} photo(s) could not be put back; tried again later"
            row.due_at = now + context.retry
        else:
            row.state, row.due_at, row.reverted_at, row.error_message = "done", None, now, None


@dataclass(frozen=True)
class _Target:
    """Where one campaign image goes: the sync item that published it (detached), the sync's look and
    policy, and the campaign's theme."""

    campaign_item: int
    row: SyncItem
    sync_id: str
    render: dict[str, Any]
    policy: str
    theme: str
    artifacts: dict[str, str]
    published_output: str | None  # the item's current output when it is still in the sync's look


def _target(context: CampaignContext, item_pk: int) -> _Target | None:
    with context.sync.database.session() as db:
        item = db.get(CampaignItem, item_pk)
        row = db.get(SyncItem, item.sync_item_id)
        sync = db.get(Sync, row.sync_id)
        campaign = db.get(Campaign, item.campaign_id)
        if row.state != "published" or sync.state not in LIVE_SYNC_STATES:
            return None
        job_item = db.get(Item, row.item_id)
        artifacts = repo.current_artifacts(db, row.item_id)
        output = artifacts.get("output") if job_item is not None and job_item.render == sync.render else None
        db.expunge(row)
        return _Target(item_pk, row, sync.id, dict(sync.render), dict(sync.options)["policy"], campaign.theme,
                       artifacts, output)


@dataclass(frozen=True)
class _Step:
    """One campaign image to write: the rendered photo (`digest`, in `render`'s look) for `target`."""

    target: _Target
    digest: str
    render: dict[str, Any]
    previous: str  # what the store shows now (put back if the store cannot process the new photo)


def _written(context: CampaignContext, client: ShopifyClient,
             steps: Iterable[_Step]) -> Iterator[tuple[_Step, str | ProductWriteError]]:
    """Each step written back (in batches of different products, as a sync writes), with our media id or the
    store's refusal for that product alone."""
    pending: list[_Step] = []
    for step in steps:
        if len(pending) == BATCH_SIZE or any(p.target.row.product_id == step.target.row.product_id for p in pending):
            yield from _write_batch(context, client, pending)
            pending = []
        pending.append(step)
    yield from _write_batch(context, client, pending)


def _write_batch(context: CampaignContext, client: ShopifyClient,
                 steps: list[_Step]) -> Iterator[tuple[_Step, str | ProductWriteError]]:
    """Show each step's photo in place of our current photo of its image: new content for the same media
    (a few points for the whole batch), or — when ours is not there any more or the store refuses that — ours
    added in its place as a sync writes. Unless ours already has this look (written before, not recorded: the
    server stopped in between). The sync item then points at our media."""
    outcomes: dict[int, str | ProductWriteError] = {}
    contents: dict[int, ContentTask] = {}
    adds: dict[int, WriteTask] = {}
    blobs = context.sync.blobs
    for index, step in enumerate(steps):
        row = step.target.row
        marks = writeback.read_marks(client, row.product_id)
        ours = _ours(marks, row.media_id)
        if ours is not None and ours.look == look_hash(step.render):
            outcomes[index] = ours.media_id
        elif ours is not None:
            contents[index] = content_task(row.product_id, ours, marks, blobs.get(step.digest), step.render,
                                           functools.partial(blobs.get, step.previous))
        else:
            adds[index] = _add_task(context, step, None)
    for index, outcome in zip(contents, replace_contents(client, list(contents.values())), strict=True):
        if isinstance(outcome, ProductWriteError) and not isinstance(outcome, ProcessingFailedError):
            adds[index] = _add_task(context, steps[index], contents[index].media_id)
        else:
            outcomes[index] = outcome
    outcomes.update(zip(adds, write_batch(client, list(adds.values())), strict=True))
    for index, step in enumerate(steps):
        outcome = outcomes[index]
        if not isinstance(outcome, ProductWriteError):
            with context.sync.database.session() as db:
                db.get(SyncItem, step.target.row.id).new_media_id = outcome
        yield step, outcome


def _add_task(context: CampaignContext, step: _Step, ours: str | None) -> WriteTask:
    row = step.target.row
    in_place = SyncItem(product_id=row.product_id, handle=row.handle, main=row.main, media_id=row.media_id,
                        alt=row.alt, variant_ids=list(row.variant_ids or ()), source_digest=row.source_digest,
                        replaces_ours=ours or row.new_media_id)
    return ours_task(in_place, context.sync.blobs.get(step.digest), step.render, step.target.policy,
                     step.target.sync_id)


def _ours(marks: Mapping[str, MediaMark], original: str) -> MediaMark | None:
    """Our photo of the store's original `original` on the product, from its marker."""
    found = [mark for mark in marks.values() if mark.original == original]
    return found[-1] if found else None


def _set(context: CampaignContext, item_pk: int, state: str, reason: str | None, **values: Any) -> None:
    with context.sync.database.session() as db:
        row = db.get(CampaignItem, item_pk)
        row.state, row.reason, row.updated_at = state, reason, utcnow()
        for name, value in values.items():
            setattr(row, name, value)


def _postpone(context: CampaignContext, campaign_id: str, message: str) -> None:
    log.warning("campaign %s: %s", campaign_id, message)
    with context.sync.database.session() as db:
        row = db.get(Campaign, campaign_id)
        row.error_message, row.claimed_by, row.due_at = message[:500], None, context.clock() + context.retry
