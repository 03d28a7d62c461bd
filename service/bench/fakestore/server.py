"""A fake Shopify shop over real HTTP on 127.0.0.1: the Admin GraphQL endpoint, the staged-upload target, the
image files and bulk results, all served by one ThreadingHTTPServer in a background thread.

    with FakeShopify(sample_products(50)) as shop:
        settings = Settings(..., store_api_allow_hosts=[shop.allow_host])
        connect_store(..., shop.shop_domain, shop.token, api_url=shop.api_url)

Hooks for tests: `fail_next` (HTTP 429/5xx), `fail_product` (userErrors for a product), `revoke_token` (401),
`revoke_after` (401 once an operation has been answered n times), `media_polls_to_ready` (new media stay
PROCESSING for that many status reads), `failing_processing` (products whose next new content ends FAILED), `scopes`,
a configurable LeakyBucket (`bucket`, `drain`). Counters: `requests`, `operations`, `throttled`,
`upload_posts`, `downloads`, `injected_failures`, `auth_failures`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service.bench.fakestore.bucket import LeakyBucket
from service.bench.fakestore.catalogue import FakeMedia, FakeProduct, numeric_id, png_bytes
from service.bench.fakestore.operations import RESOLVERS, GraphQLError, requested_cost
from service.store.shopify_api import API_VERSION

DEFAULT_SCOPES = ("read_products", "write_products", "write_files")
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


@dataclass
class InjectedFailure:
    status: int
    retry_after: str | None = None


class FakeShopify:
    def __init__(self, products: list[FakeProduct] = (), *, token: str = "shpat_fake_0123456789abcdef",
                 shop_name: str = "fake-shop", scopes: tuple[str, ...] = DEFAULT_SCOPES,
                 bucket: LeakyBucket | None = None, bulk_polls_before_done: int = 1,
                 media_polls_to_ready: int = 0) -> None:
        self.token = token
        self.shop_name = shop_name
        self.shop_domain = f"{shop_name}.myshopify.com"
        self.scopes = tuple(scopes)
        self.bucket = bucket or LeakyBucket()
        self.bulk_polls_before_done = bulk_polls_before_done
        self.media_polls_to_ready = media_polls_to_ready  # new media stay PROCESSING for this many status reads
        self.failing_processing: set[str] = set()  # products whose next new content ends FAILED (once)
        self.lock = threading.RLock()
        self.products: dict[str, FakeProduct] = {product.id: product for product in products}
        self.images: dict[str, bytes] = {}
        for product in self.products.values():
            for media in product.media:
                if media.file_name:
                    self.images[media.file_name] = png_bytes(media.width, media.height)
        self.uploads: dict[int, dict[str, Any]] = {}
        self.user_errors: dict[str, str] = {}
        self.bulk: dict[str, Any] | None = None
        self.bulk_count = 0
        self.media_count = 10_000_000
        self.metafield_count = 0
        self.revoked = False
        self._revoke_after: tuple[str, int] | None = None
        self._failures: list[InjectedFailure] = []
        # counters
        self.requests = 0
        self.operations: Counter[str] = Counter()
        self.throttled = 0
        self.upload_posts = 0
        self.downloads = 0
        self.injected_failures = 0
        self.auth_failures = 0
        self.paths: Counter[str] = Counter()
        self.tokens_sent_to_files = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- life cycle ------------------------------------------------------------------------------------------

    def __enter__(self) -> "FakeShopify":
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                shop._post(self)

            def do_GET(self) -> None:  # noqa: N802
                shop._get(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    @property
    def api_url(self) -> str:
        return f"{self.url}/admin/api/{API_VERSION}/graphql.json"

    @property
    def allow_host(self) -> str:
        """The "host:port" to put in settings.store_api_allow_hosts."""
        return self.url.removeprefix("http://")

    # -- hooks -----------------------------------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` GraphQL requests answer HTTP `status` (429, 500, 503...) before anything else."""
        with self.lock:
            self._failures.extend(InjectedFailure(status, retry_after) for _ in range(times))

    def fail_product(self, product_id: str, message: str) -> None:
        """Mutations touching this product answer a userError with `message`."""
        with self.lock:
            self.user_errors[product_id] = message

    def revoke_token(self) -> None:
        """As if the merchant uninstalled the app: every request now gets 401."""
        with self.lock:
            self.revoked = True

    def revoke_after(self, operation: str, times: int) -> None:
        """Revoke the token once `operation` has been answered `times` times (counted from now)."""
        with self.lock:
            self._revoke_after = (operation, self.operations[operation] + times)

    def drain(self) -> None:
        self.bucket.drain()

    # -- state helpers (used by the resolvers, under the lock) -------------------------------------------------

    def sorted_products(self) -> list[FakeProduct]:
        return sorted(self.products.values(), key=lambda product: numeric_id(product.id))

    def product(self, product_id: str) -> FakeProduct | None:
        return self.products.get(product_id)

    def media(self, media_id: str) -> tuple[FakeProduct | None, FakeMedia | None]:
        for product in self.products.values():
            for media in product.media:
                if media.id == media_id:
                    return product, media
        return None, None

    def new_upload(self, filename: str, mime_type: str) -> int:
        upload_id = len(self.uploads) + 1
        self.uploads[upload_id] = {"filename": filename, "mime_type": mime_type, "data": None, "fields": {}}
        return upload_id

    def file_for_source(self, source: str) -> str | None:
        """The image file an originalSource names: a staged upload that received its bytes, or our own image."""
        if source.startswith(f"{self.url}/staged/"):
            upload = self.uploads.get(int(source.rsplit("/", 1)[-1]))
            if upload is None or upload["data"] is None:
                return None
            name = f"u{source.rsplit('/', 1)[-1]}-{upload['filename']}"
            self.images[name] = upload["data"]
            return name
        if source.startswith(f"{self.url}/images/"):
            name = source.rsplit("/", 1)[-1]
            return name if name in self.images else None
        return None

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
               headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _json(self, handler: BaseHTTPRequestHandler, status: int, payload: Any,
              headers: dict[str, str] | None = None) -> None:
        self._reply(handler, status, json.dumps(payload).encode(), "application/json", headers)

    def _body(self, handler: BaseHTTPRequestHandler) -> bytes:
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        with self.lock:
            self.paths[path] += 1
            if handler.headers.get("X-Shopify-Access-Token"):
                self.tokens_sent_to_files += 1
            if path.startswith("/images/") and path.removeprefix("/images/") in self.images:
                self.downloads += 1
                data, kind = self.images[path.removeprefix("/images/")], "image/png"
            elif (path.startswith("/bulk/") and self.bulk is not None
                  and path == f"/bulk/{numeric_id(self.bulk['id'])}.jsonl"):
                self.downloads += 1
                data, kind = self.bulk["jsonl"].encode(), "application/jsonl"
            else:
                data, kind = b"not found", ""
        if not kind:
            self._reply(handler, 404, data, "text/plain")
            return
        self._reply(handler, 200, data, kind)

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        body = self._body(handler)
        with self.lock:
            self.paths[path] += 1
        if path.startswith("/upload/"):
            self._upload(handler, path, body)
        elif path == f"/admin/api/{API_VERSION}/graphql.json":
            self._graphql(handler, body)
        else:
            self._json(handler, 404, {"errors": "Not Found"})

    def _upload(self, handler: BaseHTTPRequestHandler, path: str, body: bytes) -> None:
        """The staged-upload target: a multipart form with the target's parameters, then `file`."""
        content_type = handler.headers.get("Content-Type", "")
        message = BytesParser(policy=email_policy).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields: dict[str, str] = {}
        data = None
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name == "file":
                    data = part.get_payload(decode=True)
                elif name:
                    fields[str(name)] = part.get_content().strip() if part.get_content_maintype() == "text" \
                        else (part.get_payload(decode=True) or b"").decode()
        with self.lock:
            self.upload_posts += 1
            upload = self.uploads.get(int(path.rsplit("/", 1)[-1]) if path.rsplit("/", 1)[-1].isdigit() else -1)
            expected_key = upload and f"tmp/{path.rsplit('/', 1)[-1]}/{upload['filename']}"
            if upload is None or data is None or fields.get("key") != expected_key:
                self._reply(handler, 400, b"<Error><Code>InvalidArgument</Code></Error>", "application/xml")
                return
            upload["data"], upload["fields"] = data, fields
        self._reply(handler, 201, b"<PostResponse></PostResponse>", "application/xml")

    def _graphql(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self.lock:
            self.requests += 1
            failure = self._failures.pop(0) if self._failures else None
            if failure is not None:
                self.injected_failures += 1
            token_ok = handler.headers.get("X-Shopify-Access-Token") == self.token and not self.revoked
            if not token_ok:
                self.auth_failures += 1
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            self._json(handler, failure.status, {"errors": "Internal error" if failure.status >= 500
                                                 else "Exceeded 2 calls per second for api client"}, headers)
            return
        if not token_ok:
            self._json(handler, 401, INVALID_TOKEN_BODY)
            return
        try:
            request = json.loads(body)
            name = str(request["operationName"])
            variables = dict(request.get("variables") or {})
        except (ValueError, KeyError, TypeError):
            self._json(handler, 400, {"errors": [{"message": "Bad request: send query, variables, operationName"}]})
            return
        resolver = RESOLVERS.get(name)
        if resolver is None:
            self._json(handler, 200, {"errors": [{"message": f"fake store: unknown operation {name}",
                                                  "extensions": {"code": "BAD_REQUEST"}}]})
            return
        requested = requested_cost(name, variables)
        with self.lock:  # the answer is computed under the lock and written after it
            self.operations[name] += 1
            answer = self._resolve(name, resolver, variables, requested)
            if self._revoke_after == (name, self.operations[name]):
                self.revoked = True
        self._json(handler, 200, answer)

    def _resolve(self, name: str, resolver: Any, variables: dict, requested: float) -> dict:
        if requested > self.bucket.maximum:
            return {"errors": [{"message": f"Query cost is {requested:.0f}, which exceeds the single query max "
                                f"cost limit ({self.bucket.maximum:.0f}).", "extensions": {
                                    "code": "MAX_COST_EXCEEDED", "cost": requested,
                                    "maxCost": self.bucket.maximum}}]}
        if not self.bucket.take(requested):
            self.throttled += 1
            return {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": self._cost(requested, None)}
        try:
            data, requested, actual = resolver(self, variables)
        except (GraphQLError, ValueError) as exc:
            self.bucket.give_back(requested - 1)
            code = exc.code if isinstance(exc, GraphQLError) else "BAD_REQUEST"
            return {"errors": [{"message": str(exc), "extensions": {"code": code}}],
                    "extensions": self._cost(requested, 1)}
        self.bucket.give_back(requested - actual)
        return {"data": data, "extensions": self._cost(requested, actual)}

    def _cost(self, requested: float, actual: float | None) -> dict:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": self.bucket.status()}}
