"""Webhooks from connected stores, and each store's webhook settings.

POST /v1/store-webhooks takes every topic of every store (no API key: the delivery is signed with the app's
client secret instead). It reads the raw body up to a size cap, verifies the signature before parsing
anything, records the delivery and wakes the background runner: the answer never waits for a cut. 200 also for
a duplicate (Shopify then stops retrying); 401 for a missing or wrong signature, 400 for a replay.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from fusion.errors import PromptcutError
from service.api import params
from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_thread
from service.api.errors import ApiError, from_library, not_found
from service.api.schemas import ErrorBody
from service.store.connections import StoreNotFoundError
from service.store.secrets import server_box
from service.store.webhooks import (
    WebhookAuthError,
    WebhookHeaders,
    WebhookReplayError,
    WebhookRequestError,
    WebhookRules,
    receive_webhook,
)
from service.store.webhooks_config import WebhookChange, configure_webhooks, webhook_config

router = APIRouter(tags=["stores"])


class WebhookSettingsIn(BaseModel):
    """What to change; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(default=None, max_length=500, description="The custom app's client secret "
                               "(API secret key); \"\" removes it. Never returned.")
    auto_process: bool | None = Field(default=None, description="Cut new and changed products' main images.")
    look: params.OutputOptions | None = Field(default=None, description="The look of auto-processed photos "
                                              "(the options of POST /v1/jobs).")


async def _capped_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"a webhook body is at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", f"a webhook body is at most {limit} bytes")
    return bytes(body)


@router.post("/v1/store-webhooks", summary="Receive a webhook from a connected store (Shopify signs it)",
             responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody}})
async def receive(request: Request) -> dict:
    services = get_services(request)
    settings = services.settings
    body = await _capped_body(request, settings.store_webhook_max_bytes)
    headers = WebhookHeaders.from_mapping(request.headers)
    rules = WebhookRules(settings.store_webhook_max_age)

    def record():
        box = server_box(settings)
        return receive_webhook(services.database, box, headers, body, rules=rules)

    try:
        receipt = await in_thread(record)
    except WebhookAuthError as exc:
        raise ApiError(401, exc.code, str(exc)) from None
    except (WebhookReplayError, WebhookRequestError) as exc:
        raise ApiError(400, exc.code, str(exc)) from None
    runner = getattr(request.app.state, "store_webhooks", None)
    if receipt.state == "queued" and runner is not None:
        runner.wake()
    return {"id": receipt.id, "topic": receipt.topic, "state": receipt.state, "duplicate": receipt.duplicate}


@router.get("/v1/stores/{store_id}/webhooks", summary="A store's webhook settings (never the secret)",
            responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}})
async def get_settings(store_id: str, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    try:
        config = await in_thread(webhook_config, services.database, store_id, caller.key_id)
    except StoreNotFoundError:
        raise not_found("store") from None
    return config.to_json()


@router.patch("/v1/stores/{store_id}/webhooks", summary="Set a store's webhook secret, auto-process, look",
              responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody}})
async def set_settings(store_id: str, body: WebhookSettingsIn, request: Request,
                       caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    settings = services.settings
    look = None
    if body.look is not None:
        look = params.render_options(body.look.model_dump(), max_pixels=settings.max_pixels)
    change = WebhookChange(body.secret, body.auto_process, look)

    def apply():
        box = server_box(settings)
        return configure_webhooks(services.database, box, store_id, change, caller.key_id)

    try:
        config = await in_thread(apply)
    except StoreNotFoundError:
        raise not_found("store") from None
    except PromptcutError as exc:
        raise from_library(exc) from None
    return config.to_json()
