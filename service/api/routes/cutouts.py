"""POST /v1/cutouts: one image in, the finished image out (remove.bg-style parameters)."""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from fusion.errors import PromptcutError
from service.api import params
from service.api.auth import Caller, require_key
from service.api.deps import check_key_room, get_services, in_pool, in_thread, key_slot
from service.api.errors import ApiError, from_library
from service.api.schemas import CutoutOut, ErrorBody
from service.api.uploads import display_name, read_upload
from service.api.urls import check_image_url
from service.db import repo
from service.engine.result_meta import (
    chosen_labels,
    confidence,
    header_safe,
    review_of,
    server_timing,
)
from service.jobs.payloads import item_json
from service.jobs.tasks import CutoutRequest, fetch_source, run_cutout

router = APIRouter(tags=["cut-outs"])

MAX_TEXT = 1000

ERRORS = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad option or image URL, or several image_file parts (invalid_option, unknown_theme, url_invalid, "
              "url_forbidden)"),
        (401, "Missing, unknown or revoked API key"),
        (413, "Upload or image too large (file_too_large, too_large, image_too_large, url_too_large)"),
        (415, "Not an image (invalid_image)"),
        (422, "Malformed request (invalid_request, missing_image, image_too_small)"),
        (429, "All workers busy and the queue full (busy), or this key at its limit of cut-outs or URL downloads "
              "in flight (key_busy): retry after Retry-After seconds"),
        (502, "The image URL could not be fetched (url_unreachable, url_bad_status, url_timeout)"),
    )
}


def _form(description: str) -> Any:
    return Form(None, description=description, max_length=MAX_TEXT)


@router.post(
    "/v1/cutouts",
    summary="Cut out one product and put it on a new background",
    response_class=Response,
    responses={
        200: {
            "description": "The image (Content-Type per `format`), or JSON with `Accept: application/json`. "
            "Headers: X-Promptcut-Item (the item id, for reprompt), X-Promptcut-Backend, "
            "X-Promptcut-Confidence, X-Promptcut-Labels, X-Promptcut-Needs-Review (true | false), "
            "X-Promptcut-Review-Reasons (comma-separated codes, when it needs review), Server-Timing.",
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/webp": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/CutoutOut"}},
            },
        },
        **ERRORS,
    },
)
async def create_cutout(
    request: Request,
    caller: Caller = Depends(require_key),
    image_file: UploadFile | None = File(None, description="The photo (JPEG, PNG, WebP, TIFF, GIF, BMP, AVIF)."),
    image_url: str | None = _form("An https URL of the photo (instead of image_file)."),
    title: str | None = _form("The product title: says what to keep."),
    prompt: str | None = _form("What to keep, typed (wins over the title)."),
    format: str | None = _form("png | webp | jpeg | jpg | mask | auto"),
    quality: str | None = _form("1-100 (JPEG/WebP)"),
    bg_color: str | None = _form("Background colour: 81d4fa, #81d4fa, 255,255,255, white"),
    background: str | None = _form("transparent or a colour (synonym of bg_color)"),
    theme: str | None = _form("A theme name (see `promptcut themes`)"),
    size: str | None = _form("Output size: 1600x1200, 1000 (square) or auto"),
    crop: str | None = _form("true: frame the product; false: keep the photo's canvas"),
    fill: str | None = _form("Share of the canvas the product fills: 0.1-1 or a percentage"),
    scale: str | None = _form("remove.bg name for fill, e.g. 85%"),
    align: str | None = _form("center | top | bottom"),
    position: str | None = _form("remove.bg name for align"),
    margin: str | None = _form("Margin on every side: 0-0.4 or a percentage"),
    crop_margin: str | None = _form("remove.bg name for margin, e.g. 5%"),
    shadow: str | None = _form("Contact shadow: true | false (default: on for themes)"),
    add_shadow: str | None = _form("remove.bg name for shadow"),
) -> Response:
    services = get_services(request)
    settings = services.settings
    options = {
        "format": format, "quality": quality, "bg_color": bg_color, "background": background, "theme": theme,
        "size": size, "crop": crop, "fill": fill, "scale": scale, "align": align, "position": position,
        "margin": margin, "crop_margin": crop_margin, "shadow": shadow, "add_shadow": add_shadow,
    }
    render = params.render_options(options, max_pixels=settings.max_pixels)

    await _refuse_repeated_fields(request)
    url = (image_url or "").strip() or None
    has_file = image_file is not None and (image_file.size is None or image_file.size > 0 or url is None)
    if has_file and url:
        raise ApiError(422, "invalid_request", "send either image_file or image_url, not both", field="image_url")
    if not has_file and not url:
        raise ApiError(422, "missing_image", "send the photo as image_file (multipart) or image_url",
                       field="image_file")
    data = None
    if has_file:
        assert image_file is not None
        data = await read_upload(image_file, settings.max_upload_bytes, "image_file")
    else:
        check_image_url(url, settings, field="image_url")

    job = CutoutRequest(
        title=(title or "").strip(),
        prompt=(prompt or "").strip(),
        ref=display_name(image_file.filename) if has_file and image_file is not None else "",
        source_url=url,
        render=render,
    )
    try:
        fetched_in = None
        if data is None:
            data, fetched_in = await _fetch(services, caller.key_id, url)
        outcome = await in_pool(services, lambda: run_cutout(services, caller.key_id, job, data, fetched_in),
                                key_id=caller.key_id)
    except PromptcutError as exc:
        raise from_library(exc, field="image_url" if url else "image_file") from None

    labels = chosen_labels(outcome.metadata)
    headers = {
        "X-Promptcut-Item": outcome.item_id,
        "X-Promptcut-Backend": header_safe(str(outcome.metadata.get("backend", ""))),
        "Server-Timing": server_timing(outcome.metadata, outcome.seconds),
        "Location": f"/v1/items/{outcome.item_id}",
    }
    if all(label.isdigit() for label in labels):  # anonymous regions (classical superpixels): a count says more
        headers["X-Promptcut-Regions"] = str(len(labels))
    else:
        headers["X-Promptcut-Labels"] = header_safe(",".join(labels))
    level = confidence(outcome.metadata)
    if level is not None:
        headers["X-Promptcut-Confidence"] = f"{level:.3f}"
    needs_review, reasons, _ = review_of(outcome.metadata)
    headers["X-Promptcut-Needs-Review"] = "true" if needs_review else "false"
    if reasons:
        headers["X-Promptcut-Review-Reasons"] = header_safe(",".join(reasons))
    if _wants_json(request):
        item = await in_thread(_load_item_json, services, caller.key_id, outcome.item_id)
        body = {"item": item, "content_type": outcome.content_type,
                "image_base64": base64.b64encode(outcome.output).decode("ascii")}
        return JSONResponse(CutoutOut.model_validate(body).model_dump(mode="json"), headers=headers)
    return Response(outcome.output, media_type=outcome.content_type, headers=headers)


