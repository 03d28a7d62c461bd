"""A job's theme swap: its done items re-rendered one pool task at a time, in a run that outlives the request.

One task per item (not one task for the whole job) so a 500-item swap never holds a worker for minutes: other
stores' cut-outs and fixes get the workers between two of its items. Each run holds one of its key's `swaps`
slots (service/jobs/key_limits.py). A second swap of the same job while its run is going joins that run: the
run picks up the newest render before its next item, so clicking through colours re-renders each item once for
the colour that is current, not once per click. The run is not tied to the request: a client that hangs up
leaves it finishing (the job shows the new look when it is done).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fusion.errors import PromptcutError
from service.api.deps import in_thread
from service.db import repo
from service.db.schema import Job, utcnow
from service.jobs.key_limits import KeyBusy
from service.jobs.pool import INTERACTIVE, PoolFull
from service.jobs.runtime import Services
from service.jobs.tasks import rerender_item

log = logging.getLogger("promptcut.api")

RESUME_WINDOW = timedelta(days=2)  # swaps older than this are not resumed on start (the seller has moved on)
RENDER_POLL_SECONDS = 0.05
RENDER_WAIT_SECONDS = 120  # scaled out: a worker must take a render item within this long, or it is skipped


@dataclass
class _SwapRun:
    key_id: str
    asks: int = 0  # bumped by every swap request that joins: the run looks for work again before it stops
    skipped: set[str] = field(default_factory=set)  # items that could not be re-rendered with the current ask
    task: asyncio.Task | None = None


def _runs(services: Services) -> dict[str, _SwapRun]:
    """The process's running swaps by job id (only the event loop thread touches it)."""
    return services.theme_swaps


def reserve(services: Services, key_id: str, job_id: str) -> bool:
    """Before the new render is written: take one of the key's `swaps` slots unless the job's run is already
    going (KeyBusy when the key has none free). True when a slot was taken: hand it to start_or_join, or give
    it back with release() if the swap is refused."""
    if job_id in _runs(services):
        return False
    services.limits.acquire(key_id, "swaps", retry_after=5)
    return True


def release(services: Services, key_id: str) -> None:
    services.limits.release(key_id, "swaps")


def start_or_join(services: Services, key_id: str, job_id: str, reserved: bool) -> asyncio.Task:
    """The run that brings every done item of the job to the job's current render. Call it after the new render
    is committed, with what reserve() returned."""
    runs = _runs(services)
    run = runs.get(job_id)
    if run is not None:
        if reserved:
            release(services, key_id)  # another request started the job's run meanwhile: join it
        run.asks += 1
        run.skipped.clear()
        assert run.task is not None
        return run.task
    if not reserved:
        services.limits.acquire(key_id, "swaps", retry_after=5)  # the run we joined ended meanwhile
    run = _SwapRun(key_id)
    runs[job_id] = run
    run.task = asyncio.get_running_loop().create_task(_run(services, job_id, run))
    return run.task


async def resume_unfinished(services: Services) -> int:
    """On start: finish the theme swaps a stopped server left half done (jobs re-themed within RESUME_WINDOW whose
    done items do not all show the new look). Returns how many runs it started; a key with no free swap slot
    keeps its job for the next swap request."""
    since = utcnow() - RESUME_WINDOW
    stale = await in_thread(_stale_jobs, services, since)
    started = 0
    for job_id, key_id in stale:
        try:
            reserved = reserve(services, key_id, job_id)
        except KeyBusy:
            continue
        start_or_join(services, key_id, job_id, reserved)
        started += 1
    if started:
        log.info("resuming %d theme swap(s) interrupted by the previous run", started)
    return started


def _stale_jobs(services: Services, since) -> list[tuple[str, str]]:
    with services.database.session() as db:
        return repo.jobs_with_stale_renders(db, since)


async def _run(services: Services, job_id: str, run: _SwapRun) -> int:
    rendered = 0
    try:
        while True:
            asks_seen = run.asks
            render, targets = await in_thread(_targets, services, job_id, set(run.skipped))
            if not targets and run.asks == asks_seen:
                return rendered
            for item_id in targets:
                if run.asks != asks_seen:
                    break  # a newer render was asked for: start again with it
                if await _rerender(services, item_id, render):
                    rendered += 1
                else:
                    run.skipped.add(item_id)
    finally:
        _runs(services).pop(job_id, None)
        release(services, run.key_id)


def _targets(services: Services, job_id: str, skipped: set[str]) -> tuple[dict[str, Any], list[str]]:
    """The job's current render and its done items that do not show it yet (in job order)."""
    with services.database.session() as db:
        job = db.get(Job, job_id)
        if job is None:
            return {}, []
        render = dict(job.render)
        return render, [item.id for item in repo.job_items(db, job_id)
                        if item.state == "done" and dict(item.render) != render and item.id not in skipped]


async def _rerender(services: Services, item_id: str, render: dict[str, Any]) -> bool:
    """One item on the interactive lane; waits for room rather than failing a swap already under way. False
    when the item could not be re-rendered (not done any more, a missing layer, an internal error: logged)."""
    if services.broker is not None:
        return await _rerender_on_a_worker(services, item_id, render)
    while True:
        try:
            future = services.pool.submit(lambda: rerender_item(services, item_id, render), priority=INTERACTIVE)
            break
        except PoolFull as full:
            await asyncio.sleep(min(1.0, full.retry_after))
    try:
        return bool(await asyncio.wrap_future(future))
    except PromptcutError as exc:
        log.warning("item %s could not be re-rendered: %s", item_id, exc)
    except Exception:  # noqa: BLE001 — one bad item must not stop the swap of the others
        log.exception("item %s could not be re-rendered", item_id)
    return False


async def _rerender_on_a_worker(services: Services, item_id: str, render: dict[str, Any]) -> bool:
    """Scaled out: the item goes to the `render` queue; done when the database shows it with `render` (or shows
    that it cannot be: not done any more, or no new version within RENDER_WAIT_SECONDS)."""
    before = await in_thread(_item_state, services, item_id)
    if before is None or before[0] != "done":
        return False
    await in_thread(services.broker.send_render, item_id, render)
    deadline = time.monotonic() + RENDER_WAIT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(RENDER_POLL_SECONDS)
        now = await in_thread(_item_state, services, item_id)
        if now is None or now[0] != "done":
            return False
        if now[1] > before[1] and now[2] == render:
            return True  # (a reprompt or fix that lands meanwhile is re-rendered on its version by the worker)
    log.warning("item %s: no worker re-rendered it within %d s", item_id, RENDER_WAIT_SECONDS)
    return False


def _item_state(services: Services, item_id: str) -> tuple[str, int, dict[str, Any]] | None:
    with services.database.session() as db:
        item = repo.load_item(db, item_id)
        return None if item is None else (item.state, item.version, dict(item.render or {}))
