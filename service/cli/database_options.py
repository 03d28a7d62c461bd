"""Plumbing shared by the commands that open the service database (`keys`, `store`): settings from the
--data-dir / --database-url options and the environment, then the migrated database; errors as one line."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from service.cli.errors import fail, user_errors
from service.db import Database, open_database
from service.settings import Settings


def settings_from(data_dir: Path | None, database_url: str | None) -> Settings:
    overrides = {name: value for name, value in (("data_dir", data_dir), ("database_url", database_url))
                 if value is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "PROMPTCUT_" + str(first["loc"][0]).upper() if first.get("loc") else "settings"
        raise fail(f"invalid setting {field}: {first['msg']}") from None


@contextmanager
def opened_database(settings: Settings) -> Iterator[Database]:
    """The migrated database; library and database errors as one line, exit 2."""
    with user_errors():
        database = open_database(settings.db_url)
        try:
            yield database
        except SQLAlchemyError as exc:
            raise fail(f"database error: {' '.join(str(getattr(exc, 'orig', None) or exc).split())[:300]}") from None
        finally:
            database.close()
