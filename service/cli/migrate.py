"""`promptcut migrate`: bring the service database's schema to this promptcut's head revision, then say so.

`promptcut serve` migrates on start by default. Run this instead, once per upgrade and with an account allowed
to change the schema, when the server runs with `--no-migrate` (an account that may only read and write rows).
The database is the service's: --data-dir / --database-url or PROMPTCUT_DATA_DIR / PROMPTCUT_DATABASE_URL.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from service.cli.database_options import settings_from
from service.cli.errors import user_errors
from service.cli.keys import DatabaseOption, DataDirOption
from service.db import head_revision, migrate_database


def migrate(
    data_dir: Optional[Path] = DataDirOption,
    database_url: Optional[str] = DatabaseOption,
) -> None:
    """Bring the service database to the current schema and print its revision before and after."""
    settings = settings_from(data_dir, database_url)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the before/after line says what changed
    with user_errors():
        done = migrate_database(settings.db_url)
    if done.before == done.after:
        typer.echo(f"{done.url}: already at head (revision {done.after}); nothing to migrate")
    else:
        after = f"{done.after}{' (head)' if done.after == head_revision() else ''}"
        typer.echo(f"{done.url}: migrated from revision {done.before or 'none (empty)'} to {after}")


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
