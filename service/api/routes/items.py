"""Items: status, result and original images, and the two fixes: a retyped prompt (reprompt) and a seller's
clicks / box (corrections)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from fusion.corrections import Corrections
from fusion.errors import InvalidOptionError, PromptcutError
from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_pool, in_thread
from service.api.errors import ApiError, from_library, not_found
from service.api.schemas import ErrorBody, ItemOut
from service.api.uploads import sniff_content_type
from service.db import repo
from service.engine.blobstore import ArtifactStoreUnavailableError
from service.engine.correction_history import CorrectionChange
from service.engine.result_meta import server_timing
from service.jobs.payloads import item_json
from service.jobs.tasks import NotReady, correct_item, reprompt_item

router = APIRouter(tags=["items"])

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}
_IMAGE = {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}, "description": "The image."}
# Only with artifacts in a bucket (docs/operations.md "Artifacts in S3-compatible storage").
_BUCKET = {307: {"description": "PROMPTCUT_S3_PRESIGN_SECONDS > 0: Location is a presigned link to the image"},
           503: {"model": ErrorBody, "description": "artifact_store_unavailable: the bucket cannot be reached"}}


class RepromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(max_length=1000, description="What to keep, typed (e.g. 'the red handbag').")
    title: str | None = Field(default=None, max_length=1000, description="A corrected product title.")


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: float = Field(allow_inf_nan=False, description="Pixels from the photo's left edge, 0 ≤ x < width.")
    y: float = Field(allow_inf_nan=False, description="Pixels from the photo's top edge, 0 ≤ y < height.")
    keep: bool = Field(description="true: this is product, keep it; false: this is background, remove it.")


class BoxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left: float = Field(allow_inf_nan=False)
    top: float = Field(allow_inf_nan=False)
    right: float = Field(allow_inf_nan=False, description="Exclusive; at most the photo's width.")
    bottom: float = Field(allow_inf_nan=False, description="Exclusive; at most the photo's height.")


class CorrectionIn(BaseModel):
    """Exactly one of: a new step (`points` and/or `box`), `undo`, `to_version`, `clear`. Coordinates are the
    original photo's pixels as displayed (EXIF rotation applied): the item's `metadata.photo_size`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"points": [{"x": 412, "y": 300, "keep": False}, {"x": 520.5, "y": 610, "keep": True}]},
        {"box": {"left": 120, "top": 80, "right": 900, "bottom": 1000}},
        {"undo": True},
        {"to_version": 2},
        {"clear": True},
    ]})

    points: list[PointIn] | None = Field(
        default=None, description="Clicks to add, in order: keep=true adds product there, false removes it.")
    box: BoxIn | None = Field(default=None, description="The product lies inside this box (replaces an earlier one).")
    undo: bool | None = Field(default=None, description="true: drop the last correction step.")
    to_version: int | None = Field(
        default=None, description="Keep only the steps made at or before this item version (older than the first "
        "step: the automatic cut).")
    clear: bool | None = Field(default=None, description="true: drop every correction (the automatic cut).")

    def change(self) -> CorrectionChange:
        """The request as a CorrectionChange; InvalidOptionError for no shape, several shapes or a false flag."""
        given = {"points and/or box": self.points is not None or self.box is not None,
                 "undo": "undo" in self.model_fields_set, "to_version": self.to_version is not None,
                 "clear": "clear" in self.model_fields_set}
        chosen = [name for name, present in given.items() if present]
        if len(chosen) != 1:
            raise InvalidOptionError(
                "send exactly one of: points and/or box (a new correction), undo, to_version, clear"
                + (f" (got {', '.join(chosen)})" if chosen else ""))
        if chosen == ["undo"] or chosen == ["clear"]:
            if getattr(self, chosen[0]) is not True:
                raise InvalidOptionError(f"{chosen[0]} must be true")
            return CorrectionChange(chosen[0])
        if chosen == ["to_version"]:
            return CorrectionChange("to_version", version=int(self.to_version or 0))
        step = Corrections.from_dict({"points": [point.model_dump() for point in self.points or []],
                                      "box": self.box.model_dump() if self.box is not None else None})
        return CorrectionChange("add", step)


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


