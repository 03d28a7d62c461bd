"""The benchmark's cluster: its options, the photos and the loopback image host serving them, and one
`promptcut serve` with any number of `promptcut worker` processes on one database and one broker."""

from __future__ import annotations

import http.server
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import httpx

from fusion.imageio import encode_image, load_image
from service.bench.pipeline import resize_longest
from service.bench.workers.processes import BenchError, Process, celery_pings, free_port, tree_cpu_seconds
from service.db import open_database, repo
from service.settings import Settings

START_SECONDS = 90  # a process (API, worker) must be ready within this long
POLL_SECONDS = 0.1  # job progress, as a client polls it


# --- options -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchOptions:
    items: int = 100
    workers: tuple[int, ...] = (1, 2)
    photo_side: int = 640
    segmenter: str = "classical"
    api_workers: int = 2
    api_queue_size: int = 8
    overload_seconds: float = 10.0
    probes: int = 20  # sequential cut-outs per latency phase; half as many theme swaps

    def __post_init__(self) -> None:
        if self.items < 1 or not self.workers or min(self.workers) < 1 or self.photo_side < 32:
            raise BenchError("items ≥ 1, worker counts ≥ 1 and photo side ≥ 32 px, please")
        if self.probes < 2 or self.overload_seconds < 0:
            raise BenchError("probes ≥ 2 and overload seconds ≥ 0, please")


# --- the photos and the loopback image host ----------------------------------------------------------------


