"""The message broker between `promptcut serve` and `promptcut worker` processes (Celery over Redis or RabbitMQ),
used only when PROMPTCUT_BROKER_URL is set.

Two queues: `segment` (job items to cut: model work, one message prefetched per worker process) and `render`
(one item of a theme swap: compositing only, cheap), so a catalogue re-theme never waits behind cuts. Messages
carry item ids only; the database stays the record of every item's state. Delivery is at least once (acks_late,
a message of a worker that died is given back); a duplicate is harmless because only one worker can claim an
item, and a result is recorded only by the claim holder or at the version it was computed from.
"""

from __future__ import annotations

from typing import Any, Mapping

from service.settings import Settings

SEGMENT_QUEUE = "segment"
RENDER_QUEUE = "render"
CUT_TASK = "promptcut.cut_item"
RENDER_TASK = "promptcut.rerender_item"
# A message taken by a worker and not acknowledged within this long is handed out again by Redis (RabbitMQ gives
# it back as soon as the worker's connection drops). Longer than any item takes; the item's lease (heartbeats)
# is what recovers the item of a dead worker sooner.
VISIBILITY_SECONDS = 3600


def make_celery(settings: Settings, name: str = "promptcut") -> Any:
    """A Celery app for settings.broker_url with promptcut's queues and delivery rules (celery imported here)."""
    from celery import Celery  # deferred: the workers extra, only when scaled out

    app = Celery(name, broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # acknowledged when done, so a worker killed mid-item loses no message
        task_reject_on_worker_lost=True,  # a worker process that died: its message goes back to the queue
        worker_prefetch_multiplier=1,  # one message waiting per process: the dispatcher keeps the stores' turns
        task_ignore_result=True,  # results live in the database
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=SEGMENT_QUEUE,
        task_routes={CUT_TASK: {"queue": SEGMENT_QUEUE}, RENDER_TASK: {"queue": RENDER_QUEUE}},
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_SECONDS},
        # A publish while the broker is down fails after a few quick retries: the dispatcher tries again on its
        # next pass instead of blocking.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                                   "interval_max": 1.0},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app


class BrokerClient:
    """What `promptcut serve` sends: an item to cut, an item to re-render."""

    def __init__(self, settings: Settings) -> None:
        self._app = make_celery(settings)

    def send_cut(self, item_id: str) -> None:
        self._app.send_task(CUT_TASK, args=[item_id], queue=SEGMENT_QUEUE)

    def send_render(self, item_id: str, render: Mapping[str, Any]) -> None:
        self._app.send_task(RENDER_TASK, args=[item_id, dict(render)], queue=RENDER_QUEUE)

    def reachable(self) -> bool:
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:  # noqa: BLE001 — any failure means "not reachable now"
            return False

    def close(self) -> None:
        self._app.close()
