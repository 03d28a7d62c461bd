"""Replace a connected store's photos and write them back: one promptcut job per sync.

    start_sync   checks the options, records the sync (state running)
    run_sync     pulls the selected products, decides per image (sync_plan), saves each original's bytes,
                 media id, alt text, position and variant links (sync_items + the artifact store) BEFORE the
                 store is changed, creates the job (the originals are its items' uploads, the product's
                 prompt_text their title), has the items cut one after another while the finished ones are
                 written back in batches (write_batch) — or held.

A product's write-back adds ours before it removes anything: upload → productUpdate (media) → marker → variant
links → reorder into the original's place → (policy replace) fileDelete of the original. A step the store
refuses fails that product alone and takes ours off again; a revoked token or an unreachable store stops the
sync with the reason recorded, the products in hand (at most one batch) keeping their originals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fusion.errors import InvalidOptionError, PromptcutError
from fusion.imageio import decode_image
from service.db import Database, repo
from service.db.repo import ArtifactRef, NewItem
from service.db.schema import Item, Sync, SyncItem
from service.engine.blobstore import ArtifactBackend
from service.engine.render_request import RenderRequest
from service.engine.result_meta import review_of
from service.store import sync_records as records
from service.store import writeback
from service.store.catalogue import Selection, StoreProduct, prompt_text, pull_selection, search_query
from service.store.cut_ahead import CutAhead
from service.store.marker import look_hash
from service.store.marketplace import check_main_image, is_marketplace_look
from service.store.shopify_api import ShopifyClient, StoreAuthError, StoreUnavailableError
from service.store.sync_plan import PlannedImage, plan_product
from service.store.write_batch import BATCH_SIZE, MIME, WriteTask, ours_task, write_batch
from service.store.writeback import ProductWriteError

log = logging.getLogger("promptcut.store.sync")

POLICIES = ("replace", "add-first")
STOPPING = (StoreAuthError, StoreUnavailableError)  # the store will not take more from us now: stop the sync
MIN_BATCH = 10  # products written together when the writer has caught up with the cuts (BATCH_SIZE when not)


@dataclass(frozen=True)
class SyncOptions:
    selection: Selection = Selection()
    render: dict = field(default_factory=dict)  # RenderRequest fields
    all_images: bool = False
    policy: str = "replace"
    publish_all: bool = False

    def checked(self) -> "SyncOptions":
        """Validated and normalised (InvalidOptionError otherwise): before anything is recorded or called."""
        if self.policy not in POLICIES:
            raise InvalidOptionError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        render = RenderRequest.from_dict(self.render)
        if render.format not in MIME:
            raise InvalidOptionError("format must be jpeg, png or webp for store photos")
        search_query(self.selection)  # a malformed collection id or status fails here
        return SyncOptions(self.selection, render.to_dict(), self.all_images, self.policy, self.publish_all)

    def to_json(self) -> dict:
        selection = {name: value for name, value in vars(self.selection).items() if value}
        return {"selection": selection, "all_images": self.all_images, "policy": self.policy,
                "publish_all": self.publish_all}


@dataclass(frozen=True)
class SyncContext:
    """What a sync runs with. `open_client(store_id, key_id)`, `fetch(url) -> bytes` (under the URL rules),
    `process(item_id)` returns once the job item is done or failed (cut in this thread, or by a worker)."""

    database: Database
    blobs: ArtifactBackend
    open_client: Callable[[str, str], ShopifyClient]
    fetch: Callable[[str], bytes]
    process: Callable[[str], None]
    max_pixels: int = 40_000_000


def start_sync(database: Database, key_id: str, store_id: str, options: SyncOptions) -> str:
    options = options.checked()
    with database.session() as db:
        row = records.create_sync(db, key_id, store_id, options.to_json(), options.render, look_hash(options.render))
        return row.id


def run_sync(context: SyncContext, sync_id: str) -> records.SyncSummary:
    """Run a recorded sync to its end. Never raises for the store's refusals: they end up on the sync."""
    with context.database.session() as db:
        sync = records.get_sync(db, sync_id)
        key_id, store_id, look, render = sync.key_id, sync.store_id, sync.look, dict(sync.render)
        options = dict(sync.options)
    try:
        with context.open_client(store_id, key_id) as client:
            _plan(context, client, sync_id, key_id, options, look, render)
            _write_all(context, client, sync_id, options, render)
        state, code, message = "done", None, None
    except STOPPING as exc:
        state, code, message = "stopped", exc.code, str(exc)
    except PromptcutError as exc:
        state, code, message = "failed", getattr(exc, "code", "error"), str(exc)
    except Exception:  # noqa: BLE001 — the sync row must not stay "running" forever; the trace goes to the log
        log.exception("sync %s failed", sync_id)
        state, code, message = "failed", "internal", "internal error while syncing; it has been logged"
    with context.database.session() as db:
        records.finish(db, sync_id, state, code, message)
        return records.summary(db, records.get_sync(db, sync_id))


