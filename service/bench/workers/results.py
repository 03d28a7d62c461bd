"""The benchmark's results: what each phase measured (frozen dataclasses), the whole run, and the report's
lines and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

SPEEDUP_GOAL = 0.9  # of linear: 1.8× for 2 workers against 1
SWAP_ITEMS = 4


@dataclass(frozen=True)
class Percentiles:
    """Seconds, as the client sees each request; `errors` requests did not succeed (not in the figures)."""

    count: int
    p50_s: float
    p95_s: float
    max_s: float
    errors: int = 0

    @classmethod
    def of(cls, seconds: Sequence[float], errors: int = 0) -> "Percentiles":
        if not seconds:
            return cls(0, float("nan"), float("nan"), float("nan"), errors)
        values = np.asarray(seconds, dtype=np.float64)
        return cls(len(values), float(np.percentile(values, 50)), float(np.percentile(values, 95)),
                   float(values.max()), errors)

    def cell(self) -> str:
        if not self.count:
            return f"{'-':>8}{'-':>9}{'-':>9}"
        return f"{self.p50_s * 1000:>6.0f}ms{self.p95_s * 1000:>7.0f}ms{self.max_s * 1000:>7.0f}ms"


@dataclass(frozen=True)
class ThroughputRun:
    """One `items`-item job on `workers` worker processes. CPU figures are seconds over the job's wall time."""

    workers: int
    items: int
    done: int
    failed: int
    wall_s: float  # POST /v1/jobs → the job done (polled every POLL_SECONDS)
    ready_s: float  # workers started → warm-up job done
    cut_median_s: float  # an item's own cut time (its stage timings), median
    cpu_api_s: float | None
    cpu_workers_s: float | None
    cpu_bench_s: float  # this process: the image host and the polling client
    machine_busy: float | None  # share of all cores busy over the wall time (/proc/stat)

    @property
    def items_per_s(self) -> float:
        return self.done / self.wall_s if self.wall_s else 0.0

    @property
    def worker_busy(self) -> float:
        """Share of the workers' wall time spent inside cuts (the rest: fetching, the database, hand-offs)."""
        return self.done * self.cut_median_s / (self.workers * self.wall_s) if self.wall_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"items_per_s": self.items_per_s, "worker_busy": self.worker_busy}


@dataclass(frozen=True)
class OverloadRun:
    clients: int
    pool_slots: int  # the API pool's workers + queue_size
    seconds: float
    statuses: dict[str, int]  # HTTP status → responses
    reasons: dict[str, int]  # 429 error code → responses
    retry_after_missing: int  # 429s without a Retry-After header
    retry_after: dict[str, int]  # Retry-After value → 429s that gave it
    transport_errors: dict[str, int]  # exception name → count (no HTTP answer at all)
    ok_latency: Percentiles  # the 200s
    rss_before_mb: float | None
    rss_peak_mb: float | None
    rss_after_mb: float | None
    rss_trace_mb: tuple[float, ...] = ()  # one sample a second while the clients ran
    cpu_api_s: float | None = None  # the API process's CPU seconds while the clients ran
    cpu_bench_s: float | None = None  # this process's (the clients')

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status.startswith("5"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"requests": self.requests, "server_errors": self.server_errors}


@dataclass(frozen=True)
class LatencyRun:
    workers: int
    idle_cutout: Percentiles
    idle_swap: Percentiles
    load_cutout: Percentiles
    load_swap: Percentiles
    bulk_items: int  # bulk items finished while the loaded probes ran
    bulk_seconds: float
    backlog_ran_dry: bool  # a check found no bulk item queued while a worker could have taken one

    @property
    def bulk_items_per_s(self) -> float:
        return self.bulk_items / self.bulk_seconds if self.bulk_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"bulk_items_per_s": self.bulk_items_per_s}


