"""Connected stores: store_connections (a Shopify shop per API key, its access token sealed).

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Types spelled out, as in 0001, so this migration stays as written when the models change.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "store_connections",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("key_id", sa.String(26), sa.ForeignKey("api_keys.id", name="fk_store_connections_key_id"),
                  nullable=False),
        sa.Column("shop_domain", sa.String(255), nullable=False),
        sa.Column("api_url", sa.Text, nullable=True),
        sa.Column("token_sealed", sa.Text, nullable=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("connected_at", Timestamp, nullable=False),
        sa.Column("disconnected_at", Timestamp, nullable=True),
        sa.UniqueConstraint("key_id", "shop_domain", name="uq_store_connections_key_shop"),
    )


def downgrade() -> None:
    op.drop_table("store_connections")
