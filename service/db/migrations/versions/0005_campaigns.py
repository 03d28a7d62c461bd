"""Seasonal campaigns: campaigns (a theme on a store's published photos from a start to an end, worked by a
runner from the database) and campaign_items (each image: applied, reverted, failed or skipped).

Revision ID: 0005
Revises: 0004
Create Date: 2025-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Types spelled out, as in 0001-0004, so this migration stays as written when the models change.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("key_id", sa.String(26), sa.ForeignKey("api_keys.id", name="fk_campaigns_key_id"), nullable=False),
        sa.Column("store_id", sa.String(26),
                  sa.ForeignKey("store_connections.id", name="fk_campaigns_store_id"), nullable=False),
        sa.Column("theme", sa.String(64), nullable=False),
        sa.Column("selection", sa.JSON, nullable=False),
        sa.Column("starts_at", Timestamp, nullable=False),
        sa.Column("ends_at", Timestamp, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", Timestamp, nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("applied_at", Timestamp, nullable=True),
        sa.Column("reverted_at", Timestamp, nullable=True),
        sa.Column("cancelled_at", Timestamp, nullable=True),
    )
    op.create_index("ix_campaigns_due", "campaigns", ["state", "due_at"])
    op.create_table(
        "campaign_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(26),
                  sa.ForeignKey("campaigns.id", name="fk_campaign_items_campaign_id"), nullable=False),
        sa.Column("sync_item_id", sa.Integer,
                  sa.ForeignKey("sync_items.id", name="fk_campaign_items_sync_item_id"), nullable=True),
        sa.Column("product_id", sa.String(100), nullable=False),
        sa.Column("handle", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("themed_digest", sa.String(64), nullable=True),
        sa.Column("evergreen_digest", sa.String(64), nullable=True),
        sa.Column("themed_media_id", sa.String(100), nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_campaign_items_campaign", "campaign_items", ["campaign_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_items_campaign", "campaign_items")
    op.drop_table("campaign_items")
    op.drop_index("ix_campaigns_due", "campaigns")
    op.drop_table("campaigns")
