"""Job webhooks: POST a job's JSON to the seller's callback URL under the same address rules as image fetches,
signed so a store can tell that a callback really came from its promptcut server.

Header `X-Promptcut-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. Each API key has its
own signing secret (service.jobs.webhook_secrets). While a rotated-out secret is still honoured, the header
carries one v1 per secret, newest first (`t=…,v1=<new>,v1=<old>`), so a receiver holding either verifies.
`verify` is what a receiver runs (copy it; it needs only the standard library).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
import time
from collections.abc import Sequence
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
    """The legacy signing secret of an API key (the SHA-256 hex of the key, which is also its stored key_hash):
    what keys made before they had a secret of their own still sign with, until rotated."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def sign(secret: str | Sequence[str], body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` sent at `timestamp` (now when None): one v1 per secret, in the order given."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    secrets = (secret,) if isinstance(secret, str) else tuple(secret)
    return ",".join([f"t={timestamp}"] + [f"v1={_digest(each, body, timestamp)}" for each in secrets])


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when one v1 of `header` signs exactly `body` with `secret` and it is at most `tolerance` seconds old."""
    try:
        fields = [part.split("=", 1) for part in header.split(",")]
        (timestamp,) = [int(value) for name, value in fields if name == "t"]
        claimed = [value for name, value in fields if name == "v1"]
    except ValueError:  # a part without "=", a timestamp that is not a number, or not exactly one
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    # Computed here rather than by _digest, so that this function alone is what a receiver copies.
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    matches = [hmac.compare_digest(expected, each) for each in claimed]  # every entry compared: constant time
    return any(matches)


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def post_webhook(
    url: str, payload: dict, settings: UrlSettings, *, secret: str | Sequence[str] | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> bool:
    """deliver_webhook, True when delivered."""
    return deliver_webhook(url, payload, settings, secret=secret, tls_context=tls_context) is None


def deliver_webhook(
    url: str, payload: dict, settings: UrlSettings, *, secret: str | Sequence[str] | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> str | None:
    """POST `payload` as JSON under the same address rules; redirects are not followed. With `secret` (one, or
    several newest first), the body is signed (`sign` above) in the X-Promptcut-Signature header.

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
