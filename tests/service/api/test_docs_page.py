"""The API reference at /docs over real HTTP: a page of this server's files only (Swagger UI from the installed
fastapi-offline package, our start-up script), no inline code, under a strict Content-Security-Policy; its files
route serves its named files and nothing else. In a real browser: test_docs_browser.py."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from service.api.docs_page import SWAGGER_ASSETS, swagger_dir
from tests.service.api.test_api import Api, api, assert_error, image_host, photos  # noqa: F401

# What each file the page links to must be served as.
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


class Links(HTMLParser):
    """Every URL the page refers to, its <script> elements' bodies and any inline style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.script_bodies: list[str] = []
        self.inline_styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "data-openapi-url") and value is not None:
                self.urls.append(value)
            if name == "style" or name.startswith("on"):
                self.inline_styles.append(f"<{tag} {name}>")
        if tag in ("script", "style"):
            self._in = tag
            if tag == "script":
                self.script_bodies.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.script_bodies[-1] += data
        elif self._in == "style":
            self.inline_styles.append(data)


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def test_the_docs_page_loads_only_this_servers_files_under_a_strict_policy(api: Api) -> None:  # noqa: F811
    with api.client(key=None) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        links = Links()
        links.feed(page.text)
        assert links.urls and links.script_bodies, page.text
        elsewhere = [url for url in links.urls if urlsplit(url).scheme not in ("", "data") or url.startswith("//")]
        assert not elsewhere, f"/docs refers to other hosts: {elsewhere}"
        assert all(body.strip() == "" for body in links.script_bodies), "inline script on /docs"
        assert not links.inline_styles, f"inline style or handler on /docs: {links.inline_styles}"

        policy = directives(page.headers["content-security-policy"])
        assert policy["default-src"] == ["'none'"]
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        assert policy["connect-src"] == ["'self'"]
        assert set(policy["img-src"]) <= {"'self'", "data:"}
        assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]

        files = [url for url in links.urls if url.startswith("/") and url.endswith((".js", ".css"))]
        assert len(files) == 3, links.urls  # Swagger UI's bundle and stylesheet, and our start-up script
        for url in files:
            answer = client.get(url)
            assert answer.status_code == 200, url
            assert answer.headers["content-type"].startswith(CONTENT_TYPES[url[url.rfind("."):]]), url
            assert answer.headers["x-content-type-options"] == "nosniff"
        spec = client.get(links.urls[links.urls.index("/openapi.json")])
        assert spec.status_code == 200 and "/v1/cutouts" in spec.json()["paths"]


def test_swagger_ui_comes_from_the_installed_package(api: Api) -> None:  # noqa: F811
    with api.client(key=None) as client:
        for name in SWAGGER_ASSETS:
            answer = client.get(f"/docs/assets/{name}")
            assert answer.status_code == 200, name
            assert answer.content == (swagger_dir() / name).read_bytes()
            assert "max-age" in answer.headers["cache-control"]
        assert b"SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").content


@pytest.mark.parametrize("path", [
    "redoc.standalone.js",  # in the package, but not served
    "favicon.png",
    "swagger-ui.js",
    "..%2Fcore.py",
    "%2E%2E%2F__init__.py",
    "..%2F..%2Fservice%2Fsettings.py",
    "%2Fetc%2Fpasswd",
    "swagger-ui.css%00.py",
])
def test_the_docs_files_route_serves_nothing_else(api: Api, path: str) -> None:  # noqa: F811
    with api.client(key=None) as client:
        answer = client.get(f"/docs/assets/{path}")
    assert_error(answer, 404, "not_found")


def test_fastapis_cdn_pages_are_gone(api: Api) -> None:  # noqa: F811
    with api.client(key=None) as client:
        for path in ("/redoc", "/docs/oauth2-redirect"):
            assert_error(client.get(path), 404, "not_found")
        paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/docs")]
