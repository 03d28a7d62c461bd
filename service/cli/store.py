"""`promptcut store connect|list|disconnect`: connect a Shopify shop to an API key (its store in promptcut).

The key is named by its id, as `promptcut keys list` shows it. The access token is checked against the shop
(it must hold read_products, write_products, write_files), then kept encrypted in the database under
PROMPTCUT_SECRET_KEY (or the key file in the data directory). It is never printed. Prefer passing it through
PROMPTCUT_STORE_TOKEN over --token, which other users of the machine can read in the process list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from service.cli.database_options import opened_database, settings_from
from service.cli.keys import DatabaseOption, DataDirOption
from service.cli.store_campaign import campaign_app
from service.cli.store_csv import csv_command
from service.cli.store_sync import revert_command, sync_command
from service.store.connections import (
    StoreEndpointRules,
    connect_store,
    disconnect_store,
    list_stores,
)
from service.store.secrets import server_box
from service.store.webhooks_config import MAX_SECRET_LENGTH, WebhookChange, configure_webhooks

STORE_HELP = ("Connect a Shopify store to an API key, list and disconnect it, replace its photos (sync, revert), "
              "run seasonal campaigns, or round-trip a product CSV.")
store_app = typer.Typer(name="store", help=STORE_HELP,
                        no_args_is_help=True)


@store_app.command("connect")
def connect(
    key: str = typer.Option(..., "--key", metavar="KEY_ID", help="The API key id (see `promptcut keys list`)."),
    shop: str = typer.Option(..., "--shop", help="The shop: NAME or NAME.myshopify.com."),
    token: str = typer.Option(..., "--token", envvar="PROMPTCUT_STORE_TOKEN", show_envvar=True,
                              help="The custom app's Admin API access token (shpat_…)."),
    api_url: Optional[str] = typer.Option(None, "--api-url", help="An explicit Admin GraphQL URL (https; a local "
                                          "test store over http when in PROMPTCUT_STORE_API_ALLOW_HOSTS)."),
    webhook_secret: Optional[str] = typer.Option(None, "--webhook-secret", help="The custom app's client secret, "
                                                 "which signs its webhooks (or later: `store webhooks --secret`)."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Check a shop's access token and keep it, encrypted, for an API key."""
    if webhook_secret is not None and not 0 < len(webhook_secret.strip()) <= MAX_SECRET_LENGTH:
        raise typer.BadParameter(f"give 1 to {MAX_SECRET_LENGTH} characters", param_hint="--webhook-secret")
    settings = settings_from(data_dir, database_url)
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout)
    with opened_database(settings) as database:
        box = server_box(settings)
        store = connect_store(database, box, key, shop, token, api_url=api_url, rules=rules)
        if webhook_secret is not None:
            configure_webhooks(database, box, store.id, WebhookChange(secret=webhook_secret))
    typer.echo(f"connected {store.shop_domain} as store {store.id} for key {store.key_id} "
               f"(scopes: {', '.join(store.scopes)}; webhook secret {'set' if webhook_secret else 'not set'})")


@store_app.command("list")
def list_(
    key: Optional[str] = typer.Option(None, "--key", metavar="KEY_ID", help="Only this API key's stores."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """List connected stores: id, key, shop, connected (never a token)."""
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database:
        stores = list_stores(database, key)
    table = [("ID", "KEY", "SHOP", "CONNECTED", "API URL")]
    table += [(s.id, s.key_id, s.shop_domain, s.connected_at.strftime("%Y-%m-%d %H:%M UTC"), s.api_url or "-")
              for s in stores]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@store_app.command("disconnect")
def disconnect(
    store_id: str = typer.Argument(..., metavar="ID", help="The store id shown by `store connect` / `store list`."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Disconnect a store: its encrypted token is deleted."""
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database:
        store = disconnect_store(database, store_id)
    typer.echo(f"disconnected {store.shop_domain} (store {store.id}); its token is deleted")


@store_app.command("webhooks")
def webhooks(
    store_id: str = typer.Argument(..., metavar="STORE_ID", help="The store id (see `promptcut store list`)."),
    secret: Optional[str] = typer.Option(None, "--secret", envvar="PROMPTCUT_STORE_WEBHOOK_SECRET",
                                         show_envvar=True, help="The custom app's client secret (Shopify signs "
                                         "its webhooks with it); \"\" removes it."),
    auto_process: Optional[bool] = typer.Option(None, "--auto-process/--no-auto-process",
                                                help="Cut new and changed products' main images (default off)."),
    theme: Optional[str] = typer.Option(None, "--theme", help="The look of auto-processed photos: a theme."),
    background: Optional[str] = typer.Option(None, "--background", help="… or a background (white, a colour)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="jpeg | png | webp."),
    size: Optional[str] = typer.Option(None, "--size", help="Output size WIDTHxHEIGHT or N for a square."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Set a store's webhook secret, auto-process and look; show the settings (never the secret)."""
    settings = settings_from(data_dir, database_url)
    given = {"theme": theme, "background": background, "format": fmt, "size": size}
    look = {name: value for name, value in given.items() if value is not None} or None
    with opened_database(settings) as database:
        box = server_box(settings)
        config = configure_webhooks(database, box, store_id, WebhookChange(secret, auto_process, look))
    shown = ", ".join(f"{name} {value}" for name, value in sorted(config.look.items()) if value is not None)
    typer.echo(f"store {config.store_id}: webhook secret {'set' if config.secret_set else 'not set'}, "
               f"auto-process {'on' if config.auto_process else 'off'}, look: {shown}")


store_app.command("csv")(csv_command)  # stores without API access (docs/store.md)
store_app.command("sync")(sync_command)
store_app.command("revert")(revert_command)
store_app.add_typer(campaign_app, name="campaign")  # seasonal campaigns (docs/store.md)


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
