"""Small helpers shared by the routes: the Services object, running blocking work off the event loop."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from service.api.errors import ApiError
from service.jobs.key_limits import KeyBusy, Kind
from service.jobs.pool import INTERACTIVE, PoolClosed, PoolFull
from service.jobs.runtime import Services

T = TypeVar("T")


def get_services(request: Request) -> Services:
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ApiError(503, "not_ready", "the server is starting or stopping; retry shortly",
                       headers={"Retry-After": "1"})
    return services


async def in_pool(services: Services, fn: Callable[[], T], *, reason: str = "busy", key_id: str | None = None) -> T:
    """Run `fn` on a worker thread and await it. 429 + Retry-After when the pool is full, or — with `key_id` —
    when that key already has its limit of interactive work (`cuts`) in flight. The key's slot is held until the
    task itself ends, not the request: a client that hangs up cannot pile up more work than its limit."""
    if key_id is not None:
        try:
            services.limits.acquire(key_id, "cuts", retry_after=services.pool.retry_after())
        except KeyBusy as busy:
            raise refused(services, busy) from None
    try:
        future = _submit(services, fn, reason)
    except BaseException:
        if key_id is not None:
            services.limits.release(key_id, "cuts")
        raise
    if key_id is not None:
        future.add_done_callback(lambda _done: services.limits.release(key_id, "cuts"))
    return await asyncio.wrap_future(future)


def _submit(services: Services, fn: Callable[[], T], reason: str):
    try:
        return services.pool.submit(fn, priority=INTERACTIVE)
    except PoolFull as full:
        services.metrics.rejected.labels(reason).inc()
        raise ApiError(429, "busy", f"all workers are busy and the queue is full; retry in {full.retry_after} s",
                       headers={"Retry-After": str(full.retry_after)}) from None
    except PoolClosed:
        raise ApiError(503, "shutting_down", "the server is shutting down; retry shortly",
                       headers={"Retry-After": "5"}) from None


def refused(services: Services, busy: KeyBusy) -> ApiError:
    """A key at one of its limits → 429 with Retry-After, counted under the limit's name."""
    services.metrics.rejected.labels(busy.reason).inc()
    return ApiError(429, busy.code, str(busy), headers={"Retry-After": str(busy.retry_after)})


@contextmanager
def key_slot(services: Services, key_id: str, kind: Kind, *, retry_after: int = 1) -> Iterator[None]:
    """Hold one of the key's `kind` slots for a block (service/jobs/key_limits.py); 429 when none is free."""
    try:
        services.limits.acquire(key_id, kind, retry_after=retry_after)
    except KeyBusy as busy:
        raise refused(services, busy) from None
    try:
        yield
    finally:
        services.limits.release(key_id, kind)


def check_key_room(services: Services, key_id: str, kind: Kind, *, retry_after: int = 1) -> None:
    """429 now if the key has no `kind` slot free (before slow work whose next step needs one)."""
    try:
        services.limits.check(key_id, kind, retry_after=retry_after)
    except KeyBusy as busy:
        raise refused(services, busy) from None


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Short blocking work (a database query, reading a stored file) on the framework's thread pool."""
    return await run_in_threadpool(fn, *args)
