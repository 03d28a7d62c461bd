"""Store syncs: syncs (one write-back of a store's photos) and sync_items (each image, with its saved original).

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Types spelled out, as in 0001 and 0002, so this migration stays as written when the models change.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "syncs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("key_id", sa.String(26), sa.ForeignKey("api_keys.id", name="fk_syncs_key_id"), nullable=False),
        sa.Column("store_id", sa.String(26), sa.ForeignKey("store_connections.id", name="fk_syncs_store_id"),
                  nullable=False),
        sa.Column("job_id", sa.String(26), sa.ForeignKey("jobs.id", name="fk_syncs_job_id"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("render", sa.JSON, nullable=False),
        sa.Column("look", sa.String(64), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.Column("reverted_at", Timestamp, nullable=True),
    )
    op.create_index("ix_syncs_key_created", "syncs", ["key_id", "created_at"])
    op.create_table(
        "sync_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sync_id", sa.String(26), sa.ForeignKey("syncs.id", name="fk_sync_items_sync_id"), nullable=False),
        sa.Column("item_id", sa.String(26), sa.ForeignKey("items.id", name="fk_sync_items_item_id"), nullable=True),
        sa.Column("product_id", sa.String(100), nullable=False),
        sa.Column("handle", sa.Text, nullable=False),
        sa.Column("main", sa.Boolean, nullable=False),
        sa.Column("media_id", sa.String(100), nullable=False),
        sa.Column("alt", sa.Text, nullable=False),
        sa.Column("media_position", sa.Integer, nullable=False),
        sa.Column("variant_ids", sa.JSON, nullable=False),
        sa.Column("source_digest", sa.String(64), nullable=True),
        sa.Column("source_type", sa.String(100), nullable=True),
        sa.Column("replaces_ours", sa.String(100), nullable=True),
        sa.Column("original_kept", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("new_media_id", sa.String(100), nullable=True),
        sa.Column("restored_media_id", sa.String(100), nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_sync_items_sync", "sync_items", ["sync_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_sync_items_sync", "sync_items")
    op.drop_table("sync_items")
    op.drop_index("ix_syncs_key_created", "syncs")
    op.drop_table("syncs")
