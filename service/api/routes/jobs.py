"""Bulk jobs: create (JSON with image URLs, or multipart uploads), progress, results zip, theme swap."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fusion.errors import PromptcutError
from service.api import params, theme_swap
from service.api.auth import Caller, require_key
from service.api.deps import get_services, in_thread, refused
from service.api.errors import ApiError, from_library, not_found
from service.api.results_zip import results_zip as build_results_zip
from service.api.schemas import ErrorBody, JobList, JobOut
from service.api.uploads import (
    JOB_UPLOAD_FILES,
    display_name,
    display_text,
    is_upload,
    read_upload,
    sniff_content_type,
)
from service.api.urls import check_callback_url, check_image_url
from service.db import repo
from service.db.repo import ArtifactRef, NewItem
from service.jobs.key_limits import KeyBusy, check_job_room
from service.jobs.payloads import job_json
from service.jobs.pool import PoolClosed

router = APIRouter(tags=["jobs"])

MAX_TEXT = 1000
_ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}


class JobItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_url: str | None = Field(default=None, max_length=2048, description="https URL of the photo")
    title: str = Field(default="", max_length=MAX_TEXT)
    prompt: str = Field(default="", max_length=MAX_TEXT)
    ref: str = Field(default="", max_length=200, description="Your SKU or file name (display only)")


class JobIn(params.OutputOptions):
    """A bulk job: items plus output options (remove.bg-style names, see POST /v1/cutouts)."""

    items: list[JobItemIn] = Field(min_length=1)
    callback_url: str | None = Field(default=None, max_length=2048,
                                     description="POSTed the job JSON once every item is finished")


class ThemeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: str | None = Field(default=None, max_length=100, description="A theme name, or 'original'")
    background: str | None = Field(default=None, max_length=100, description="A colour or transparent")
    bg_color: str | None = Field(default=None, max_length=100, description="remove.bg name for background")


_MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "image_file": {"type": "array", "items": {"type": "string", "format": "binary"},
                       "description": "One part per photo (repeat the field)."},
        "items": {"type": "string", "description": 'JSON list matched to the files by order: '
                  '[{"title": "...", "prompt": "...", "ref": "..."}]'},
        "callback_url": {"type": "string"},
        **{name: {"type": "string"} for name in params.OPTION_NAMES},
    },
    "required": ["image_file"],
}

_CREATE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobIn"}},
            "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
        },
    }
}


# ------------------------------------------------------------------------------------------------ create


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobOut,
    openapi_extra=_CREATE_OPENAPI,
    responses={**_ERRORS, 400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody},
               422: {"model": ErrorBody}, 429: {"model": ErrorBody}},
    summary="Create a bulk job (JSON with image URLs, or multipart with image_file parts)",
)
async def create_job(request: Request, caller: Caller = Depends(require_key)) -> JSONResponse:
    services = get_services(request)
    settings = services.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        spec = await _from_multipart(request, settings)
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        spec = await _from_json(request, settings)
    else:
        raise ApiError(415, "unsupported_media_type", "send application/json or multipart/form-data")
    job = await in_thread(_create, services, caller.key_id, spec)
    services.dispatcher.wake()
    return JSONResponse(JobOut.model_validate(job).model_dump(mode="json"), 202,
                        headers={"Location": f"/v1/jobs/{job['id']}"})


class _Spec:
    """A validated job request: items (NewItem fields + upload bytes) and the render dict."""

    def __init__(self, items: list[dict], render: dict, callback_url: str | None) -> None:
        self.items = items
        self.render = render
        self.callback_url = callback_url


def _check_count(count: int, settings) -> None:
    if count > settings.max_items_per_job:
        raise ApiError(413, "too_many_items", f"a job holds at most {settings.max_items_per_job} items, got {count}",
                       field="items")


async def _from_json(request: Request, settings) -> _Spec:
    raw = await request.body()
    try:
        body = JobIn.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0].get("loc", ())) if errors else None
        message = f"{where}: {errors[0].get('msg')}" if errors and where else "malformed job JSON"
        raise ApiError(422, "invalid_request", message[:300], field=where or None) from None
    _check_count(len(body.items), settings)
    options = body.model_dump(exclude={"items", "callback_url"})
    render = params.render_options(options, max_pixels=settings.max_pixels)
    items = []
    for index, item in enumerate(body.items):
        if not item.image_url:
            raise ApiError(422, "missing_image", f"items[{index}] has no image_url (upload files with multipart)",
                           field=f"items.{index}.image_url")
        url = check_image_url(item.image_url, settings, field=f"items.{index}.image_url")
        items.append({"ref": display_text(item.ref), "title": item.title.strip(), "prompt": item.prompt.strip(),
                      "source_url": url, "data": None})
    return _Spec(items, render, check_callback_url(body.callback_url, settings))


async def _from_multipart(request: Request, settings) -> _Spec:
    # The body cap bounds what parsing spools; too many photos get the clear answer below, not a parser error.
    form = await request.form(max_files=settings.max_items_per_job + 1, max_fields=len(params.OPTION_NAMES) + 8,
                              max_part_size=1024 * 1024)
    files = []
    options: dict[str, Any] = {}
    rows_text = None
    callback = None
    for name, value in form.multi_items():
        if name == "image_file":
            if not is_upload(value):
                raise ApiError(422, "invalid_request", "image_file must be a file part", field="image_file")
            files.append(value)
        elif is_upload(value):
            raise ApiError(422, "invalid_request", f"unexpected file field {name[:40]!r}", field=name[:40])
        elif name == "items":
            rows_text = value
        elif name == "callback_url":
            callback = value
        else:
            if name in options:
                raise ApiError(400, "invalid_option", f"{name[:40]!r} given twice", field=name[:40])
            options[name] = value
    if len(files) > JOB_UPLOAD_FILES:
        raise ApiError(413, "too_many_items", f"a multipart job holds at most {JOB_UPLOAD_FILES} photos; send more "
                       "as image URLs (JSON or the items field)", field="image_file")
    file_rows, url_rows = _rows(rows_text, len(files))
    if not files and not url_rows:
        raise ApiError(422, "missing_image", "a multipart job needs at least one image_file part or an items "
                       "entry with an image_url", field="image_file")
    _check_count(len(files) + len(url_rows), settings)
    render = params.render_options(options, max_pixels=settings.max_pixels)
    items = []
    for index, (upload, row) in enumerate(zip(files, file_rows, strict=True)):
        data = await read_upload(upload, settings.max_upload_bytes, f"image_file[{index}]")
        items.append({"ref": display_name(row.ref or upload.filename), "title": row.title.strip(),
                      "prompt": row.prompt.strip(), "source_url": None, "data": data})
    for index, row in url_rows:
        url = check_image_url(row.image_url, settings, field=f"items.{index}.image_url")
        items.append({"ref": display_text(row.ref), "title": row.title.strip(), "prompt": row.prompt.strip(),
                      "source_url": url, "data": None})
    await form.close()
    return _Spec(items, render, check_callback_url(callback, settings))


def _rows(text: str | None, count: int) -> tuple[list[JobItemIn], list[tuple[int, JobItemIn]]]:
    """`items` of a multipart job → (rows for the `count` image_file parts, in order; (index, row) of the
    entries that bring their own image_url). Uploads and URLs can be mixed in one job."""
    if text is None or not text.strip():
        return [JobItemIn() for _ in range(count)], []
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise ValueError("not a list")
        rows = [JobItemIn.model_validate(entry) for entry in raw]
    except (ValueError, ValidationError):
        raise ApiError(422, "invalid_request", 'items must be a JSON list like [{"title": "...", "prompt": "...", '
                       '"ref": "..."}]', field="items") from None
    file_rows = [row for row in rows if not row.image_url]
    url_rows = [(index, row) for index, row in enumerate(rows) if row.image_url]
    if len(file_rows) != count:
        raise ApiError(422, "invalid_request", f"items has {len(file_rows)} entries without image_url for {count} "
                       "image_file parts (one per uploaded file, in order; URL entries bring their own image)",
                       field="items")
    return file_rows, url_rows


# Serialises one server's job creations, so the unfinished-jobs cap is checked and the job inserted as one step;
# across servers on one PostgreSQL database the key's row lock (repo.lock_key) does the same.
_CREATE_LOCK = threading.Lock()


def _check_room(services, db, key_id: str, new_items: int) -> None:
    try:
        check_job_room(services.settings, db, key_id, new_items)
    except KeyBusy as busy:
        raise refused(services, busy) from None


def _create(services, key_id: str, spec: _Spec) -> dict:
    with services.database.session() as db:  # early, before any upload is stored
        _check_room(services, db, key_id, len(spec.items))
    new_items = []
    for entry in spec.items:
        original = None
        if entry["data"] is not None:
            data = entry["data"]
            original = ArtifactRef(services.store.put(data), len(data), sniff_content_type(data))
        new_items.append(NewItem(ref=entry["ref"], title=entry["title"], prompt=entry["prompt"],
                                 source_url=entry["source_url"], original=original))
    with _CREATE_LOCK, services.database.session() as db:
        repo.lock_key(db, key_id)
        _check_room(services, db, key_id, len(new_items))  # again, now that no other creation can interleave
        job = repo.create_job(db, key_id, new_items, spec.render, spec.callback_url)
        return job_json(job, repo.job_counts(db, job.id), repo.job_items(db, job.id))


# ------------------------------------------------------------------------------------------------ read


def _job_or_404(services, key_id: str, job_id: str, with_items: bool = True) -> dict:
    with services.database.session() as db:
        job = repo.get_job(db, key_id, job_id)
        if job is None:
            raise not_found("job")
        return job_json(job, repo.job_counts(db, job.id), repo.job_items(db, job.id) if with_items else None)


@router.get("/v1/jobs", response_model=JobList, responses={401: {"model": ErrorBody}},
            summary="This key's jobs, newest first (without items)")
async def list_jobs(request: Request, caller: Caller = Depends(require_key),
                    limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=1_000_000)) -> dict:
    services = get_services(request)

    def load() -> dict:
        with services.database.session() as db:
            jobs = repo.list_jobs(db, caller.key_id, limit=limit, offset=offset)
            return {"jobs": [job_json(job, repo.job_counts(db, job.id), None) for job in jobs]}

    return await in_thread(load)


@router.get("/v1/jobs/{job_id}", response_model=JobOut, responses=_ERRORS,
            summary="A job's progress and every item's state")
async def get_job(job_id: str, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    return await in_thread(_job_or_404, services, caller.key_id, job_id)


# ------------------------------------------------------------------------------------------------ results


@router.get("/v1/jobs/{job_id}/results.zip", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "The done items' results"},
                       409: {"model": ErrorBody}, **_ERRORS},
            summary="Every done item's result in one zip (<position>-<ref>.<ext>)")
async def results_zip(job_id: str, request: Request, caller: Caller = Depends(require_key)) -> FileResponse:
    services = get_services(request)
    try:
        path, count = await in_thread(build_results_zip, services, caller.key_id, job_id)
    except PromptcutError as exc:
        raise from_library(exc) from None
    return FileResponse(path, media_type="application/zip", filename=f"promptcut-{job_id}.zip",
                        headers={"X-Promptcut-Count": str(count)})


# ------------------------------------------------------------------------------------------------ theme


@router.post("/v1/jobs/{job_id}/theme", response_model=JobOut,
             responses={**_ERRORS, 400: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody}},
             summary="Re-render every done item with another theme or background (or 'original') — no "
                     "segmentation")
async def swap_theme(job_id: str, body: ThemeIn, request: Request, caller: Caller = Depends(require_key)) -> dict:
    services = get_services(request)
    settings = services.settings
    given = {name: value for name, value in body.model_dump().items() if value is not None and value.strip()}
    if not given:
        raise ApiError(422, "invalid_request", 'send {"theme": "<name>" | "original"} or {"background": "<colour>"}')
    params.refuse_theme_with_colour(given)  # before "original" skips render_options: same answer as /v1/cutouts

    def new_render() -> dict:
        with services.database.session() as db:
            job = repo.get_job(db, caller.key_id, job_id)
            if job is None:
                raise not_found("job")
            if given.get("theme", "").strip().lower() == "original":
                render = dict(job.original_render)
            else:
                base = {k: v for k, v in job.render.items() if k not in ("theme", "background")}
                render = params.render_options(given, max_pixels=settings.max_pixels, base=base)
            repo.set_job_render(db, job_id, render)
            return render

    reserved = False
    try:
        reserved = theme_swap.reserve(services, caller.key_id, job_id)
        await in_thread(new_render)
        run = theme_swap.start_or_join(services, caller.key_id, job_id, reserved)
        reserved = False  # the run holds the slot now
        await asyncio.shield(run)  # a client that hangs up leaves the swap finishing
    except KeyBusy as busy:
        raise refused(services, busy) from None
    except PoolClosed:
        raise ApiError(503, "shutting_down", "the server is shutting down; retry shortly",
                       headers={"Retry-After": "5"}) from None
    finally:
        if reserved:
            theme_swap.release(services, caller.key_id)
    return await in_thread(_job_or_404, services, caller.key_id, job_id)
