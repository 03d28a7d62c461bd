"""Artifacts remember the item version that produced them, so `GET /v1/items/{id}/result?v=N` serves version N
(or answers 404) instead of the newest image under a cache-forever header; a job keeps why its webhook failed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows written before this migration have no version (their older versions cannot be served).
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("webhook_error", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("webhook_error")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_column("version")
