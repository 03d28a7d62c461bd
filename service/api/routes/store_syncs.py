"""Store syncs over HTTP: start one (202; it runs in the background on the job machinery), list a store's syncs,
read one's progress and counts, revert it; and review what it held back: list its items (`?state=held`), approve
one (written back with its current result) or skip it. A key sees only the syncs of its own stores (404
otherwise); a verdict on an item that is not held answers 409."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ConfigDict, Field

from fusion.errors import PromptcutError
from service.api import params
from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_thread
from service.api.errors import ApiError, from_library, not_found
from service.api.routes.stores import _store_error
from service.api.schemas import ErrorBody
from service.jobs.store_syncs import run_in_background, sync_context
from service.store import review, sync_records
from service.store.catalogue import Selection
from service.store.connections import StoreEndpointRules
from service.store.secrets import server_box
from service.store.shopify_api import StoreError
from service.store.sync import SyncOptions, start_sync
from service.store.sync_revert import revert_sync
from service.store.writeback import ProductWriteError

router = APIRouter(tags=["stores"])
_ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


class SyncIn(params.OutputOptions):
    """Which products (all given criteria must hold), how to write back, and the look (as for POST /v1/jobs)."""

    model_config = ConfigDict(extra="forbid")

    collection: str | None = Field(default=None, max_length=100)
    tag: str | None = Field(default=None, max_length=255)
    product_type: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, max_length=20)
    query: str | None = Field(default=None, max_length=1000)
    all_images: bool = False
    policy: str = Field(default="replace", description="replace | add-first")
    publish_all: bool = Field(default=False, description="Also write back cuts that would be held")


def _context(request: Request):
    services = get_services(request)
    settings = services.settings
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout)
    return sync_context(services, server_box(settings), rules)


def _summary(services, key_id: str, store_id: str, sync_id: str) -> dict:
    with services.database.session() as db:
        try:
            return sync_records.summary(db, sync_records.get_sync(db, sync_id, key_id, store_id)).to_json()
        except sync_records.SyncNotFoundError:
            raise not_found("sync") from None


@router.post("/v1/stores/{store_id}/syncs", status_code=202, summary="Replace the store's photos and write "
             "them back", responses={**_ERRORS, 400: {"model": ErrorBody}})
async def create_sync(store_id: str, body: SyncIn, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    look = body.model_dump(include=set(params.OPTION_NAMES))
    render = params.render_options(look, max_pixels=services.settings.max_pixels)
    options = SyncOptions(Selection(body.collection, body.tag, body.product_type, body.status, body.query), render,
                          body.all_images, body.policy, body.publish_all)
    try:
        sync_id = await in_thread(start_sync, services.database, caller.key_id, store_id, options)
    except sync_records.SyncNotFoundError:
        raise not_found("store") from None
    except PromptcutError as exc:
        raise from_library(exc) from None
    run_in_background(_context(request), sync_id)
    return await in_thread(_summary, services, caller.key_id, store_id, sync_id)


@router.get("/v1/stores/{store_id}/syncs/{sync_id}", responses=_ERRORS, summary="A sync's state and counts")
async def get_sync(store_id: str, sync_id: str, request: Request, caller: Caller = Depends(require_key)) -> dict:
    return await in_thread(_summary, get_services(request), caller.key_id, store_id, sync_id)


@router.post("/v1/stores/{store_id}/syncs/{sync_id}/revert", responses={**_ERRORS, 409: {"model": ErrorBody}},
             summary="Put the store's original photos back (waits for it)")
async def revert(store_id: str, sync_id: str, request: Request, caller: Caller = Depends(require_key)) -> dict:
    context = _context(request)
    try:
        summary = await in_thread(revert_sync, context, sync_id, caller.key_id, store_id)
    except sync_records.SyncNotFoundError:
        raise not_found("sync") from None
    except sync_records.SyncStateError as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    return summary.to_json()


@router.get("/v1/stores/{store_id}/syncs", responses=_ERRORS, summary="A store's syncs, newest first")
async def list_syncs(store_id: str, request: Request, caller: Caller = Depends(require_key),
                     limit: int = Query(20, ge=1, le=100)) -> dict:
    services = get_services(request)

    def listed() -> dict:
        with services.database.session() as db:
            try:
                rows = sync_records.recent_syncs(db, caller.key_id, store_id, limit)
            except sync_records.SyncNotFoundError:
                raise not_found("store") from None
            return {"syncs": [sync_records.summary(db, row).to_json() for row in rows]}

    return await in_thread(listed)


@router.get("/v1/stores/{store_id}/syncs/{sync_id}/items", responses={**_ERRORS, 400: {"model": ErrorBody}},
            summary="A sync's images (e.g. ?state=held: the cuts waiting for review, doubtful ones first)")
async def list_items(store_id: str, sync_id: str, request: Request, caller: Caller = Depends(require_key),
                     state: list[str] | None = Query(None, description="Only these states (repeatable)")) -> dict:
    unknown = sorted(set(state or ()) - set(sync_records.ITEM_STATES))
    if unknown:
        raise ApiError(400, "invalid_option", f"state must be one of {', '.join(sync_records.ITEM_STATES)}, got "
                       f"{', '.join(unknown)}", field="state")
    services = get_services(request)

    def listed() -> dict:
        with services.database.session() as db:
            try:
                entries = review.review_items(db, caller.key_id, store_id, sync_id, state)
            except sync_records.SyncNotFoundError:
                raise not_found("sync") from None
            return {"items": [entry.to_json() for entry in entries]}

    return await in_thread(listed)


def _verdict_error(exc: PromptcutError) -> ApiError:
    if isinstance(exc, sync_records.SyncNotFoundError):
        return not_found("item")
    if isinstance(exc, review.ReviewStateError):
        return ApiError(409, exc.code, str(exc))
    if isinstance(exc, ProductWriteError):
        return ApiError(422, exc.code, str(exc))
    return _store_error(exc) if isinstance(exc, StoreError) else from_library(exc)


_VERDICT_ERRORS = {**_ERRORS, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}, 424: {"model": ErrorBody}}


@router.post("/v1/stores/{store_id}/syncs/{sync_id}/items/{item_id}/approve", responses=_VERDICT_ERRORS,
             summary="Publish a held cut: write its current result back to the store (waits for it)")
async def approve_item(store_id: str, sync_id: str, item_id: str, request: Request,
                       caller: Caller = Depends(require_key)) -> dict:
    context = _context(request)
    try:
        entry = await in_thread(review.approve, context, caller.key_id, store_id, sync_id, item_id)
    except PromptcutError as exc:
        raise _verdict_error(exc) from None
    return entry.to_json()


@router.post("/v1/stores/{store_id}/syncs/{sync_id}/items/{item_id}/skip", responses=_VERDICT_ERRORS,
             summary="Leave a held cut unpublished: the store keeps its original")
async def skip_item(store_id: str, sync_id: str, item_id: str, request: Request,
                    caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)

    def skipped() -> dict:
        with services.database.session() as db:
            return review.skip(db, caller.key_id, store_id, sync_id, item_id).to_json()

    try:
        return await in_thread(skipped)
    except PromptcutError as exc:
        raise _verdict_error(exc) from None
