"""`promptcut bench-service`: what the service's caching buys (reprompt and theme swap against a full cut),
the API's overhead per request, a seller's click correction through the API, and a catalogue job's wall time.
A benchmark, not a test."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

import typer

from fusion.segmenters import get_segmenter
from service.bench.catalogue_job import measure_job
from service.bench.corrections import measure_corrections
from service.bench.http_overhead import measure
from service.bench.operations import bench_service, sample_titles
from service.cli.bench_neural import neural_model_dir
from service.cli.errors import user_errors
from service.cli.inputs import collect_inputs
from service.cli.models import models_dir_option


def bench_service_command(
    inputs: list[str] = typer.Argument(None, help="Photos (files, folders, globs); default samples/."),
    longest: int = typer.Option(1024, "--longest", help="Resize each photo so its longest side is this many px."),
    repeat: int = typer.Option(5, "--repeat", min=1, help="Rounds of cut/reprompt/theme swap per photo."),
    theme: str = typer.Option("winter-holidays", "--theme", help="Theme the swap goes to."),
    size: Optional[str] = typer.Option(None, "--size", help="Fixed output size (default: sized from the product)."),
    api: bool = typer.Option(True, "--api/--no-api", help="Also time the HTTP API (overhead, a whole job)."),
    job_items: int = typer.Option(50, "--job-items", min=1, help="Items in the timed job."),
    workers: int = typer.Option(2, "--workers", min=1, help="Server worker threads for the job."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the results as JSON (- for stdout)."),
    neural: bool = typer.Option(False, "--neural", help="Time the engine with the neural backend instead."),
    random_init: bool = typer.Option(False, "--random-init", help="With --neural: full-size random-init models."),
    models: Path = models_dir_option(),
) -> None:
    """Time cut → reprompt → theme swap per photo (classical backend, JPEG), then the API on top."""

    with user_errors(), tempfile.TemporaryDirectory(prefix="promptcut-random-models-") as scratch:
        photos = [item.source for item in collect_inputs(inputs or ["samples"])]
        titles = sample_titles(Path("samples")) if Path("samples/titles.csv").is_file() else None
        segmenter = None
        if neural:
            segmenter = get_segmenter("neural", model_dir=neural_model_dir(random_init, models, Path(scratch),
                                                                           typer.echo))
        result = bench_service(photos, segmenter, longest=longest, repeat=repeat, theme=theme,
                               output_format="jpeg", size=size, titles=titles)
        report = {"engine": result.to_dict()}
        for line in result.lines():
            typer.echo(line)
        if api and not neural:  # the API figures are specified for the classical backend

            overhead = measure(photos[0], side=longest, runs=max(repeat, 5))
            typer.echo(f"API overhead per POST /v1/cutouts ({longest}-px photo, median of {overhead.runs}): "
                       f"{overhead.paired_overhead_median_s * 1000:.1f} ms on top of Engine.cut's "
                       f"{overhead.engine_median_s * 1000:.0f} ms")
            correction = measure_corrections(photos[0], side=longest, runs=max(repeat, 5))
            for line in correction.lines():
                typer.echo(line)
            job = measure_job(photos, items=job_items, side=longest, workers=workers, theme=theme)
            typer.echo(f"{job.items}-item job, {job.workers} workers: {job.wall_s:.1f} s wall "
                       f"({job.per_item_s * 1000:.0f} ms per item), {job.failed} failed; whole-job theme swap "
                       f"{job.theme_swap_s * 1000:.0f} ms")
            report |= {"api_overhead_ms": overhead.paired_overhead_median_s * 1000,
                       "correction": correction.to_dict(),
                       "job": {"items": job.items, "workers": job.workers, "wall_s": job.wall_s,
                               "theme_swap_s": job.theme_swap_s, "failed": job.failed}}
    if json_path:
        text = json.dumps(report, indent=2)
        typer.echo(text) if json_path == "-" else Path(json_path).write_text(text + "\n")


def register(app: typer.Typer) -> None:
    app.command("bench-service")(bench_service_command)
