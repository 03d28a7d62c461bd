"""`promptcut store campaign create|list|cancel|run`: seasonal campaigns — a theme on a store's published photos
from a start to an end.

`create` records the campaign in the database; the server's campaign runner applies it at its start and brings
the evergreen look back at its end (`run` does the same once, in this process, for machines without a server:
e.g. from cron). `create --dry-run` writes the contact sheet (before | after per photo) and records nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

import typer

from fusion.errors import InvalidOptionError
from fusion.segmenters import choose_segmenter  # the engine needs one; a re-render never calls it
from service.cli.database_options import opened_database, settings_from
from service.cli.errors import EXIT_ITEM_FAILED, user_errors
from service.cli.keys import DatabaseOption, DataDirOption
from service.db.schema import utcnow
from service.jobs.store_campaigns import campaign_context
from service.jobs.store_syncs import local_services
from service.store import campaign as campaigns
from service.store.campaign_run import work
from service.store.campaign_sheet import dry_run
from service.store.catalogue import Selection
from service.store.connections import StoreEndpointRules
from service.store.secrets import server_box

campaign_app = typer.Typer(name="campaign", no_args_is_help=True,
                           help="Seasonal campaigns: a theme on the published photos from a start to an end.")


def _when(value: str, option: str) -> datetime:
    try:
        return campaigns.as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidOptionError(f"{option} must be an ISO 8601 date or time (2025-12-01 or "
                                 f"2025-12-01T08:00+01:00), got {value!r}") from None


def _context(settings, database):
    box = server_box(settings)
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout)
    services = local_services(settings, database, choose_segmenter("classical", settings.models).build())
    return services, campaign_context(services, box, rules)


@campaign_app.command("create")
def create(
    store_id: str = typer.Argument(..., metavar="STORE_ID", help="The store id (see `promptcut store list`)."),
    theme: str = typer.Option(..., "--theme", help="The campaign's theme (see `promptcut themes`)."),
    start: str = typer.Option(..., "--start", help="When it starts: ISO 8601 (no offset: UTC)."),
    end: str = typer.Option(..., "--end", help="When the evergreen look returns: ISO 8601 (no offset: UTC)."),
    collection: Optional[str] = typer.Option(None, "--collection", help="Only this collection (id)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Only products with this tag."),
    product_type: Optional[str] = typer.Option(None, "--product-type", help="Only this product type."),
    status: Optional[str] = typer.Option(None, "--status", help="active | draft | archived."),
    query: Optional[str] = typer.Option(None, "--query", help="Raw Shopify product search syntax."),
    dry_run_: bool = typer.Option(False, "--dry-run", help="Write the contact sheet only; record nothing."),
    sheet: Path = typer.Option(Path("campaign-sheet.png"), "--sheet", help="Where --dry-run writes the sheet."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Schedule a theme on the store's published photos from --start to --end (or preview it: --dry-run)."""
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database, user_errors():
        plan = campaigns.CampaignPlan(theme, _when(start, "--start"), _when(end, "--end"),
                                      Selection(collection, tag, product_type, status, query))
        services, context = _context(settings, database)
        try:
            plan = plan.checked(services.engine.check)
            key_id = campaigns.store_owner(database, store_id)
            if dry_run_:
                with context.sync.open_client(store_id, key_id) as client:
                    result = dry_run(context, client, store_id, plan)
                sheet.write_bytes(result.png)
                typer.echo(f"{result.line()}; contact sheet: {sheet}")
                for handle, reason in result.skipped:
                    typer.echo(f"skipped {handle}: {reason}")
                return
            report = campaigns.create_campaign(database, key_id, store_id, plan)
        finally:
            services.pool.shutdown(timeout=5)
    typer.echo(report.line())


@campaign_app.command("list")
def list_(
    store_id: str = typer.Argument(..., metavar="STORE_ID", help="The store id."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """A store's campaigns, newest first: state, times, photos applied / reverted / failed / skipped."""
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database, user_errors():
        for report in campaigns.list_campaigns(database, store_id):
            typer.echo(report.line())


@campaign_app.command("cancel")
def cancel(
    campaign_id: str = typer.Argument(..., metavar="CAMPAIGN_ID", help="The campaign id."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Before its start: it never happens. Once applied: the evergreen look returns at the runner's next pass."""
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database, user_errors():
        report = campaigns.cancel_campaign(database, campaign_id, utcnow())
    typer.echo(report.line())


@campaign_app.command("run")
def run(
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Apply or revert every campaign due now, in this process (without a server; e.g. from cron)."""
    settings = settings_from(data_dir, database_url)
    failed = False
    with opened_database(settings) as database, user_errors():
        services, context = _context(settings, database)
        try:
            lease = timedelta(seconds=settings.lease_seconds)
            for campaign_id in campaigns.due_campaigns(database, utcnow()):
                if campaigns.claim(database, campaign_id, services.worker_name(), utcnow(), lease):
                    work(context, campaign_id)
                    report = campaigns.get_campaign(database, campaign_id)
                    failed = failed or bool(report.error_message or report.counts["failed"])
                    typer.echo(report.line())
        finally:
            services.pool.shutdown(timeout=5)
    if failed:
        raise typer.Exit(EXIT_ITEM_FAILED)
