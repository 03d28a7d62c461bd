"""`promptcut keys create|list|revoke`: manage the API keys of the service's stores.

The database is the service's (Settings: PROMPTCUT_DATA_DIR / PROMPTCUT_DATABASE_URL, or the options below).
A new key is printed once, alone on stdout so scripts can capture it; only its hash is stored.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator, Optional

import typer

from service.cli.database_options import opened_database, settings_from
from service.cli.errors import fail
from service.db import repo

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
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Create a key for a store and print it (shown only this once)."""
    with _database(data_dir, database_url) as database:
        with database.session() as db:
            row, plain = repo.create_key(db, store)
        typer.echo(plain)
        typer.echo(f"created key {row.id} for store {row.store!r}; it is shown only once, keep it now", err=True)


@keys_app.command("list")
def list_(
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """List keys: id, store, prefix, created, revoked."""
    with _database(data_dir, database_url) as database:
        with database.session() as db:
            rows = repo.list_keys(db)
        table = [("ID", "STORE", "PREFIX", "CREATED", "REVOKED")]
        table += [(r.id, r.store, r.prefix, _when(r.created_at), _when(r.revoked_at)) for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


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