def photo_variants(photos: Sequence[Path], side: int, count: int) -> list[bytes]:
    """`count` JPEGs: the photos in turn, resized so the longest side is `side`, each with one pixel of its own
    (distinct bytes, the same work)."""
    bases = [resize_longest(load_image(path).rgb, side) for path in photos]
    out = []
    for index in range(count):
        rgb = bases[index % len(bases)].copy()
        rgb[0, 0] = (index % 256, (index // 256) % 256, 7)
        out.append(encode_image(rgb, "jpeg", quality=92))
    return out


class ImageHost:
    """GET /p/<n>.jpg → images[n % len(images)], on a loopback port, in threads of this process."""

    def __init__(self, images: Sequence[bytes]) -> None:
        self.images = list(images)
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — the http.server API
                match = re.fullmatch(r"/p/(\d+)\.jpg", self.path)
                if match is None:
                    self.send_error(404)
                    return
                body = host.images[int(match.group(1)) % len(host.images)]
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def url(self, index: int) -> str:
        return f"http://{self.host}/p/{index}.jpg"

    def __enter__(self) -> "ImageHost":
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the cluster -------------------------------------------------------------------------------------------


@dataclass
class _Keys:
    bulk: str
    swap: str
    cutout: str
    overload: list[str] = field(default_factory=list)


class Cluster:
    """One `promptcut serve` and any number of `promptcut worker` processes on one database, one broker and
    one data folder; the image host in this process."""

    def __init__(self, options: BenchOptions, database_url: str, broker_url: str, folder: Path, host: ImageHost,
                 environ: Mapping[str, str]) -> None:
        self.options, self.broker_url, self.folder, self.host = options, broker_url, folder, host
        settings = {
            "DATABASE_URL": database_url, "BROKER_URL": broker_url, "DATA_DIR": str(folder / "data"),
            "SEGMENTER": options.segmenter, "ALLOW_HTTP_URLS": "true", "URL_ALLOW_HOSTS": host.host,
            "SECRET_KEY": secrets.token_hex(16), "MAX_ITEMS_PER_JOB": str(max(500, options.items)),
            "MAX_QUEUED_ITEMS_PER_KEY": str(max(2000, 5 * options.items)),
            "WORKERS": str(options.api_workers), "QUEUE_SIZE": str(options.api_queue_size),
        }
        self.env = {**environ, **{f"PROMPTCUT_{name}": value for name, value in settings.items()}}
        self.database_url = database_url
        self.api: Process | None = None
        self.base_url = ""
        self.workers: list[Process] = []
        self.keys: _Keys | None = None

    @property
    def broker_window(self) -> int:
        default = Settings.model_fields["broker_window"].default
        return int(self.env.get("PROMPTCUT_BROKER_WINDOW", default) or default)

    def prepare(self, overload_clients: int) -> None:
        """Migrate the database (as `promptcut migrate` would) and make the API keys."""
        database = open_database(self.database_url)
        try:
            with database.session() as db:
                bulk, swap, cutout = (repo.create_key(db, f"bench-{name}")[1] for name in ("bulk", "swap", "cutout"))
                overload = [repo.create_key(db, f"bench-overload-{n}")[1] for n in range(overload_clients)]
        finally:
            database.close()
        self.keys = _Keys(bulk, swap, cutout, overload)

    def start_api(self) -> None:
        port = free_port()
        self.api = Process("api", ["serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port),
                                   "--log-level", "warning"], self.env, self.folder / "api.log")
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if not self.api.running():
                    raise BenchError(f"promptcut serve exited: {self.api.tail(3)}")
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise BenchError(f"promptcut serve was not ready within {START_SECONDS} s: {self.api.tail(3)}")

    def start_workers(self, count: int) -> float:
        """`count` worker processes, each answering a ping and the lot through a warm-up job; seconds taken."""
        started = time.perf_counter()
        tag = secrets.token_hex(3)
        names = {f"bench{tag}-{n}" for n in range(count)}
        for name in sorted(names):
            self.workers.append(Process(name, ["worker", "--concurrency", "1", "--", "--hostname", f"{name}@%h"],
                                        self.env, self.folder / f"{name}.log"))
        deadline = time.monotonic() + START_SECONDS
        while {reply.split("@")[0] for reply in celery_pings(self.broker_url)} < names:
            for worker in self.workers:
                if not worker.running():
                    raise BenchError(f"promptcut worker exited: {worker.tail(3)}")
            if time.monotonic() > deadline:
                raise BenchError(f"{count} workers did not all answer within {START_SECONDS} s")
        with self.client(self.keys.bulk) as client:
            self.wait_done(client, self.create_job(client, 2 * count))
        return time.perf_counter() - started

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.terminate()  # all at once: each finishes its item, then exits
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def stop(self) -> None:
        self.stop_workers()
        if self.api is not None:
            self.api.stop()
            self.api = None

    def client(self, key: str, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-Api-Key": key}, timeout=timeout)

    def create_job(self, client: httpx.Client, items: int, first: int = 0) -> str:
        body = {"format": "jpeg",
                "items": [{"image_url": self.host.url(first + n), "ref": f"p{first + n}"} for n in range(items)]}
        response = client.post("/v1/jobs", json=body)
        if response.status_code != 202:
            raise BenchError(f"POST /v1/jobs answered {response.status_code}: {response.text[:200]}")
        return response.json()["id"]

    def jobs(self, client: httpx.Client) -> dict[str, dict]:
        """This key's newest jobs (no items) by id."""
        response = client.get("/v1/jobs", params={"limit": 20})
        response.raise_for_status()
        return {job["id"]: job for job in response.json()["jobs"]}

    def wait_done(self, client: httpx.Client, job_id: str, timeout: float | None = None) -> dict:
        timeout = timeout or max(120.0, 10.0 * self.options.items)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.jobs(client).get(job_id)
            if job is not None and job["state"] in ("done", "failed"):
                return job
            if self.api is not None and not self.api.running():
                raise BenchError(f"promptcut serve exited: {self.api.tail(3)}")
            time.sleep(POLL_SECONDS)
        tails = "\n".join(f"[{worker.name}]\n{worker.tail(5)}" for worker in self.workers)
        raise BenchError(f"job {job_id} not done within {timeout:.0f} s; workers' last lines:\n{tails}")

    def cpu(self) -> tuple[float | None, float | None]:
        api = tree_cpu_seconds(self.api.pid) if self.api else None
        workers = [tree_cpu_seconds(worker.pid) for worker in self.workers]
        return api, (None if any(value is None for value in workers) else sum(workers))  # type: ignore[arg-type]
