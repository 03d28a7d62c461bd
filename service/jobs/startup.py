"""Bring the job runner up: open the database, recover interrupted items, build the segmenter and engine once,
start the worker pool and the dispatcher. `promptcut serve` calls this from the app's lifespan."""

from __future__ import annotations

import logging

import cv2
from threadpoolctl import threadpool_limits

from fusion.protocol import Segmenter
from fusion.segmenters import choose_segmenter
from service.db import open_database, repo
from service.engine.artifact_stores import open_artifact_store
from service.engine.engine import Engine
from service.jobs.broker import BrokerClient
from service.jobs.dispatcher import JobDispatcher
from service.jobs.pool import WorkerPool
from service.jobs.runtime import Services
from service.private_files import make_private_dir
from service.prometheus import Metrics
from service.settings import Settings

log = logging.getLogger("promptcut.api")


def start_services(settings: Settings, metrics: Metrics, segmenter: Segmenter | None = None) -> Services:
    """Open the database (migrations, unless settings.migrate_on_start is False: then only the check that it is
    at the head revision), recover interrupted items, build the segmenter and engine once, start
    the pool and the job dispatcher. Blocking: call it from a thread."""
    make_private_dir(settings.data_dir)
    database = open_database(settings.db_url, migrate=settings.migrate_on_start,
                             require_current=not settings.migrate_on_start)
    prefix = f"{settings.instance_name}/" if settings.instance_name else ""
    if not settings.broker_url:
        with database.session() as db:
            recovered = repo.recover_on_start(db, claimed_by_prefix=prefix or None)
        if recovered:
            log.info("re-queued %d item(s) interrupted by the previous run", recovered)
    else:
        # Scaled out, running items belong to worker processes that may be alive: their leases (kept fresh
        # while they work) decide, never a restart of the server.
        with database.session() as db:
            repo.resend_interrupted_webhooks(db)
    limit_math_threads(settings.torch_threads)
    notice = None
    if segmenter is None:
        segmenter, notice = build_segmenter(settings)
        if notice:
            log.warning("%s", notice)
    store = open_artifact_store(settings)
    engine = Engine(store, segmenter, max_pixels=settings.max_pixels)
    pool = WorkerPool(settings.workers, settings.queue_size)
    services = Services(settings, database, store, segmenter, engine, pool, metrics, instance_prefix=prefix,
                        segmenter_notice=notice)
    if settings.broker_url:
        services.broker = BrokerClient(settings)
    services.metrics.watch(pool, lambda: _items_by_state(services))
    services.dispatcher = JobDispatcher(services)
    pool.on_task_done = services.dispatcher.wake  # type: ignore[method-assign]
    services.dispatcher.start()
    return services


def limit_math_threads(threads: int) -> None:
    """At most `threads` threads per numerical pool (OpenBLAS/OpenMP via threadpoolctl, OpenCV) in this process.
    Their defaults use every core for each call: with one worker per core they oversubscribe the machine (measured:
    two workers on two cores reached 1.44× one worker's throughput; with one thread each 1.8×)."""
    threadpool_limits(limits=threads)
    cv2.setNumThreads(threads)


def build_segmenter(settings: Settings) -> tuple[Segmenter, str | None]:
    """The configured backend, its models loaded now (once per process), not on the first request."""
    choice = choose_segmenter(settings.segmenter, settings.models)
    choice = choice.with_threads(settings.torch_threads).with_model_side(settings.cutout_side)
    if choice.name == "neural":
        choice = choice.with_options(precision=settings.precision)
    segmenter = choice.build()
    load = getattr(segmenter, "load", None)
    if callable(load):
        load()
    return segmenter, choice.notice


def _items_by_state(services: Services) -> dict[str, int]:
    with services.database.session() as db:
        return repo.count_items_by_state(db)
