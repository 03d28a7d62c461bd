"""Items: status, result and original images, and the prompt fix (reprompt)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fusion.errors import PromptcutError
from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_pool, in_thread
from service.api.errors import ApiError, from_library, not_found
from service.api.schemas import ErrorBody, ItemOut
from service.api.uploads import sniff_content_type
from service.db import repo
from service.jobs.payloads import item_json
from service.jobs.tasks import NotReady, reprompt_item

router = APIRouter(tags=["items"])

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}
_IMAGE = {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}, "description": "The image."}


class RepromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(max_length=1000, description="What to keep, typed (e.g. 'the red handbag').")
    title: str | None = Field(default=None, max_length=1000, description="A corrected product title.")


def _item_or_404(services, key_id: str, item_id: str) -> dict:
    with services.database.session() as db:
        item = repo.get_item(db, key_id, item_id)
        if item is None:
            raise not_found("item")
        return item_json(item)


@router.get("/v1/items/{item_id}", response_model=ItemOut, responses=_ERRORS, summary="An item's state and result")
async def get_item(item_id: str, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    return await in_thread(_item_or_404, services, caller.key_id, item_id)


def _artifact_bytes(services, key_id: str, item_id: str, kind: str) -> tuple[bytes, str, str, int]:
    with services.database.session() as db:
        item = repo.get_item(db, key_id, item_id)
        if item is None:
            raise not_found("item")
        if kind == "output" and item.state != "done":
            if item.state == "failed":
                raise ApiError(409, "item_failed", f"item failed: {item.error_message or item.error_code}")
            raise ApiError(409, "not_ready", f"item is {item.state}; its result is not ready yet",
                           headers={"Retry-After": "1"})
        artifact = repo.current_artifact(db, item_id, kind)
        version = item.version
    if artifact is None:
        raise ApiError(409, "not_ready", f"the item's {kind} image is not stored yet", headers={"Retry-After": "1"})
    data = services.store.get(artifact.digest)
    content_type = artifact.content_type or _sniff(data)
    return data, content_type, artifact.digest, version


def _sniff(data: bytes) -> str:
    return sniff_content_type(data)


async def _image_response(request: Request, caller: Caller, item_id: str, kind: str) -> Response:
    services = get_services(request)
    try:
        data, content_type, digest, version = await in_thread(_artifact_bytes, services, caller.key_id, item_id, kind)
    except PromptcutError as exc:
        raise from_library(exc) from None
    etag = f'"{digest[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable" if request.query_params.get("v")
               else "private, no-cache", "X-Promptcut-Version": str(version)}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if not content_type.startswith("image/"):
        content_type = "application/octet-stream"
        headers["Content-Disposition"] = "attachment"
    return Response(data, media_type=content_type, headers=headers)


@router.get("/v1/items/{item_id}/result", response_class=Response,
            responses={200: _IMAGE, 409: {"model": ErrorBody, "description": "Not done yet (not_ready) or failed"},
                       **_ERRORS},
            summary="The item's current result image")
async def get_result(item_id: str, request: Request, caller: Caller = Depends(require_key),
                     v: int | None = None) -> Response:
    return await _image_response(request, caller, item_id, "output")


@router.get("/v1/items/{item_id}/original", response_class=Response,
            responses={200: _IMAGE, 409: {"model": ErrorBody, "description": "Not fetched yet"}, **_ERRORS},
            summary="The item's original photo as uploaded or fetched")
async def get_original(item_id: str, request: Request, caller: Caller = Depends(require_key)) -> Response:
    return await _image_response(request, caller, item_id, "original")


@router.post("/v1/items/{item_id}/reprompt", response_model=ItemOut,
             responses={**_ERRORS, 400: {"model": ErrorBody}, 409: {"model": ErrorBody}, 429: {"model": ErrorBody}},
             summary="Retype the prompt for one item: reuses its stored segmentation, re-runs only the "
                     "prompt-dependent stages")
async def reprompt(item_id: str, body: RepromptIn, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    await in_thread(_item_or_404, services, caller.key_id, item_id)  # 404 before taking a worker
    prompt = body.prompt.strip()
    title = body.title.strip() if body.title is not None else None
    try:
        await in_pool(services, lambda: reprompt_item(services, caller.key_id, item_id, prompt, title))
    except LookupError:
        raise not_found("item") from None
    except NotReady as exc:
        raise ApiError(409, "not_ready", str(exc)) from None
    except PromptcutError as exc:
        raise from_library(exc) from None
    return await in_thread(_item_or_404, services, caller.key_id, item_id)
