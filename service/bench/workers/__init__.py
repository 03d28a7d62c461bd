"""Scaled out under load (issue #17): `promptcut serve` handing a bulk job's items over Celery/Redis to 1, 2, …
`promptcut worker` processes, PostgreSQL as the record — every process the real CLI command, on this machine.

One run, in order:
1. Throughput. For each worker count N: start N `promptcut worker --concurrency 1` processes, wait until every
   one answers a Celery ping and a 2N-item warm-up job is done, then time ONE `items`-item job (JSON, image URLs on
   a loopback image host serving the photos resized to `photo_side`, each item's bytes its own) from POST /v1/jobs
   to the job done, as a client polling GET /v1/jobs sees it; stop the workers (SIGTERM: Celery's warm
   shutdown). Items/s per N, and the speed-up of each N over the first (goal: 90 % of linear, 1.8× for 2 vs 1).
   Alongside: the CPU seconds the API, the workers and this process used, the whole machine's busy share
   (/proc/stat: PostgreSQL, Redis and the rest are what the three do not account for), and the items' own cut
   time (their stage timings), so a shortfall can be placed.
2. Overload, no worker running. 10 × (the API pool's workers + queue_size) clients, each with its own API key
   (so the server-wide pool, not one key's in-flight cap, is what is overloaded), POST /v1/cutouts with a small
   photo back to back, ignoring Retry-After, for `overload_seconds`: statuses counted, every 429 checked for
   Retry-After, the API process's RSS sampled before, every second, at its peak and 2 s after, its CPU seconds
   counted. The clients drop an idle connection after 2 s, before uvicorn closes it (5 s): reusing a connection
   the server is closing is a client-side race that would show up as resets, not as the server's answers.
3. Latency. With the most workers: `probes` sequential POST /v1/cutouts (photo_side) interleaved with
   `probes // 2` theme swaps of a 4-item done job (colours alternating; scaled out each item of a swap is one
   `render` message a worker takes), first idle, then while bulk jobs keep every worker busy (a new job is
   submitted whenever the backlog runs low); p50/p95 of each.

The API runs as a `promptcut serve` subprocess, not in this process: its RSS is its own, its event loop and pool
threads never share a GIL with the load this process generates (100 clients' worth in the overload), and it
competes for the cores as it would in production. The database is a temporary one (dropped afterwards) unless a
URL is given; the broker's Redis database is emptied (FLUSHDB) before and after: give it one of its own.

Files: `run.py` (the whole run), `measure.py` (the three phases), `cluster.py` (options, image host, processes
started and stopped), `processes.py` (/proc figures, the database and Redis, one CLI process), `results.py`.
"""

from service.bench.workers.cluster import BenchOptions
from service.bench.workers.processes import BenchError
from service.bench.workers.results import WorkersBench
from service.bench.workers.run import DEFAULT_BROKER_URL, measure_workers

__all__ = ["DEFAULT_BROKER_URL", "BenchError", "BenchOptions", "WorkersBench", "measure_workers"]
