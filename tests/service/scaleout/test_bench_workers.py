"""`promptcut bench-workers` at a tiny scale (#17 item 6): the real command against a Redis of the test's own and a
temporary PostgreSQL, its API and workers real processes; the JSON report has every figure. Bounded in time."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import require_modules, run_cli, temporary_postgres_database
from tests.service.scaleout.processes import RedisServer, free_port

require_modules("celery", "redis")

pytestmark = pytest.mark.postgres


def test_a_tiny_run_reports_every_figure(tmp_path: Path, redis_server: RedisServer) -> None:
    report = tmp_path / "bench.json"
    started = time.monotonic()
    with temporary_postgres_database() as database_url:
        done = run_cli("bench-workers", "--items", "4", "--workers", "1", "--photo-side", "256",
                       "--overload-seconds", "2", "--probes", "4", "--database-url", database_url,
                       "--broker-url", redis_server.url, "--json", str(report), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - started < 90

    result = json.loads(report.read_text())
    assert result["cores"] >= 1 and result["cpu"] and result["items"] == 4
    [run] = result["throughput"]
    assert run["workers"] == 1 and run["done"] == 4 and run["failed"] == 0
    assert run["wall_s"] > 0 and run["items_per_s"] > 0 and run["cut_median_s"] > 0
    assert result["speedups"] == []  # one worker count: nothing to compare

    overload = result["overload"]
    assert overload["clients"] == 10 * (result["api"]["workers"] + result["api"]["queue_size"])
    assert overload["statuses"].get("429", 0) > 0 and overload["retry_after_missing"] == 0
    assert overload["server_errors"] == 0 and overload["transport_errors"] == {}
    assert overload["rss_before_mb"] > 0 and overload["rss_peak_mb"] >= overload["rss_before_mb"]

    latency = result["latency"]
    for phase in ("idle_cutout", "idle_swap", "load_cutout", "load_swap"):
        assert latency[phase]["count"] > 0 and latency[phase]["errors"] == 0, (phase, latency[phase])
        assert 0 < latency[phase]["p50_s"] <= latency[phase]["p95_s"]
    assert latency["bulk_items"] > 0

    assert "items/s" in done.stdout and "overload:" in done.stdout and "CPU:" in done.stdout


def test_an_unreachable_broker_is_one_line() -> None:
    done = run_cli("bench-workers", "--items", "1", "--broker-url", f"redis://127.0.0.1:{free_port()}/0", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Redis not reachable" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
