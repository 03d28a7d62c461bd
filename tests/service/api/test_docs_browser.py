"""The API reference (/docs) in real headless Chromium, against the real app on loopback (the seller page tests'
server, browser and page fixtures: the page fixture fails a test on any Content-Security-Policy violation or
uncaught script error). Swagger UI must render and work from this server's files alone.

The HTTP-level checks of the page and its files are in test_docs_page.py.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import pytest

# The seller page tests' fixtures (and their Chromium check: skipped without it, a failure under CI=true).
from tests.service.api.test_web import browser, image_host, page, photos, service, shot  # noqa: F401

pytestmark = pytest.mark.browser

from playwright.sync_api import Page, Route, expect  # noqa: E402 — after test_web's Chromium and module checks

# A production-like name for the server. Swagger UI treats "localhost" and "127.0.0.1" specially (no validator
# badge from validator.swagger.io there), so the page is also opened under this name, routed to the loopback
# server by the test.
PUBLIC_NAME = "api.promptcut.test"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_from(tab: Page, base: str) -> list[str]:
    """Route every request of `tab`: loopback ones go through, PUBLIC_NAME ones are answered by the server at
    `base` (headers, CSP included, as it sent them), any other host is refused and listed in the returned list."""
    outside: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            route.continue_()
        elif parts.hostname == PUBLIC_NAME:
            route.fulfill(response=route.fetch(url=base + url.split(PUBLIC_NAME, 1)[1]))
        elif is_loopback(parts.hostname or ""):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    tab.route("**/*", handle)
    return outside


@pytest.mark.parametrize("host", ["loopback", "public-name"])
def test_docs_render_and_call_the_api_from_this_server_only(page: Page, service: dict, host: str) -> None:  # noqa: F811
    origin = service["base"] if host == "loopback" else f"http://{PUBLIC_NAME}"
    outside = serve_from(page, service["base"])

    page.goto(origin + "/docs")
    themes = page.locator(".opblock-summary-path[data-path='/v1/themes']")
    expect(page.locator(".opblock-summary-path[data-path='/v1/cutouts']").first).to_be_visible()
    expect(themes).to_be_visible()
    expect(page.locator(".information-container")).to_contain_text("Replace the background of product photos")

    # Authorize with the key, then call an operation: the answer comes back from this server and is shown.
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("#api_key_value").fill(service["key"])  # X-Api-Key, the first of the two schemes
    dialog.get_by_role("button", name="Apply credentials").first.click()
    dialog.get_by_role("button", name="Close").first.click()
    themes.click()
    operation = page.locator(".opblock", has=themes)
    operation.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda response: response.url.endswith("/v1/themes")) as answer:
        operation.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    expect(operation.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("studio-white")

    # A schema at the bottom, opened all the way down.
    error_body = page.locator("section.models article[data-json-schema-level='0']").filter(
        has=page.locator(".json-schema-2020-12__title", has_text=re.compile("^ErrorBody$")))
    error_body.get_by_role("button", name="Expand all").first.click()
    expect(error_body).to_contain_text("message")
    page.wait_for_load_state("networkidle")
    shot(page, f"16-api-docs-{host}")
    assert outside == [], f"/docs asked hosts other than this server: {outside}"
