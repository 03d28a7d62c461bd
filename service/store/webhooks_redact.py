"""shop/redact: Shopify asks us (48 h after the app was uninstalled) to delete what we hold of a shop.

For one connection: its syncs and sync items, the jobs those syncs ran with their items and artifact rows, the
saved originals and cut results in the artifact store (a blob still used by another row — the same photo
uploaded by another key — stays), the recorded webhooks, and the connection itself with its sealed token and
webhook secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, exists, select

from service.db import Database
from service.db.schema import (
    Artifact,
    Campaign,
    CampaignItem,
    Item,
    Job,
    StoreConnection,
    StoreWebhook,
    Sync,
    SyncItem,
)
from service.engine.blobstore import ArtifactBackend, is_digest

log = logging.getLogger("promptcut.store.webhooks")


@dataclass(frozen=True)
class Redacted:
    shop_domain: str
    syncs: int
    items: int
    blobs: int


def redact_store(database: Database, blobs: ArtifactBackend, store_id: str) -> Redacted:
    """Delete everything of connection `store_id` (see the module's docstring); nothing when it is gone."""
    with database.session() as db:
        store = db.get(StoreConnection, store_id)
        if store is None:
            return Redacted("", 0, 0, 0)
        domain = store.shop_domain
        sync_ids = list(db.scalars(select(Sync.id).where(Sync.store_id == store_id)))
        job_ids = [job_id for job_id in db.scalars(select(Sync.job_id).where(Sync.store_id == store_id)) if job_id]
        item_ids = list(db.scalars(select(Item.id).where(Item.job_id.in_(job_ids))))
        digests = set(db.scalars(select(SyncItem.source_digest).where(SyncItem.sync_id.in_(sync_ids))))
        digests |= set(db.scalars(select(Artifact.digest).where(Artifact.item_id.in_(item_ids))))
        campaign_ids = list(db.scalars(select(Campaign.id).where(Campaign.store_id == store_id)))
        digests |= set(db.scalars(select(CampaignItem.themed_digest).where(CampaignItem.campaign_id.in_(campaign_ids))))
        db.execute(delete(CampaignItem).where(CampaignItem.campaign_id.in_(campaign_ids)))
        db.execute(delete(Campaign).where(Campaign.id.in_(campaign_ids)))
        db.execute(delete(SyncItem).where(SyncItem.sync_id.in_(sync_ids)))
        db.execute(delete(Sync).where(Sync.id.in_(sync_ids)))
        db.execute(delete(Artifact).where(Artifact.item_id.in_(item_ids)))
        db.execute(delete(Item).where(Item.id.in_(item_ids)))
        db.execute(delete(Job).where(Job.id.in_(job_ids)))
        db.execute(delete(StoreWebhook).where(StoreWebhook.store_id == store_id))
        db.execute(delete(StoreConnection).where(StoreConnection.id == store_id))
    removed = 0
    for digest in sorted(digest for digest in digests if is_digest(digest)):
        if _still_used(database, digest):
            continue
        if blobs.delete(digest):
            removed += 1
    log.info("shop/redact: deleted store %s (%s): %d sync(s), %d item(s), %d blob(s)", store_id, domain,
             len(sync_ids), len(item_ids), removed)
    return Redacted(domain, len(sync_ids), len(item_ids), removed)


def _still_used(database: Database, digest: str) -> bool:
    with database.session() as db:
        return bool(db.scalar(select(exists().where(Artifact.digest == digest)))
                    or db.scalar(select(exists().where(SyncItem.source_digest == digest))))
