"""Everything the routes share, built once in the app's lifespan and stopped on shutdown."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from service.prometheus import Metrics
from service.jobs.pool import WorkerPool

if TYPE_CHECKING:
    from fusion.protocol import Segmenter
    from service.jobs.dispatcher import JobDispatcher
    from service.engine.blobstore import ArtifactStore
    from service.db import Database
    from service.engine.engine import Engine
    from service.settings import Settings

log = logging.getLogger("promptcut.api")


@dataclass
class Services:
    settings: "Settings"
    database: "Database"
    store: "ArtifactStore"
    segmenter: "Segmenter"
    engine: "Engine"
    pool: WorkerPool
    metrics: Metrics
    # Unique per process start: claims carry it, so a claim from a previous (killed) run is never mistaken
    # for ours.
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
    instance_prefix: str = ""  # settings.instance_name + "/" when several servers share the database
    dispatcher: "JobDispatcher | None" = None
    segmenter_notice: str | None = None

    def worker_name(self) -> str:
        """The claim owner for the calling pool thread."""
        return f"{self.instance_prefix}{self.instance}:{threading.current_thread().name}"[:200]

    def segmenter_ready(self) -> bool:
        loaded = getattr(self.segmenter, "loaded", True)  # the neural backend says whether its models are in
        return bool(loaded)

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.pool.shutdown(timeout=60)
        if self.dispatcher is not None:
            self.dispatcher.join_webhooks(timeout=self.settings.webhook_timeout + 1)
        self.database.close()


def start_services(settings: "Settings", metrics: Metrics, segmenter: "Segmenter | None" = None) -> Services:
    """Open the database (migrations), recover interrupted items, build the segmenter and engine once, start
    the pool and the job dispatcher. Blocking: call it from a thread."""
    from service.jobs.dispatcher import JobDispatcher
    from service.engine.blobstore import ArtifactStore
    from service.db import open_database, repo
    from service.engine.engine import Engine

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_database(settings.db_url)
    prefix = f"{settings.instance_name}/" if settings.instance_name else ""
    with database.session() as db:
        recovered = repo.recover_on_start(db, claimed_by_prefix=prefix or None)
    if recovered:
        log.info("re-queued %d item(s) interrupted by the previous run", recovered)
    notice = None
    if segmenter is None:
        segmenter, notice = build_segmenter(settings)
        if notice:
            log.warning("%s", notice)
    store = ArtifactStore(settings.artifacts_dir)
    engine = Engine(store, segmenter, max_pixels=settings.max_pixels)
    pool = WorkerPool(settings.workers, settings.queue_size)
    services = Services(settings, database, store, segmenter, engine, pool, metrics, instance_prefix=prefix,
                        segmenter_notice=notice)
    services.metrics.watch(pool, lambda: _items_by_state(services))
    services.dispatcher = JobDispatcher(services)
    pool.on_task_done = services.dispatcher.wake  # type: ignore[method-assign]
    services.dispatcher.start()
    return services


def build_segmenter(settings: "Settings") -> tuple["Segmenter", str | None]:
    """The configured backend, its models loaded now (once per process), not on the first request."""
    from fusion.segmenters import choose_segmenter

    choice = choose_segmenter(settings.segmenter, settings.models)
    if choice.name == "neural":
        choice = choice.with_options(threads=settings.torch_threads, precision=settings.precision)
    segmenter = choice.build()
    load = getattr(segmenter, "load", None)
    if callable(load):
        load()
    return segmenter, choice.notice


def _items_by_state(services: Services) -> dict[str, int]:
    from service.db import repo

    with services.database.session() as db:
        return repo.count_items_by_state(db)
