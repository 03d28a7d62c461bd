"""Every per-key (per-store) limit of the server in one place, so no store can take the server from the others.

In flight at once, per key (counted here, in this process):
- `cuts`: cut-outs, reprompts and corrections a seller waits for (the interactive lane of the pool);
- `swaps`: jobs being re-themed (each swap re-renders its items one pool task at a time, so other stores'
  requests get the workers between two of its items);
- `zip_builds`: results zips being built;
- `url_fetches`: image URLs of cut-outs being downloaded (off the workers: a slow server ties up a download
  slot, never a worker).
Held in the database, checked when a job is created (`job_room`): unfinished jobs and queued items per key.

Beyond a limit the request is answered 429 `key_busy` (or `too_many_jobs`) with Retry-After, and counted in
promptcut_rejected_total{reason="<limit>_per_key"}. The pool's own capacity (all workers busy, queue full) is a
separate, server-wide 429 `busy`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Literal

from service.db import repo

Kind = Literal["cuts", "swaps", "zip_builds", "url_fetches"]

_WHAT: dict[str, str] = {
    "cuts": "cut-outs, reprompts or corrections",
    "swaps": "theme swaps",
    "zip_builds": "results zips being built",
    "url_fetches": "image URLs being downloaded",
}


@dataclass(frozen=True)
class KeyCaps:
    cuts: int
    swaps: int
    zip_builds: int
    url_fetches: int

    @classmethod
    def from_settings(cls, settings) -> "KeyCaps":
        return cls(cuts=settings.max_cuts_per_key, swaps=settings.max_swaps_per_key,
                   zip_builds=settings.max_zip_builds_per_key, url_fetches=settings.max_url_fetches_per_key)


class KeyBusy(Exception):
    """A key is at one of its limits: answered 429 `code` with Retry-After, counted under `reason`."""

    def __init__(self, message: str, *, reason: str, retry_after: int, code: str = "key_busy") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason  # the promptcut_rejected_total label
        self.retry_after = max(1, retry_after)


class KeyLimits:
    """In-flight counters per (key, kind); `hold` takes one slot for the duration of a `with` block."""

    def __init__(self, caps: KeyCaps) -> None:
        self.caps = caps
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, str], int] = {}

    def acquire(self, key_id: str, kind: Kind, *, retry_after: int = 1) -> None:
        with self._lock:
            self._refuse_if_full(key_id, kind, retry_after)
            self._in_flight[(key_id, kind)] = self._in_flight.get((key_id, kind), 0) + 1

    def check(self, key_id: str, kind: Kind, *, retry_after: int = 1) -> None:
        """KeyBusy if a slot would be refused now (before slow work whose result would need one)."""
        with self._lock:
            self._refuse_if_full(key_id, kind, retry_after)

    def _refuse_if_full(self, key_id: str, kind: Kind, retry_after: int) -> None:
        cap = getattr(self.caps, kind)
        if self._in_flight.get((key_id, kind), 0) >= cap:
            raise KeyBusy(f"this key already has {cap} {_WHAT[kind]} in flight; retry in {max(1, retry_after)} s",
                          reason=f"{kind}_per_key", retry_after=retry_after)

    def release(self, key_id: str, kind: Kind) -> None:
        with self._lock:
            count = self._in_flight.get((key_id, kind), 0) - 1
            if count > 0:
                self._in_flight[(key_id, kind)] = count
            else:
                self._in_flight.pop((key_id, kind), None)  # no entry per idle key: the map stays small

    @contextmanager
    def hold(self, key_id: str, kind: Kind, *, retry_after: int = 1) -> Iterator[None]:
        self.acquire(key_id, kind, retry_after=retry_after)
        try:
            yield
        finally:
            self.release(key_id, kind)


def check_job_room(settings, db, key_id: str, new_items: int) -> None:
    """Raise KeyBusy unless the key may add a job of `new_items` items: at most max_concurrent_jobs_per_key
    unfinished jobs and max_queued_items_per_key queued items. Call it under the job-creation lock (see
    routes/jobs.py) so the check and the insert are one step."""
    jobs_cap = settings.max_concurrent_jobs_per_key
    if repo.count_active_jobs(db, key_id) >= jobs_cap:
        raise KeyBusy(f"this key already has {jobs_cap} unfinished jobs; wait for one to finish",
                      code="too_many_jobs", reason="jobs_per_key", retry_after=10)
    items_cap = settings.max_queued_items_per_key
    queued = repo.count_queued_items(db, key_id)
    if queued + new_items > items_cap:
        raise KeyBusy(f"this key already has {queued} queued items; {new_items} more would pass its limit of "
                      f"{items_cap}: wait for some to finish", code="too_many_jobs", reason="queued_items_per_key",
                      retry_after=30)
