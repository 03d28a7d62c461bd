"""Open the database: connect, bring the schema to the latest migration, hand out sessions.

SQLite (the default, a file under the data directory) runs in WAL mode so readers never block the writer, with a
busy timeout so concurrent writers wait instead of failing. PostgreSQL is used as is.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fusion.errors import PromptcutError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_SECONDS = 30
_MIGRATION_LOCK_ID = 0x70726F6D  # PostgreSQL advisory lock key: one server migrates at a time


class DatabaseError(PromptcutError):
    """The database cannot be opened, reached or migrated."""

    code = "database_unavailable"


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
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
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
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _upgrade(engine: Engine) -> None:
    """`alembic upgrade head` in-process, without an alembic.ini (script.py.mako is only needed to write new
    migrations, not to run them)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _sqlite_file_lock(engine.url), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Connect to `url` (a SQLAlchemy URL) and, unless `migrate` is False, apply pending migrations.

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
    return Database(engine=engine, sessions=sessions)


def _one_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error: its text is the useful part
    text_ = " ".join(str(inner).split())
    return (text_ or type(inner).__name__)[:300]
