"""Store webhooks on the job machinery: one background thread works off the recorded deliveries, oldest first,
one at a time (so two deliveries of one product never write back concurrently).

The database is the queue (service.store.webhooks_queue): the endpoint only records a delivery and wakes this
runner. On start, deliveries a killed server left running go back to queued; a claim older than the worker
lease is taken back too. A product delivery runs a sync of that one product through the same SyncContext as
POST /v1/stores/{id}/syncs: its cut is an ordinary job item, cut on this thread or by a pool worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from fusion.errors import PromptcutError
from service.db.schema import StoreWebhook, utcnow
from service.jobs.background_loop import BackgroundLoop
from service.jobs.runtime import Services
from service.jobs.store_syncs import sync_context
from service.store import webhooks_queue as queue
from service.store.connections import StoreEndpointRules
from service.store.secrets import SecretBox
from service.store.sync import STOPPING, SyncContext
from service.store.webhooks import PRODUCT_TOPICS, REDACT_TOPIC
from service.store.webhooks_process import Outcome, process_product
from service.store.webhooks_redact import redact_store

log = logging.getLogger("promptcut.store.webhooks")

POLL_SECONDS = 2.0  # also picks up deliveries recorded by another server on the same database
STALE_CHECK_SECONDS = 30.0


def process_delivery(context: SyncContext, delivery_id: str) -> Outcome:
    """Work one claimed delivery to its outcome; never raises for a store's or a cut's failure."""
    with context.database.session() as db:
        row = db.get(StoreWebhook, delivery_id)
        topic, store_id = (row.topic, row.store_id) if row is not None else ("", "")
    try:
        if topic in PRODUCT_TOPICS:
            return process_product(context, delivery_id)
        if topic == REDACT_TOPIC:
            done = redact_store(context.database, context.blobs, store_id)
            return Outcome("done", f"deleted {done.syncs} sync(s), {done.items} item(s), {done.blobs} file(s)")
        return Outcome("ignored", f"promptcut does not act on {topic or 'this topic'}")
    except STOPPING as exc:
        return Outcome("failed", f"the store refused: {exc}")
    except PromptcutError as exc:
        return Outcome("failed", str(exc))
    except Exception:  # noqa: BLE001 — the delivery must not stay running forever; the trace goes to the log
        log.exception("store webhook %s failed", delivery_id)
        return Outcome("failed", "internal error while processing the webhook; it has been logged")


class StoreWebhookRunner(BackgroundLoop):
    poll_seconds = POLL_SECONDS

    def __init__(self, services: Services, box: Callable[[], SecretBox], rules: StoreEndpointRules) -> None:
        """`box` gives the server's SecretBox when a delivery first needs it (not at start: a server that
        never hears from a store never reads or creates the key file)."""
        super().__init__("promptcut-store-webhooks", log)
        self._services = services
        self._box = box
        self._rules = rules
        self._context: SyncContext | None = None

    def start(self) -> None:
        with self._services.database.session() as db:
            recovered = queue.recover(db, self._services.instance_prefix or None)
        if recovered:
            log.info("re-queued %d store webhook(s) interrupted by the previous run", recovered)
        super().start()

    def one_pass(self) -> None:
        self._requeue_stale()
        while not self.stopping() and self._work_one():
            pass

    def _work_one(self) -> bool:
        """Claim and process the oldest queued delivery; False when there was none to take."""
        worker = self._services.worker_name()
        with self._services.database.session() as db:
            candidates = queue.next_queued(db)
        for delivery_id in candidates:
            with self._services.database.session() as db:
                if not queue.claim(db, delivery_id, worker):
                    continue
            if self._context is None:
                self._context = sync_context(self._services, self._box(), self._rules)
            outcome = process_delivery(self._context, delivery_id)
            with self._services.database.session() as db:
                queue.finish(db, delivery_id, worker, outcome.state, outcome.reason, outcome.sync_id)
            log.info("store webhook %s: %s (%s)", delivery_id, outcome.state, outcome.reason)
            return True
        return False

    def _requeue_stale(self) -> None:
        if not self.every(STALE_CHECK_SECONDS, "stale"):
            return
        cutoff = utcnow() - timedelta(seconds=self._services.settings.lease_seconds)
        with self._services.database.session() as db:
            count = queue.requeue_stale(db, cutoff)
            purged = queue.purge_finished(db, utcnow() - timedelta(days=queue.KEEP_DAYS))
        if count:
            log.warning("re-queued %d store webhook(s) whose lease expired", count)
        if purged:
            log.info("forgot %d store webhook(s) finished over %d days ago", purged, queue.KEEP_DAYS)
