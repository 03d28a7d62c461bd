"""A fixed set of worker threads fed by a bounded in-memory queue.

Everything blocking (decoding, segmentation, encoding, URL fetches) runs here, never on the event loop.
The pool holds at most `workers + queue_size` tasks (running + waiting); beyond that `submit` raises PoolFull
and the API answers 429 with Retry-After — memory never grows without bound.

Two priorities: interactive requests (a cut-out, a reprompt, a theme swap a seller waits for) run before
background job items — but never for ever: once `workers` interactive tasks have started ahead of a waiting
background item, it goes next, so a steady stream of interactive work (one store's cut-outs and swaps) cannot
starve every store's jobs. Background items are also capped at `workers` in flight, so a bulk job never takes
the queue slots interactive requests need.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
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


@dataclass
class _Task:
    priority: int
    fn: Callable[[], Any]
    future: Future


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
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiting: dict[int, deque[_Task]] = {INTERACTIVE: deque(), BACKGROUND: deque()}
        self._passed = 0  # interactive tasks started while a background task waited
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
            self._waiting[priority].append(_Task(priority, fn, future))
            self._ready.notify()
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

    def _next(self) -> _Task | None:
        """The next task to run (None: the pool is closed and nothing is left); waits for one."""
        with self._ready:
            while True:
                interactive, background = self._waiting[INTERACTIVE], self._waiting[BACKGROUND]
                if background and (not interactive or self._passed >= self.workers):
                    self._passed = 0
                    return background.popleft()
                if interactive:
                    if background:
                        self._passed += 1
                    return interactive.popleft()
                if self._closed:
                    return None
                self._ready.wait()

    def _work(self) -> None:
        while True:
            task = self._next()
            if task is None:
                return
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
        with self._ready:
            self._closed = True
            cancelled = [*self._waiting[INTERACTIVE], *self._waiting[BACKGROUND]]
            for waiting in self._waiting.values():
                waiting.clear()
            self._ready.notify_all()  # idle threads see the pool closed and empty, and return
        for task in cancelled:
            task.future.cancel()
            self._done(task, 0.0)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