def _stored_artifact(services, key_id: str, item_id: str, kind: str,
                     asked: int | None = None) -> tuple[str, str | None, int]:
    """The digest, recorded content type (None on rows from before types were recorded) and version of an item's
    `kind` image: the current one, or with `asked` the one version `asked` showed (404 for a version it never had,
    or one from before versions were recorded)."""
    with services.database.session() as db:
        item = repo.get_item(db, key_id, item_id)
        if item is None:
            raise not_found("item")
        if kind == "output" and item.state != "done" and asked is None:
            if item.state == "failed":
                raise ApiError(409, "item_failed", f"item failed: {item.error_message or item.error_code}")
            raise ApiError(409, "not_ready", f"item is {item.state}; its result is not ready yet",
                           headers={"Retry-After": "1"})
        version = item.version
        if asked is None or (asked == version and item.state == "done"):
            artifact = repo.current_artifact(db, item_id, kind)
        elif 1 <= asked <= version:
            artifact = repo.artifact_at(db, item_id, kind, asked)
            version = asked
        else:
            artifact = None
        if asked is not None and artifact is None:
            raise ApiError(404, "not_found", f"item {item_id} has no stored result of version {asked} "
                           f"(its current version is {item.version})")
    if artifact is None:
        raise ApiError(409, "not_ready", f"the item's {kind} image is not stored yet", headers={"Retry-After": "1"})
    return artifact.digest, artifact.content_type, version


@dataclass(frozen=True)
class _Download:
    """How to answer with a stored image: a redirect to `url` (a presigned link), or else `data` itself."""

    url: str | None = None
    data: bytes = b""
    content_type: str = ""  # of `data`: anything but an image goes as application/octet-stream, an attachment
    attachment: bool = False


def _download(services, digest: str, recorded_type: str | None) -> _Download:
    # A presigned link makes the bucket serve the recorded type, or with none recorded (results) the type it stored
    # from the bytes' magic numbers.
    content_type, attachment = _served_type(recorded_type) if recorded_type else (None, False)
    url = services.store.download_url(digest, content_type, attachment)
    if url is not None:
        return _Download(url=url)
    data = services.store.get(digest)
    content_type, attachment = _served_type(recorded_type or sniff_content_type(data))
    return _Download(data=data, content_type=content_type, attachment=attachment)


def _served_type(content_type: str) -> tuple[str, bool]:
    """Only images are shown inline: anything else is a download of unknown type (never rendered as a page)."""
    return (content_type, False) if content_type.startswith("image/") else ("application/octet-stream", True)


async def _image_response(request: Request, caller: Caller, item_id: str, kind: str,
                          asked: int | None = None) -> Response:
    services = get_services(request)
    try:
        digest, recorded_type, version = await in_thread(_stored_artifact, services, caller.key_id, item_id, kind,
                                                         asked)
    except PromptcutError as exc:
        raise from_library(exc) from None
    etag = f'"{digest[:32]}"'
    # A versioned link always names the same picture: it may be cached for good. The bare URL follows changes.
    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable" if asked is not None
               else "private, no-cache", "X-Promptcut-Version": str(version)}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    try:
        download = await in_thread(_download, services, digest, recorded_type)
    except ArtifactStoreUnavailableError as exc:
        raise ApiError(503, exc.code, str(exc), headers={"Retry-After": "5"}) from None
    except PromptcutError as exc:
        raise from_library(exc) from None
    if download.url is not None:
        # The bytes behind the link never change (the bucket sends them as immutable), but the link expires: the
        # redirect itself is never cached.
        return RedirectResponse(download.url, 307, headers={"Cache-Control": "private, no-store",
                                                            "X-Promptcut-Version": str(version)})
    if download.attachment:
        headers["Content-Disposition"] = "attachment"
    return Response(download.data, media_type=download.content_type, headers=headers)


