"""A worker's claim kept fresh while it works on an item, so a short lease can tell a dead worker from a slow one.

The claim's time (items.claimed_at) is moved forward every lease/4 seconds while the work runs. A worker killed
mid-item stops doing so, its lease runs out after lease_seconds, and the dispatcher re-queues the item for
another worker; the dead worker's claim can never record a result (finish_item checks the claim holder).
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from service.db import repo
from service.jobs.runtime import Services

log = logging.getLogger("promptcut.work")


@contextmanager
def claim_heartbeat(services: Services, item_id: str, worker: str) -> Iterator[None]:
    interval = max(0.5, services.settings.lease_seconds / 4)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                with services.database.session() as db:
                    if not repo.touch_claim(db, item_id, worker):
                        return  # the claim was taken away (lease expired meanwhile): nothing left to keep
            except Exception:  # noqa: BLE001 — a database hiccup: try again next beat
                log.warning("item %s: could not refresh its claim", item_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"promptcut-heartbeat-{item_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
