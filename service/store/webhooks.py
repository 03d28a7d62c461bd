"""Webhooks from a connected store: check a delivery's signature, refuse replays, record it once.

    receive_webhook   the raw body's HMAC (X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 with the app's client
                      secret) is compared in constant time with each secret set for the shop, BEFORE the body
                      is parsed; then the delivery's age (X-Shopify-Triggered-At) is checked, a webhook id
                      already recorded is answered as a duplicate, and the delivery is recorded: queued for the
                      background runner (products/create, products/update, shop/redact), or done at once
                      (customers/data_request, customers/redact: we hold no customer data).

Only what processing needs is kept from a body: a product's id and image URLs. A forged, unsigned or replayed
delivery leaves no row behind.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fusion.errors import PromptcutError
from service.db import Database
from service.db.schema import StoreConnection, StoreWebhook, utcnow
from service.store.secrets import SecretBox, SecretKeyError

log = logging.getLogger("promptcut.store.webhooks")

PRODUCT_TOPICS = ("products/create", "products/update")
PRIVACY_TOPICS = ("customers/data_request", "customers/redact")
REDACT_TOPIC = "shop/redact"
QUEUED_TOPICS = (*PRODUCT_TOPICS, REDACT_TOPIC)
FUTURE_SKEW = timedelta(minutes=5)  # a trigger time this far ahead of our clock is not believed
NO_CUSTOMER_DATA = "promptcut holds no customer data: nothing to report or delete"


class WebhookAuthError(PromptcutError):
    """No signature, or none of the shop's webhook secrets signed this body."""

    code = "webhook_unauthorized"


class WebhookRequestError(PromptcutError):
    """A signed delivery that is malformed (a header missing, a body that is not JSON)."""

    code = "webhook_invalid"


class WebhookReplayError(PromptcutError):
    """A signed delivery triggered too long ago (or in the future): a replay, refused."""

    code = "webhook_too_old"


@dataclass(frozen=True)
class WebhookHeaders:
    """The X-Shopify-* headers of one delivery, as sent ("" when absent)."""

    topic: str
    shop_domain: str
    hmac_sha256: str
    webhook_id: str
    api_version: str
    triggered_at: str

    @classmethod
    def from_mapping(cls, headers: Mapping[str, str]) -> "WebhookHeaders":
        def get(name: str) -> str:
            return str(headers.get(name) or "").strip()

        return cls(topic=get("x-shopify-topic").lower(), shop_domain=get("x-shopify-shop-domain").lower(),
                   hmac_sha256=get("x-shopify-hmac-sha256"), webhook_id=get("x-shopify-webhook-id"),
                   api_version=get("x-shopify-api-version"), triggered_at=get("x-shopify-triggered-at"))


@dataclass(frozen=True)
class WebhookRules:
    """settings.store_webhook_max_age, in seconds."""

    max_age: int = 48 * 3600


@dataclass(frozen=True)
class Receipt:
    """What the endpoint answers: the delivery's id and state; `duplicate` when it was already recorded."""

    id: str
    topic: str
    state: str
    duplicate: bool = False


