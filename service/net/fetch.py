"""Fetch seller-supplied URLs (images; webhooks use the same checked request) without opening a server-side
request forgery hole.

Why not httpx/urllib: they resolve the host name again when they connect, so a name checked as public can
resolve to 127.0.0.1 a moment later (DNS rebinding). Here the name is resolved once, every address it resolves
to is checked, and the socket is opened to a checked address while the Host header, TLS SNI and the certificate
check keep using the name. Redirects are followed by hand so that every hop goes through the same checks.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, TypeVar
from urllib.parse import urljoin, urlsplit

from fusion.errors import PromptcutError

log = logging.getLogger(__name__)

FETCH_ERROR_CODES = frozenset(
    {"url_invalid", "url_forbidden", "url_unreachable", "url_too_large", "url_timeout", "url_bad_status"}
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_URL_LENGTH = 2048
READ_CHUNK = 64 * 1024
USER_AGENT = "promptcut"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Not routable but missed by this Python's is_private/is_global: carrier-grade NAT, IETF protocol assignments.
_ALSO_BLOCKED = (ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("192.0.0.0/24"))
_NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class FetchError(PromptcutError):
    """A URL could not be fetched. `code` is one of FETCH_ERROR_CODES; the message is one line naming the URL
    without its query string, fragment or credentials."""

    code = "url_unreachable"

    def __init__(self, code: str, message: str) -> None:
        if code not in FETCH_ERROR_CODES:
            raise ValueError(f"unknown fetch error code {code!r}")
        super().__init__(message)
        self.code = code


class UrlSettings(Protocol):
    """The part of service.settings.Settings this module reads (read-only, so frozen objects qualify)."""

    @property
    def allow_http_urls(self) -> bool: ...
    @property
    def url_allow_hosts(self) -> Sequence[str]: ...
    @property
    def url_timeout(self) -> float: ...
    @property
    def url_max_redirects(self) -> int: ...
    @property
    def max_upload_bytes(self) -> int: ...
    @property
    def webhook_timeout(self) -> float: ...


@dataclass(frozen=True)
class Target:
    """One URL, validated and split into what a connection needs."""

    url: str  # as given (resolves relative redirects)
    scheme: str  # "http" | "https"
    host: str  # ASCII: IDNA-encoded name or IP literal without brackets
    port: int
    request_path: str  # path + query: the HTTP request line
    shown: str  # scheme://host[:port]/path — no query, fragment or credentials: safe for messages and logs


def check_url(url: str, settings: UrlSettings) -> Target:
    """Validate a URL's form and scheme without touching the network (request-time check).

    Raises FetchError: url_invalid (not an absolute http(s) URL, credentials, bad port, too long) or
    url_forbidden (http while settings.allow_http_urls is off). Addresses are only checked when fetching.
    """
    if not isinstance(url, str) or not url.strip():
        raise FetchError("url_invalid", "the image URL is empty")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise FetchError("url_invalid", f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch <= " " or ch == "\x7f" for ch in url):
        raise FetchError("url_invalid", "the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("url_invalid", f"{_rough_shown(url)}: malformed URL (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError("url_invalid", f"{_rough_shown(url)}: only https URLs are accepted")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise FetchError("url_invalid", f"{_rough_shown(url)}: URLs with credentials (user:password@) are refused")
    host = _ascii_host(parts.hostname or "", url)
    if port == 0:
        raise FetchError("url_invalid", f"{_rough_shown(url)}: port 0 is not a valid port")
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    host_in_url = f"[{host}]" if ":" in host else host
    netloc = host_in_url if port == default_port else f"{host_in_url}:{port}"
    shown = _clip(f"{scheme}://{netloc}{parts.path or '/'}")
    if scheme == "http" and not settings.allow_http_urls:
        raise FetchError("url_forbidden", f"{shown}: plain http URLs are not allowed, use https")
    request_path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url=url, scheme=scheme, host=host, port=port, request_path=request_path, shown=shown)


def fetch_image(url: str, settings: UrlSettings, *, tls_context: ssl.SSLContext | None = None) -> bytes:
    """GET an image URL under the address rules, following at most settings.url_max_redirects redirects.

    The body is capped at settings.max_upload_bytes and the whole fetch (DNS, connects, redirects, body) at
    settings.url_timeout seconds. `tls_context` replaces the system trust store (tests); hostname checks stay on.
    Raises FetchError. The bytes are not decoded here: the engine's decoder is the judge of "is an image".
    """
    deadline = Deadline(settings.url_timeout)
    target = check_url(url, settings)
    first = target
    for hop in range(settings.url_max_redirects + 1):
        via = "" if hop == 0 else f" (redirected from {first.shown})"
        response = request_checked(target, settings, deadline, tls_context, via=via, method="GET", body=None)
        with response:
            if response.status in REDIRECT_STATUSES:
                location = response.header("Location")
                if not location:
                    raise FetchError("url_bad_status", f"{target.shown}: HTTP {response.status} without a Location")
                try:
                    target = check_url(urljoin(target.url, location), settings)
                except FetchError as error:
                    raise FetchError(error.code, f"{error} (redirected from {first.shown})") from None
                continue
            if not 200 <= response.status < 300:
                raise FetchError("url_bad_status", f"{target.shown}: the server answered HTTP {response.status}{via}")
            return response.read_capped(settings.max_upload_bytes, target.shown + via)
    raise FetchError(
        "url_bad_status", f"{first.shown}: more than {settings.url_max_redirects} redirects, last to {target.shown}"
    )


def is_public_address(address: IPAddress) -> bool:
    """True when `address` is globally routable: not loopback, private, link-local, multicast, reserved,
    unspecified, shared (100.64/10), site-local, nor an IPv6 form embedding such an IPv4 address
    (IPv4-mapped, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        if any(not is_public_address(inner) for inner in _embedded_ipv4(address)):
            return False
        if address.is_site_local:
            return False
    if any(address in network for network in _ALSO_BLOCKED):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def parse_allow_host(entry: str) -> tuple[str, int | None]:
    """One url_allow_hosts entry → (host, port or None). Forms: "cdn.internal", "cdn.internal:8443", "10.1.2.3",
    "[fd00::1]:443", "fd00::1". Raises ValueError for a malformed entry (settings can validate with this)."""
    text = entry.strip().lower()
    port: int | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"malformed url_allow_hosts entry {entry!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"malformed port in url_allow_hosts entry {entry!r}")
        port = int(port_text)
    host = _normal_host(host)
    if not host:
        raise ValueError(f"empty host in url_allow_hosts entry {entry!r}")
    return host, port


def is_allow_listed(target: Target, entries: Sequence[str]) -> bool:
    """True when settings.url_allow_hosts exempts this host (any port) or host:port from the address check.
    Raises ValueError for a malformed entry: a typo must not silently open or close the exemption."""
    host = _normal_host(target.host)
    for entry in entries:
        allowed_host, allowed_port = parse_allow_host(entry)
        if allowed_host == host and allowed_port in (None, target.port):
            return True
    return False


# --- internals -------------------------------------------------------------------------------------------------


class Deadline:
    """One budget for the whole fetch: DNS, every hop's connect, handshake, headers and body."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.end

    def remaining(self, shown: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise self.error(shown)
        return left

    def error(self, shown: str) -> FetchError:
        return FetchError("url_timeout", f"{shown}: no complete answer within {self.seconds:g} s")


T = TypeVar("T")


def _within(deadline: Deadline, shown: str, work: Callable[[], T]) -> T:
    """Run a call that has no timeout of its own (getaddrinfo) on a daemon thread, giving up at the deadline."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 — handed back to the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=run, name="promptcut-resolve", daemon=True)
    worker.start()
    worker.join(deadline.remaining(shown))
    if worker.is_alive():
        raise deadline.error(shown)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _resolve(target: Target, settings: UrlSettings, deadline: Deadline, via: str) -> list[tuple]:
    """Resolve once; refuse unless every address is public or the host is allow-listed. → [(family, sockaddr)]."""
    try:
        infos = _within(
            deadline,
            target.shown + via,
            lambda: socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM),
        )
    except OSError:  # gaierror and friends
        raise FetchError("url_unreachable", f"{target.shown}: the host name does not resolve{via}") from None
    candidates = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and (family, sockaddr) not in candidates:
            candidates.append((family, sockaddr))
    if not candidates:
        raise FetchError("url_unreachable", f"{target.shown}: the host name has no IP address{via}")
    if is_allow_listed(target, settings.url_allow_hosts):
        return candidates
    for _family, sockaddr in candidates:
        if not is_public_address(ipaddress.ip_address(sockaddr[0])):
            # The address itself is not named: it would tell a caller how internal names resolve.
            raise FetchError(
                "url_forbidden",
                f"{target.shown}: the host resolves to a private, loopback or reserved address{via}",
            )
    return candidates


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to one already-checked socket address while speaking to `host` by name (Host, SNI, certificate)."""

    def __init__(self, target: Target, family: int, sockaddr: tuple, timeout: float, tls: ssl.SSLContext | None):
        super().__init__(target.host, target.port, timeout=timeout)
        self.default_port = 80 if tls is None else 443  # the Host header leaves the default port out
        self._family = family
        self._sockaddr = sockaddr
        self._tls = tls
        self.live_socket: socket.socket | None = None

    def connect(self) -> None:
        raw = socket.socket(self._family, socket.SOCK_STREAM)
        # Kept apart from self.sock, which http.client drops once a "Connection: close" response is open
        # while the response goes on reading from the same socket.
        self.live_socket = self.sock = raw
        raw.settimeout(self.timeout)
        raw.connect(self._sockaddr)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            wrapped = self._tls.wrap_socket(raw, server_hostname=self.host, do_handshake_on_connect=False)
            self.live_socket = self.sock = wrapped
            wrapped.do_handshake()

    def sever(self) -> None:
        """Unblock any read in progress (called from the watchdog thread at the deadline)."""
        sock = self.live_socket
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain method: SSLSocket's drops its state
            except OSError:
                pass


class CheckedResponse:
    """An open response plus the machinery that must be torn down with it."""

    def __init__(self, connection: _PinnedConnection, response: http.client.HTTPResponse, deadline: Deadline,
                 watchdog: threading.Timer) -> None:
        self.connection = connection
        self.response = response
        self.status = response.status
        self.deadline = deadline
        self.watchdog = watchdog

    def header(self, name: str) -> str | None:
        return self.response.getheader(name)

    def read_capped(self, cap: int, shown: str) -> bytes:
        declared = self.response.length  # None when chunked or close-delimited
        if declared is not None and declared > cap:
            raise FetchError("url_too_large", f"{shown}: the image is {declared} bytes, the limit is {cap}")
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                self.connection.live_socket.settimeout(self.deadline.remaining(shown))
                chunk = self.response.read1(READ_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise FetchError("url_too_large", f"{shown}: the image is larger than the limit of {cap} bytes")
                chunks.append(chunk)
        except (OSError, http.client.HTTPException) as error:
            raise _network_error(error, self.deadline, shown) from None
        if self.deadline.passed():
            raise self.deadline.error(shown)
        if self.response.length:  # bytes still owed by Content-Length
            raise FetchError("url_unreachable", f"{shown}: the connection closed before the whole image arrived")
        return b"".join(chunks)

    def __enter__(self) -> "CheckedResponse":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.watchdog.cancel()
        self.connection.close()


def request_checked(
    target: Target, settings: UrlSettings, deadline: Deadline, tls_context: ssl.SSLContext | None,
    *, via: str, method: str, body: bytes | None, extra_headers: dict[str, str] | None = None,
) -> CheckedResponse:
    """Resolve, check, connect to a checked address and send one request; → the response, headers read."""
    shown = target.shown + via
    candidates = _resolve(target, settings, deadline, via)
    tls = None
    if target.scheme == "https":
        tls = tls_context or ssl.create_default_context()
        if not tls.check_hostname or tls.verify_mode != ssl.CERT_REQUIRED:
            raise ValueError("fetch needs a TLS context that verifies certificates and host names")
    headers = {"User-Agent": USER_AGENT, "Connection": "close"}
    if body is None:
        # AVIF is left out on purpose: CDNs that negotiate formats send it only when it is asked for by name.
        headers["Accept"] = "image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.5"
    else:
        headers["Content-Type"] = "application/json"
    headers.update(extra_headers or {})
    last_error: BaseException | None = None
    for family, sockaddr in candidates:  # like create_connection: the next address when one refuses
        connection = _PinnedConnection(target, family, sockaddr, deadline.remaining(shown), tls)
        watchdog = threading.Timer(deadline.remaining(shown), connection.sever)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.connect()
        except ssl.SSLError as error:  # a certificate problem does not get better on another address
            watchdog.cancel()
            connection.close()
            raise _network_error(error, deadline, shown) from None
        except OSError as error:
            watchdog.cancel()
            connection.close()
            last_error = error
            if deadline.passed():
                break
            continue
        try:
            connection.request(method, target.request_path, body=body, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            watchdog.cancel()
            connection.close()
            raise _network_error(error, deadline, shown) from None
        if deadline.passed():  # the watchdog's cut can look like a short but well-formed header block
            watchdog.cancel()
            response.close()
            connection.close()
            raise deadline.error(shown)
        return CheckedResponse(connection, response, deadline, watchdog)
    assert last_error is not None
    raise _network_error(last_error, deadline, shown)


def _network_error(error: BaseException, deadline: Deadline, shown: str) -> FetchError:
    if deadline.passed() or isinstance(error, TimeoutError):
        return deadline.error(shown)
    if isinstance(error, ssl.SSLCertVerificationError):
        return FetchError("url_unreachable", f"{shown}: TLS certificate check failed ({error.verify_message})")
    if isinstance(error, ssl.SSLError):
        return FetchError("url_unreachable", f"{shown}: TLS handshake failed")
    if isinstance(error, ConnectionRefusedError):
        return FetchError("url_unreachable", f"{shown}: connection refused")
    if isinstance(error, http.client.IncompleteRead):
        return FetchError("url_unreachable", f"{shown}: the connection closed before the whole image arrived")
    if isinstance(error, http.client.HTTPException):
        return FetchError("url_bad_status", f"{shown}: the server sent a malformed HTTP response")
    return FetchError("url_unreachable", f"{shown}: connection failed ({type(error).__name__})")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    inner = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if any(address in prefix for prefix in _NAT64_PREFIXES):
        inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [ip for ip in inner if ip is not None]


def _ascii_host(hostname: str, url: str) -> str:
    if not hostname:
        raise FetchError("url_invalid", f"{_rough_shown(url)}: the URL has no host")
    try:
        ipaddress.ip_address(hostname)
        return hostname
    except ValueError:
        pass
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchError("url_invalid", f"{_rough_shown(url)}: the host name is not valid") from None
    if not host or any(not (ch.isalnum() or ch in "-._") for ch in host):
        raise FetchError("url_invalid", f"{_rough_shown(url)}: the host name is not valid")
    return host.lower()


def _normal_host(host: str) -> str:
    """Comparable form for allow-list matching: lower case, no trailing dot, canonical IP text."""
    host = host.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _rough_shown(url: str) -> str:
    """Best-effort safe rendering of a URL that failed to parse: drop credentials, query and fragment."""
    text = url.split("#", 1)[0].split("?", 1)[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        netloc, slash, path = rest.partition("/")
        text = f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"
    return _clip("".join("?" if ch <= " " or ch == "\x7f" else ch for ch in text))


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
