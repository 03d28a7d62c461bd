"""The blocking work, run on pool threads: a job item, a single cut-out, a reprompt, a correction, one item of a
theme swap.

Each function takes Services plus ids/bytes, talks to the database in short transactions (never held open
across a cut), and leaves items in a final state or raises a library error for the caller to map. A new result
for a done item (reprompt, correction, theme swap) is recorded only if the item is still at the version it was
computed from, so two of them racing never silently overwrite each other: a request answers `conflict` (try
again), a theme swap simply runs again on the newer version.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

from fusion.errors import PromptcutError
from service.db import repo
from service.db.repo import NewItem
from service.db.schema import Job
from service.engine.correction_history import CorrectionChange, CorrectionHistory
from service.engine.engine import MissingArtifactError
from service.engine.render_request import RenderRequest
from service.engine.result_meta import stage_seconds
from service.jobs.heartbeat import claim_heartbeat
from service.jobs.runtime import Services
from service.net.fetch import fetch_image

log = logging.getLogger("promptcut.work")

RERENDER_ATTEMPTS = 3  # a theme swap that loses a race with a correction or reprompt is redone on the new version
DROPPED_CORRECTIONS_NOTE = ("reprompt: the seller's corrections were dropped; the cut starts again from the "
                            "automatic selection (correct it again if needed)")

RETRY_LATER = {"artifact_store_unavailable"}  # errors of the server's own storage, not of the item
INTERNAL_MESSAGE = "internal error while processing this item; it has been logged"


@dataclass(frozen=True)
class Outcome:
    """What a synchronous operation hands back to its route: the item row's id and the result bytes."""

    item_id: str
    output: bytes
    content_type: str
    extension: str
    metadata: dict
    seconds: dict  # wall time of the whole operation's parts: fetch, cut (the engine call), persist


def _render_request(render: Mapping[str, Any]):
    return RenderRequest.from_dict(dict(render))


