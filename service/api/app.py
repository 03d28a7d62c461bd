"""The FastAPI app factory. `create_app(settings)` builds the app; its lifespan opens the database, recovers
interrupted items, loads the segmenter once and starts the worker pool and job dispatcher (service.jobs.startup)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from fusion.protocol import Segmenter
from service.api import routes, theme_swap
from service.api.docs_page import install_docs
from service.api.errors import install_error_handlers
from service.api.middleware import (
    BodyLimitMiddleware,
    InternalErrorMiddleware,
    MetricsMiddleware,
    SecurityHeadersMiddleware,
)
from service.api.routes.jobs import JobIn
from service.api.schemas import CutoutOut
from service.db.schema import utcnow
from service.jobs.runtime import Services
from service.jobs.startup import start_services
from service.jobs.store_campaigns import Clock, StoreCampaignRunner
from service.jobs.store_webhooks import StoreWebhookRunner
from service.prometheus import Metrics
from service.settings import Settings
from service.store import sync_records
from service.store.connections import StoreEndpointRules
from service.store.secrets import server_box

log = logging.getLogger("promptcut.api")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

DESCRIPTION = """Replace the background of product photos.

Authenticate with `X-Api-Key: <key>` (or `Authorization: Bearer <key>`); create keys with
`promptcut keys create --store NAME`. Errors are JSON: `{"error": {"code", "message", "field"?}}`.
"""


def create_app(settings: Settings | None = None, segmenter: Segmenter | None = None,
               clock: Clock | None = None) -> FastAPI:
    """The app for `settings` (default: read from PROMPTCUT_* variables). `segmenter` replaces the configured
    backend (tests inject a slow or counting one); `clock` the wall clock of the campaign schedule."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await run_in_threadpool(start_services, settings, metrics, segmenter)
        if not settings.instance_name:  # the only server on this database: a sync still "running" was cut short
            await run_in_threadpool(stop_interrupted_syncs, services)
        webhooks = await run_in_threadpool(start_store_webhooks, services)
        campaigns = await run_in_threadpool(start_store_campaigns, services, clock or utcnow)
        app.state.services = services
        app.state.store_webhooks = webhooks
        app.state.store_campaigns = campaigns
        await theme_swap.resume_unfinished(services)  # starts the runs; they go on in the background
        log.info("promptcut ready: %s backend, %d worker(s), queue %d", getattr(services.segmenter, "name", "?"),
                 settings.workers, settings.queue_size)
        try:
            yield
        finally:
            app.state.services = None
            app.state.store_webhooks = None
            app.state.store_campaigns = None
            await run_in_threadpool(campaigns.stop)
            await run_in_threadpool(webhooks.stop)
            await run_in_threadpool(services.stop)

    app = FastAPI(
        title="promptcut",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: ours is service.api.docs_page
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.services = None
    app.state.store_webhooks = None
    app.state.store_campaigns = None
    install_error_handlers(app)

    for module in (routes.health, routes.cutouts, routes.jobs, routes.items, routes.themes, routes.stores,
                   routes.store_syncs, routes.store_webhooks, routes.store_campaigns, routes.webhook_secret):
        app.include_router(module.router)
    _mount_web(app)
    install_docs(app, DOCS_CSP)
    _custom_openapi(app)

    # Outermost last: metrics see every response, including 413s from the body limit and 500s.
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_upload_bytes=settings.max_upload_bytes,
                       max_json_bytes=settings.max_json_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def stop_interrupted_syncs(services: Services) -> None:
    """Store syncs left "running" by a process that ended are stopped with a reason (a rerun resumes them).
    Only for the sole server on a database: with several, a running sync may be another server's."""
    with services.database.session() as db:
        stopped = sync_records.stop_interrupted(db)
    if stopped:
        log.info("stopped %d store sync(s) interrupted by the previous run: %s", len(stopped), ", ".join(stopped))


def start_store_webhooks(services: Services) -> StoreWebhookRunner:
    """The runner of recorded store webhooks (service.jobs.store_webhooks), started after the job runner."""
    settings = services.settings
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout)
    runner = StoreWebhookRunner(services, lambda: server_box(settings), rules)
    runner.start()
    return runner


def start_store_campaigns(services: Services, clock: Clock) -> StoreCampaignRunner:
    """The runner of seasonal campaigns (service.jobs.store_campaigns): due ones, also those that fell due
    while the server was down, are worked at once."""
    settings = services.settings
    rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout)
    runner = StoreCampaignRunner(services, lambda: server_box(settings), rules, clock)
    runner.start()
    return runner


# The seller page keeps its API key in localStorage: nothing but its own script may run there, and it talks only
# to this server (its images are blob: URLs of what it fetched). No inline script or style is allowed.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The API reference (/docs) shares that origin: Swagger UI and its start-up script come from this server, the
# spec and "Try it out" requests go only to it.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _mount_web(app: FastAPI) -> None:
    """The seller page (service/web/, plain files): GET / → index.html, /static/* → the folder."""
    index = WEB_DIR / "index.html"
    if not index.is_file():
        return

    @app.get("/", include_in_schema=False)
    async def seller_page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Content-Security-Policy": PAGE_CSP})

    app.mount("/static", _PageFiles(directory=WEB_DIR), name="static")


class _PageFiles(StaticFiles):
    """The page's folder with the page's CSP on every answer: /static/index.html is the seller page too."""

    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response


def _custom_openapi(app: FastAPI) -> None:
    """Add the job request model (its route reads JSON or multipart by hand) to the components."""

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (JobIn, CutoutOut):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in model_schema.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components[model.__name__] = model_schema
        _errors_are_error_bodies(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _errors_are_error_bodies(schema: dict) -> None:
    """FastAPI documents 422 as its own validation shape; ours is ErrorBody like every other error."""
    components = schema.get("components", {}).get("schemas", {})
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            response = operation.get("responses", {}).get("422")
            if response is None:
                continue
            response["description"] = "Malformed request (invalid_request, missing_image...)"
            response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def _version() -> str:
    try:
        return version("promptcut")
    except Exception:  # noqa: BLE001 — running from a source tree without metadata
        return "0"
