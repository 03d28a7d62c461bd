"""`promptcut bench-workers`: the scaled-out mode under load — one bulk job on 1, 2, … `promptcut worker`
processes (items/s and the speed-up), a 10× overload of the API (429s with Retry-After, memory, no 5xx), and the
latency of cut-outs and theme swaps while a bulk job runs. Needs PostgreSQL and Redis. A benchmark, not a test."""

from __future__ import annotations

import os
from typing import Optional

import typer

from service.bench.workers import DEFAULT_BROKER_URL, BenchOptions, measure_workers
from service.cli.errors import fail, user_errors
from service.cli.inputs import collect_inputs
from service.cli.report_output import print_report


def bench_workers_command(
    inputs: list[str] = typer.Argument(None, help="Photos (files, folders, globs); default samples/."),
    items: int = typer.Option(100, "--items", min=1, help="Items in the timed bulk job."),
    workers: str = typer.Option("1,2", "--workers", help="Worker process counts to compare, e.g. 1,2."),
    photo_side: int = typer.Option(640, "--photo-side", min=32, help="Longest side of the job's photos, px."),
    segmenter: str = typer.Option("classical", "--segmenter", help="Segmenter of the API and the workers."),
    database_url: Optional[str] = typer.Option(
        None, "--database-url",
        help="PostgreSQL URL to use (default: a temporary database on 127.0.0.1:5432, dropped afterwards).",
    ),
    broker_url: str = typer.Option(DEFAULT_BROKER_URL, "--broker-url",
                                   help="Redis database of the benchmark's own: emptied (FLUSHDB) before and after."),
    overload_seconds: float = typer.Option(10.0, "--overload-seconds", min=0,
                                           help="Length of the API overload (0: skip it)."),
    probes: int = typer.Option(20, "--probes", min=2,
                               help="Sequential cut-outs per latency phase (half as many theme swaps)."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the results as JSON (- for stdout)."),
) -> None:
    """Time one bulk job on 1, 2, … worker processes, overload the API 10×, and time cut-outs during a bulk job."""
    try:
        counts = tuple(int(part) for part in workers.split(",") if part.strip())
    except ValueError:
        raise fail(f"--workers takes counts like 1,2, not {workers!r}") from None
    with user_errors():
        options = BenchOptions(items=items, workers=counts, photo_side=photo_side, segmenter=segmenter,
                               overload_seconds=overload_seconds, probes=probes)
        photos = [item.source for item in collect_inputs(inputs or ["samples"])]
        result = measure_workers(photos, options, database_url=database_url, broker_url=broker_url,
                                 environ=os.environ, progress=lambda line: typer.echo(line, err=True))
    print_report(result, json_path)


def register(app: typer.Typer) -> None:
    app.command("bench-workers")(bench_workers_command)
