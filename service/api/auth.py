"""API-key authentication: `X-Api-Key: <key>` (remove.bg's header) or `Authorization: Bearer <key>`.

Missing, unknown and revoked keys all get the same 401, so a caller learns nothing about which keys exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.api.errors import unauthorized
from service.db import repo

_api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False, description="The store's API key.")
_bearer = HTTPBearer(auto_error=False, description="The store's API key as a bearer token.")


@dataclass(frozen=True)
class Caller:
    """The authenticated key: every query a route makes is scoped to `key_id`."""

    key_id: str
    store: str


def require_key(
    request: Request,
    api_key: str | None = Depends(_api_key_header),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Caller:
    """FastAPI dependency (sync: FastAPI runs it in its thread pool, so the database lookup never blocks the
    event loop)."""
    plain = (api_key or (bearer.credentials if bearer else "") or "").strip()
    if not plain:
        raise unauthorized()
    services = request.app.state.services
    with services.database.session() as db:
        row = repo.find_key(db, plain)
        if row is None:
            raise unauthorized()
        return Caller(key_id=row.id, store=row.store)