# --- planning: what to cut, with every original saved first ----------------------------------------------------


def _plan(context: SyncContext, client: ShopifyClient, sync_id: str, key_id: str, options: dict, look: str,
          render: dict) -> None:
    selection = Selection(**options.get("selection", {}))
    new_items: list[NewItem] = []
    rows: list[SyncItem] = []
    for product in pull_selection(client, selection):
        marks = product.marks if product.marks is not None else writeback.read_marks(client, product.id)
        plans = plan_product(product, marks, look, bool(options.get("all_images")))
        links = writeback.variant_links(client, product.id) if any(p.action != "unchanged" for p in plans) else {}
        for plan in plans:
            row, new_item = _planned_row(context, sync_id, product, plan, links, options["policy"])
            rows.append(row)
            if new_item is not None:
                new_items.append(new_item)
    with context.database.session() as db:
        job = repo.create_job(db, key_id, new_items, render) if new_items else None
        items = iter(repo.job_items(db, job.id)) if job else iter(())
        for row in rows:
            if row.state == "planned":
                row.item_id = next(items).id
            db.add(row)
        db.get(Sync, sync_id).job_id = job.id if job else None


def _planned_row(context: SyncContext, sync_id: str, product: StoreProduct, plan: PlannedImage,
                 links: dict[str, tuple[str, ...]], policy: str) -> tuple[SyncItem, NewItem | None]:
    """The sync item of one planned image, with the original's bytes saved (artifact store) before anything
    is changed, and the job item that cuts it (None when there is nothing to cut)."""
    target = plan.target
    row = SyncItem(sync_id=sync_id, product_id=product.id, handle=product.handle, main=plan.main,
                   media_id=plan.original_id, alt=target.alt, media_position=target.position,
                   variant_ids=list(links.get(target.media_id, ())), replaces_ours=plan.replaces_ours,
                   original_kept=plan.original_present and policy == "add-first", state="planned")
    if plan.action == "unchanged":
        row.state = "unchanged"
        return row, None
    try:
        if plan.original_present:
            original = next(image for image in product.images if image.media_id == plan.original_id)
            data = context.fetch(original.url)
            digest = context.blobs.put(data)
        else:  # the store's original was deleted by an earlier sync: we kept its bytes
            digest, data = plan.source or "", context.blobs.get(plan.source or "")
    except STOPPING:
        raise
    except PromptcutError as exc:
        row.state, row.reason = "failed", f"the original could not be read: {exc}"
        return row, None
    row.source_digest, row.source_type = digest, _sniff(data)
    ref = product.handle if plan.main else f"{product.handle}#{target.position + 1}"
    return row, NewItem(ref=ref, title=prompt_text(product), source_url=target.url,
                        original=ArtifactRef(digest, len(data), row.source_type))


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


# --- writing back -----------------------------------------------------------------------------------------------


