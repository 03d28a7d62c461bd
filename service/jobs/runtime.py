"""The job runner's shared state: everything a task, the dispatcher and the routes use, built once by
`service.jobs.startup.start_services` and stopped on shutdown."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from typing import Protocol

from fusion.protocol import Segmenter
from service.db import Database
from service.engine.blobstore import ArtifactBackend
from service.engine.engine import Engine
from service.jobs.broker import BrokerClient
from service.jobs.key_limits import KeyCaps, KeyLimits
from service.jobs.pool import WorkerPool
from service.prometheus import Metrics
from service.settings import Settings


class Dispatcher(Protocol):
    """What the rest of the service asks of the job dispatcher (service.jobs.dispatcher.JobDispatcher)."""

    def wake(self) -> None: ...
    def alive(self) -> bool: ...
    def stop(self) -> None: ...
    def join_webhooks(self, timeout: float) -> None: ...


@dataclass
class Services:
    settings: Settings
    database: Database
    store: ArtifactBackend
    segmenter: Segmenter
    engine: Engine
    pool: WorkerPool | None  # None in a `promptcut worker` process: Celery runs its tasks
    metrics: Metrics
    # Unique per process start: claims carry it, so a claim from a previous (killed) run is never mistaken
    # for ours.
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
    instance_prefix: str = ""  # settings.instance_name + "/" when several servers share the database
    dispatcher: Dispatcher | None = None
    broker: BrokerClient | None = None  # scaled out: job items and swap items go to `promptcut worker` processes
    segmenter_notice: str | None = None

    limits: KeyLimits = field(init=False)  # per-key in-flight limits of this process
    theme_swaps: dict = field(default_factory=dict)  # running theme swaps by job id (service/api/theme_swap.py)

    def __post_init__(self) -> None:
        self.limits = KeyLimits(KeyCaps.from_settings(self.settings))

    def worker_name(self) -> str:
        """The claim owner for the calling pool thread."""
        return f"{self.instance_prefix}{self.instance}:{threading.current_thread().name}"[:200]

    def segmenter_ready(self) -> bool:
        loaded = getattr(self.segmenter, "loaded", True)  # the neural backend says whether its models are in
        return bool(loaded)

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.pool is not None:
            self.pool.shutdown(timeout=60)
        if self.dispatcher is not None:
            self.dispatcher.join_webhooks(timeout=self.settings.webhook_timeout + 1)
        if self.broker is not None:
            self.broker.close()
        self.database.close()
