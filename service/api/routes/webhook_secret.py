"""The calling key's webhook signing secret: rotate it (the new one is shown once; the old one keeps signing
next to it for a grace period, so a receiver can switch without missing a webhook)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_thread
from service.api.errors import unauthorized
from service.api.schemas import ErrorBody
from service.jobs.webhook_secrets import DEFAULT_GRACE, MAX_GRACE, KeyNotFoundError, RotatedSecret, rotate_secret
from service.settings import Settings
from service.store.secrets import server_box

router = APIRouter(tags=["keys"])


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_hours: float = Field(default=DEFAULT_GRACE.total_seconds() / 3600, ge=0,
                               le=MAX_GRACE.total_seconds() / 3600,
                               description="How long the replaced secret still signs next to the new one (0: not "
                                           "at all).")


class RotatedOut(BaseModel):
    webhook_secret: str = Field(description="The new signing secret; shown only this once.")
    previous_valid_until: datetime | None = Field(
        description="Until when webhooks also carry a signature with the replaced secret; null: they do not.")


@router.post("/v1/webhook-secret/rotate", response_model=RotatedOut, summary="Rotate the webhook signing secret",
             responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def rotate_webhook_secret(request: Request, response: Response, body: RotateIn | None = None,
                                caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    settings: Settings = request.app.state.settings
    grace = timedelta(hours=(body or RotateIn()).grace_hours)
    box = await in_thread(server_box, settings)

    def rotate() -> RotatedSecret:
        with services.database.session() as db:
            return rotate_secret(db, box, caller.key_id, grace)

    try:
        rotated = await in_thread(rotate)
    except KeyNotFoundError:  # revoked since it authenticated: the same 401 as any revoked key
        raise unauthorized() from None
    response.headers["Cache-Control"] = "no-store"  # a secret: no cache may keep it
    return {"webhook_secret": rotated.webhook_secret, "previous_valid_until": rotated.previous_valid_until}
