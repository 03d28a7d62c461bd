"""A fixed set of worker threads fed by a bounded in-memory queue.

Everything blocking (decoding, segmentation, encoding, URL fetches) runs here, never on the event loop.
The pool holds at most `workers + queue_size` tasks (running + waiting); beyond that `submit` raises PoolFull
and the API answers 429 with Retry-After — memory never grows without bound.

Two priorities: interactive requests (a cut-out, a reprompt, a theme swap a seller waits for) run before
background job items. Background items are also capped at `workers` in flight, so a bulk job never takes
the queue slots interactive requests need.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("promptcut.pool")

INTERACTIVE = 0
BACKGROUND = 1


class PoolFull(Exception):
    """No room for another task; `retry_after` is a whole number of seconds worth waiting."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class PoolClosed(Exception):
    """The pool is shutting down and takes no new work."""


@dataclass(order=True)
class _Task:
    priority: int
    sequence: int
    fn: Callable[[], Any] | None = field(compare=False)  # None: the stop signal for one thread
    future: Future | None = field(compare=False)


@dataclass(frozen=True)
class PoolStats:
    workers: int
    capacity: int
    waiting: int
    running: int
    background_in_flight: int


class WorkerPool:
    def __init__(self, workers: int, queue_size: int, *, name: str = "promptcut-worker") -> None:
        if workers < 1 or queue_size < 0:
            raise ValueError("workers must be ≥ 1 and queue_size ≥ 0")
        self.workers = workers
        self.capacity = workers + queue_size
        self._queue: queue.PriorityQueue[_Task] = queue.PriorityQueue()
        self._lock = threading.Lock()
        self._sequence = itertools.count()
        self._in_flight = 0
        self._running = 0
        self._background = 0
        self._closed = False
        self._average_seconds = 1.0  # moving average of a task's run time, for Retry-After
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True) for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # ---------------------------------------------------------------------------------------------- submit

    def submit(self, fn: Callable[[], Any], *, priority: int = INTERACTIVE) -> Future:
        """Queue `fn` (no arguments) and return its Future; PoolFull when there is no room."""
        with self._lock:
            if self._closed:
                raise PoolClosed("the server is shutting down")
            if self._in_flight >= self.capacity or (priority == BACKGROUND and self._background >= self.workers):
                raise PoolFull(self._retry_after_locked())
            self._in_flight += 1
            if priority == BACKGROUND:
                self._background += 1
            future: Future = Future()
            self._queue.put(_Task(priority, next(self._sequence), fn, future))
        return future

    def background_room(self) -> int:
        """How many background tasks `submit` would accept right now."""
        with self._lock:
            if self._closed:
                return 0
            return max(0, min(self.workers - self._background, self.capacity - self._in_flight))

    def retry_after(self) -> int:
        with self._lock:
            return self._retry_after_locked()

    def _retry_after_locked(self) -> int:
        # Time until a slot frees: the queue ahead of a newcomer spread over the workers, at least 1 s.
        return max(1, math.ceil(self._average_seconds * max(1, self._in_flight) / self.workers))

    def alive(self) -> bool:
        """Taking work, with every worker thread running."""
        return not self._closed and all(thread.is_alive() for thread in self._threads)

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                workers=self.workers,
                capacity=self.capacity,
                waiting=self._in_flight - self._running,
                running=self._running,
                background_in_flight=self._background,
            )

    # ---------------------------------------------------------------------------------------------- threads

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task.fn is None:
                return
            assert task.future is not None
            if not task.future.set_running_or_notify_cancel():
                self._done(task, 0.0)
                continue
            with self._lock:
                self._running += 1
            start = time.perf_counter()
            try:
                result = task.fn()
            except BaseException as exc:  # noqa: BLE001 — handed to whoever awaits the future
                task.future.set_exception(exc)
            else:
                task.future.set_result(result)
            finally:
                with self._lock:
                    self._running -= 1
                self._done(task, time.perf_counter() - start)

    def _done(self, task: _Task, seconds: float) -> None:
        with self._lock:
            self._in_flight -= 1
            if task.priority == BACKGROUND:
                self._background -= 1
            if seconds > 0:
                self._average_seconds = 0.8 * self._average_seconds + 0.2 * seconds
        self.on_task_done()

    def on_task_done(self) -> None:
        """Hook called after every task (the job dispatcher uses it to top the pool up at once)."""

    # ---------------------------------------------------------------------------------------------- stop

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop taking work, cancel what is still waiting, let running tasks finish (up to `timeout`)."""
        with self._lock:
            self._closed = True
        cancelled = []
        while True:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                break
            if task.future is not None:
                task.future.cancel()
                cancelled.append(task)
        for task in cancelled:
            self._done(task, 0.0)
        for _ in self._threads:
            self._queue.put(_Task(10**9, next(self._sequence), None, None))  # after anything still queued
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
