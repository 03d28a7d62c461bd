"""`promptcut bench`: per-stage timings on real photos at a chosen size (a benchmark, not a test)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fusion.evaluation.baselines import get_baseline
from fusion.imageio import encode_image, load_image
from fusion.segmenters import choose_segmenter
from service.bench.pipeline import resize_longest, time_pipeline
from service.cli.errors import user_errors
from service.cli.inputs import collect_inputs
from service.cli.models import model_side_option, models_dir_option, segmenter_option, threads_option
from service.engine.options import resolve_background


def bench(
    inputs: list[str] = typer.Argument(..., help="Photos (files, folders, globs) to time."),
    longest: int = typer.Option(1024, "--longest", help="Resize each photo so its longest side is this many px."),
    repeat: int = typer.Option(3, "--repeat", help="Runs per photo."),
    segmenter_name: str = segmenter_option(),
    models: Path = models_dir_option(),
    theme: Optional[str] = typer.Option(None, "--theme", help="Compose on a theme instead of white."),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", help="Also time a baseline (e.g. grabcut-rect) in the same run."
    ),
    megapixels: float = typer.Option(
        0.0, "--megapixels", help="Also run once upscaled to this many megapixels (e.g. 24)."
    ),
    limit: int = typer.Option(0, "--limit", help="Use at most this many photos (0 = all)."),
    threads: int = threads_option(),
    model_side: int = model_side_option(),
) -> None:
    """Print median per-stage timings (ms) of decode → segment → select → feather → compose → encode."""
    console = Console()
    with user_errors():
        choice = choose_segmenter(segmenter_name, models)
        choice = choice.with_threads(threads).with_model_side(model_side)
        segmenter, notice = choice.build(), choice.notice
        items = collect_inputs(inputs)[: limit or None]
        if notice:
            typer.echo(notice, err=True)
        background = resolve_background(theme, None)
        photos = [resize_longest(load_image(item.source).rgb, longest) for item in items]
        encoded = [encode_image(p, "jpeg", quality=92) for p in photos]
        if hasattr(segmenter, "load"):
            segmenter.load()  # model loading is not a per-image cost
        times = time_pipeline(encoded, segmenter, background, repeat=repeat)

        table = Table(title=f"{len(photos)} photos at {longest} px, {repeat} runs each ({segmenter.name})")
        table.add_column("stage")
        table.add_column("median ms", justify="right")
        for name, seconds in times.stages.items():
            table.add_row(name, f"{seconds * 1000:.1f}")
        table.add_row("[bold]total[/bold]", f"[bold]{times.total_median * 1000:.1f}[/bold]")
        console.print(table)
        cut_median = sum(times.stages.get(s, 0.0) for s in ("sharpen", "segment", "select", "feather", "decontaminate"))
        console.print(f"cut (segment+select+feather+decontaminate) median of stage medians: "
                      f"{cut_median * 1000:.1f} ms; "
                      f"working resolution {times.working_shape[1]}×{times.working_shape[0]}")

        if baseline:
            run_baseline = get_baseline(baseline)
            baseline_times = []
            for photo in photos:
                for _ in range(repeat):
                    start = time.perf_counter()
                    run_baseline(photo)
                    baseline_times.append(time.perf_counter() - start)
            median = statistics.median(baseline_times)
            console.print(f"baseline {baseline}: median {median * 1000:.1f} ms per photo; "
                          f"ours (full path) / baseline = {times.total_median / median:.2f}")

        if megapixels > 0:
            h, w = photos[0].shape[:2]
            scale = (megapixels * 1_000_000 / (h * w)) ** 0.5  # keep the photo's aspect ratio
            big = resize_longest(photos[0], round(max(h, w) * scale))
            big_times = time_pipeline([encode_image(big, "jpeg", quality=90)], segmenter, background, repeat=1)
            h, w = big_times.image_shape
            console.print(f"{w}×{h} ({w * h / 1e6:.1f} MP): total {big_times.total_median:.2f} s, "
                          f"segmented at {big_times.working_shape[1]}×{big_times.working_shape[0]}; "
                          + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in big_times.stages.items()))


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
