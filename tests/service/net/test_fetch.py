"""service.net.fetch: image URLs and webhooks under the address rules, against real servers on loopback.

Nothing here leaves the machine: refused addresses are checked with every socket connect blocked, and the
rebinding test answers DNS itself.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from service.net.fetch import (
    FetchError,
    check_url,
    fetch_image,
    is_allow_listed,
    is_public_address,
    parse_allow_host,
)
from service.net.webhooks import deliver_webhook, post_webhook
from tests.helpers import REPO, network_blocked

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # the bytes only have to come back intact


# --- settings -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrlRules:
    """Stand-in with the fields of service.settings.Settings that service.net.fetch reads."""

    allow_http_urls: bool = False
    url_allow_hosts: list[str] = field(default_factory=list)
    url_timeout: float = 5.0
    url_max_redirects: int = 5
    max_upload_bytes: int = 100_000
    webhook_timeout: float = 5.0


def rules(**overrides) -> object:
    """The real Settings once service/settings.py exists (so the field names are checked), else the stand-in."""
    values = {**UrlRules().__dict__, **overrides}
    try:
        from service.settings import Settings
    except ImportError:
        return UrlRules(**values)
    return Settings(**values)


def loopback(port: int, *, http: bool = True, **overrides) -> object:
    """Rules that exempt one loopback server (host:port) from the private-address check."""
    return rules(allow_http_urls=http, url_allow_hosts=[f"127.0.0.1:{port}"], **overrides)


# --- loopback servers ---------------------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    host: str | None
    content_type: str | None
    body: bytes


@dataclass
class Server:
    port: int
    requests: list[Seen]
    server_names: list[str | None]  # TLS SNI per handshake

    @property
    def hits(self) -> int:
        return len(self.requests)


Respond = Callable[[BaseHTTPRequestHandler, threading.Event], None]


@contextmanager
def serve(respond: Respond, tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """A threaded HTTP(S) server on 127.0.0.1:<free port> answering every request with `respond`."""
    requests: list[Seen] = []
    server_names: list[str | None] = []
    released = threading.Event()  # set at teardown so stalling handlers return

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, self.headers.get("Host"), self.headers.get("Content-Type"), body)
            requests.append(seen)
            respond(self, released)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(server.server_address[1], requests, server_names)
    finally:
        released.set()
        server.shutdown()
        server.server_close()


def reply(status: int = 200, body: bytes = PNG, **headers: str) -> Respond:
    def respond(handler: BaseHTTPRequestHandler, _released: threading.Event) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def redirect(location: str, status: int = 302) -> Respond:
    return reply(status, b"", Location=location)


def fetch_local(server: Server, path: str = "/", **overrides) -> bytes:
    """fetch_image from a loopback test server, allow-listed (and plain http allowed) by `loopback`."""
    return fetch_image(f"http://127.0.0.1:{server.port}{path}", loopback(server.port, **overrides))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- TLS material (openssl CLI: no Python crypto package is installed) --------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What the system trust store would be for a real site: trusts this self-signed certificate only."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict[str, Certificate]:
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "the openssl command is needed to make test certificates"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("tls")
    made = {}
    for name in ("localhost", "wrong.example"):
        cert, key = folder / f"{name}.crt", folder / f"{name}.key"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
             "-addext", f"subjectAltName=DNS:{name}"],
            check=True, capture_output=True,
        )
        made[name] = Certificate(cert, key)
    return made


def fetch_error(call: Callable[[], object]) -> FetchError:
    with pytest.raises(FetchError) as caught:
        call()
    return caught.value


# --- refusals before any connection -------------------------------------------------------------------------------

FORBIDDEN = [
    "https://127.0.0.1/",
    "https://10.0.0.1/",
    "https://169.254.169.254/latest/meta-data?token=SECRET",
    "https://[::1]/",
    "https://0.0.0.0/",
    "https://localhost/",  # a name that resolves to loopback
    "https://LOCALHOST:8443/",
    "https://2130706433/",  # 127.0.0.1 as one decimal number
    "https://0x7f.1/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "https://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, mapped and spelled in hex
    "https://100.64.0.1/",  # carrier-grade NAT
    "https://192.168.1.1:8080/img.png",
    "https://[fd00::1]/",
    "https://[fe80::1]/",
    "https://224.0.0.1/",
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_private_loopback_and_link_local_addresses_are_refused_before_connecting(url: str) -> None:
    with network_blocked():  # any connect() fails the test with AssertionError, not FetchError
        error = fetch_error(lambda: fetch_image(url, rules()))
    assert error.code == "url_forbidden"
    assert "SECRET" not in str(error) and "\n" not in str(error)
    assert "resolves to a private" in str(error)


@pytest.mark.parametrize("url", ["https://10.0.0.1/hook", "https://169.254.169.254/", "https://localhost/"])
def test_webhook_to_a_forbidden_address_returns_false_without_connecting(url: str) -> None:
    with network_blocked():
        assert post_webhook(url, {"job": "x"}, rules()) is False


def test_plain_http_is_refused_unless_allowed() -> None:
    with network_blocked():
        error = fetch_error(lambda: fetch_image("http://example.com/a.png", rules()))
        assert error.code == "url_forbidden"
        assert "use https" in str(error)
        assert check_url("http://example.com/a.png", rules(allow_http_urls=True)).port == 80


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "example.com/a.png",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "https:///a.png",
        "https://user:SECRET@example.com/a.png",
        "https://user@example.com/a.png",
        "https://example.com:99999/a.png",
        "https://example.com:0/a.png",
        "https://exa mple.com/a.png",
        "https://example.com/a.png\r\nX-Injected: 1",
        "https://" + "a" * 64 + ".com/",  # a DNS label longer than 63
        "https://example.com/" + "a" * 3000,
    ],
)
def test_malformed_urls_are_invalid(url: str) -> None:
    with network_blocked():
        error = fetch_error(lambda: check_url(url, rules()))
        assert error.code == "url_invalid"
        assert "SECRET" not in str(error) and "\n" not in str(error)
        assert fetch_error(lambda: fetch_image(url, rules())).code == "url_invalid"


def test_check_url_splits_the_target_and_hides_the_query() -> None:
    target = check_url("HTTPS://Shop.Example.com:8443/img/a.png?sig=SECRET#frag", rules())
    assert (target.scheme, target.host, target.port) == ("https", "shop.example.com", 8443)
    assert target.request_path == "/img/a.png?sig=SECRET"
    assert target.shown == "https://shop.example.com:8443/img/a.png"
    assert check_url("https://bücher.example/x", rules()).host == "xn--bcher-kva.example"
    assert check_url("https://[2001:db8::1]/", rules()).shown == "https://[2001:db8::1]/"


def test_the_host_is_resolved_once_and_the_checked_address_is_the_one_connected(monkeypatch) -> None:
    """DNS rebinding: the first answer is public, any later one would be loopback. Only the first is ever used."""
    lookups: list[str] = []
    connects: list[object] = []

    def rebinding_dns(host, port, *args, **kwargs):
        lookups.append(host)
        address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def refuse(self, address):
        connects.append(address)
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    error = fetch_error(lambda: fetch_image("https://rebind.example/a.png", rules()))
    assert error.code == "url_unreachable"
    assert lookups == ["rebind.example"]
    assert connects == [("93.184.216.34", 443)]


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch) -> None:
    def mixed_dns(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ("93.184.216.34", "10.1.2.3")]

    monkeypatch.setattr(socket, "getaddrinfo", mixed_dns)
    with network_blocked():
        assert fetch_error(lambda: fetch_image("https://mixed.example/", rules())).code == "url_forbidden"


def test_unresolvable_and_slow_dns(monkeypatch) -> None:
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    assert fetch_error(lambda: fetch_image("https://nowhere.example/", rules())).code == "url_unreachable"

    release = threading.Event()

    def hanging_dns(*args, **kwargs):
        release.wait(5)
        raise socket.gaierror(socket.EAI_AGAIN, "timeout")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_dns)
    try:
        error = fetch_error(lambda: fetch_image("https://slow-dns.example/", rules(url_timeout=0.2)))
    finally:
        release.set()
    assert error.code == "url_timeout"


# --- fetching from real loopback servers --------------------------------------------------------------------------


def test_an_allowed_loopback_host_returns_the_bytes() -> None:
    with serve(reply(200, PNG, Content_Type="image/png")) as server:
        url = f"http://127.0.0.1:{server.port}/a.png?v=2"
        assert fetch_image(url, loopback(server.port)) == PNG
    [seen] = server.requests
    assert (seen.method, seen.path, seen.host) == ("GET", "/a.png?v=2", f"127.0.0.1:{server.port}")


def test_the_allow_list_is_per_host_and_port() -> None:
    with serve(reply()) as server:
        url = f"http://127.0.0.1:{server.port}/"
        other_port = rules(allow_http_urls=True, url_allow_hosts=[f"127.0.0.1:{server.port + 1}"])
        assert fetch_error(lambda: fetch_image(url, other_port)).code == "url_forbidden"
        any_port = rules(allow_http_urls=True, url_allow_hosts=["127.0.0.1"])
        assert fetch_image(url, any_port) == PNG
        # allow-listing the address does not allow-list a name that resolves to it
        named = f"http://localhost:{server.port}/"
        assert fetch_error(lambda: fetch_image(named, any_port)).code == "url_forbidden"
        assert server.hits == 1


def test_an_allowed_host_still_needs_https_unless_http_is_allowed() -> None:
    with serve(reply()) as server:
        error = fetch_error(lambda: fetch_local(server, http=False))
    assert error.code == "url_forbidden"
    assert server.hits == 0


def test_a_redirect_to_loopback_is_refused_and_never_followed() -> None:
    with serve(reply()) as inner:
        with serve(redirect(f"http://localhost:{inner.port}/admin")) as outer:
            url = f"http://127.0.0.1:{outer.port}/a.png"
            error = fetch_error(lambda: fetch_image(url, loopback(outer.port)))
    assert error.code == "url_forbidden"
    assert f"localhost:{inner.port}/admin" in str(error) and f"redirected from {url[:-6]}" in str(error)
    assert outer.hits == 1
    assert inner.hits == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_followed_with_every_hop_checked(status: int) -> None:
    def respond(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        if handler.path == "/final.png":
            reply()(handler, released)
        else:
            redirect("/final.png", status)(handler, released)

    with serve(respond) as server:
        assert fetch_local(server, "/start") == PNG
    assert [seen.path for seen in server.requests] == ["/start", "/final.png"]


def test_redirects_beyond_the_limit_fail() -> None:
    with serve(redirect("/again")) as server:
        error = fetch_error(lambda: fetch_local(server, url_max_redirects=2))
    assert error.code == "url_bad_status"
    assert "more than 2 redirects" in str(error)
    assert server.hits == 3  # the first request and two redirects


def test_a_redirect_without_location_and_error_statuses_are_bad_status() -> None:
    with serve(reply(302, b"")) as server:
        assert fetch_error(lambda: fetch_local(server)).code == "url_bad_status"
    with serve(reply(404, b"not found")) as server:
        error = fetch_error(lambda: fetch_local(server, "/x.png?k=SECRET"))
    assert error.code == "url_bad_status"
    assert "HTTP 404" in str(error) and "SECRET" not in str(error)


def test_a_declared_size_over_the_cap_is_refused_before_reading() -> None:
    def huge(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(50_000_000))
        handler.end_headers()
        released.wait(5)  # never sends the body: only the header can have refused it

    with serve(huge) as server:
        error = fetch_error(lambda: fetch_local(server, url_timeout=3))
    assert error.code == "url_too_large"
    assert "50000000 bytes" in str(error)


def test_an_undeclared_size_is_capped_while_streaming() -> None:
    sent = []

    def endless_chunks(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"x" * 16_384
        try:
            while not released.is_set() and len(sent) < 1000:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent.append(len(chunk))
        except OSError:
            pass  # the client hung up: expected

    with serve(endless_chunks) as server:
        error = fetch_error(lambda: fetch_local(server, max_upload_bytes=100_000))
    assert error.code == "url_too_large"
    assert len(sent) < 1000  # the client stopped reading long before the server ran out


def test_a_body_exactly_at_the_cap_is_accepted() -> None:
    body = b"y" * 100_000
    with serve(reply(200, body)) as server:
        assert fetch_local(server, max_upload_bytes=100_000) == body


def test_a_server_that_never_answers_times_out() -> None:
    def stall(_handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        released.wait(10)

    with serve(stall) as server:
        error = fetch_error(lambda: fetch_local(server, url_timeout=0.3))
    assert error.code == "url_timeout"
    assert "0.3 s" in str(error)


DRIP_BYTES = 200  # 10 s of dripping: far beyond the 0.5 s budget the drip tests give the client


def drip_slowly(handler: BaseHTTPRequestHandler, released: threading.Event, dripped: list[int]) -> None:
    """Send one byte every 50 ms — each well within any per-read timeout — until done, released or hung up on."""
    try:
        while len(dripped) < DRIP_BYTES and not released.wait(0.05):
            handler.wfile.write(b"a")
            handler.wfile.flush()
            dripped.append(1)
    except OSError:
        pass


def test_a_slow_drip_hits_the_total_deadline() -> None:
    """Every byte arrives well within any per-read timeout; only a deadline for the whole fetch stops it."""

    dripped: list[int] = []

    def drip(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(DRIP_BYTES))
        handler.end_headers()
        handler.wfile.flush()
        drip_slowly(handler, released, dripped)

    with serve(drip) as server:
        error = fetch_error(lambda: fetch_local(server, url_timeout=0.5))
    assert error.code == "url_timeout"
    assert len(dripped) < DRIP_BYTES  # the client gave up mid-body, not when the server was done


def test_dripping_headers_hit_the_total_deadline() -> None:
    """One header line arriving a byte at a time is a single read as far as http.client is concerned: per-read
    socket timeouts never fire, so the deadline has to cut the connection."""

    dripped: list[int] = []

    def drip_headers(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        drip_slowly(handler, released, dripped)

    with serve(drip_headers) as server:
        error = fetch_error(lambda: fetch_local(server, url_timeout=0.5))
    assert error.code == "url_timeout"
    assert len(dripped) < DRIP_BYTES  # the client gave up mid-header, not when the server was done


def test_a_body_cut_short_is_unreachable() -> None:
    def truncated(handler: BaseHTTPRequestHandler, _released: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"only this")
        handler.close_connection = True

    with serve(truncated) as server:
        error = fetch_error(lambda: fetch_local(server))
    assert error.code == "url_unreachable"


def test_a_closed_port_is_unreachable() -> None:
    port = free_port()
    error = fetch_error(lambda: fetch_image(f"http://127.0.0.1:{port}/", loopback(port)))
    assert error.code == "url_unreachable"
    assert "connection refused" in str(error)


# --- TLS: the checked address is connected, the name is verified ------------------------------------------------


def test_https_connects_to_the_checked_address_with_sni_and_host_for_the_name(certificates) -> None:
    cert = certificates["localhost"]
    with serve(reply(), tls=cert.server_context()) as server:
        settings = rules(url_allow_hosts=[f"localhost:{server.port}"])
        data = fetch_image(f"https://localhost:{server.port}/a.png", settings, tls_context=cert.client_context())
    assert data == PNG
    assert server.server_names == ["localhost"]
    assert server.requests[0].host == f"localhost:{server.port}"


def test_https_with_a_certificate_for_another_name_is_refused(certificates) -> None:
    wrong = certificates["wrong.example"]
    with serve(reply(), tls=wrong.server_context()) as server:
        settings = rules(url_allow_hosts=[f"localhost:{server.port}"])
        error = fetch_error(
            lambda: fetch_image(f"https://localhost:{server.port}/", settings, tls_context=wrong.client_context())
        )
    assert error.code == "url_unreachable"
    assert "certificate" in str(error)
    assert server.hits == 0


def test_an_https_to_http_downgrade_is_refused(certificates) -> None:
    cert = certificates["localhost"]
    with serve(reply()) as plain:
        with serve(redirect(f"http://127.0.0.1:{plain.port}/a.png"), tls=cert.server_context()) as secure:
            settings = rules(url_allow_hosts=[f"localhost:{secure.port}", f"127.0.0.1:{plain.port}"])
            error = fetch_error(
                lambda: fetch_image(f"https://localhost:{secure.port}/", settings, tls_context=cert.client_context())
            )
    assert error.code == "url_forbidden"
    assert "use https" in str(error)
    assert secure.hits == 1 and plain.hits == 0


def test_webhook_over_https(certificates) -> None:
    cert = certificates["localhost"]
    with serve(reply(204, b""), tls=cert.server_context()) as server:
        settings = rules(url_allow_hosts=[f"localhost:{server.port}"])
        url = f"https://localhost:{server.port}/hook"
        assert post_webhook(url, {"ok": 1}, settings, tls_context=cert.client_context())
    assert server.requests[0].body == b'{"ok":1}'


# --- webhooks -----------------------------------------------------------------------------------------------------


def test_a_webhook_is_posted_as_json() -> None:
    with serve(reply(200, b"thanks")) as server:
        payload = {"job": "01ABC", "state": "done", "counts": {"done": 3, "failed": 0}}
        assert post_webhook(f"http://127.0.0.1:{server.port}/hooks/promptcut?sig=1", payload, loopback(server.port))
    [seen] = server.requests
    assert (seen.method, seen.path, seen.content_type) == ("POST", "/hooks/promptcut?sig=1", "application/json")
    assert json.loads(seen.body) == payload


def test_a_webhook_does_not_follow_redirects_and_reports_failure() -> None:
    with serve(reply()) as inner:
        with serve(redirect(f"http://127.0.0.1:{inner.port}/")) as outer:
            settings = rules(allow_http_urls=True, url_allow_hosts=["127.0.0.1"])
            assert post_webhook(f"http://127.0.0.1:{outer.port}/", {"a": 1}, settings) is False
    assert outer.hits == 1 and inner.hits == 0


def test_a_webhook_never_raises() -> None:
    with serve(reply(500, b"boom")) as server:
        assert post_webhook(f"http://127.0.0.1:{server.port}/", {}, loopback(server.port)) is False

    def stall(_handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        released.wait(10)

    with serve(stall) as server:
        assert post_webhook(f"http://127.0.0.1:{server.port}/", {}, loopback(server.port, webhook_timeout=0.3)) is False
    port = free_port()
    assert post_webhook(f"http://127.0.0.1:{port}/", {}, loopback(port)) is False
    assert post_webhook("not a url", {}, rules()) is False
    assert post_webhook("http://example.com/", {}, rules()) is False  # http not allowed
    assert post_webhook(f"http://127.0.0.1:{port}/", {"x": object()}, loopback(port)) is False


# --- the building blocks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("2002:5db8:d822::1", True),  # 6to4 around a public IPv4 address
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("192.0.0.8", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fec0::1", False),
        ("ff0e::1", False),
        ("::ffff:127.0.0.1", False),
        ("::7f00:1", False),  # IPv4-compatible
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 around 10.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 around 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_parse_allow_host() -> None:
    assert parse_allow_host("CDN.internal") == ("cdn.internal", None)
    assert parse_allow_host("cdn.internal.:8443") == ("cdn.internal", 8443)
    assert parse_allow_host("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_allow_host("[FD00::1]:443") == ("fd00::1", 443)
    assert parse_allow_host("fd00:0::1") == ("fd00::1", None)
    for bad in ["", "host:", "host:http", "host:70000", "[fd00::1", "[fd00::1]x"]:
        with pytest.raises(ValueError):
            parse_allow_host(bad)


def test_is_allow_listed_matches_host_and_optional_port() -> None:
    target = check_url("https://[FD00:0::1]:8443/a.png", rules())
    assert is_allow_listed(target, ["[fd00::1]:8443"])
    assert is_allow_listed(target, ["fd00::1"])
    assert not is_allow_listed(target, ["[fd00::1]:443", "fd00::2"])
    assert is_allow_listed(check_url("https://CDN.internal./x", rules()), ["cdn.internal:443"])
    with pytest.raises(ValueError):
        is_allow_listed(target, ["cdn.internal:https"])


def test_importing_fetch_stays_light() -> None:
    code = "import sys, service.net.fetch; print(sorted({'torch', 'numpy', 'cv2', 'httpx'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_webhook_signatures_verify_only_the_exact_body_and_recent_times() -> None:
    from service.net.webhooks import secret_for_key, sign, verify

    secret = secret_for_key("pc_example")
    header = sign(secret, b'{"a":1}', timestamp=1_000_000)
    assert verify(secret, b'{"a":1}', header, now=1_000_010)
    assert not verify(secret, b'{"a":2}', header, now=1_000_010)  # body changed
    assert not verify(secret_for_key("pc_other"), b'{"a":1}', header, now=1_000_010)  # another store's key
    assert not verify(secret, b'{"a":1}', header, now=1_000_000 + 301)  # too old: a replay
    assert not verify(secret, b'{"a":1}', "garbage", now=1_000_010)


def test_a_failed_webhook_says_why_naming_the_host_never_the_path() -> None:
    secret_path = "/hooks/s3cr3t-token"
    with serve(reply(500, b"boom")) as server:
        why = deliver_webhook(f"http://127.0.0.1:{server.port}{secret_path}", {}, loopback(server.port))
    assert why == "127.0.0.1 answered HTTP 500"
    port = free_port()
    refused = deliver_webhook(f"http://127.0.0.1:{port}{secret_path}", {}, loopback(port))
    assert refused is not None and refused.startswith("127.0.0.1: url_") and "s3cr3t" not in refused
    assert deliver_webhook("not a url", {}, rules()) is not None
