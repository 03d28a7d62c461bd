"""Jobs and items as JSON-ready dicts: the API's response bodies and the job-finished webhook's body.

`service.api.schemas` documents these shapes for /openapi.json; they are built here so the job runner can send
a webhook without depending on the HTTP layer.
"""

from __future__ import annotations

from typing import Any

from service.db.schema import Item, Job
from service.engine.result_meta import review_of


def item_json(item: Item) -> dict[str, Any]:
    done = item.state == "done" and item.version > 0
    error = {"code": item.error_code, "message": item.error_message or ""} if item.error_code else None
    needs_review, reasons, messages = review_of(item.meta or {}) if done else (False, [], [])
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
        "needs_review": needs_review,
        "review_reasons": reasons,
        "review_messages": messages,
        "original_url": f"/v1/items/{item.id}/original",
        "render": dict(item.render or {}),
        "metadata": dict(item.meta or {}),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def job_json(job: Job, counts: dict[str, int], items: list[Item] | None) -> dict[str, Any]:
    total = sum(counts.values())
    finished = counts.get("done", 0) + counts.get("failed", 0)
    listed = [item_json(item) for item in items] if items is not None else None
    return {
        "id": job.id,
        "state": job.state,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "counts": {state: counts.get(state, 0) for state in ("queued", "running", "done", "failed")},
        "progress": round(finished / total, 4) if total else 1.0,
        "needs_review": sum(item["needs_review"] for item in listed) if listed is not None else None,
        "render": dict(job.render or {}),
        "original_render": dict(job.original_render or {}),
        "callback_url": job.callback_url,
        "webhook_state": job.webhook_state,
        "webhook_error": job.webhook_error,
        "results_url": f"/v1/jobs/{job.id}/results.zip",
        "items": listed,
    }
