"""Each API key gets its own webhook signing secret, sealed (service.store.secrets), and keeps the one a rotation
replaced for a grace period. Existing keys get none: they sign with the legacy secret (the key's hash) until
rotated.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("webhook_secret_sealed", sa.Text, nullable=True))
        batch.add_column(sa.Column("previous_secret_sealed", sa.Text, nullable=True))
        batch.add_column(sa.Column("previous_secret_valid_until", Timestamp, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("previous_secret_valid_until")
        batch.drop_column("previous_secret_sealed")
        batch.drop_column("webhook_secret_sealed")
