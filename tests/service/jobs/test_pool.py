"""The worker pool: bounded, interactive work first, and background work never starved by it."""

from __future__ import annotations

import threading
import time

import pytest

from service.jobs.pool import BACKGROUND, INTERACTIVE, PoolClosed, PoolFull, WorkerPool

WAIT = 30


def gated_pool(workers: int, queue_size: int) -> tuple[WorkerPool, threading.Event, list[str]]:
    """A pool whose workers are first all held by a gate; tasks then record their names in run order."""
    pool, gate, order = WorkerPool(workers, queue_size), threading.Event(), []
    started = threading.Semaphore(0)

    def hold() -> None:
        started.release()
        gate.wait(WAIT)

    for _ in range(workers):
        pool.submit(hold)
    for _ in range(workers):
        assert started.acquire(timeout=WAIT)
    return pool, gate, order


def record(order: list[str], name: str):
    return lambda: order.append(name)


def test_interactive_work_goes_first_but_background_waits_behind_at_most_workers_of_it() -> None:
    pool, gate, order = gated_pool(workers=1, queue_size=10)
    futures = [pool.submit(record(order, "job-1"), priority=BACKGROUND)]
    futures += [pool.submit(record(order, f"cut-{n}")) for n in range(4)]
    gate.set()
    for future in futures:
        future.result(WAIT)
    # one interactive task passes the waiting job item (one worker), then the item runs, then the rest
    assert order == ["cut-0", "job-1", "cut-1", "cut-2", "cut-3"]
    pool.shutdown(WAIT)


def test_with_two_workers_two_interactive_tasks_may_pass_a_waiting_item() -> None:
    pool, gate, order = gated_pool(workers=2, queue_size=10)
    futures = [pool.submit(record(order, "job-1"), priority=BACKGROUND)]
    futures += [pool.submit(record(order, f"cut-{n}")) for n in range(4)]
    gate.set()
    for future in futures:
        future.result(WAIT)
    assert order.index("job-1") <= 2, order
    pool.shutdown(WAIT)


def test_full_pool_and_background_cap_refuse_and_shutdown_cancels_what_waits() -> None:
    pool, gate, _ = gated_pool(workers=1, queue_size=2)
    assert pool.background_room() == 1
    waiting_item = pool.submit(lambda: None, priority=BACKGROUND)
    assert pool.background_room() == 0
    with pytest.raises(PoolFull) as full:
        pool.submit(lambda: None, priority=BACKGROUND)
    assert full.value.retry_after >= 1
    waiting_cut = pool.submit(lambda: None, priority=INTERACTIVE)
    with pytest.raises(PoolFull):
        pool.submit(lambda: None)
    stats = pool.stats()
    assert (stats.running, stats.waiting, stats.background_in_flight) == (1, 2, 1)
    closing = threading.Thread(target=pool.shutdown, args=(WAIT,))
    closing.start()
    deadline = time.monotonic() + WAIT
    while pool.alive() and time.monotonic() < deadline:  # closed: what waits is cancelled, not run
        time.sleep(0.01)
    gate.set()
    closing.join(WAIT)
    assert waiting_item.cancelled() and waiting_cut.cancelled()
    with pytest.raises(PoolClosed):
        pool.submit(lambda: None)
    assert not pool.alive()
