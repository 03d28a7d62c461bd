"""Small helpers shared by the routes: the Services object, running blocking work off the event loop."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from service.api.errors import ApiError
from service.jobs.pool import INTERACTIVE, PoolClosed, PoolFull
from service.jobs.runtime import Services

T = TypeVar("T")


def get_services(request: Request) -> Services:
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ApiError(503, "not_ready", "the server is starting or stopping; retry shortly",
                       headers={"Retry-After": "1"})
    return services


async def in_pool(services: Services, fn: Callable[[], T], *, reason: str = "busy") -> T:
    """Run `fn` on a worker thread and await it. 429 + Retry-After when the pool is full."""
    try:
        future = services.pool.submit(fn, priority=INTERACTIVE)
    except PoolFull as full:
        services.metrics.rejected.labels(reason).inc()
        raise ApiError(429, "busy", f"all workers are busy and the queue is full; retry in {full.retry_after} s",
                       headers={"Retry-After": str(full.retry_after)}) from None
    except PoolClosed:
        raise ApiError(503, "shutting_down", "the server is shutting down; retry shortly",
                       headers={"Retry-After": "5"}) from None
    return await asyncio.wrap_future(future)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Short blocking work (a database query, reading a stored file) on the framework's thread pool."""
    return await run_in_threadpool(fn, *args)
