"""The app's pure-ASGI middleware, outermost last in `create_app`: request body caps, security headers,
request metrics, and the last-resort JSON 500."""

from __future__ import annotations

import json
import logging
import time

from fastapi.responses import JSONResponse
from sqlalchemy import exc as sql
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_body
from service.api.uploads import FORM_OVERHEAD_BYTES, JOB_UPLOAD_FILES
from service.prometheus import Metrics

log = logging.getLogger("promptcut.api")


class BodyTooLarge(HTTPException):
    """Raised from inside body reading; an HTTPException so FastAPI's body parser lets it through as is."""

    code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit:,} bytes")


class BodyLimitMiddleware:
    """Caps every request body before any parser buffers it (Content-Length up front, then while streaming).

    limit_for(scope) → bytes allowed: a JSON body gets its own, small cap (it carries URLs and options, never
    photos: a JSON parser holds several times its size in memory), uploads the upload limit."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int, max_json_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_json_bytes = max_json_bytes

    def limit_for(self, scope: Scope) -> int:
        if not _header(scope, b"content-type").lower().startswith(b"multipart/"):
            return min(self.max_json_bytes, self.max_upload_bytes + FORM_OVERHEAD_BYTES)
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == "/v1/jobs":
            return self.max_upload_bytes * JOB_UPLOAD_FILES + FORM_OVERHEAD_BYTES
        return self.max_upload_bytes + FORM_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _header(scope: Scope, wanted: bytes) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value
    return b""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps({"error": {"code": "too_large", "message": f"request body is larger than {limit:,} bytes"}})
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body.encode()})


class SecurityHeadersMiddleware:
    """nosniff on everything (an uploaded "image" is never sniffed into HTML), no framing of the page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP response by its route template (never the raw path, which
    holds ids and would explode the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/static" if scope["path"].startswith("/static/") else "unmatched"
            )
            method = scope.get("method", "GET")
            method = method if method in _METHODS else "OTHER"
            self.metrics.requests.labels(template, method, str(status)).inc()
            self.metrics.request_seconds.labels(template, method).observe(time.perf_counter() - start)


class InternalErrorMiddleware:
    """Unexpected exceptions → 500 {"error": {"code": "internal"}}, traceback to the log only.

    Done here rather than with an `Exception` handler: Starlette re-raises after such a handler answers, and
    uvicorn then drops the connection, which can reset it before the client has read the 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                raise  # half a response is out: only closing the connection is left
            if _database_unreachable(exc):
                # Not a bug: the database is down or restarting. The client may retry; the pool reconnects
                # (pre-ping) once it is back, no restart needed.
                log.warning("database unreachable on %s %s: %s", scope.get("method"), scope.get("path"),
                            type(exc).__name__)
                response = JSONResponse(error_body("database_unavailable", "the database is unreachable; retry "
                                                   "shortly"), 503, headers={"Retry-After": "5"})
            else:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                response = JSONResponse(error_body("internal", "internal server error; it has been logged"), 500)
            await response(scope, receive, send)


def _database_unreachable(exc: BaseException) -> bool:
    """A lost or refused database connection (not a query error): SQLAlchemy's OperationalError (what drivers
    raise for connection failures), an invalidated connection, or no pooled connection in time."""
    if isinstance(exc, sql.TimeoutError):
        return True
    return isinstance(exc, sql.DBAPIError) and (isinstance(exc, sql.OperationalError) or exc.connection_invalidated)
