"""Scaled out (#17): `promptcut serve` hands job items to `promptcut worker` processes over a real Redis, with a
real PostgreSQL as the record. Faults: a worker killed -9 mid-item (the item finishes exactly once on another
worker), Redis restarted mid-job (the job completes), the API restarted mid-job (nothing lost or doubled).
Bounded in time; every process on loopback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from service.api.app import create_app
from service.db import open_database, repo
from service.settings import Settings
from tests.helpers import in_ci, require_modules, temporary_postgres_database
from tests.moto_s3 import AWS_ENV, running_moto
from tests.service.api.test_api import ServerThread, make_keys, small_photo
from tests.service.scaleout.processes import WAIT, RedisServer, Worker

require_modules("celery", "redis")

pytestmark = pytest.mark.postgres

LEASE = 3  # seconds: a killed worker's item is re-queued this soon (heartbeats keep a live worker's claim)


@pytest.fixture
def database_url() -> Iterator[str]:
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture
def cluster(tmp_path: Path, redis_server: RedisServer, database_url: str) -> Iterator["Cluster"]:
    cluster = Cluster(tmp_path, redis_server, database_url)
    yield cluster
    cluster.stop()


class Cluster:
    """One API (in this process) and any number of worker processes sharing Redis, PostgreSQL and a data dir."""

    def __init__(self, tmp_path: Path, redis_server: RedisServer | None, database_url: str,
                 broker_url: str | None = None, s3: dict[str, str] | None = None) -> None:
        self.tmp_path, self.redis = tmp_path, redis_server
        broker_url = broker_url or redis_server.url
        self.env = {
            "PROMPTCUT_BROKER_URL": broker_url, "PROMPTCUT_DATABASE_URL": database_url,
            "PROMPTCUT_DATA_DIR": str(tmp_path / "data"), "PROMPTCUT_SEGMENTER": "classical",
            "PROMPTCUT_LEASE_SECONDS": str(LEASE), "PROMPTCUT_BROKER_RESEND_SECONDS": "3", **(s3 or {}),
        }
        self.settings = Settings(data_dir=tmp_path / "data", database_url=database_url, segmenter="classical",
                                 broker_url=broker_url, lease_seconds=LEASE, broker_resend_seconds=3,
                                 workers=1, queue_size=4,
                                 artifacts_url=(s3 or {}).get("PROMPTCUT_ARTIFACTS_URL", ""),
                                 s3_endpoint_url=(s3 or {}).get("PROMPTCUT_S3_ENDPOINT_URL", ""))
        open_database(database_url).close()  # migrated once, as `promptcut migrate` would (workers never do)
        self.keys, _ = make_keys(self.settings, ("a",))
        self.workers: list[Worker] = []
        self.api: ServerThread | None = None

    def start_api(self) -> ServerThread:
        self.api = ServerThread(create_app(self.settings)).__enter__()
        return self.api

    def stop_api(self) -> None:
        if self.api is not None:
            self.api.__exit__(None, None, None)
            self.api = None

    def worker(self, *, gated_by: Path | None = None, args: tuple[str, ...] | None = None) -> Worker:
        worker = Worker(self.env, self.tmp_path / f"worker-{len(self.workers)}.log", gated_by=gated_by, args=args)
        self.workers.append(worker)
        return worker

    def client(self, key: str = "a") -> httpx.Client:
        assert self.api is not None
        return httpx.Client(base_url=self.api.url, headers={"X-Api-Key": self.keys[key]}, timeout=WAIT)

    def items(self, job_id: str) -> list:
        database = open_database(self.settings.db_url, migrate=False)
        try:
            with database.session() as db:
                return [(item.id, item.state, item.attempts, item.version, item.claimed_by)
                        for item in repo.job_items(db, job_id)]
        finally:
            database.close()

    def wait_done(self, job_id: str, key: str = "a") -> dict:
        deadline = time.monotonic() + WAIT
        with self.client(key) as client:
            while time.monotonic() < deadline:
                job = client.get(f"/v1/jobs/{job_id}").json()
                if job["state"] in ("done", "failed"):
                    return job
                time.sleep(0.1)
        logs = "\n".join(worker.output() for worker in self.workers)
        raise AssertionError(f"job {job_id} did not finish: {self.items(job_id)}\n{logs}")

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.stop_api()


def create_job(cluster: Cluster, count: int, key: str = "a") -> str:
    photo = small_photo("coffee-cup.jpg")
    with cluster.client(key) as client:
        response = client.post("/v1/jobs", files=[("image_file", (f"{n}.jpg", photo, "image/jpeg"))
                                                  for n in range(count)])
    assert response.status_code == 202, response.text
    return response.json()["id"]


def start_with_a_held_cut(cluster: Cluster, count: int) -> tuple[Path, Worker, str]:
    """API, one gated worker and a `count`-item job; returns once the worker is inside an item's cut (held until
    the returned gate file is removed)."""
    gate = cluster.tmp_path / "gate"
    gate.touch()
    cluster.start_api()
    worker = cluster.worker(gated_by=gate)
    job_id = create_job(cluster, count)
    deadline = time.monotonic() + WAIT
    while not list(cluster.tmp_path.glob("entered-*")):
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.05)
    return gate, worker, job_id


def test_two_workers_cut_a_job_and_re_theme_it_through_the_render_queue(
    tmp_path: Path, redis_server: RedisServer, database_url: str
) -> None:
    """The compose set: API and two workers sharing Redis, PostgreSQL and an S3-compatible bucket (moto)."""
    with running_moto() as s3:
        cluster = Cluster(tmp_path, redis_server, database_url, s3={
            "PROMPTCUT_ARTIFACTS_URL": f"s3://{s3.new_bucket()}/artifacts", "PROMPTCUT_S3_ENDPOINT_URL": s3.url,
            **AWS_ENV})
        try:
            cut_and_re_theme(cluster)
        finally:
            cluster.stop()
    assert not list((tmp_path / "data").glob("artifacts/**/*")), "artifacts were written to the data dir"


def cut_and_re_theme(cluster: Cluster) -> None:
    cluster.start_api()
    cluster.worker()  # compose.yaml's command: prefork, models built in the child after the fork
    cluster.worker(args=("--pool", "solo"))
    job_id = create_job(cluster, 6)
    job = cluster.wait_done(job_id)
    assert job["counts"]["done"] == 6, job
    assert all((state, attempts, version) == ("done", 1, 1) for _, state, attempts, version, _ in cluster.items(job_id))
    with cluster.client() as client:
        swapped = client.post(f"/v1/jobs/{job_id}/theme", json={"background": "#204080"})
        assert swapped.status_code == 200, swapped.text
        assert all(item["render"].get("background") == "#204080" for item in swapped.json()["items"])
        result = client.get(swapped.json()["items"][0]["result_url"])
        assert result.status_code == 200 and result.headers["content-type"].startswith("image/")
    assert all(version == 2 for *_, version, _ in cluster.items(job_id))  # re-rendered once each


def test_stores_take_turns_across_workers(cluster: Cluster) -> None:
    """Two workers, store A's 16-item job under way: store B's 1-item job is handed out ahead of A's backlog
    (the broker holds at most the window's items), so B is done long before A."""
    cluster.settings = cluster.settings.model_copy(update={"broker_window": 2})
    cluster.keys.update(make_keys(cluster.settings, ("b",))[0])
    cluster.start_api()
    cluster.worker(args=("--pool", "solo"))
    cluster.worker(args=("--pool", "solo"))
    a_job = create_job(cluster, 16)
    deadline = time.monotonic() + WAIT
    while sum(state == "done" for _, state, *_ in cluster.items(a_job)) < 2:
        assert time.monotonic() < deadline, cluster.items(a_job)
        time.sleep(0.02)
    b_job = create_job(cluster, 1, key="b")
    cluster.wait_done(b_job, key="b")
    a_done = sum(state == "done" for _, state, *_ in cluster.items(a_job))
    assert a_done <= 10, f"{a_done} of A's 16 items were done before B's one item"
    assert cluster.wait_done(a_job)["counts"]["done"] == 16


def test_a_worker_killed_mid_item_leaves_it_to_another_worker_exactly_once(cluster: Cluster) -> None:
    _, doomed, job_id = start_with_a_held_cut(cluster, 3)
    running = [item for item in cluster.items(job_id) if item[1] == "running"]
    assert len(running) == 1, cluster.items(job_id)
    doomed.kill()
    cluster.worker()  # the survivor
    job = cluster.wait_done(job_id)
    assert job["counts"]["done"] == 3, job
    items = {item_id: (state, attempts, version) for item_id, state, attempts, version, _ in cluster.items(job_id)}
    assert items[running[0][0]] == ("done", 2, 1)  # claimed twice, finished once
    assert all(version == 1 for _, _, version in items.values())


def test_a_redis_restart_mid_job_loses_no_item(cluster: Cluster) -> None:
    gate, _, job_id = start_with_a_held_cut(cluster, 4)
    cluster.redis.stop()  # every message in it is gone
    with cluster.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["broker"] is False, ready.text
    cluster.redis.start()
    with cluster.client() as client:
        assert client.get("/readyz").json()["checks"]["broker"] is True
    gate.unlink()
    job = cluster.wait_done(job_id)
    assert job["counts"]["done"] == 4, job
    assert all(version == 1 for *_, version, _ in cluster.items(job_id))


def test_an_api_restart_mid_job_loses_and_doubles_nothing(cluster: Cluster) -> None:
    gate, _, job_id = start_with_a_held_cut(cluster, 4)
    cluster.stop_api()
    running = [item for item in cluster.items(job_id) if item[1] == "running"]
    cluster.start_api()  # a new API: it must not take the running item from the live worker
    time.sleep(2 * LEASE)  # the cut outlasts the lease: the worker's heartbeats keep its claim
    assert [item[:3] for item in cluster.items(job_id) if item[1] == "running"] == [item[:3] for item in running]
    gate.unlink()
    job = cluster.wait_done(job_id)
    assert job["counts"]["done"] == 4, job
    assert all((attempts, version) == (1, 1) for _, _, attempts, version, _ in cluster.items(job_id))


def test_a_worker_without_a_broker_says_so_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {"PROMPTCUT_BROKER_URL": "", "PROMPTCUT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([str(Path(sys.executable).with_name("promptcut")), "worker"], env={**_env(), **env},
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 2 and "PROMPTCUT_BROKER_URL" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([str(Path(sys.executable).with_name("promptcut")), "worker", "--queues", "cuts"],
                          env={**_env(), **env}, capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 2 and "--queues" in done.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def purge_rabbitmq_queues() -> None:
    """The shared RabbitMQ's promptcut queues start and end empty (a test's leftovers must not feed another)."""
    import kombu

    with kombu.Connection(RABBITMQ, connect_timeout=3) as connection:
        channel = connection.channel()
        for name in ("segment", "render"):
            kombu.Queue(name, channel=channel).declare()
            kombu.Queue(name, channel=channel).purge()


def test_rabbitmq_carries_a_job_too(tmp_path: Path, database_url: str) -> None:
    try:
        purge_rabbitmq_queues()
    except Exception as exc:  # noqa: BLE001 — any failure: no usable RabbitMQ here
        if in_ci():
            pytest.fail(f"RabbitMQ not reachable on 127.0.0.1:5672 ({exc}); CI=true requires it", pytrace=False)
        pytest.skip(f"RabbitMQ not reachable on 127.0.0.1:5672 ({exc})")
    cluster = Cluster(tmp_path, None, database_url, broker_url=RABBITMQ)
    try:
        cluster.start_api()
        cluster.worker()
        job = cluster.wait_done(create_job(cluster, 3))
        assert job["counts"]["done"] == 3, job
        with cluster.client() as client:
            assert client.get("/readyz").json()["checks"]["broker"] is True
    finally:
        cluster.stop()
        purge_rabbitmq_queues()
