"""`promptcut serve`: run the HTTP API (uvicorn). Options override the PROMPTCUT_* environment variables."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Optional

import typer
import uvicorn
from pydantic import ValidationError

from fusion.errors import PromptcutError
from service.api.app import create_app
from service.cli.errors import fail
from service.db import open_database
from service.engine.artifact_stores import open_artifact_store
from service.jobs.startup import build_segmenter
from service.settings import Settings

KEEP_ALIVE_SECONDS = 65  # idle keep-alive connections are closed after this


def serve(
    host: Optional[str] = typer.Option(
        None, "--host", help="Address to listen on (default 127.0.0.1; env PROMPTCUT_HOST)."
    ),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default 8000; env PROMPTCUT_PORT)."),
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir",
        help="Database and artifacts folder (default ~/.local/share/promptcut; env PROMPTCUT_DATA_DIR).",
    ),
    database_url: Optional[str] = typer.Option(
        None, "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in --data-dir).",
    ),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker threads running cuts (default 2)."),
    queue_size: Optional[int] = typer.Option(
        None, "--queue-size", help="Requests waiting for a worker before 429 (default 8)."
    ),
    segmenter: Optional[str] = typer.Option(
        None, "--segmenter", help="auto | neural | salient | classical (default auto)."
    ),
    models: Optional[Path] = typer.Option(None, "--models", help="Model folder (env PROMPTCUT_MODELS)."),
    migrate: Optional[bool] = typer.Option(
        None, "--migrate/--no-migrate",
        help="Apply pending database migrations on start (the default; env PROMPTCUT_MIGRATE_ON_START). With "
        "--no-migrate the server never changes the schema and refuses to start unless `promptcut migrate` has "
        "brought the database to the current revision.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="critical | error | warning | info | debug."),
) -> None:
    """Serve the HTTP API, the seller page (/) and the API docs (/docs)."""
    overrides = {
        "host": host, "port": port, "data_dir": data_dir, "database_url": database_url, "workers": workers,
        "queue_size": queue_size, "segmenter": segmenter, "models": models, "migrate_on_start": migrate,
    }
    try:
        settings = Settings(**{name: value for name, value in overrides.items() if value is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        raise fail(f"{where}: {first.get('msg')}") from None
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level.lower() != "debug":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step is noise here

    _check_port_free(settings.host, settings.port, fail)
    try:
        # Fail here with one line (not a lifespan traceback) when the database or the models are unusable.
        open_database(settings.db_url, migrate=settings.migrate_on_start,
                      require_current=not settings.migrate_on_start).close()
        open_artifact_store(settings)  # a bucket that does not answer: one line naming it, not a traceback
        chosen, notice = build_segmenter(settings)
    except PromptcutError as exc:
        raise fail(str(exc)) from None
    if notice:
        typer.echo(notice, err=True)
    app = create_app(settings, segmenter=chosen)
    typer.echo(f"promptcut serving on http://{settings.host}:{settings.port} (data in {settings.data_dir})", err=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level.lower(),
                            timeout_graceful_shutdown=30, proxy_headers=False, server_header=False,
                            # Longer than clients' and load balancers' idle timeouts (often 60 s): with uvicorn's
                            # 5 s, a client reusing a connection the server is just closing gets a reset.
                            timeout_keep_alive=KEEP_ALIVE_SECONDS)
    server = uvicorn.Server(config)
    server.run()
    if not getattr(server, "started", False):
        # Startup failed (database, models...): uvicorn logged the reason; exit non-zero for supervisors.
        raise typer.Exit(1)


def _check_port_free(host: str, port: int, fail) -> None:
    """One clear line before any model loads when the address cannot be bound (taken, or not ours)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        probe.bind(address)
    except OSError as exc:
        reason = "already in use (another promptcut serve?)" if exc.errno == 98 else exc.strerror
        raise fail(f"cannot listen on {host}:{port}: {reason}; choose another with --port") from None
    finally:
        probe.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