async def _fetch(services, key_id: str, url: str) -> tuple[bytes, float]:
    """The photo at `url` and the seconds it took. Downloaded off the workers, under the key's URL-fetch limit: a
    slow server ties up one of this key's fetch slots, never a worker other stores need; and not at all while the
    key's cut slots are full (its cut would be refused anyway)."""
    started = time.perf_counter()
    check_key_room(services, key_id, "cuts", retry_after=services.pool.retry_after())
    with key_slot(services, key_id, "url_fetches", retry_after=2):
        data = await in_thread(fetch_source, services, url)
    return data, time.perf_counter() - started


async def _refuse_repeated_fields(request: Request) -> None:
    """FastAPI binds one of several parts of a name and drops the rest unseen: a seller who sent two photos must
    hear that only one is cut per request, not get one result back and think the other was handled; two `size`
    or `theme` values are as ambiguous (which one did the server use?)."""
    form = await request.form()  # the form FastAPI already parsed (cached)
    for name in dict.fromkeys(form.keys()):
        count = len(form.getlist(name))
        if count <= 1:
            continue
        if name == "image_file":
            raise ApiError(400, "invalid_option", f"image_file given {count} times; a cut-out takes one photo "
                           "(send several as a job: POST /v1/jobs)", field="image_file")
        raise ApiError(400, "invalid_option", f"{name} given {count} times; send each option once", field=name)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "image/" not in accept


def _load_item_json(services, key_id: str, item_id: str) -> dict:
    with services.database.session() as db:
        item = repo.get_item(db, key_id, item_id)
        if item is None:
            raise ApiError(404, "not_found", "item not found")
        return item_json(item)
