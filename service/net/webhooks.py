"""Job webhooks: POST a job's JSON to the seller's callback URL under the same address rules as image fetches,
signed so a store can tell that a callback really came from its promptcut server.

Header `X-Promptcut-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The secret is the
SHA-256 (hex) of the store's API key: the server keeps only that hash, and the store computes it from the key it
holds — no second secret to hand out or rotate; revoking the key retires its signatures. `verify` is what a
receiver runs (copy it; it needs only the standard library).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
import time
from urllib.parse import urlsplit

from service.net.fetch import (
    Deadline,
    FetchError,
    UrlSettings,
    check_url,
    request_checked,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Promptcut-Signature"
TOLERANCE_SECONDS = 300  # a receiver refuses older signatures (replays)


def secret_for_key(api_key: str) -> str:
    """The signing secret of an API key: what the server stores, and what the store can compute."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` sent at `timestamp` (now when None)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when `header` signs exactly `body` with `secret` and is at most `tolerance` seconds old."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        claimed = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, claimed)


def post_webhook(
    url: str, payload: dict, settings: UrlSettings, *, secret: str | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> bool:
    """deliver_webhook, True when delivered."""
    return deliver_webhook(url, payload, settings, secret=secret, tls_context=tls_context) is None


def deliver_webhook(
    url: str, payload: dict, settings: UrlSettings, *, secret: str | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> str | None:
    """POST `payload` as JSON under the same address rules; redirects are not followed. With `secret`, the body
    is signed (`sign` above) in the X-Promptcut-Signature header.

    Returns None on a 2xx answer within settings.webhook_timeout seconds, else why not, in one line naming the
    host only (a webhook URL's path often holds its own secret). Never raises: a seller's broken endpoint must
    not fail the job it reports on.
    """
    host = _host(url)
    try:
        target = check_url(url, settings)
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        deadline = Deadline(settings.webhook_timeout)
        extra = {SIGNATURE_HEADER: sign(secret, body)} if secret else {}
        response = request_checked(target, settings, deadline, tls_context, via="", method="POST", body=body,
                                   extra_headers=extra)
        with response:
            if 200 <= response.status < 300:
                return None
            reason = f"{host} answered HTTP {response.status}"
    except FetchError as error:
        reason = f"{host}: {error.code}"
    except Exception as error:  # noqa: BLE001 — the contract is "never raises"; anything odd is a failed delivery
        reason = f"{host}: {type(error).__name__}"
    log.warning("webhook not delivered: %s", reason)
    return reason


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "(no host)"
    except ValueError:
        return "(invalid URL)"
