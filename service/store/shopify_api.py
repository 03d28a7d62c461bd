"""A small client for the Shopify Admin GraphQL API: where a shop's endpoint is, and a polite way to call it.

Polite means: it reads the cost Shopify reports with every response (`extensions.cost.throttleStatus`) and,
before sending an operation it has seen before, waits until the leaky bucket holds that operation's requested
cost instead of sending it to be throttled. A `THROTTLED` answer, HTTP 429 and 5xx are retried with exponential
backoff and jitter (Retry-After honoured), a bounded number of times. The access token travels only in the
`X-Shopify-Access-Token` header: it is never logged and never part of an error message.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from fusion.errors import PromptcutError

log = logging.getLogger(__name__)

API_VERSION = "2025-10"  # the one place the Admin API version is pinned
SHOP_SUFFIX = ".myshopify.com"
_SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)")
_MAX_MESSAGE = 300
_TOKEN = re.compile(r"^[\x21-\x7e]{1,500}$")  # visible ASCII: what a header value can carry


class StoreError(PromptcutError):
    """Base of the store errors; messages are one line and never contain the access token."""

    code = "store_error"


class StoreConfigError(StoreError):
    """A shop domain or API URL that cannot be used."""

    code = "store_invalid"


class StoreAuthError(StoreError):
    """The store refused the access token (HTTP 401/403): invalid, or revoked by uninstalling the app."""

    code = "store_unauthorized"


class StoreScopeError(StoreError):
    """The token lacks access scopes this service needs; `missing` names them."""

    code = "store_scope_missing"

    def __init__(self, message: str, missing: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


class StoreRequestError(StoreError):
    """The store answered, but with an error for this request (a GraphQL error, an unexpected status)."""

    code = "store_request_failed"


class StoreUnavailableError(StoreError):
    """The store could not be reached, or kept answering 429/5xx/THROTTLED until the attempts ran out."""

    code = "store_unavailable"


# --- where the endpoint is --------------------------------------------------------------------------------------


def shop_domain(shop: str) -> str:
    """"name" or "name.myshopify.com" (any case, surrounding spaces) → "name.myshopify.com"."""
    text = (shop or "").strip().lower()
    name = text.removesuffix(SHOP_SUFFIX)
    if not _SHOP_NAME.match(name) or name.endswith("-"):
        shown = " ".join(str(shop).split())[:80]
        raise StoreConfigError(f"shop {shown!r} is not a Shopify shop: give its name or name{SHOP_SUFFIX}")
    return name + SHOP_SUFFIX


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_internal_literal(host: str) -> bool:
    """An IP literal (or localhost) that is not a public address: reachable only from inside."""
    if host == "localhost":
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def admin_url(shop: str, api_url: str | None = None, allow_hosts: Sequence[str] = ()) -> str:
    """The shop's Admin GraphQL endpoint.

    Without `api_url`: https://{name}.myshopify.com/admin/api/{API_VERSION}/graphql.json. An explicit `api_url`
    (a proxy, or a local test store) must be https; plain http is accepted only to a loopback host whose
    "host:port" is in `allow_hosts` (settings.store_api_allow_hosts), and an internal IP literal only when
    allow-listed. Raises StoreConfigError with a one-line message.
    """
    domain = shop_domain(shop)
    if not api_url:
        return f"https://{domain}/admin/api/{API_VERSION}/graphql.json"
    url = api_url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise StoreConfigError("the store API URL is malformed (bad host or port)") from None
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise StoreConfigError("the store API URL must be an absolute https:// URL")
    if parts.username is not None or "@" in parts.netloc or parts.query or parts.fragment:
        raise StoreConfigError("the store API URL must not carry credentials, a query or a fragment")
    port = port or (443 if scheme == "https" else 80)
    allowed = f"{host}:{port}" in {entry.strip().lower().strip("/") for entry in allow_hosts}
    shown = f"{scheme}://{host}:{port}"
    if scheme == "http" and not (_is_loopback(host) and allowed):
        raise StoreConfigError(f"{shown}: the store API URL must use https (plain http only to a loopback host "
                               "listed in PROMPTCUT_STORE_API_ALLOW_HOSTS)")
    if _is_internal_literal(host) and not allowed:
        raise StoreConfigError(f"{shown}: an internal address needs PROMPTCUT_STORE_API_ALLOW_HOSTS to list it")
    return url


# --- the client ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleStatus:
    """The leaky bucket as Shopify last reported it: points held, capacity, points restored per second."""

    maximum_available: float
    currently_available: float
    restore_rate: float


@dataclass(frozen=True)
class QueryCost:
    requested: float
    actual: float | None
    throttle: ThrottleStatus


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request (the first included) and the backoff between them (seconds, doubled each time)."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0


def operation_name(document: str) -> str:
    """The name of a named GraphQL operation (`query ProductsPage(...)` → "ProductsPage")."""
    found = _OPERATION.match(document)
    if not found:
        raise ValueError("GraphQL documents sent by promptcut are named operations")
    return found.group(1)


def parse_cost(body: Mapping[str, Any]) -> QueryCost | None:
    """`extensions.cost` of a response body, when present and well formed."""
    cost = (body.get("extensions") or {}).get("cost") if isinstance(body, Mapping) else None
    if not isinstance(cost, Mapping):
        return None
    try:
        status = cost["throttleStatus"]
        throttle = ThrottleStatus(float(status["maximumAvailable"]), float(status["currentlyAvailable"]),
                                  float(status["restoreRate"]))
        actual = cost.get("actualQueryCost")
        return QueryCost(float(cost["requestedQueryCost"]), None if actual is None else float(actual), throttle)
    except (KeyError, TypeError, ValueError):
        return None


def _error_codes(errors: list[Any]) -> set[str]:
    return {str((error.get("extensions") or {}).get("code", "")) for error in errors if isinstance(error, Mapping)}


class ShopifyClient:
    """Admin GraphQL over httpx for one shop. Thread-safe; reuse one per shop so the bucket state is shared.

    `sleep`, `clock` and `jitter` (a function returning [0, 1)) are injectable so tests run without waiting.
    """

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token or not token.strip():
            raise StoreConfigError("the store access token is empty")
        if not _TOKEN.match(token.strip()):  # else httpx fails encoding the header, deep in the request
            raise StoreConfigError("the store access token has characters an access token never has")
        self.endpoint = endpoint
        self.shown = f"{urlsplit(endpoint).hostname}"  # for messages: never the token, never a query
        self._token = token.strip()
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._lock = threading.Lock()
        self._bucket: ThrottleStatus | None = None
        self._bucket_seen_at = 0.0
        self._costs: dict[str, float] = {}  # operation name → requested cost last reported
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport,
                                  headers={"User-Agent": "promptcut"})
        self.last_cost: QueryCost | None = None

    def __enter__(self) -> "ShopifyClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run a named operation and return its `data`. Raises a StoreError subclass."""
        name = operation_name(document)
        payload = {"query": document, "variables": dict(variables or {}), "operationName": name}
        last_problem = "no attempt made"
        for attempt in range(1, self._retry.max_attempts + 1):
            self._wait_for_bucket(name)
            try:
                response = self._http.post(self.endpoint, json=payload, headers={
                    "X-Shopify-Access-Token": self._token, "Accept": "application/json"})
            except httpx.TimeoutException:
                last_problem = "timed out"
                self._back_off(attempt, name, last_problem)
                continue
            except httpx.TransportError as exc:
                last_problem = f"cannot connect ({type(exc).__name__})"
                self._back_off(attempt, name, last_problem)
                continue
            status = response.status_code
            if status in (401, 403):
                raise StoreAuthError(f"{self.shown} refused the access token (HTTP {status}): it is invalid or "
                                     "was revoked; create a new one in the Shopify admin")
            if status == 429 or status >= 500:
                last_problem = f"HTTP {status}"
                self._back_off(attempt, name, last_problem, retry_after=_retry_after(response))
                continue
            body = self._json(response, name)
            cost = parse_cost(body)
            if cost is not None:
                self._observe(name, cost)
            errors = body.get("errors")
            if errors:
                errors = errors if isinstance(errors, list) else [{"message": str(errors)}]
                codes = _error_codes(errors)
                if "THROTTLED" in codes:
                    last_problem = "throttled"
                    self._back_off(attempt, name, last_problem, retry_after=self._refill_time(cost))
                    continue
                message = self._clean(str((errors[0] or {}).get("message", "unknown error")))
                if "ACCESS_DENIED" in codes:
                    raise StoreScopeError(f"{self.shown} denied {name}: {message}")
                raise StoreRequestError(f"{self.shown}: {name} failed: {message}")
            data = body.get("data")
            if not isinstance(data, dict):
                raise StoreRequestError(f"{self.shown}: {name} returned no data")
            return data
        raise StoreUnavailableError(f"{self.shown}: {name} failed after {self._retry.max_attempts} attempts "
                                    f"(last: {last_problem})")

    def download(self, url: str) -> bytes:
        """GET a file the store pointed us at (a bulk result): without the token, which is only for the API."""
        last_problem = "no attempt made"
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                response = self._http.get(url)
            except httpx.TransportError as exc:
                last_problem = type(exc).__name__
                self._back_off(attempt, "download", last_problem)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last_problem = f"HTTP {response.status_code}"
                self._back_off(attempt, "download", last_problem, retry_after=_retry_after(response))
                continue
            if response.status_code != 200:
                raise StoreRequestError(f"{self.shown}: downloading a result file answered HTTP "
                                        f"{response.status_code}")
            return response.content
        raise StoreUnavailableError(f"{self.shown}: downloading a result file failed (last: {last_problem})")

    def post_file(self, url: str, fields: Mapping[str, str], filename: str, data: bytes, mime_type: str, *,
                  timeout: float = 60.0) -> httpx.Response:
        """POST `data` as the `file` of a multipart form after `fields` (a staged-upload target: storage, not the
        API, so without the token). One attempt; httpx.TransportError propagates (the caller retries)."""
        return self._http.post(url, data=dict(fields), files={"file": (filename, data, mime_type)}, timeout=timeout)

    # -- the bucket ------------------------------------------------------------------------------------------

    def _observe(self, name: str, cost: QueryCost) -> None:
        with self._lock:
            self.last_cost = cost
            self._bucket = cost.throttle
            self._bucket_seen_at = self._clock()
            self._costs[name] = cost.requested

    def _wait_for_bucket(self, name: str) -> None:
        """Sleep until the bucket, as last reported and refilled since, holds this operation's known cost."""
        with self._lock:
            bucket, seen_at, needed = self._bucket, self._bucket_seen_at, self._costs.get(name)
        if bucket is None or needed is None or bucket.restore_rate <= 0:
            return
        needed = min(needed, bucket.maximum_available)
        held = min(bucket.maximum_available,
                   bucket.currently_available + bucket.restore_rate * (self._clock() - seen_at))
        if needed > held:
            wait = (needed - held) / bucket.restore_rate + 0.01  # the 10 ms absorbs clock skew with the store
            log.debug("%s: waiting %.2f s for the cost bucket before %s", self.shown, wait, name)
            self._sleep(wait)

    @staticmethod
    def _refill_time(cost: QueryCost | None) -> float | None:
        if cost is None or cost.throttle.restore_rate <= 0:
            return None
        missing = min(cost.requested, cost.throttle.maximum_available) - cost.throttle.currently_available
        return max(missing, 0.0) / cost.throttle.restore_rate + 0.01

    # -- retries ---------------------------------------------------------------------------------------------

    def _back_off(self, attempt: int, name: str, problem: str, retry_after: float | None = None) -> None:
        if attempt >= self._retry.max_attempts:
            return  # the caller's loop ends and reports the last problem
        if retry_after is not None:
            delay = min(retry_after, self._retry.max_delay * 2)
        else:
            ceiling = min(self._retry.max_delay, self._retry.base_delay * 2 ** (attempt - 1))
            delay = ceiling / 2 + self._jitter() * ceiling / 2  # "equal jitter": spread, but never near zero
        log.info("%s: %s %s; retrying in %.2f s (attempt %d of %d)", self.shown, name, problem, delay, attempt + 1,
                 self._retry.max_attempts)
        self._sleep(delay)

    def _json(self, response: httpx.Response, name: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise StoreRequestError(f"{self.shown}: {name} answered HTTP {response.status_code} "
                                    "with a body that is not JSON") from None
        if response.status_code != 200 or not isinstance(body, dict):
            raise StoreRequestError(f"{self.shown}: {name} answered HTTP {response.status_code}")
        return body

    def _clean(self, text: str) -> str:
        text = " ".join(text.replace(self._token, "[token]").split())
        return text[:_MAX_MESSAGE]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date or garbage: fall back to our own backoff
    return seconds if seconds >= 0 else None
