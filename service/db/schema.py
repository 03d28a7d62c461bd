"""SQLAlchemy models: API keys, jobs, items, the artifacts stored for each item, connected stores, their
syncs (photos written back to a store, with what each replaced), the webhooks they send us and seasonal
campaigns (a theme on published photos for a while).

Ids are 26-character random url-safe strings (not sequential, so not guessable). Timestamps are timezone-aware
UTC datetimes on every backend. The tables themselves are created by the alembic migrations, not by
`Base.metadata.create_all`.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 26
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"  # url-safe: 26 chars carry 156 random bits

ITEM_STATES = ("queued", "running", "done", "failed")
JOB_STATES = ("queued", "running", "done", "failed")


def new_id() -> str:
    # The first character is alphanumeric: an id starting with "-" reads as an option on a command line
    # (`promptcut keys revoke -Xy…` failed about once in 64 keys).
    first = secrets.choice(string.ascii_letters + string.digits)
    return first + "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH - 1))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out. SQLite keeps no offset, so values are stored there as naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    store: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(8), index=True)  # first 8 chars of the key: narrows the lookup
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the whole key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The webhook signing secret, sealed by service.store.secrets (bound to this key's id); None for keys made
    # before it existed, which sign with the legacy secret key_hash until rotated (service.jobs.webhook_secrets).
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The secret it replaced, still signing next to it until previous_secret_valid_until (a rotation's grace).
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_key_created", "key_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    render: Mapped[dict[str, Any]] = mapped_column(JSON)
    original_render: Mapped[dict[str, Any]] = mapped_column(JSON)  # the render at creation: "back to original"
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_state: Mapped[str | None] = mapped_column(String(16), nullable=True)  # sending | sent | failed
    webhook_error: Mapped[str | None] = mapped_column(String(300), nullable=True)  # why it failed (host only)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_state_created", "state", "created_at"),
        Index("ix_items_job_position", "job_id", "position"),
        Index("ix_items_key", "key_id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)  # None: a single cutout
    position: Mapped[int] = mapped_column(Integer, default=0)
    ref: Mapped[str] = mapped_column(Text, default="")  # the seller's SKU / file name: display only
    title: Mapped[str] = mapped_column(Text, default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    render: Mapped[dict[str, Any]] = mapped_column(JSON)
    # `metadata` is reserved by SQLAlchemy's declarative base, hence the attribute name `meta`.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)  # +1 per new result; 0 = no result yet
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Artifact(Base):
    """One stored blob of an item. The current artifact of a kind is the newest row (highest id)."""

    __tablename__ = "artifacts"
    __table_args__ = (Index("ix_artifacts_item_kind", "item_id", "kind", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    kind: Mapped[str] = mapped_column(String(32))  # original | evidence | alpha | foreground | layer | output ...
    digest: Mapped[str] = mapped_column(String(64))  # sha256 hex: the ArtifactStore address
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The item version that produced it (None: written before versions were recorded).
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StoreConnection(Base):
    """A Shopify shop connected to an API key. One row per (key, shop): connecting again replaces the token.
    Disconnecting deletes the token (the row stays, so later records can still name the store)."""

    __tablename__ = "store_connections"
    __table_args__ = (UniqueConstraint("key_id", "shop_domain", name="uq_store_connections_key_shop"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    shop_domain: Mapped[str] = mapped_column(String(255))  # name.myshopify.com
    api_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # an explicit endpoint; None → the shop's own
    # The access token sealed by service.store.secrets (AES-GCM, bound to this row's id); None once disconnected.
    token_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # granted access scopes when last connected
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The custom app's client secret (Shopify signs its webhooks with it), sealed like the token and bound to
    # this row; kept on disconnect so the shop's shop/redact can still be verified.
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    auto_process: Mapped[bool] = mapped_column(Boolean, default=False)  # webhooks cut new/changed products
    default_look: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # their look (RenderRequest)


class Sync(Base):
    """One `store sync`: a store's selected photos cut by one job (job_id) and written back. state: running →
    done | stopped (the store refused us: revoked token, unreachable) | failed; then reverting → reverted."""

    __tablename__ = "syncs"
    __table_args__ = (Index("ix_syncs_key_created", "key_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    store_id: Mapped[str] = mapped_column(ForeignKey("store_connections.id"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)  # None: nothing to cut
    state: Mapped[str] = mapped_column(String(16), default="running")
    options: Mapped[dict[str, Any]] = mapped_column(JSON)  # selection, policy, all_images, publish_all
    render: Mapped[dict[str, Any]] = mapped_column(JSON)  # the look (RenderRequest dict)
    look: Mapped[str] = mapped_column(String(64))  # marker.look_hash(render)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SyncItem(Base):
    """One image of a sync, and everything needed to put the store's original back: its bytes (original_digest,
    in the artifact store, saved before the store is changed), media id, alt text, position, variant links.
    state: planned | published | held | failed | unchanged | reverted."""

    __tablename__ = "sync_items"
    __table_args__ = (Index("ix_sync_items_sync", "sync_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sync_id: Mapped[str] = mapped_column(ForeignKey("syncs.id"))
    item_id: Mapped[str | None] = mapped_column(ForeignKey("items.id"), nullable=True)  # the job item (the cut)
    product_id: Mapped[str] = mapped_column(String(100))
    handle: Mapped[str] = mapped_column(Text, default="")
    main: Mapped[bool] = mapped_column(Boolean, default=True)  # the product's first image
    media_id: Mapped[str] = mapped_column(String(100))  # the image this item replaces
    alt: Mapped[str] = mapped_column(Text, default="")
    media_position: Mapped[int] = mapped_column(Integer)  # 0-based among all the product's media
    variant_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the store's original bytes
    source_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    replaces_ours: Mapped[str | None] = mapped_column(String(100), nullable=True)  # our earlier media, when redone
    original_kept: Mapped[bool] = mapped_column(Boolean, default=False)  # add-first: the original stays on the store
    state: Mapped[str] = mapped_column(String(16), default="planned")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_media_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    restored_media_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoreWebhook(Base):
    """One webhook delivery from a connected store, recorded once (store, webhook id) and worked off in the
    background: state queued → running → done | skipped | ignored | failed. Only what processing needs is
    kept: the product's id and image URLs (`product`), never a customer's data."""

    __tablename__ = "store_webhooks"
    __table_args__ = (
        UniqueConstraint("store_id", "webhook_id", name="uq_store_webhooks_store_webhook"),
        Index("ix_store_webhooks_state_received", "state", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    store_id: Mapped[str] = mapped_column(ForeignKey("store_connections.id"))
    webhook_id: Mapped[str] = mapped_column(String(100))  # X-Shopify-Webhook-Id
    topic: Mapped[str] = mapped_column(String(64))
    api_version: Mapped[str] = mapped_column(String(20), default="")
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    product: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {"id": gid, "images": [url…]}
    state: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    sync_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)  # the sync it ran, if any
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Campaign(Base):
    """A seasonal campaign: `theme` on a store's selected products from starts_at to ends_at (service.store
    .campaign). state: scheduled → applying → active → reverting → done; cancelled (before it started). The
    runner works a campaign when due_at has passed: starts_at, then ends_at; a claim pushes due_at one lease
    ahead (a server killed mid-way is taken over then), a store that refused pushes it a retry ahead."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_due", "state", "due_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    store_id: Mapped[str] = mapped_column(ForeignKey("store_connections.id"))
    theme: Mapped[str] = mapped_column(String(64))
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # catalogue.Selection fields given
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # None: nothing more to do
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CampaignItem(Base):
    """One published image of a campaign (the sync item that published it), or a selected product left out.
    state: pending → applied → reverted; failed (kept its evergreen photo); skipped (opted out, or not
    published by a sync). themed_digest / evergreen_digest: the bytes written at the start / the end."""

    __tablename__ = "campaign_items"
    __table_args__ = (Index("ix_campaign_items_campaign", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    sync_item_id: Mapped[int | None] = mapped_column(ForeignKey("sync_items.id"), nullable=True)
    product_id: Mapped[str] = mapped_column(String(100))
    handle: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    themed_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    evergreen_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    themed_media_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
