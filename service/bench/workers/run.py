"""The whole benchmark run: the services and the cluster set up, the three phases in order, torn down."""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Mapping, Sequence

from service.bench.store_sync import cpu_model
from service.bench.workers.cluster import BenchOptions, Cluster, ImageHost, photo_variants
from service.bench.workers.measure import measure_latency, measure_overload, measure_throughput
from service.bench.workers.processes import BenchError, flush_redis, temporary_database
from service.bench.workers.results import WorkersBench

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/9"
OVERLOAD_FACTOR = 10
OVERLOAD_SIDE = 256  # px, the overload's "small photo"


def measure_workers(photos: Sequence[Path], options: BenchOptions, *, database_url: str | None = None,
                    broker_url: str = DEFAULT_BROKER_URL, environ: Mapping[str, str] | None = None,
                    progress: Callable[[str], None] = lambda _: None) -> WorkersBench:
    """The whole run (see the package docstring). `environ` is the environment the processes start with (the
    benchmark's own PROMPTCUT_* settings override it); `progress` hears one line per phase."""
    if not photos:
        raise BenchError("no photos to serve")
    environ = dict(environ or {})
    clients = OVERLOAD_FACTOR * (options.api_workers + options.api_queue_size)
    flush_redis(broker_url)
    with ExitStack() as stack:
        if database_url is None:
            database_url = stack.enter_context(temporary_database())
        stack.callback(flush_redis, broker_url)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="promptcut-bench-workers-")))
        progress(f"preparing {options.items} {options.photo_side}-px photos and the database")
        host = stack.enter_context(ImageHost(photo_variants(photos, options.photo_side, max(options.items, 8))))
        cluster = Cluster(options, database_url, broker_url, folder, host, environ)
        cluster.prepare(clients)
        stack.callback(cluster.stop)
        cluster.start_api()
        runs = []
        for workers in options.workers:
            progress(f"{workers} worker(s): warm-up, then one {options.items}-item job")
            runs.append(measure_throughput(cluster, workers))
        overload = None
        if options.overload_seconds > 0:
            progress(f"overload: {clients} clients for {options.overload_seconds:g} s")
            small = photo_variants(photos[:1], OVERLOAD_SIDE, 1)[0]
            overload = measure_overload(cluster, small)
        progress(f"latency with {max(options.workers)} worker(s): idle, then under bulk jobs")
        samples = photo_variants(photos, options.photo_side, len(photos))
        latency = measure_latency(cluster, max(options.workers), samples)
        return WorkersBench(cpu=cpu_model(), cores=os.cpu_count() or 0, items=options.items,
                            photo_side=options.photo_side, segmenter=options.segmenter,
                            api_workers=options.api_workers, api_queue_size=options.api_queue_size,
                            broker_window=cluster.broker_window, runs=tuple(runs), overload=overload,
                            latency=latency)