@router.get("/v1/items/{item_id}/result", response_class=Response,
            responses={200: _IMAGE, 409: {"model": ErrorBody, "description": "Not done yet (not_ready) or failed"},
                       **_ERRORS, **_BUCKET},
            summary="The item's current result image, or with ?v=N the one its version N showed (404 when it has no "
                    "such version)")
async def get_result(item_id: str, request: Request, caller: Caller = Depends(require_key),
                     v: int | None = None) -> Response:
    return await _image_response(request, caller, item_id, "output", v)


@router.get("/v1/items/{item_id}/original", response_class=Response,
            responses={200: _IMAGE, 409: {"model": ErrorBody, "description": "Not fetched yet"}, **_ERRORS,
                       **_BUCKET},
            summary="The item's original photo as uploaded or fetched")
async def get_original(item_id: str, request: Request, caller: Caller = Depends(require_key)) -> Response:
    return await _image_response(request, caller, item_id, "original")


@router.post("/v1/items/{item_id}/reprompt", response_model=ItemOut,
             responses={**_ERRORS, 400: {"model": ErrorBody}, 409: {"model": ErrorBody}, 429: {"model": ErrorBody}},
             summary="Retype the prompt for one item: reuses its stored segmentation, re-runs only the "
                     "prompt-dependent stages")
async def reprompt(item_id: str, body: RepromptIn, request: Request, response: Response,
                   caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    await in_thread(_item_or_404, services, caller.key_id, item_id)  # 404 before taking a worker
    prompt = body.prompt.strip()
    title = body.title.strip() if body.title is not None else None
    started = time.perf_counter()
    try:
        await in_pool(services, lambda: reprompt_item(services, caller.key_id, item_id, prompt, title),
                      key_id=caller.key_id)
    except LookupError:
        raise not_found("item") from None
    except NotReady as exc:
        raise ApiError(409, "not_ready", str(exc)) from None
    except PromptcutError as exc:
        raise from_library(exc) from None
    return _timed(await in_thread(_item_or_404, services, caller.key_id, item_id), response, started)


def _timed(item: dict, response: Response, started: float) -> dict:
    """The new version's stage timings, and the whole fix as the server saw it, as Server-Timing."""
    response.headers["Server-Timing"] = server_timing(item.get("metadata") or {},
                                                      {"total": time.perf_counter() - started})
    return item


@router.post("/v1/items/{item_id}/corrections", response_model=ItemOut,
             responses={**_ERRORS, 400: {"model": ErrorBody, "description": "invalid_option: malformed or empty "
                                         "correction, several at once, a point outside the photo, nothing to undo, "
                                         "an unknown version"},
                        409: {"model": ErrorBody, "description": "not_ready (not done), artifact_missing (no stored "
                              "segmentation: the photo's own transparency was used), conflict (another change "
                              "landed meanwhile: try again)"},
                        429: {"model": ErrorBody}},
             summary="Correct one item's cut with keep/remove clicks or a box, undo, go back to a version, or "
                     "clear: redone from its stored segmentation (no segmenter runs), as a new version")
async def correct(item_id: str, body: CorrectionIn, request: Request, response: Response,
                  caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    started = time.perf_counter()
    try:
        change = body.change()
    except PromptcutError as exc:
        raise from_library(exc) from None
    await in_thread(_item_or_404, services, caller.key_id, item_id)  # 404 before taking a worker
    try:
        await in_pool(services, lambda: correct_item(services, caller.key_id, item_id, change), key_id=caller.key_id)
    except LookupError:
        raise not_found("item") from None
    except NotReady as exc:
        raise ApiError(409, "not_ready", str(exc), headers={"Retry-After": "1"}) from None
    except PromptcutError as exc:
        raise from_library(exc) from None
    return _timed(await in_thread(_item_or_404, services, caller.key_id, item_id), response, started)
