"""Connected stores: connect a Shopify shop to the calling key, list the key's stores, disconnect one.

A key sees only its own stores (another key's store is 404). The access token goes in once, is checked
against the shop, and is never returned.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_thread
from service.api.errors import ApiError, from_library
from service.api.schemas import ErrorBody
from service.settings import Settings
from service.store.connections import (
    ConnectedStore,
    StoreEndpointRules,
    StoreNotFoundError,
    connect_store,
    disconnect_store,
    list_stores,
)
from service.store.secrets import server_box
from service.store.shopify_api import RetryPolicy, StoreAuthError, StoreError, StoreUnavailableError
from service.store.webhooks_config import MAX_SECRET_LENGTH, WebhookChange, configure_webhooks

router = APIRouter(tags=["stores"])

CONNECT_RETRY = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=2.0)
_ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


class StoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop: str = Field(max_length=300, description="The shop: NAME or NAME.myshopify.com.")
    token: str = Field(min_length=1, max_length=500, description="The custom app's Admin API access token.")
    api_url: str | None = Field(default=None, max_length=2000,
                                description="An explicit Admin GraphQL URL (https); normally left out.")
    webhook_secret: str | None = Field(
        default=None, min_length=1, max_length=MAX_SECRET_LENGTH,
        description="The custom app's client secret, which signs its webhooks (also settable later, "
                    "PATCH /v1/stores/{id}/webhooks). Kept encrypted, never returned.")


class StoreOut(BaseModel):
    id: str
    shop: str = Field(description="name.myshopify.com")
    api_url: str | None
    scopes: list[str] = Field(description="The access scopes the token was granted when connected.")
    connected_at: datetime


class StoreList(BaseModel):
    stores: list[StoreOut]


def _out(store: ConnectedStore) -> dict:
    return {"id": store.id, "shop": store.shop_domain, "api_url": store.api_url, "scopes": list(store.scopes),
            "connected_at": store.connected_at}


@lru_cache(maxsize=4)
def _store_error(exc: StoreError | StoreNotFoundError) -> ApiError:
    if isinstance(exc, StoreNotFoundError):
        return ApiError(404, "not_found", "store not found")
    if isinstance(exc, StoreUnavailableError):
        # 424 (the request depended on the shop, which did not answer) rather than 502: the server itself is
        # fine, and a 5xx would read as a promptcut failure in monitoring and to the API schema checks.
        return ApiError(424, exc.code, str(exc))
    if isinstance(exc, StoreAuthError):
        return ApiError(422, exc.code, str(exc), field="token")
    return from_library(exc)


@router.post("/v1/stores", status_code=201, response_model=StoreOut, summary="Connect a Shopify store",
             responses={**_ERRORS, 400: {"model": ErrorBody}, 422: {"model": ErrorBody}, 424: {"model": ErrorBody}})
async def create_store(body: StoreIn, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    settings: Settings = request.app.state.settings
    # A person is waiting on this request: a few quick retries, not the minute-long patience of a catalogue pull.
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout, CONNECT_RETRY)
    try:
        box = await in_thread(server_box, settings)

        def connect() -> ConnectedStore:
            store = connect_store(services.database, box, caller.key_id, body.shop, body.token,
                                  api_url=body.api_url, rules=rules)
            if body.webhook_secret is not None:
                configure_webhooks(services.database, box, store.id, WebhookChange(secret=body.webhook_secret))
            return store

        store = await in_thread(connect)
    except (StoreError, StoreNotFoundError) as exc:
        raise _store_error(exc) from None
    return _out(store)


@router.get("/v1/stores", response_model=StoreList, responses={401: {"model": ErrorBody}},
            summary="The calling key's connected stores")
async def get_stores(request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    stores = await in_thread(list_stores, services.database, caller.key_id)
    return {"stores": [_out(store) for store in stores]}


@router.delete("/v1/stores/{store_id}", status_code=204, responses=_ERRORS, summary="Disconnect a store",
               response_class=Response)
async def delete_store(store_id: str, request: Request, caller: Caller = Depends(require_key)) -> Response:
    services = get_services(request)
    try:
        await in_thread(disconnect_store, services.database, store_id, caller.key_id)
    except StoreNotFoundError as exc:
        raise _store_error(exc) from None
    return Response(status_code=204)
