"""Alembic environment. open_database() passes its connection in `config.attributes["connection"]`.

To write a new migration, point a throwaway alembic.ini at this folder (`[alembic]` / `script_location =
service/db/migrations`) and run `alembic -c that.ini -x url=sqlite:////tmp/dev.db revision --autogenerate -m "..."`
(apply the existing ones to that database first: `... upgrade head`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from service.db.schema import Base

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things: copy-and-move
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with -x url=<sqlalchemy url>")
    engine = create_engine(url)
    with engine.connect() as own_connection:
        _run(own_connection)
    engine.dispose()
