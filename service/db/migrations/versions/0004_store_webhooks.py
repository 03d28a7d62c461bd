"""Store webhooks: store_webhooks (each delivery, recorded once, worked off in the background) and, on
store_connections, the app's webhook secret (sealed), auto_process and the default look.

Revision ID: 0004
Revises: 0003
Create Date: 2025-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Types spelled out, as in 0001-0003, so this migration stays as written when the models change.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("store_connections") as batch:
        batch.add_column(sa.Column("webhook_secret_sealed", sa.Text, nullable=True))
        batch.add_column(sa.Column("auto_process", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("default_look", sa.JSON, nullable=True))
    op.create_table(
        "store_webhooks",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("store_id", sa.String(26),
                  sa.ForeignKey("store_connections.id", name="fk_store_webhooks_store_id"), nullable=False),
        sa.Column("webhook_id", sa.String(100), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("api_version", sa.String(20), nullable=False),
        sa.Column("triggered_at", Timestamp, nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("product", sa.JSON, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("sync_id", sa.String(26), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", Timestamp, nullable=True),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.UniqueConstraint("store_id", "webhook_id", name="uq_store_webhooks_store_webhook"),
    )
    op.create_index("ix_store_webhooks_state_received", "store_webhooks", ["state", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_store_webhooks_state_received", "store_webhooks")
    op.drop_table("store_webhooks")
    with op.batch_alter_table("store_connections") as batch:
        batch.drop_column("default_look")
        batch.drop_column("auto_process")
        batch.drop_column("webhook_secret_sealed")