def _write_all(context: SyncContext, client: ShopifyClient, sync_id: str, options: dict, render: dict) -> None:
    """Cut the planned items in order (CutAhead) while the finished ones are written back in batches: the store's
    bucket waits overlap the cutting. A batch goes when it is full, when the writer has caught up with the cuts
    and holds MIN_BATCH, or at the end."""
    with context.database.session() as db:
        planned = [(row.id, row.item_id) for row in records.sync_items(db, sync_id, ["planned"])]
    pending: list[tuple[int, WriteTask]] = []
    with CutAhead(context.process, [item_id for _, item_id in planned]) as cuts:
        for position, (row_pk, item_id) in enumerate(planned):
            cuts.next_done()
            task = _ready_task(context, sync_id, row_pk, item_id, options, render)
            if task is not None:
                if any(held.product_id == task.product_id for _, held in pending):
                    _write_pending(context, client, pending)
                pending.append((row_pk, task))
            last = position == len(planned) - 1
            if len(pending) >= BATCH_SIZE or (pending and last) or (
                    len(pending) >= MIN_BATCH and not cuts.has_next_done()):
                _write_pending(context, client, pending)


def _ready_task(context: SyncContext, sync_id: str, row_pk: int, item_id: str, options: dict,
                render: dict) -> WriteTask | None:
    """The cut of a planned row, ready to write back; None when it failed or is held (its state then says so)."""
    with context.database.session() as db:
        item = db.get(Item, item_id)
        row = db.get(SyncItem, row_pk)
        output = repo.current_artifact(db, item_id, "output") if item.state == "done" else None
        item_state, item_error, meta = item.state, item.error_message, dict(item.meta or {})
    if item_state != "done" or output is None:
        _set(context, row_pk, "failed", f"the cut failed: {item_error or item_state}")
        return None
    data = context.blobs.get(output.digest)
    held = None if options.get("publish_all") else _hold_reason(context, row, meta, data, render)
    if held:
        _set(context, row_pk, "held", held)
        return None
    return ours_task(row, data, render, options["policy"], sync_id)


def _write_pending(context: SyncContext, client: ShopifyClient, pending: list[tuple[int, WriteTask]]) -> None:
    outcomes = write_batch(client, [task for _, task in pending])
    for (row_pk, _), outcome in zip(pending, outcomes, strict=True):
        if isinstance(outcome, ProductWriteError):
            _set(context, row_pk, "failed", str(outcome))
        else:
            _set(context, row_pk, "published", None, new_media_id=outcome)
    pending.clear()


def _set(context: SyncContext, row_pk: int, state: str, reason: str | None, **values) -> None:
    with context.database.session() as db:
        records.set_item(db, row_pk, state, reason, **values)


def _hold_reason(context: SyncContext, row: SyncItem, meta: dict, data: bytes, render: dict) -> str | None:
    needs_review, codes, _ = review_of(meta)
    if needs_review:
        return f"needs review ({', '.join(codes) or 'flagged'})"
    if row.main and is_marketplace_look(render):
        verdict = check_main_image(decode_image(data, max_pixels=context.max_pixels).rgb)
        if not verdict.passed:
            return f"fails the marketplace main-image rule ({', '.join(verdict.reasons)})"
    return None


def write_one(client: ShopifyClient, sync_id: str, row: SyncItem, data: bytes, render: dict, policy: str) -> str:
    """Put ours in place of row's image; returns our media id. Nothing is removed until ours is in, marked,
    linked and in place; on a refusal ours is taken off again (best effort) and ProductWriteError raised, so
    the product keeps what it had. A STOPPING error propagates (the store takes nothing more from us)."""
    outcome = write_batch(client, [ours_task(row, data, render, policy, sync_id)])[0]
    if isinstance(outcome, ProductWriteError):
        raise outcome
    return outcome


def wait_for_item(database: Database, item_id: str, *, poll: float = 0.2, timeout: float = 3600.0) -> None:
    """Block until a job item is done or failed (a worker of the server is cutting it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as db:
            item = db.get(Item, item_id)
            if item is None or item.state in ("done", "failed"):
                return
        time.sleep(poll)
    raise PromptcutError(f"item {item_id} did not finish in {timeout:.0f} s")
