"""The job dispatcher: one thread that feeds queued job items from the database into the worker pool as
capacity frees, re-queues items whose worker lease expired, and sends completion webhooks.

The database is the queue: nothing about a job lives only in memory, so a killed server loses nothing — on
restart, recover_on_start puts interrupted items back to queued and this loop picks them up again. The pool
only ever holds as many job items as it has workers (see pool.py), so memory stays bounded however big the
backlog is. Claims are taken by the worker thread when it starts an item (repo.claim_item is atomic), so an
item is never processed twice concurrently, even by several servers sharing one database.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from service.db import repo
from service.db.schema import ApiKey, Job, utcnow
from service.jobs.background_loop import BackgroundLoop
from service.jobs.payloads import job_json
from service.jobs.pool import BACKGROUND, PoolClosed, PoolFull
from service.jobs.runtime import Services
from service.jobs.tasks import run_job_item
from service.jobs.webhook_secrets import SigningSecretError, signing_secrets
from service.net.webhooks import deliver_webhook
from service.store.secrets import server_box

log = logging.getLogger("promptcut.dispatcher")

POLL_SECONDS = 1.0  # also picks up work queued by other processes sharing the database
BROKER_POLL_SECONDS = 0.2
STALE_CHECK_SECONDS = 30.0
FEED_WINDOW = 64  # queued items looked at per pass (at least): enough to see many stores' next turns


class JobDispatcher(BackgroundLoop):
    def __init__(self, services: Services) -> None:
        super().__init__("promptcut-dispatcher", log)
        self._services = services
        # Scaled out no worker wakes this loop when it finishes an item: look more often to keep the broker's short
        # queue topped up.
        self.poll_seconds = POLL_SECONDS if services.broker is None else BROKER_POLL_SECONDS
        self._pending: set[str] = set()  # submitted to the pool, not finished yet
        self._lock = threading.Lock()
        self._webhooks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="promptcut-webhook")
        self._last_served: dict[str, int] = {}  # key id → serial of the last item fed for it (dispatcher thread)
        self._handed: dict[str, float] = {}  # scaled out: item id → when it was handed to the broker
        self._serial = itertools.count()

    def join_webhooks(self, timeout: float) -> None:
        self._webhooks.shutdown(wait=True, cancel_futures=False)

    def one_pass(self) -> None:
        self._requeue_stale()
        self._feed()
        self._send_webhooks()

    def _feed(self) -> None:
        if self._services.broker is not None:
            self._feed_broker()
            return
        pool = self._services.pool
        assert pool is not None
        room = pool.background_room()
        if room <= 0:
            return
        with self._lock:
            pending = set(self._pending)
        with self._services.database.session() as db:
            # More than the room: every store's next turn must be in view to break ties between them below.
            queued = repo.queued_turns(db, max(room + len(pending), FEED_WINDOW))
        for candidate in self._in_turn(queued):
            if room <= 0:
                break
            if candidate.item_id in pending:
                continue
            try:
                future = pool.submit(self._task(candidate.item_id), priority=BACKGROUND)
            except (PoolFull, PoolClosed):
                return  # an interactive request took the slot; the next wake-up tries again
            with self._lock:
                self._pending.add(candidate.item_id)
            self._last_served[candidate.key_id] = next(self._serial)
            future.add_done_callback(lambda _f, item_id=candidate.item_id: self._finished(item_id))
            room -= 1

    def _feed_broker(self) -> None:
        """Scaled out: hand queued items to the broker, at most broker_window not yet started at a time — the
        broker's queue stays short, so the stores' turns are decided here (from the database), not by its order."""
        broker, settings = self._services.broker, self._services.settings
        assert broker is not None
        with self._services.database.session() as db:
            waiting = repo.still_queued(db, self._handed)
            self._handed = {item_id: at for item_id, at in self._handed.items() if item_id in waiting}
            room = settings.broker_window - len(self._handed)
            queued = repo.queued_turns(db, max(room + len(self._handed), FEED_WINDOW)) if room > 0 else []
        now = time.monotonic()
        lost = [item_id for item_id, at in self._handed.items() if now - at >= settings.broker_resend_seconds]
        try:
            for item_id in lost:  # lost with a broker restart, perhaps: again (a duplicate is a no-op)
                broker.send_cut(item_id)
                self._handed[item_id] = now
            for candidate in self._in_turn(queued):
                if room <= 0:
                    break
                if candidate.item_id in self._handed:
                    continue
                broker.send_cut(candidate.item_id)
                self._handed[candidate.item_id] = now
                self._last_served[candidate.key_id] = next(self._serial)
                room -= 1
        except Exception as exc:  # noqa: BLE001 — the broker is down: items stay queued, the next pass retries
            log.warning("cannot hand job items to the broker (%s); retrying", type(exc).__name__)
            self.pause(POLL_SECONDS)

    def _in_turn(self, queued: list[repo.QueuedTurn]) -> list[repo.QueuedTurn]:
        """Equal turns: the store served longest ago first. With one worker, a store whose item just finished
        has nothing running, like a store waiting with a new job; the waiting one must get the slot."""
        served = self._last_served
        ordered = sorted(enumerate(queued), key=lambda pair: (pair[1].turn, served.get(pair[1].key_id, -1), pair[0]))
        if len(served) > 10 * FEED_WINDOW:  # forget stores with nothing queued: the map stays small
            waiting = {candidate.key_id for candidate in queued}
            self._last_served = {key: serial for key, serial in served.items() if key in waiting}
        return [candidate for _, candidate in ordered]

    def _task(self, item_id: str):
        services = self._services

        def task() -> None:
            run_job_item(services, item_id)

        return task

    def _finished(self, item_id: str) -> None:
        with self._lock:
            self._pending.discard(item_id)
        self.wake()

    def _requeue_stale(self) -> None:
        lease = self._services.settings.lease_seconds
        if not self.every(min(STALE_CHECK_SECONDS, lease / 2), "stale"):
            return
        cutoff = utcnow() - timedelta(seconds=lease)
        with self._services.database.session() as db:
            count = repo.requeue_stale(db, cutoff)
        if count:
            log.warning("re-queued %d item(s) whose worker lease expired", count)

    # ------------------------------------------------------------------------------------------------ webhooks

    def _send_webhooks(self) -> None:
        with self._services.database.session() as db:
            due = repo.jobs_awaiting_webhook(db, limit=20)
        for job_id in due:
            with self._services.database.session() as db:
                if not repo.claim_webhook(db, job_id):
                    continue
            self._webhooks.submit(self._deliver, job_id)

    def _deliver(self, job_id: str) -> None:
        services = self._services
        settings = services.settings
        with services.database.session() as db:
            job = db.get(Job, job_id)
            if job is None or not job.callback_url:
                return
            payload = {
                "event": "job.finished",
                "job": job_json(job, repo.job_counts(db, job_id), repo.job_items(db, job_id)),
            }
            url = job.callback_url
            key = db.get(ApiKey, job.key_id)
            try:
                # The box is built only for a sealed secret, at each delivery: a replaced key file is seen at once,
                # and a server whose keys all sign with the legacy secret never reads or creates one.
                secrets = signing_secrets(key, lambda: server_box(settings)) if key is not None else ()
                problem = None
            except SigningSecretError as error:  # never sent unsigned, nor signed with another secret
                secrets, problem = (), str(error)
        if problem is None:
            problem = deliver_webhook(url, _jsonable(payload), settings, secret=secrets)
        services.metrics.webhooks.labels("sent" if problem is None else "failed").inc()
        with services.database.session() as db:
            repo.set_webhook_state(db, job_id, problem is None, problem)


def _jsonable(value):
    """Datetimes → ISO strings (the payload goes through json.dumps)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return value

