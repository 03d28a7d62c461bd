"""Store syncs on the job machinery: the SyncContext a sync runs with, for the server (its dispatcher feeds the
sync's job items to the bounded worker pool, in turn with every other store's work; the sync only waits for
them) and for the CLI (no dispatcher: the same job/item code runs on the sync's own cutting thread, no server
needed)."""

from __future__ import annotations

import logging
import threading

from fusion.protocol import Segmenter
from service.db import Database
from service.engine.artifact_stores import open_artifact_store
from service.engine.engine import Engine
from service.jobs.pool import WorkerPool
from service.jobs.runtime import Services
from service.jobs.tasks import run_job_item
from service.net.fetch import fetch_image
from service.prometheus import Metrics
from service.settings import Settings
from service.store.connections import StoreEndpointRules, open_store_client
from service.store.secrets import SecretBox
from service.store.sync import SyncContext, run_sync, wait_for_item

log = logging.getLogger("promptcut.store.sync")


def sync_context(services: Services, box: SecretBox, rules: StoreEndpointRules) -> SyncContext:
    database, settings = services.database, services.settings

    def process(item_id: str) -> None:
        if services.dispatcher is None:
            run_job_item(services, item_id)
        wait_for_item(database, item_id)

    return SyncContext(
        database=database, blobs=services.store,
        open_client=lambda store_id, key_id: open_store_client(database, box, store_id, key_id, rules=rules),
        fetch=lambda url: fetch_image(url, settings), process=process, max_pixels=settings.max_pixels)


def local_services(settings: Settings, database: Database, segmenter: Segmenter) -> Services:
    """The job runner's state for a CLI command: no dispatcher and no pool threads (items run on the caller)."""
    store = open_artifact_store(settings)
    return Services(settings, database, store, segmenter, Engine(store, segmenter, max_pixels=settings.max_pixels),
                    WorkerPool(1, 0), Metrics())


def run_in_background(context: SyncContext, sync_id: str) -> threading.Thread:
    """POST /v1/stores/{id}/syncs: the sync runs on its own thread; its progress is read from the database."""
    thread = threading.Thread(target=run_sync, args=(context, sync_id), name=f"promptcut-sync-{sync_id[:8]}",
                              daemon=True)
    thread.start()
    return thread
