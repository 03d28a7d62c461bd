"""The API reference at /docs: Swagger UI served by this server itself, under a strict Content-Security-Policy.

FastAPI's own /docs page loads Swagger UI from a public CDN (unpinned, no integrity check) and starts it with an
inline script, on the origin where the seller page keeps its API key in localStorage. Here Swagger UI's release
files come from the fastapi-offline package (a pinned dependency, so they change only with an install) and the
start-up code is our own file (service/web/docs-init.js): the page runs scripts from this server only.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from service.api.errors import ApiError

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"

# The only files served under ASSETS_PATH: name → media type. The package holds more (ReDoc, a logo); they stay out.
SWAGGER_ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
ASSET_CACHE = "public, max-age=86400"


def swagger_dir() -> Path:
    """The folder of Swagger UI's release files inside the installed fastapi-offline package."""
    return Path(str(files("fastapi_offline").joinpath("static")))


def docs_html(openapi_url: str) -> str:
    """The page: Swagger UI's stylesheet and bundle, then our start-up script; no inline script or style."""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>promptcut — API reference</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
  <script src="{ASSETS_PATH}/swagger-ui-bundle.js" defer></script>
  <script src="/static/docs-init.js" defer></script>
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
</body>
</html>
"""


def install_docs(app: FastAPI, csp: str) -> None:
    """GET /docs (the page, with `csp` as its Content-Security-Policy) and GET /docs/assets/{name} (Swagger UI's
    files, by name from SWAGGER_ASSETS only). The app must be built with docs_url=None (FastAPI's CDN page)."""
    folder = swagger_dir()
    missing = [name for name in SWAGGER_ASSETS if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"Swagger UI files missing from {folder}: {', '.join(missing)} (reinstall fastapi-offline)")
    page = docs_html(app.openapi_url or "/openapi.json")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": csp, "Cache-Control": "no-cache"})

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        media_type = SWAGGER_ASSETS.get(name)
        if media_type is None:
            raise ApiError(404, "not_found", f"no such file: {name}")
        return FileResponse(folder / name, media_type=media_type, headers={"Cache-Control": ASSET_CACHE})
