"""Store syncs over HTTP: start one (202; it runs in the background on the job machinery), read its progress
and counts, revert it. A key sees only the syncs of its own stores (404 otherwise)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field

from fusion.errors import PromptcutError
from service.api import params
from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_thread
from service.api.errors import ApiError, from_library, not_found
from service.api.routes.stores import _box
from service.api.schemas import ErrorBody
from service.jobs.store_syncs import run_in_background, sync_context
from service.store import sync_records
from service.store.catalogue import Selection
from service.store.connections import StoreEndpointRules
from service.store.sync import SyncOptions, start_sync
from service.store.sync_revert import revert_sync

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
    return sync_context(services, _box(settings.secret_key.get_secret_value(), settings.data_dir), rules)


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