def signature(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256 for `body`: base64 of HMAC-SHA256 keyed with the app's client secret."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def secret_context(connection_id: str) -> str:
    return f"store_connections.webhook_secret_sealed:{connection_id}"


def verified_store(database: Database, box: SecretBox, headers: WebhookHeaders, body: bytes) -> str:
    """The id of the connection whose webhook secret signed `body`; WebhookAuthError otherwise. Every secret
    set for the shop is tried, each compared in constant time; nothing of the body is read as data."""
    if not headers.hmac_sha256 or not headers.shop_domain:
        raise WebhookAuthError("the delivery is not signed (X-Shopify-Hmac-Sha256, X-Shopify-Shop-Domain)")
    with database.session() as db:
        rows = db.execute(select(StoreConnection.id, StoreConnection.webhook_secret_sealed)
                          .where(StoreConnection.shop_domain == headers.shop_domain,
                                 StoreConnection.webhook_secret_sealed.is_not(None))
                          .order_by(StoreConnection.connected_at, StoreConnection.id)).all()
    given = headers.hmac_sha256.encode("ascii", "replace")
    for connection_id, sealed in rows:
        try:
            secret = box.open(sealed, secret_context(connection_id))
        except SecretKeyError as exc:
            log.warning("store %s: its webhook secret cannot be read: %s", connection_id, exc)
            continue
        if hmac.compare_digest(signature(secret, body).encode("ascii"), given):
            return connection_id
    raise WebhookAuthError("the delivery's signature does not match (wrong or no webhook secret for the shop)")


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_triggered_at(value: str) -> datetime:
    """X-Shopify-Triggered-At (ISO 8601, Shopify sends nanoseconds and a Z) → an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRequestError(f"X-Shopify-Triggered-At {value[:40]!r} is not a time") from None
    if parsed.tzinfo is None:
        raise WebhookRequestError("X-Shopify-Triggered-At has no time zone")
    return parsed.astimezone(timezone.utc)


def check_age(triggered_at: datetime, now: datetime, rules: WebhookRules) -> None:
    age = now - triggered_at
    if age > timedelta(seconds=rules.max_age):
        raise WebhookReplayError(f"the delivery was triggered {age.total_seconds() / 3600:.1f} h ago, more than "
                                 f"the {rules.max_age} s accepted (PROMPTCUT_STORE_WEBHOOK_MAX_AGE): refused")
    if -age > FUTURE_SKEW:
        raise WebhookReplayError("the delivery's trigger time is in the future: refused")


def product_gist(payload: Any) -> dict[str, Any]:
    """From a products/* body, only what processing needs: the product's gid and its image URLs in order."""
    if not isinstance(payload, Mapping):
        raise WebhookRequestError("the product webhook's body is not a JSON object")
    gid = str(payload.get("admin_graphql_api_id") or "")
    if not gid and str(payload.get("id") or "").isdigit():
        gid = f"gid://shopify/Product/{payload['id']}"
    if not gid.startswith("gid://shopify/Product/"):
        raise WebhookRequestError("the product webhook's body names no product")
    images = [image for image in payload.get("images") or () if isinstance(image, Mapping) and image.get("src")]
    images.sort(key=lambda image: int(image.get("position") or 0))
    return {"id": gid, "images": [str(image["src"]) for image in images]}


def receive_webhook(database: Database, box: SecretBox, headers: WebhookHeaders, body: bytes, *,
                    rules: WebhookRules = WebhookRules(), now: datetime | None = None) -> Receipt:
    """Verify, then record one delivery (see the module's docstring). Raises WebhookAuthError (nothing read,
    nothing recorded), WebhookReplayError or WebhookRequestError (nothing recorded)."""
    store_id = verified_store(database, box, headers, body)
    if not headers.webhook_id or not headers.topic:
        raise WebhookRequestError("X-Shopify-Webhook-Id and X-Shopify-Topic are required")
    triggered_at = parse_triggered_at(headers.triggered_at)
    check_age(triggered_at, now or utcnow(), rules)
    known = _recorded(database, store_id, headers.webhook_id)
    if known is not None:
        return known
    product = None
    if headers.topic in PRODUCT_TOPICS:
        try:
            product = product_gist(json.loads(body))
        except ValueError:
            raise WebhookRequestError("the product webhook's body is not JSON") from None
    if headers.topic in QUEUED_TOPICS:
        state, reason = "queued", None
    elif headers.topic in PRIVACY_TOPICS:
        state, reason = "done", NO_CUSTOMER_DATA
    else:
        state, reason = "ignored", f"promptcut does not act on {headers.topic}"
    row = StoreWebhook(store_id=store_id, webhook_id=headers.webhook_id[:100], topic=headers.topic[:64],
                       api_version=headers.api_version[:20], triggered_at=triggered_at, product=product,
                       state=state, reason=reason, finished_at=None if state == "queued" else utcnow())
    try:
        with database.session() as db:
            db.add(row)
            db.flush()
            return Receipt(row.id, row.topic, row.state)
    except IntegrityError:  # the same delivery, recorded by a concurrent request meanwhile
        known = _recorded(database, store_id, headers.webhook_id)
        if known is None:
            raise
        return known


def _recorded(database: Database, store_id: str, webhook_id: str) -> Receipt | None:
    with database.session() as db:
        row = db.scalar(select(StoreWebhook).where(StoreWebhook.store_id == store_id,
                                                   StoreWebhook.webhook_id == webhook_id[:100]))
        return Receipt(row.id, row.topic, row.state, duplicate=True) if row is not None else None
