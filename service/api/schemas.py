"""JSON shapes of items and jobs (pydantic models: they also document the API in /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from service.db.schema import Item, Job


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. invalid_option, url_forbidden.")
    message: str = Field(description="One line a person can act on.")
    field: str | None = Field(default=None, description="The request field at fault, when there is one.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ItemError(BaseModel):
    code: str
    message: str


class ItemOut(BaseModel):
    id: str
    job_id: str | None
    position: int
    ref: str
    title: str
    prompt: str
    state: str = Field(description="queued | running | done | failed")
    version: int = Field(description="+1 per new result (reprompt, theme swap); 0 = no result yet")
    attempts: int
    error: ItemError | None
    result_url: str | None = Field(description="The current result image; changes with every new version.")
    original_url: str
    render: dict[str, Any]
    metadata: dict[str, Any] = Field(description="backend, chosen labels, confidence, timings, prompts, notes")
    created_at: datetime
    updated_at: datetime


class Counts(BaseModel):
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0


class JobOut(BaseModel):
    id: str
    state: str = Field(description="queued | running | done | failed (failed only when every item failed)")
    created_at: datetime
    updated_at: datetime
    counts: Counts
    progress: float = Field(description="Finished share of the items, 0..1")
    render: dict[str, Any]
    original_render: dict[str, Any]
    callback_url: str | None
    webhook_state: str | None
    results_url: str
    items: list[ItemOut] | None = Field(default=None, description="Absent in listings.")


class JobList(BaseModel):
    jobs: list[JobOut]


class CutoutOut(BaseModel):
    item: ItemOut
    content_type: str
    image_base64: str


def item_json(item: Item) -> dict[str, Any]:
    done = item.state == "done" and item.version > 0
    error = {"code": item.error_code, "message": item.error_message or ""} if item.error_code else None
    return {
        "id": item.id,
        "job_id": item.job_id,
        "position": item.position,
        "ref": item.ref,
        "title": item.title,
        "prompt": item.prompt,
        "state": item.state,
        "version": item.version,
        "attempts": item.attempts,
        "error": error,
        "result_url": f"/v1/items/{item.id}/result?v={item.version}" if done else None,
        "original_url": f"/v1/items/{item.id}/original",
        "render": dict(item.render or {}),
        "metadata": dict(item.meta or {}),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def job_json(job: Job, counts: dict[str, int], items: list[Item] | None) -> dict[str, Any]:
    total = sum(counts.values())
    finished = counts.get("done", 0) + counts.get("failed", 0)
    return {
        "id": job.id,
        "state": job.state,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "counts": {state: counts.get(state, 0) for state in ("queued", "running", "done", "failed")},
        "progress": round(finished / total, 4) if total else 1.0,
        "render": dict(job.render or {}),
        "original_render": dict(job.original_render or {}),
        "callback_url": job.callback_url,
        "webhook_state": job.webhook_state,
        "results_url": f"/v1/jobs/{job.id}/results.zip",
        "items": [item_json(item) for item in items] if items is not None else None,
    }
