"""Migrating apart from serving: `migrate_database` (what `promptcut migrate` runs) reports the revision before and
after, and a database opened without migrating (`promptcut serve --no-migrate`) is checked against the head
revision, never changed. On a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from fusion.segmenters import get_segmenter
from service.db import (
    DatabaseError,
    SchemaNotCurrentError,
    head_revision,
    migrate_database,
    open_database,
    schema_revision,
)
from service.db.connection import _alembic_config
from service.jobs.startup import start_services
from service.prometheus import Metrics
from service.settings import Settings
from tests.helpers import temporary_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}"
        return
    with temporary_postgres_database() as url:
        yield url


def _upgrade_to(url: str, revision: str) -> None:
    """The schema as an older promptcut left it."""
    database = open_database(url, migrate=False)
    try:
        with database.engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        database.close()


def _revision(url: str) -> str | None:
    database = open_database(url, migrate=False)
    try:
        return schema_revision(database)
    finally:
        database.close()


def _tables(url: str) -> set[str]:
    database = open_database(url, migrate=False)
    try:
        return set(inspect(database.engine).get_table_names())
    finally:
        database.close()


def test_migrate_database_reports_before_and_after_and_a_second_run_changes_nothing(database_url: str) -> None:
    first = migrate_database(database_url)
    assert (first.before, first.after) == (None, head_revision())
    second = migrate_database(database_url)
    assert (second.before, second.after) == (head_revision(), head_revision())
    assert _revision(database_url) == head_revision()


def test_a_database_behind_head_is_refused_unmigrated_then_migrate_brings_it_up(database_url: str) -> None:
    _upgrade_to(database_url, "0001")
    with pytest.raises(SchemaNotCurrentError) as raised:
        open_database(database_url, migrate=False, require_current=True)
    message = str(raised.value)
    assert "0001" in message and head_revision() in message and "`promptcut migrate`" in message
    assert "\n" not in message
    assert _revision(database_url) == "0001"  # the check changed nothing
    done = migrate_database(database_url)
    assert (done.before, done.after) == ("0001", head_revision())
    open_database(database_url, migrate=False, require_current=True).close()  # now it opens


def test_an_empty_database_is_refused_by_a_server_that_does_not_migrate(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, migrate_on_start=False, workers=1,
                        segmenter="classical")
    try:
        services = start_services(settings, Metrics(), segmenter=get_segmenter("classical"))
    except SchemaNotCurrentError as refused:
        assert "none" in str(refused) and "`promptcut migrate`" in str(refused)
    else:
        services.stop()
        pytest.fail("the server started on an empty database without migrating it")
    assert _tables(database_url) == set()  # no table made, not even alembic_version


def test_a_server_that_does_not_migrate_starts_on_a_database_at_head(database_url: str, tmp_path: Path) -> None:
    migrate_database(database_url)
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, migrate_on_start=False, workers=1,
                        segmenter="classical")
    services = start_services(settings, Metrics(), segmenter=get_segmenter("classical"))
    services.stop()


def test_a_newer_schema_is_refused_with_one_line_whether_or_not_it_migrates(database_url: str) -> None:
    migrate_database(database_url)
    database = open_database(database_url, migrate=False)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    database.close()
    for opening in (lambda: open_database(database_url, migrate=False, require_current=True),
                    lambda: migrate_database(database_url)):
        with pytest.raises(DatabaseError) as raised:
            opening()
        assert "upgrade promptcut" in str(raised.value) and "\n" not in str(raised.value)
        assert not isinstance(raised.value, SchemaNotCurrentError)
