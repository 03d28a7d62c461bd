"""Prometheus metrics, one registry per app (tests run several apps in one process).

Requests by route template and status, request latency per route, pipeline stage latencies (from each
result's timings), pool queue depth, and items by state (counted in the database at scrape time).
"""

from __future__ import annotations

from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from service.jobs.pool import WorkerPool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "promptcut_http_requests_total", "HTTP requests by route template, method and status.",
            ("route", "method", "status"), registry=self.registry,
        )
        self.request_seconds = Histogram(
            "promptcut_http_request_seconds", "HTTP request latency by route template.",
            ("route", "method"), buckets=_REQUEST_BUCKETS, registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "promptcut_stage_seconds", "Time per processing stage (fetch, decode, segment, select, feather, "
            "compose, encode...), per operation (cut, reprompt, correct, rerender).",
            ("operation", "stage"), buckets=_STAGE_BUCKETS, registry=self.registry,
        )
        self.items_finished = Counter(
            "promptcut_items_finished_total", "Items finished by this process, by outcome and error code.",
            ("state", "code"), registry=self.registry,
        )
        self.rejected = Counter(
            "promptcut_rejected_total", "Requests refused because the pool or a limit was full (429).",
            ("reason",), registry=self.registry,
        )
        self.webhooks = Counter(
            "promptcut_webhooks_total", "Completion webhooks by outcome.", ("outcome",), registry=self.registry,
        )

    def observe_stages(self, operation: str, timings: dict[str, float]) -> None:
        for stage, seconds in timings.items():
            if isinstance(seconds, (int, float)) and seconds >= 0:
                self.stage_seconds.labels(operation, str(stage)).observe(float(seconds))

    def watch(self, pool: WorkerPool, items_by_state: Callable[[], dict[str, int]]) -> None:
        """Gauges read at scrape time: the pool's queue and the database's item counts."""
        self.registry.register(_LiveGauges(pool, items_by_state))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveGauges:
    def __init__(self, pool: WorkerPool, items_by_state: Callable[[], dict[str, int]]) -> None:
        self._pool = pool
        self._items_by_state = items_by_state

    def describe(self) -> Iterable:
        return []  # collected at scrape time only

    def collect(self) -> Iterable:
        stats = self._pool.stats()
        depth = GaugeMetricFamily("promptcut_queue_depth", "Tasks waiting for a worker.")
        depth.add_metric([], stats.waiting)
        yield depth
        running = GaugeMetricFamily("promptcut_workers_busy", "Worker threads running a task.")
        running.add_metric([], stats.running)
        yield running
        capacity = GaugeMetricFamily("promptcut_pool_capacity", "Tasks the pool holds before answering 429.")
        capacity.add_metric([], stats.capacity)
        yield capacity
        items = GaugeMetricFamily("promptcut_items", "Items in the database by state.", labels=["state"])
        try:
            counts = self._items_by_state()
        except Exception:  # noqa: BLE001 — a scrape must not fail because the database is briefly away
            counts = {}
        for state in ("queued", "running", "done", "failed"):
            items.add_metric([state], counts.get(state, 0))
        yield items
