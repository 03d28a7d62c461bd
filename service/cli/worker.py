"""`promptcut worker`: cut job items and re-render theme swaps handed out by `promptcut serve` through
PROMPTCUT_BROKER_URL (Redis or RabbitMQ). Same settings as the server (database, artifacts, segmenter); Celery
under the hood, so its usual worker options pass through after `--` (e.g. `-- --hostname w1@%h`).
"""

from __future__ import annotations

import logging
from typing import List, Optional

import typer
from pydantic import ValidationError

from service.cli.errors import fail, user_errors
from service.jobs.worker import build_worker_app
from service.settings import Settings

POOLS = ("prefork", "solo", "threads")


def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1,
                                    help="Worker processes (prefork) or threads: one per core for cutting."),
    queues: str = typer.Option("segment,render", "--queues", "-Q",
                               help="Queues to take work from: segment (cuts), render (theme swaps)."),
    pool: str = typer.Option("prefork", "--pool", help=f"Celery pool: {', '.join(POOLS)}."),
    loglevel: str = typer.Option("warning", "--loglevel", "-l", help="Celery log level."),
    extra: Optional[List[str]] = typer.Argument(None, help="More Celery worker options, after --."),
) -> None:
    """Cut job items and re-render theme swaps handed out by `promptcut serve` (scaled out)."""
    if pool not in POOLS:
        raise fail(f"--pool must be one of {', '.join(POOLS)}, not {pool!r}")
    unknown = sorted(set(queues.split(",")) - {"segment", "render"})
    if unknown or not queues.strip():
        raise fail(f"--queues takes segment and/or render, not {','.join(unknown) or queues!r}")
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        raise fail(f"{where}: {first.get('msg')}") from None
    if not settings.broker_url:
        raise fail("set PROMPTCUT_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to the broker `promptcut serve` uses")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_worker_app(settings)
    if pool != "prefork":
        with user_errors():
            app.promptcut_services.get()  # database, store, models: once, before the first message
    argv = ["worker", f"--concurrency={concurrency}", f"--queues={queues}", f"--pool={pool}",
            f"--loglevel={loglevel}", "--without-gossip", "--without-mingle", *(extra or [])]
    app.worker_main(argv)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
