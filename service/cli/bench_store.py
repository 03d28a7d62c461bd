"""`promptcut bench-store`: one sync of a generated catalogue through a fake Shopify shop on loopback (cost bucket
and all), its rerun and its revert, with the time on the store measured apart from the time cutting. A benchmark,
not a test."""

from __future__ import annotations

from typing import Optional

import typer

from service.bench.store_sync import measure_store_sync
from service.cli.errors import user_errors
from service.cli.report_output import print_report


def bench_store_command(
    products: int = typer.Option(500, "--products", min=1, help="Products in the fake shop, one photo each."),
    bucket: float = typer.Option(1000.0, "--bucket", min=1, help="The shop's cost bucket, in points."),
    restore_rate: float = typer.Option(50.0, "--restore-rate", min=0.1, help="Points the bucket regains per second."),
    min_side: int = typer.Option(800, "--min-side", min=16, help="Smallest side of a generated photo, px."),
    max_side: int = typer.Option(1200, "--max-side", min=16, help="Largest side of a generated photo, px."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated photos."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the results as JSON (- for stdout)."),
) -> None:
    """Time one store sync of N generated products on a fake shop: cutting vs the store, then a rerun and a revert."""
    if max_side < min_side:
        raise typer.BadParameter("--max-side must be at least --min-side", param_hint="--max-side")
    with user_errors():
        result = measure_store_sync(products, bucket=bucket, restore_rate=restore_rate, min_side=min_side,
                                    max_side=max_side, seed=seed)
    print_report(result, json_path)


def register(app: typer.Typer) -> None:
    app.command("bench-store")(bench_store_command)
