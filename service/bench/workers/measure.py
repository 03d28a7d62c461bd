"""The benchmark's three phases on a running cluster: throughput of one bulk job on N workers, an overload of
the API with no worker, and the latency of cut-outs and theme swaps idle and under bulk jobs."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import threading
import time
from collections import Counter
from typing import Mapping, Sequence

import httpx

from service.bench.workers.cluster import Cluster
from service.bench.workers.processes import BenchError, busy_share, machine_ticks, one_line, rss_mb, tree_cpu_seconds
from service.bench.workers.results import SWAP_ITEMS, LatencyRun, OverloadRun, Percentiles, ThroughputRun

SWAP_COLOURS = ("#204080", "#c04020")


# --- the phases --------------------------------------------------------------------------------------------


def measure_throughput(cluster: Cluster, workers: int) -> ThroughputRun:
    items = cluster.options.items
    ready = cluster.start_workers(workers)
    try:
        with cluster.client(cluster.keys.bulk) as client:
            api_before, workers_before = cluster.cpu()
            ticks_before, bench_before = machine_ticks(), time.process_time()
            start = time.perf_counter()
            job_id = cluster.create_job(client, items)
            job = cluster.wait_done(client, job_id)
            wall = time.perf_counter() - start
            ticks_after, bench_after = machine_ticks(), time.process_time()
            api_after, workers_after = cluster.cpu()
            detail = client.get(f"/v1/jobs/{job_id}").json()
    finally:
        cluster.stop_workers()
    cuts = [sum(item["metadata"].get("timings", {}).values()) for item in detail["items"] if item["state"] == "done"]
    return ThroughputRun(
        workers=workers, items=items, done=job["counts"]["done"], failed=job["counts"]["failed"], wall_s=wall,
        ready_s=ready, cut_median_s=statistics.median(cuts) if cuts else 0.0,
        cpu_api_s=_delta(api_before, api_after), cpu_workers_s=_delta(workers_before, workers_after),
        cpu_bench_s=bench_after - bench_before, machine_busy=busy_share(ticks_before, ticks_after))


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _multipart(photo: bytes) -> tuple[bytes, str]:
    """A POST /v1/cutouts body with one image_file part, built once (the overload's clients send it as is)."""
    boundary = secrets.token_hex(12)
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="photo.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def measure_overload(cluster: Cluster, photo: bytes) -> OverloadRun:
    """Every overload key as one client, POST /v1/cutouts back to back for options.overload_seconds."""
    assert cluster.api is not None and cluster.keys is not None
    seconds, keys = cluster.options.overload_seconds, cluster.keys.overload
    body, content_type = _multipart(photo)
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    retry_after: Counter[str] = Counter()
    transport: Counter[str] = Counter()
    latencies: list[float] = []
    missing = [0]

    async def run() -> None:
        # Idle connections dropped after 2 s, well before the server's keep-alive timeout (uvicorn: 5 s): at
        # httpx's default (also 5 s) a connection the server is closing gets reused now and then, and the request
        # dies with a reset — a client-side race, not the server's answer.
        limits = httpx.Limits(max_connections=len(keys), max_keepalive_connections=len(keys), keepalive_expiry=2.0)
        async with httpx.AsyncClient(base_url=cluster.base_url, timeout=120, limits=limits) as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds

            async def one(key: str) -> None:
                headers = {"X-Api-Key": key, "Content-Type": content_type}
                while loop.time() < deadline:
                    start = loop.time()
                    try:
                        response = await client.post("/v1/cutouts", content=body, headers=headers)
                    except httpx.HTTPError as exc:
                        transport[type(exc).__name__] += 1
                        await asyncio.sleep(0.05)
                        continue
                    statuses[str(response.status_code)] += 1
                    if response.status_code == 200:
                        latencies.append(loop.time() - start)
                    elif response.status_code == 429:
                        wait = response.headers.get("retry-after", "").strip()
                        if wait:
                            retry_after[wait] += 1
                        else:
                            missing[0] += 1
                        reasons[_error_code(response)] += 1

            await asyncio.gather(*(one(key) for key in keys))

    pid = cluster.api.pid
    before = rss_mb(pid)
    peak = [before or 0.0]
    trace: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        ticks = 0
        while not stop.wait(0.05):
            now = rss_mb(pid) or 0.0
            peak[0] = max(peak[0], now)
            ticks += 1
            if ticks % 20 == 0:
                trace.append(round(now, 1))

    sampler = threading.Thread(target=sample, daemon=True)
    api_before, bench_before = tree_cpu_seconds(pid), time.process_time()
    sampler.start()
    try:
        asyncio.run(run())
    finally:
        stop.set()
        sampler.join()
    api_cpu, bench_cpu = _delta(api_before, tree_cpu_seconds(pid)), time.process_time() - bench_before
    time.sleep(2)
    after = rss_mb(pid)
    return OverloadRun(clients=len(keys), pool_slots=cluster.options.api_workers + cluster.options.api_queue_size,
                       seconds=seconds, statuses=dict(statuses), reasons=dict(reasons),
                       retry_after_missing=missing[0], retry_after=dict(retry_after),
                       transport_errors=dict(transport),
                       ok_latency=Percentiles.of(latencies), rss_before_mb=before,
                       rss_peak_mb=peak[0] if before is not None else None, rss_after_mb=after,
                       rss_trace_mb=tuple(trace), cpu_api_s=api_cpu, cpu_bench_s=bench_cpu)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


class _Backlog:
    """Keeps bulk jobs queued while it runs: whenever fewer than `low` items are queued (and the key may open
    another job), one more `items`-item job is submitted. Counts the items its jobs finish."""

    MAX_JOBS = 4  # a key's unfinished jobs at most (settings.max_concurrent_jobs_per_key's default)

    def __init__(self, cluster: Cluster, workers: int) -> None:
        self.cluster, self.workers = cluster, workers
        self.low = max(2 * workers + cluster.broker_window, cluster.options.items // 4)
        self.job_ids: list[str] = []
        self.ran_dry = False
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._client = cluster.client(cluster.keys.bulk)

    def counts(self, jobs: Mapping[str, dict] | None = None) -> Counter[str]:
        """Items of this backlog's jobs by state."""
        jobs = self.cluster.jobs(self._client) if jobs is None else jobs
        total: Counter[str] = Counter()
        for job_id in self.job_ids:
            total.update(jobs.get(job_id, {}).get("counts", {}))
        return total

    def top_up(self) -> Counter[str]:
        jobs = self.cluster.jobs(self._client)
        counts = self.counts(jobs)
        unfinished = sum(1 for job in jobs.values() if job["state"] in ("queued", "running"))
        if counts["queued"] < self.low and unfinished < self.MAX_JOBS:
            self.job_ids.append(self.cluster.create_job(self._client, self.cluster.options.items,
                                                        first=1000 * (len(self.job_ids) + 1)))
        return counts

    def _run(self) -> None:
        try:
            while not self._stop.wait(0.5):
                counts = self.top_up()
                if counts["queued"] == 0 and counts["running"] < self.workers:
                    self.ran_dry = True
        except BaseException as exc:  # noqa: BLE001 — handed to the caller by stop()
            self.error = exc

    def start(self) -> None:
        self.top_up()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()
        if self.error is not None:
            raise BenchError(f"the bulk backlog failed: {one_line(self.error)}")


def _probe(cluster: Cluster, photos: Sequence[bytes], swap_job: str, probes: int) -> tuple[Percentiles, Percentiles]:
    """`probes` sequential cut-outs, a theme swap of `swap_job` after every second one: their latencies."""
    cutouts: list[float] = []
    swaps: list[float] = []
    cutout_errors = swap_errors = 0
    with cluster.client(cluster.keys.cutout) as cutter, cluster.client(cluster.keys.swap) as swapper:
        for n in range(probes):
            start = time.perf_counter()
            response = cutter.post("/v1/cutouts", files={"image_file": ("photo.jpg", photos[n % len(photos)],
                                                                        "image/jpeg")})
            if response.status_code == 200:
                cutouts.append(time.perf_counter() - start)
            else:
                cutout_errors += 1
            if n % 2:
                colour = SWAP_COLOURS[(n // 2) % 2]
                start = time.perf_counter()
                response = swapper.post(f"/v1/jobs/{swap_job}/theme", json={"background": colour})
                seconds = time.perf_counter() - start
                if response.status_code == 200 and all(item["render"].get("background") == colour
                                                       for item in response.json()["items"]):
                    swaps.append(seconds)
                else:
                    swap_errors += 1
    return Percentiles.of(cutouts, cutout_errors), Percentiles.of(swaps, swap_errors)


def measure_latency(cluster: Cluster, workers: int, photos: Sequence[bytes]) -> LatencyRun:
    cluster.start_workers(workers)
    try:
        with cluster.client(cluster.keys.swap) as client:
            swap_job = cluster.create_job(client, SWAP_ITEMS, first=100_000)
            cluster.wait_done(client, swap_job)
        probes = cluster.options.probes
        idle_cutout, idle_swap = _probe(cluster, photos, swap_job, probes)
        backlog = _Backlog(cluster, workers)
        backlog.start()
        try:
            with cluster.client(cluster.keys.bulk) as watcher:
                time.sleep(1.0)  # every worker inside a bulk item
                before = backlog.counts(cluster.jobs(watcher))
                start = time.perf_counter()
                load_cutout, load_swap = _probe(cluster, photos, swap_job, probes)
                seconds = time.perf_counter() - start
                after = backlog.counts(cluster.jobs(watcher))
        finally:
            backlog.stop()
    finally:
        cluster.stop_workers()
    finished = (after["done"] + after["failed"]) - (before["done"] + before["failed"])
    return LatencyRun(workers, idle_cutout, idle_swap, load_cutout, load_swap, finished, seconds, backlog.ran_dry)
