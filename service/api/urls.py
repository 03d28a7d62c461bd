"""Request-time checks of seller-supplied URLs, so obvious refusals are a 400 before any work is queued.

The authoritative checks (DNS resolution of every address, redirects) happen in service.net.fetch when the image
is fetched; here: the URL's form and scheme (fetch.check_url), and hosts written as a literal private,
loopback or link-local address.
"""

from __future__ import annotations

import ipaddress

from fusion.errors import PromptcutError
from service.api.errors import from_library
from service.net.fetch import FetchError, check_url, is_public_address, parse_allow_host


def check_image_url(url: str | None, settings, *, field: str) -> str:
    try:
        target = check_url(url or "", settings)
        try:
            address = ipaddress.ip_address(target.host)
        except ValueError:
            return target.url  # a name: resolved and checked when fetched
        if not is_public_address(address) and not _allowed(target.host, target.port, settings, parse_allow_host):
            raise FetchError("url_forbidden", f"{target.shown}: private, loopback and link-local addresses are refused")
        return target.url
    except PromptcutError as exc:
        raise from_library(exc, field=field) from None


def _allowed(host: str, port: int, settings, parse_allow_host) -> bool:
    for entry in settings.url_allow_hosts:
        try:
            allowed_host, allowed_port = parse_allow_host(entry)
        except Exception:  # noqa: BLE001 — a malformed allow-list entry simply allows nothing
            continue
        if allowed_host.lower().strip("[]") == host.lower() and allowed_port in (None, port):
            return True
    return False


def check_callback_url(url: str | None, settings) -> str | None:
    """A job's webhook URL: same rules as image URLs (it is fetched by the server too)."""
    if url is None or not url.strip():
        return None
    return check_image_url(url, settings, field="callback_url")