@dataclass(frozen=True)
class WorkersBench:
    cpu: str
    cores: int
    items: int
    photo_side: int
    segmenter: str
    api_workers: int
    api_queue_size: int
    broker_window: int
    runs: tuple[ThroughputRun, ...]
    overload: OverloadRun | None
    latency: LatencyRun | None

    def speedups(self) -> list[dict[str, Any]]:
        """Each run's items/s against the first run's, with the goal (SPEEDUP_GOAL of linear)."""
        base = self.runs[0]
        out = []
        for run in self.runs[1:]:
            ratio = run.items_per_s / base.items_per_s if base.items_per_s else 0.0
            goal = SPEEDUP_GOAL * run.workers / base.workers
            out.append({"workers": run.workers, "against": base.workers, "ratio": ratio, "goal": goal,
                        "met": ratio >= goal})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "cores": self.cores, "items": self.items, "photo_side": self.photo_side,
                "segmenter": self.segmenter, "api": {"process": "promptcut serve (subprocess)",
                                                     "workers": self.api_workers, "queue_size": self.api_queue_size},
                "broker_window": self.broker_window, "throughput": [run.to_dict() for run in self.runs],
                "speedups": self.speedups(),
                "overload": self.overload.to_dict() if self.overload else None,
                "latency": self.latency.to_dict() if self.latency else None}

    def lines(self) -> list[str]:
        out = [f"CPU: {self.cpu} ({self.cores} cores); {self.segmenter} segmenter, {self.photo_side}-px photos by "
               f"URL; API: promptcut serve (pool {self.api_workers} workers + {self.api_queue_size} queued), "
               f"broker window {self.broker_window}; workers: promptcut worker --concurrency 1 each",
               f"{'workers':>7}{'items':>7}{'wall':>9}{'items/s':>9}{'speed-up':>10}{'cut p50':>9}{'in cuts':>9}"
               f"{'CPU s: api':>12}{'workers':>9}{'bench':>7}{'machine busy':>14}"]
        base = self.runs[0].items_per_s if self.runs else 0.0
        for run in self.runs:
            speedup = run.items_per_s / base if base else 0.0
            out.append(f"{run.workers:>7}{run.done:>7}{run.wall_s:>8.1f}s{run.items_per_s:>9.2f}{speedup:>9.2f}×"
                       f"{run.cut_median_s * 1000:>7.0f}ms{run.worker_busy:>9.0%}{_seconds(run.cpu_api_s):>12}"
                       f"{_seconds(run.cpu_workers_s):>9}{run.cpu_bench_s:>7.1f}{_share(run.machine_busy):>14}"
                       + (f"  ({run.failed} failed)" if run.failed else ""))
        for speedup in self.speedups():
            out.append(f"speed-up {speedup['workers']} vs {speedup['against']} workers: {speedup['ratio']:.2f}× "
                       f"(goal ≥ {speedup['goal']:.1f}×: {'met' if speedup['met'] else 'NOT met'})")
        if self.overload:
            out.extend(self._overload_lines(self.overload))
        if self.latency:
            out.extend(self._latency_lines(self.latency))
        return out

    @staticmethod
    def _overload_lines(run: OverloadRun) -> list[str]:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(run.statuses.items()))
        reasons = ", ".join(f"{code} {count}" for code, count in sorted(run.reasons.items())) or "none"
        errors = ", ".join(f"{name} {count}" for name, count in sorted(run.transport_errors.items())) or "none"
        waits = ", ".join(f"{value} s × {count}" for value, count in sorted(run.retry_after.items())) or "-"
        return [
            f"overload: {run.clients} clients (10 × {run.pool_slots} pool slots), {run.seconds:.0f} s, no worker "
            f"process: {run.requests} requests ({run.requests / run.seconds:.0f}/s) — {statuses}",
            f"  429 reasons: {reasons}; Retry-After: {waits}; without it: {run.retry_after_missing}; "
            f"5xx: {run.server_errors}; no answer: {errors}",
            f"  200s: p50 {run.ok_latency.p50_s * 1000:.0f} ms, p95 {run.ok_latency.p95_s * 1000:.0f} ms; CPU s: API "
            f"{_seconds(run.cpu_api_s)}, clients {_seconds(run.cpu_bench_s)}",
            f"  API RSS {_mb(run.rss_before_mb)} before, {_mb(run.rss_peak_mb)} peak, {_mb(run.rss_after_mb)} 2 s "
            f"after; each second: {' '.join(f'{value:.0f}' for value in run.rss_trace_mb) or '-'} MB",
        ]

    @staticmethod
    def _latency_lines(run: LatencyRun) -> list[str]:
        rows = [("POST /v1/cutouts, idle", run.idle_cutout),
                (f"theme swap ({SWAP_ITEMS} items), idle", run.idle_swap),
                ("POST /v1/cutouts, during bulk jobs", run.load_cutout),
                (f"theme swap ({SWAP_ITEMS} items), during bulk jobs", run.load_swap)]
        dry = "; the backlog ran dry at a check" if run.backlog_ran_dry else ""
        return [f"latency with {run.workers} workers, sequential requests{'':<9}{'p50':>8}{'p95':>9}{'max':>9}",
                *(f"  {name:<48}{figures.cell()}{_errors(figures)}" for name, figures in rows),
                f"  bulk meanwhile: {run.bulk_items} items in {run.bulk_seconds:.1f} s "
                f"({run.bulk_items_per_s:.2f}/s){dry}"]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def _errors(p: Percentiles) -> str:
    return f"  ({p.errors} failed)" if p.errors else ""
