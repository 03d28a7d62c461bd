"""Seasonal campaigns over HTTP: schedule one (`theme` on a selection from `start` to `end`), list a store's with
their reports, cancel one. `dry_run: true` answers the contact sheet (image/png, before | after per photo) and
records nothing; the store is only read. A key sees only its own stores' campaigns (404 otherwise)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from fusion.errors import PromptcutError
from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_thread
from service.api.errors import ApiError, from_library, not_found
from service.api.routes.stores import _store_error
from service.api.schemas import ErrorBody
from service.db.schema import utcnow
from service.jobs.store_campaigns import campaign_context
from service.store import campaign as campaigns
from service.store.campaign_sheet import dry_run
from service.store.catalogue import Selection
from service.store.connections import StoreEndpointRules
from service.store.secrets import server_box
from service.store.shopify_api import StoreError

router = APIRouter(tags=["stores"])
_ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


class CampaignIn(BaseModel):
    """A theme on the selected products (all given criteria must hold) from `start` to `end` (ISO 8601; without
    an offset, UTC)."""

    model_config = ConfigDict(extra="forbid")

    theme: str = Field(max_length=64)
    start: datetime
    end: datetime
    collection: str | None = Field(default=None, max_length=100)
    tag: str | None = Field(default=None, max_length=255)
    product_type: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, max_length=20)
    query: str | None = Field(default=None, max_length=1000)
    dry_run: bool = Field(default=False, description="Answer the contact sheet (PNG); record and write nothing")


def _runner(request: Request):
    return getattr(request.app.state, "store_campaigns", None)


def _context(request: Request):
    services = get_services(request)
    settings = services.settings
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout)
    runner = _runner(request)
    box = server_box(settings)
    return campaign_context(services, box, rules, runner.clock if runner is not None else utcnow)


@router.post("/v1/stores/{store_id}/campaigns", status_code=201, response_model=None,
             summary="Schedule a seasonal campaign (or dry-run it: a contact sheet)",
             responses={**_ERRORS, 400: {"model": ErrorBody}, 424: {"model": ErrorBody}})
async def create_campaign(store_id: str, body: CampaignIn, request: Request,
                          caller: Caller = Depends(require_key)) -> Response | dict:
    services = get_services(request)
    plan = campaigns.CampaignPlan(body.theme, body.start, body.end,
                                  Selection(body.collection, body.tag, body.product_type, body.status, body.query))
    try:
        plan = await in_thread(plan.checked, services.engine.check)
        if body.dry_run:
            context = _context(request)
            key_id = await in_thread(campaigns.store_owner, services.database, store_id, caller.key_id)

            def sheet():
                with context.sync.open_client(store_id, key_id) as client:
                    return dry_run(context, client, store_id, plan)

            result = await in_thread(sheet)
            return Response(result.png, media_type="image/png", headers={"X-Promptcut-Count": str(result.rows)},
                            status_code=200)
        report = await in_thread(campaigns.create_campaign, services.database, caller.key_id, store_id, plan)
    except campaigns.CampaignNotFoundError:
        raise not_found("store") from None
    except StoreError as exc:
        raise _store_error(exc) from None
    except PromptcutError as exc:
        raise from_library(exc) from None
    runner = _runner(request)
    if runner is not None:
        runner.wake()  # a start already passed is applied at once
    return report.to_json()


@router.get("/v1/stores/{store_id}/campaigns", responses=_ERRORS, summary="A store's campaigns, newest first, "
            "with what each applied, reverted, failed and skipped")
async def list_campaigns(store_id: str, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    try:
        found = await in_thread(campaigns.list_campaigns, services.database, store_id, caller.key_id)
    except campaigns.CampaignNotFoundError:
        raise not_found("store") from None
    return {"campaigns": [report.to_json() for report in found]}


@router.get("/v1/stores/{store_id}/campaigns/{campaign_id}", responses=_ERRORS, summary="One campaign's report")
async def get_campaign(store_id: str, campaign_id: str, request: Request,
                       caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    try:
        report = await in_thread(campaigns.get_campaign, services.database, campaign_id, caller.key_id, store_id)
    except campaigns.CampaignNotFoundError:
        raise not_found("campaign") from None
    return report.to_json()


@router.delete("/v1/stores/{store_id}/campaigns/{campaign_id}", responses={**_ERRORS, 409: {"model": ErrorBody}},
               summary="Cancel a campaign: before its start nothing happens; once applied, the evergreen look "
                       "returns now")
async def cancel_campaign(store_id: str, campaign_id: str, request: Request,
                          caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    runner = _runner(request)
    now = runner.clock() if runner is not None else utcnow()
    try:
        report = await in_thread(campaigns.cancel_campaign, services.database, campaign_id, now, caller.key_id,
                                 store_id)
    except campaigns.CampaignNotFoundError:
        raise not_found("campaign") from None
    except campaigns.CampaignStateError as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    if runner is not None:
        runner.wake()
    return report.to_json()
