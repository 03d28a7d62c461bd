"""`promptcut store sync|revert`: replace a connected store's photos and write them back, or undo that.

The sync runs in this process on the job machinery the server uses (one job, its items cut here with the
chosen backend), so it needs no running server and leaves the same records: `promptcut serve` then shows the
job, and a theme swap or a correction works on its items like on any job's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fusion.segmenters import choose_segmenter
from service.cli.database_options import opened_database, settings_from
from service.cli.errors import EXIT_ITEM_FAILED, user_errors
from service.cli.keys import DatabaseOption, DataDirOption
from service.cli.models import models_dir_option, segmenter_option, threads_option
from service.jobs.store_syncs import local_services, sync_context
from service.store import sync_records
from service.store.catalogue import Selection
from service.store.connections import StoreEndpointRules
from service.store.secrets import server_box
from service.store.sync import SyncOptions, run_sync, start_sync
from service.store.sync_revert import revert_sync


def _context(settings, database, segmenter_name: str = "classical", models: Path | None = None, threads: int = 2):
    box = server_box(settings)
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout)
    choice = choose_segmenter(segmenter_name, models or settings.models).with_threads(threads)
    if choice.notice:
        typer.echo(choice.notice, err=True)
    services = local_services(settings, database, choice.build())
    return services, sync_context(services, box, rules)


def sync_command(
    store_id: str = typer.Argument(..., metavar="STORE_ID", help="The store id (see `promptcut store list`)."),
    collection: Optional[str] = typer.Option(None, "--collection", help="Only this collection (id)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Only products with this tag."),
    product_type: Optional[str] = typer.Option(None, "--product-type", help="Only this product type."),
    status: Optional[str] = typer.Option(None, "--status", help="active | draft | archived."),
    query: Optional[str] = typer.Option(None, "--query", help="Raw Shopify product search syntax."),
    theme: Optional[str] = typer.Option(None, "--theme", help="A theme name (see `promptcut themes`)."),
    background: Optional[str] = typer.Option(None, "--background", help="white (default), or a colour."),
    fmt: str = typer.Option("jpeg", "--format", help="jpeg | png | webp."),
    quality: int = typer.Option(92, "--quality", help="JPEG/WebP quality, 1-100."),
    size: Optional[str] = typer.Option(None, "--size", help="Output size WIDTHxHEIGHT or N for a square."),
    fill: float = typer.Option(0.85, "--fill", help="Share of the canvas the product fills (0.1-1)."),
    crop: bool = typer.Option(True, "--crop/--no-crop", help="Frame the product, or keep the photo's canvas."),
    align: str = typer.Option("center", "--align", help="center | bottom | top."),
    margin: float = typer.Option(0.0, "--margin", help="Margin as a fraction of the canvas (0-0.4)."),
    shadow: Optional[bool] = typer.Option(None, "--shadow/--no-shadow", help="Contact shadow (default: themes)."),
    all_images: bool = typer.Option(False, "--all-images", help="Replace every image, not only the first."),
    policy: str = typer.Option("replace", "--policy", help="replace (ours instead of the original) | add-first "
                               "(ours first, the original kept after it)."),
    publish_all: bool = typer.Option(False, "--publish-all", help="Also write back cuts that need review or "
                                     "fail the marketplace main-image rule (default: hold them)."),
    segmenter_name: str = segmenter_option(),
    models: Path = models_dir_option(),
    threads: int = threads_option(),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Cut the store's product photos with one look and write them back (held cuts stay on our side)."""
    settings = settings_from(data_dir, database_url)
    render = {"format": fmt, "quality": quality, "theme": theme, "background": background, "size": size,
              "fill": fill, "crop": crop, "align": align, "margin": margin, "shadow": shadow}
    options = SyncOptions(Selection(collection, tag, product_type, status, query), render, all_images, policy,
                          publish_all)
    with opened_database(settings) as database, user_errors():
        options = options.checked()  # before the segmenter loads: a typo costs nothing
        with database.session() as db:
            key_id = sync_records.store_owner(db, store_id)
        services, context = _context(settings, database, segmenter_name, models, threads)
        try:
            summary = run_sync(context, start_sync(database, key_id, store_id, options))
        finally:
            services.pool.shutdown(timeout=5)
    typer.echo(summary.line())
    if summary.state != "done" or summary.counts["failed"]:
        raise typer.Exit(EXIT_ITEM_FAILED)


def revert_command(
    sync_id: str = typer.Argument(..., metavar="SYNC_ID", help="The sync id `store sync` printed."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Put back the store's original photos a sync replaced, byte for byte, in their places."""
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database, user_errors():
        services, context = _context(settings, database)
        try:
            summary = revert_sync(context, sync_id)
        finally:
            services.pool.shutdown(timeout=5)
    typer.echo(summary.line())
    if summary.state != "reverted":
        raise typer.Exit(EXIT_ITEM_FAILED)
