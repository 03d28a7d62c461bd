"""Signatures on job webhooks, so a store can tell that a callback really came from its promptcut server.

Header `X-Promptcut-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The secret is the
SHA-256 (hex) of the store's API key: the server keeps only that hash, and the store computes it from the key it
holds — no second secret to hand out or rotate; revoking the key retires its signatures. `verify` is what a
receiver runs (copy it; it needs only the standard library).
"""

from __future__ import annotations

import hashlib
import hmac
import time

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
