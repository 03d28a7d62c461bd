"""JSON shapes of items, jobs and errors as pydantic models: they document the API in /openapi.json.

The dicts themselves are built by `service.jobs.payloads` (the webhook sends the same shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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
    version: int = Field(description="+1 per new result (reprompt, correction, theme swap); 0 = no result yet")
    attempts: int
    error: ItemError | None
    result_url: str | None = Field(description="The current result image; changes with every new version.")
    needs_review: bool = Field(
        description="True when the current result is doubtful and a person should look at it before it is "
        "published (see review_reasons). Always false until the item is done.")
    review_reasons: list[str] = Field(
        description="Stable codes, in this order: uniform_photo, low_confidence, empty, near_full, sliver, "
        "weak_outline, backdrop_not_uniform (only for white, colour or transparent outputs). Empty when "
        "needs_review is false.")
    review_messages: list[str] = Field(description="One sentence per reason, same order, for people.")
    original_url: str
    render: dict[str, Any]
    metadata: dict[str, Any] = Field(
        description="backend, chosen labels, confidence, timings, prompts, notes; prompts_read (false: this "
        "backend cannot read text prompts); photo_size [width, height] (the original as displayed: the pixels "
        "corrections are given in); corrections {points, box, steps} once the cut has been corrected by clicks")
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
    needs_review: int | None = Field(
        default=None, description="How many done items need review (null in listings, which omit items).")
    render: dict[str, Any]
    original_render: dict[str, Any]
    callback_url: str | None
    webhook_state: str | None
    webhook_error: str | None = Field(default=None, description="Why the webhook failed: the host and an HTTP "
                                      "status or a fetch error code (never the URL's path)")
    results_url: str
    items: list[ItemOut] | None = Field(default=None, description="Absent in listings.")


class JobList(BaseModel):
    jobs: list[JobOut]


class CutoutOut(BaseModel):
    item: ItemOut
    content_type: str
    image_base64: str
