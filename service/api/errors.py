"""Every error leaves the API as JSON `{"error": {"code", "message", "field"?}}` — never a traceback.

Library errors (fusion.errors.PromptcutError and its subclasses, including service.net.fetch.FetchError) carry a
stable `code`; this module maps each code to an HTTP status.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fusion.errors import PromptcutError

log = logging.getLogger("promptcut.api")

# Library error code → HTTP status. Codes not listed are user errors: 400.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_image": 415,
    "image_too_large": 413,
    "image_too_small": 422,
    "no_product": 422,
    "invalid_option": 400,
    "unknown_theme": 400,
    "invalid_theme": 400,
    "url_invalid": 400,
    "url_forbidden": 400,
    "url_too_large": 413,
    "url_unreachable": 502,
    "url_bad_status": 502,
    "url_timeout": 502,
    "model_missing": 503,
    "model_load_failed": 503,
    "unknown_segmenter": 503,
    "write_failed": 500,
    "artifact_missing": 409,
    "conflict": 409,
    "database_unavailable": 503,
    "artifact_store_unavailable": 503,
}

# Codes for HTTP-level errors raised by the framework itself (routing, methods, body parsing).
_CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "busy",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the API answers with on purpose: a status, a stable code and a one-line message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def from_library(exc: PromptcutError, field: str | None = None) -> ApiError:
    code = getattr(exc, "code", "error") or "error"
    return ApiError(STATUS_BY_CODE.get(code, 400), code, _one_line(str(exc)) or code, field=field)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "missing, unknown or revoked API key: send it as X-Api-Key or Authorization: Bearer",
        headers={"WWW-Authenticate": 'Bearer realm="promptcut"'},
    )


def error_body(code: str, message: str, field: str | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error_body(error.code, error.message, error.field), error.status, headers=error.headers)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _validation_field(errors: list) -> str | None:
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header", "form")]
        if loc:
            return ".".join(loc)
    return None


def _validation_message(errors: list) -> str:
    if not errors:
        return "malformed request"
    first = errors[0]
    field = _validation_field([first])
    message = str(first.get("msg", "invalid value"))
    return _one_line(f"{field}: {message}" if field else message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(PromptcutError)
    async def _library_error(request: Request, exc: PromptcutError) -> JSONResponse:
        return error_response(from_library(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        body = error_body("invalid_request", _validation_message(errors), _validation_field(errors))
        return JSONResponse(body, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _CODE_BY_STATUS.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(error_body(code, _one_line(detail)), exc.status_code, headers=exc.headers)
