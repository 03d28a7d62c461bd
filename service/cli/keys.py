"""`promptcut keys create|list|revoke|rotate-webhook-secret`: manage the API keys of the service's stores.

The database is the service's (Settings: PROMPTCUT_DATA_DIR / PROMPTCUT_DATABASE_URL, or the options below).
A new key is printed once, alone on stdout so scripts can capture it; only its hash is stored. Its webhook
signing secret is printed once too, on stderr (or both as JSON on stdout with --json); it is stored sealed with
the server key (PROMPTCUT_SECRET_KEY or data_dir/secret.key), so these commands need the server's key.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, Optional

import typer

from service.cli.database_options import opened_database, settings_from
from service.cli.errors import fail
from service.db import repo
from service.jobs.webhook_secrets import (
    DEFAULT_GRACE,
    MAX_GRACE,
    KeyNotFoundError,
    issue_key,
    rotate_secret,
    uses_legacy_secret,
)
from service.store.secrets import server_box

keys_app = typer.Typer(name="keys", help="Create, list and revoke API keys for the service.", no_args_is_help=True)

DataDirOption = typer.Option(None, "--data-dir", help="Service data directory (default: $PROMPTCUT_DATA_DIR).")
DatabaseOption = typer.Option(
    None, "--database-url", help="SQLAlchemy database URL; default a SQLite file in the data directory "
    "[env PROMPTCUT_DATABASE_URL]."
)


@contextmanager
def _database(data_dir: Path | None, database_url: str | None) -> Iterator:
    """Settings from the environment plus these options → an open, migrated database; errors as one line."""
    with opened_database(settings_from(data_dir, database_url)) as database:
        yield database


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


@keys_app.command("create")
def create(
    store: str = typer.Option(..., "--store", help="The store (seller) this key belongs to."),
    as_json: bool = typer.Option(False, "--json", help='Print {"key", "webhook_secret", "id"} as JSON on stdout.'),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Create a key for a store and print it and its webhook signing secret (shown only this once)."""
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database:
        box = server_box(settings)
        with database.session() as db:
            issued = issue_key(db, box, store)
        if as_json:
            typer.echo(json.dumps({"key": issued.key, "webhook_secret": issued.webhook_secret, "id": issued.id}))
        else:
            typer.echo(issued.key)
            typer.echo(f"webhook signing secret: {issued.webhook_secret}", err=True)
        typer.echo(f"created key {issued.id} for store {issued.store!r}; the key and its webhook signing secret "
                   "are shown only once, keep them now", err=True)


@keys_app.command("list")
def list_(
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """List keys: id, store, prefix, created, revoked; on stderr, the active keys still on the legacy secret."""
    with _database(data_dir, database_url) as database:
        with database.session() as db:
            rows = repo.list_keys(db)
        table = [("ID", "STORE", "PREFIX", "CREATED", "REVOKED")]
        table += [(r.id, r.store, r.prefix, _when(r.created_at), _when(r.revoked_at)) for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        legacy = [r.id for r in rows if r.revoked_at is None and uses_legacy_secret(r)]
        if legacy:  # stderr: the table on stdout keeps its columns for scripts
            typer.echo(f"{len(legacy)} key(s) sign webhooks with the legacy secret (the key's hash, readable from "
                       f"the database): {', '.join(legacy)}; give each its own with "
                       "`promptcut keys rotate-webhook-secret ID`", err=True)


@keys_app.command("rotate-webhook-secret")
def rotate_webhook_secret(
    key_id: str = typer.Argument(..., metavar="ID", help="The key id shown by `keys create` / `keys list`."),
    grace_hours: float = typer.Option(
        DEFAULT_GRACE.total_seconds() / 3600, "--grace-hours",
        help="How long the replaced secret still signs webhooks next to the new one (0: not at all)."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Give a key a new webhook signing secret and print it (shown only this once)."""
    most = MAX_GRACE.total_seconds() / 3600
    if not 0 <= grace_hours <= most:  # also NaN, which timedelta would refuse with a traceback
        raise fail(f"--grace-hours must be 0 to {most:g}")
    settings = settings_from(data_dir, database_url)
    with opened_database(settings) as database:
        box = server_box(settings)
        try:
            with database.session() as db:
                rotated = rotate_secret(db, box, key_id, timedelta(hours=grace_hours))
        except KeyNotFoundError:
            raise fail(f"no active API key with id {key_id!r} (see `promptcut keys list`)") from None
        typer.echo(rotated.webhook_secret)
        until = rotated.previous_valid_until
        typer.echo(f"rotated the webhook signing secret of key {key_id}; the new one is shown only once. "
                   + (f"The previous one also signs until {_when(until)}." if until else
                      "The previous one no longer signs."), err=True)


@keys_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., metavar="ID", help="The key id shown by `keys create` / `keys list`."),
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Revoke a key: requests using it are refused from now on."""
    with _database(data_dir, database_url) as database:
        with database.session() as db:
            found = repo.revoke_key(db, key_id)
        if not found:
            raise fail(f"no API key with id {key_id!r} (see `promptcut keys list`)")
        typer.echo(f"revoked key {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
