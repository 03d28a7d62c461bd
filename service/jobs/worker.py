"""`promptcut worker`: a Celery worker process that cuts job items (`segment` queue) and re-renders theme-swap
items (`render` queue) handed out by `promptcut serve` (service/jobs/broker.py).

Each worker process opens the database and artifact store and builds the segmenter once — at its start (or, in
a prefork pool, in each child right after the fork: models are never shared across a fork) — then runs the same
task functions as the in-process pool (service/jobs/tasks.py): claim the item, keep the claim fresh
(heartbeat.py), record the result under the claim. A task for an item someone else claimed, or that is finished,
does nothing: that is what makes at-least-once delivery safe.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping

from fusion.protocol import Segmenter
from service.db import open_database
from service.engine.artifact_stores import open_artifact_store
from service.engine.engine import Engine
from service.jobs.broker import CUT_TASK, RENDER_TASK, make_celery
from service.jobs.runtime import Services
from service.jobs.startup import build_segmenter, limit_math_threads
from service.jobs.tasks import rerender_item, run_job_item
from service.prometheus import Metrics
from service.settings import Settings

log = logging.getLogger("promptcut.worker")


class WorkerServices:
    """The process's Services, built once on first need (after a fork: never inherited from the parent)."""

    def __init__(self, settings: Settings, segmenter_factory: Callable[[], Segmenter] | None = None) -> None:
        self._settings = settings
        self._segmenter_factory = segmenter_factory
        self._services: Services | None = None
        self._lock = threading.Lock()

    def get(self) -> Services:
        with self._lock:
            if self._services is None:
                self._services = self._build()
            return self._services

    def forget(self) -> None:
        """In a freshly forked child: drop what the parent built (database connections must not be shared)."""
        with self._lock:
            self._services = None

    def _build(self) -> Services:
        settings = self._settings
        # Workers never migrate: `promptcut serve` or `promptcut migrate` does; a database behind is refused.
        database = open_database(settings.db_url, migrate=False, require_current=True)
        limit_math_threads(settings.torch_threads)  # one process per core: its pools must not take them all
        if self._segmenter_factory is not None:
            segmenter = self._segmenter_factory()
        else:
            segmenter, notice = build_segmenter(settings)
            if notice:
                log.warning("%s", notice)
        store = open_artifact_store(settings)
        engine = Engine(store, segmenter, max_pixels=settings.max_pixels)
        prefix = f"{settings.instance_name}/" if settings.instance_name else "worker/"
        return Services(settings, database, store, segmenter, engine, None, Metrics(), instance_prefix=prefix)


def build_worker_app(settings: Settings, segmenter_factory: Callable[[], Segmenter] | None = None) -> Any:
    """The Celery app of a worker process, its two tasks bound to this process's Services."""
    from celery import signals  # deferred: the workers extra, only when scaled out

    app = make_celery(settings)
    services = WorkerServices(settings, segmenter_factory)

    @app.task(name=CUT_TASK)
    def cut_item(item_id: str) -> None:
        run_job_item(services.get(), item_id)

    @app.task(name=RENDER_TASK)
    def render_item(item_id: str, render: Mapping[str, Any]) -> None:
        rerender_item(services.get(), item_id, render)

    def child_started(**_: Any) -> None:
        services.forget()
        services.get()  # models in now, not on the first item

    signals.worker_process_init.connect(child_started, weak=False)  # prefork: in each child after the fork
    app.promptcut_services = services  # solo/threads pools: `promptcut worker` builds them before it starts
    return app
