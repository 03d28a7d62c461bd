"""Liveness, readiness and metrics: no API key needed (for load balancers and Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from service.api.deps import in_thread
from service.prometheus import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Models loaded, artifact store writable, database (and broker, scaled out) reachable",
            responses={503: {"description": "Not ready; `checks` says which part"}})
async def readyz(request: Request) -> JSONResponse:
    services = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse({"error": {"code": "not_ready", "message": "starting"}, "checks": {}}, 503)

    def check() -> dict[str, bool]:
        checks = {
            "models": services.segmenter_ready(),
            "store": services.store.writable(),
            "database": services.database.ping(),
            "workers": services.pool.alive() and services.dispatcher is not None and services.dispatcher.alive(),
        }
        if services.broker is not None:  # scaled out: job items reach the workers only through it
            checks["broker"] = services.broker.reachable()
        return checks

    checks = await in_thread(check)
    backend = getattr(services.segmenter, "name", "unknown")
    if all(checks.values()):
        return JSONResponse({"status": "ready", "backend": backend, "checks": checks})
    failing = ", ".join(name for name, ok in checks.items() if not ok)
    return JSONResponse({"error": {"code": "not_ready", "message": f"not ready: {failing}"}, "backend": backend,
                         "checks": checks}, 503, headers={"Retry-After": "5"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}})
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics
    body = await in_thread(registry.render)
    return Response(body, media_type=CONTENT_TYPE)