def _new_artifacts(result_artifacts: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """Only kinds whose blob changed: unchanged stages (the original, reused evidence) get no new rows."""
    return {kind: digest for kind, digest in result_artifacts.items() if current.get(kind) != digest}


def _timings(metadata: Mapping[str, Any]) -> dict[str, float]:
    return stage_seconds(metadata)


def fetch_source(services: Services, url: str) -> bytes:
    start = time.perf_counter()
    try:
        return fetch_image(url, services.settings)
    finally:
        services.metrics.stage_seconds.labels("cut", "fetch").observe(time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------ job items


def run_job_item(services: Services, item_id: str) -> None:
    """Claim a queued item and process it. Returns quietly when another worker (or process) won the claim."""
    worker = services.worker_name()
    with services.database.session() as db:
        if not repo.claim_item(db, item_id, worker):
            return
        item = repo.load_item(db, item_id)
        assert item is not None
        job = db.get(Job, item.job_id) if item.job_id else None
        render = dict(job.render if job is not None else item.render)
        original = repo.current_artifact(db, item_id, "original")
        source_url, title, prompt = item.source_url, item.title, item.prompt
        current = repo.current_artifacts(db, item_id)
    try:
        with claim_heartbeat(services, item_id, worker):
            if original is not None:
                data = services.store.get(original.digest)
            elif source_url:
                data = fetch_source(services, source_url)
            else:
                raise PromptcutError("the item has neither an uploaded image nor an image URL")
            result = services.engine.cut(data, title, prompt, _render_request(render))
    except PromptcutError as exc:
        if getattr(exc, "code", None) in RETRY_LATER:
            # Not the item's fault: leave the claim to expire, so the item is tried again after the lease (a
            # natural back-off; after MAX_ATTEMPTS claims it is failed as abandoned).
            log.warning("item %s: %s; it will be retried after its lease", item_id, exc)
            return
        _fail(services, item_id, worker, getattr(exc, "code", "error") or "error", str(exc))
        return
    except Exception:  # noqa: BLE001 — one broken item must not stop the job; the trace goes to the log only
        log.exception("item %s failed", item_id)
        _fail(services, item_id, worker, "internal", INTERNAL_MESSAGE)
        return
    services.metrics.observe_stages("cut", _timings(result.metadata))
    with services.database.session() as db:
        finished = repo.finish_item(db, item_id, worker, _new_artifacts(result.artifacts, current),
                                    result.metadata, render)
    if not finished:
        log.warning("item %s: claim lost while processing (re-queued as stale); result dropped", item_id)
        return
    services.metrics.items_finished.labels("done", "").inc()
    if job is not None:
        _follow_theme_change(services, item_id, job.id, render)


def _fail(services: Services, item_id: str, worker: str, code: str, message: str) -> None:
    with services.database.session() as db:
        if repo.fail_item(db, item_id, worker, code, message):
            services.metrics.items_finished.labels("failed", code).inc()


def _follow_theme_change(services: Services, item_id: str, job_id: str, used: Mapping[str, Any]) -> None:
    """A theme swap that arrived while this item was being cut: re-render it now (cheap, no segmentation)."""
    with services.database.session() as db:
        job = db.get(Job, job_id)
        render = dict(job.render) if job is not None else dict(used)
    if render != dict(used):
        rerender_item(services, item_id, render)


# ------------------------------------------------------------------------------------------------ cut-outs


@dataclass(frozen=True)
class CutoutRequest:
    """A validated POST /v1/cutouts: the item to persist once the cut succeeds."""

    title: str
    prompt: str
    ref: str
    source_url: str | None
    render: dict

    def as_new_item(self):
        return NewItem(ref=self.ref, title=self.title, prompt=self.prompt, source_url=self.source_url)


def run_cutout(services: Services, key_id: str, new_item: CutoutRequest, data: bytes,
               fetch_seconds: float | None = None) -> Outcome:
    """POST /v1/cutouts: cut the photo (uploaded, or already fetched from the item's URL in `fetch_seconds`),
    then persist the item as done so it can be reprompted. Raises PromptcutError (mapped to HTTP by the caller);
    nothing is persisted for a failed cut-out."""
    render = dict(new_item.render)
    seconds: dict[str, float] = {} if fetch_seconds is None else {"fetch": fetch_seconds}
    start = time.perf_counter()
    result = services.engine.cut(data, new_item.title, new_item.prompt, _render_request(render))
    seconds["cut"] = time.perf_counter() - start
    services.metrics.observe_stages("cut", _timings(result.metadata))
    start = time.perf_counter()
    worker = services.worker_name()
    with services.database.session() as db:
        row = repo.create_item(db, key_id, new_item.as_new_item(), render, claimed_by=worker)
        repo.finish_item(db, row.id, worker, result.artifacts, result.metadata, render)
        item_id = row.id
    seconds["persist"] = time.perf_counter() - start
    return Outcome(item_id, result.output, result.content_type, result.extension, result.metadata, seconds)


# ------------------------------------------------------------------------------------------------ reprompt


class NotReady(PromptcutError):
    code = "not_ready"


class Conflict(PromptcutError):
    """Another result (a reprompt, correction or theme swap) was recorded while this one was computed."""

    code = "conflict"


def reprompt_item(services: Services, key_id: str, item_id: str, prompt: str, title: str | None) -> None:
    """Recompute only the prompt-dependent stages from the item's stored evidence; records a new version.
    A seller's corrections do not carry over: the reprompt starts from the automatic selection (a note says so)."""
    with services.database.session() as db:
        item = repo.get_item(db, key_id, item_id)
        if item is None:
            raise LookupError(item_id)
        if item.state != "done":
            raise NotReady(f"item {item_id} is {item.state}: it can be reprompted once it is done")
        current = repo.current_artifacts(db, item_id)
        render = dict(item.render)
        new_title = item.title if title is None else title
        version, corrected = item.version, _has_corrections(item.meta or {})
    if "evidence" not in current:
        raise NotReady(f"item {item_id} has no stored segmentation evidence (its own transparency was used)")
    result = services.engine.reprompt(current, new_title, prompt, _render_request(render))
    services.metrics.observe_stages("reprompt", _timings(result.metadata))
    metadata = result.metadata
    if corrected:
        metadata = {**metadata, "notes": [*metadata.get("notes", []), DROPPED_CORRECTIONS_NOTE]}
    with services.database.session() as db:
        if not repo.record_result(db, item_id, _new_artifacts(result.artifacts, current), metadata, render,
                                  title=new_title, prompt=prompt, expected_version=version):
            raise Conflict(f"item {item_id} changed while it was being reprompted; try again")


# ------------------------------------------------------------------------------------------------ corrections


def _has_corrections(meta: Mapping[str, Any]) -> bool:
    record = meta.get("corrections")
    return isinstance(record, Mapping) and bool(record.get("steps"))


def correct_item(services: Services, key_id: str, item_id: str, change: CorrectionChange) -> None:
    """A seller's correction step (add clicks/box, undo, back to a version, clear): the cut is redone from the
    item's stored evidence with every correction still standing, and recorded as a new version whose metadata
    carries the steps (`corrections`). Raises LookupError (no such item), NotReady, MissingArtifactError (no
    stored evidence), InvalidOptionError (nothing to undo, unknown version, a point outside the photo),
    Conflict (another result landed meanwhile)."""
    with services.database.session() as db:
        item = repo.get_item(db, key_id, item_id)
        if item is None:
            raise LookupError(item_id)
        if item.state != "done":
            raise NotReady(f"item {item_id} is {item.state}: it can be corrected once it is done")
        current = repo.current_artifacts(db, item_id)
        render, meta, version = dict(item.render), dict(item.meta or {}), item.version
        title, prompt = item.title, item.prompt
    if "evidence" not in current:
        raise MissingArtifactError(f"item {item_id} has no stored segmentation (its own transparency was used), "
                                   "so there is nothing to correct")
    history = CorrectionHistory() if change.action == "clear" else CorrectionHistory.from_metadata(meta)
    history = history.changed(change, version)
    result = services.engine.correct(current, history.corrections, _render_request(render), title=title,
                                     prompt=prompt)
    services.metrics.observe_stages("correct", _timings(result.metadata))
    metadata = {**result.metadata, "corrections": history.to_metadata()}
    with services.database.session() as db:
        if not repo.record_result(db, item_id, _new_artifacts(result.artifacts, current), metadata, render,
                                  expected_version=version):
            raise Conflict(f"item {item_id} changed while it was being corrected (a reprompt or theme swap); "
                           "try again")


# ------------------------------------------------------------------------------------------------ themes


def rerender_item(services: Services, item_id: str, render: Mapping[str, Any]) -> bool:
    """New output for a done item from its stored layers (no segmentation); its metadata is merged, so a
    correction's alpha and steps are kept. False when it is not done. Redone on the newer version when a
    reprompt or correction is recorded meanwhile (at most RERENDER_ATTEMPTS times)."""
    for _ in range(RERENDER_ATTEMPTS):
        with services.database.session() as db:
            item = repo.load_item(db, item_id)
            if item is None or item.state != "done":
                return False
            current = repo.current_artifacts(db, item_id)
            meta, version = dict(item.meta or {}), item.version
        result = services.engine.rerender(current, _render_request(render))
        services.metrics.observe_stages("rerender", _timings(result.metadata))
        metadata = {**meta, **result.metadata}
        with services.database.session() as db:
            if repo.record_result(db, item_id, _new_artifacts(result.artifacts, current), metadata, render,
                                  expected_version=version):
                return True
    log.warning("item %s: not re-rendered, it kept changing while being re-rendered", item_id)
    return False
