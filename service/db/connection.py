"""Open the database: connect, bring the schema to the latest migration (or check that it is there), hand out
sessions; `migrate_database` is `promptcut migrate`.

SQLite (the default, a file under the data directory) runs in WAL mode so readers never block the writer, with a
busy timeout so concurrent writers wait instead of failing. Its file is created 0600 in a 0700 folder (SQLite
gives the -wal and -shm files the database file's mode). PostgreSQL is used as is.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fusion.errors import PromptcutError
from service.private_files import create_private_file

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_SECONDS = 30
_MIGRATION_LOCK_ID = 0x70726F6D  # PostgreSQL advisory lock key: one server migrates at a time


class DatabaseError(PromptcutError):
    """The database cannot be opened, reached or migrated."""

    code = "database_unavailable"


class SchemaNotCurrentError(DatabaseError):
    """Opened without migrating (`promptcut serve --no-migrate`), and the schema is not at the head revision."""

    code = "database_not_migrated"


@dataclass(frozen=True)
class Migration:
    """What `migrate_database` did: the revision before and after (None: no schema yet), the URL to show."""

    url: str  # password hidden
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises. Objects stay readable after
        the block (no expiry on commit)."""
        with self.sessions() as db:
            try:
                yield db
                db.commit()
            except BaseException:
                db.rollback()
                raise

    def ping(self) -> bool:
        """Whether the database answers a trivial query now (for readiness checks)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def close(self) -> None:
        self.engine.dispose()


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            # Made here, 0600, before SQLite's first connection would make it with the umask's mode (0644).
            create_private_file(Path(url.database).expanduser())
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def _sqlite_file_lock(url: URL) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes (SQLite runs DDL outside transactions)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return

    lock_path = Path(url.database).expanduser().with_name(Path(url.database).name + ".migrate-lock")
    create_private_file(lock_path)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alembic_config() -> Config:
    """In-process, without an alembic.ini (script.py.mako is only needed to write new migrations, not to run them)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration this promptcut ships (what `alembic upgrade head` reaches)."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def schema_revision(database: Database) -> str | None:
    """The revision the database's schema is at (alembic_version); None when it has no schema yet."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _upgrade(engine: Engine) -> None:
    """`alembic upgrade head` in-process."""
    config = _alembic_config()
    with _sqlite_file_lock(engine.url), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str, *, migrate: bool = True, require_current: bool = False) -> Database:
    """Connect to `url` (a SQLAlchemy URL) and, unless `migrate` is False, apply pending migrations. With
    `migrate=False, require_current=True` (`promptcut serve --no-migrate`) nothing is migrated, and a schema that
    is not at the head revision raises SchemaNotCurrentError, naming `promptcut migrate`.

    Raises DatabaseError with a one-line message (password hidden) when the URL is invalid, the server cannot be
    reached, or the schema is newer than this version of promptcut.
    """
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        raise DatabaseError("invalid database URL (expected e.g. sqlite:///path/promptcut.db)") from None
    try:
        engine = _create_engine(parsed)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        raise DatabaseError(f"cannot open database {_safe(parsed)}: {_one_line(exc)}") from None
    try:
        if migrate:
            _upgrade(engine)
        else:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    except CommandError as exc:
        engine.dispose()
        raise DatabaseError(
            f"database {_safe(parsed)} has a schema this promptcut does not know ({_one_line(exc)}); upgrade promptcut"
        ) from None
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise DatabaseError(f"cannot open database {_safe(parsed)}: {_one_line(exc)}") from None
    sessions = sessionmaker(engine, expire_on_commit=False)
    database = Database(engine=engine, sessions=sessions)
    if require_current and not migrate:
        try:
            _check_current(database, _safe(parsed))
        except BaseException:
            database.close()
            raise
    return database


def _check_current(database: Database, shown_url: str) -> None:
    try:
        current = schema_revision(database)
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseError(f"cannot open database {shown_url}: {_one_line(exc)}") from None
    head = head_revision()
    if current == head:
        return
    if current is not None and current not in _known_revisions():
        raise DatabaseError(f"database {shown_url} has schema revision {current}, which this promptcut does not "
                            "know; upgrade promptcut")
    raise SchemaNotCurrentError(
        f"database {shown_url} is at schema revision {current or 'none (empty)'}, not {head} (head), and was "
        "opened with --no-migrate: run `promptcut migrate` with the same --data-dir / --database-url first"
    )


def migrate_database(url: str) -> Migration:
    """`promptcut migrate`: bring the schema to the head revision (a no-op when it is there) and report the
    revision before and after. Same one-line DatabaseError as open_database."""
    database = open_database(url, migrate=False)
    try:
        before = _revision_or_error(database)
    finally:
        database.close()
    database = open_database(url)
    try:
        after = _revision_or_error(database)
    finally:
        database.close()
    return Migration(url=_safe(make_url(url)), before=before, after=after)


def _revision_or_error(database: Database) -> str | None:
    try:
        return schema_revision(database)
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseError(f"cannot open database {_safe(database.engine.url)}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error: its text is the useful part
    text_ = " ".join(str(inner).split())
    return (text_ or type(inner).__name__)[:300]
