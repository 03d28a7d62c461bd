"""Initial schema: api_keys, jobs, items, artifacts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Column types are spelled out here (not imported from service.db.schema) so this migration stays as written
# when the models change later. UTC timestamps: service.db.schema.UTCDateTime is DateTime(timezone=True).
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("store", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(8), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("key_id", sa.String(26), sa.ForeignKey("api_keys.id", name="fk_jobs_key_id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("render", sa.JSON, nullable=False),
        sa.Column("original_render", sa.JSON, nullable=False),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("webhook_state", sa.String(16), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_jobs_key_created", "jobs", ["key_id", "created_at"])

    op.create_table(
        "items",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("key_id", sa.String(26), sa.ForeignKey("api_keys.id", name="fk_items_key_id"), nullable=False),
        sa.Column("job_id", sa.String(26), sa.ForeignKey("jobs.id", name="fk_items_job_id"), nullable=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("source_url", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", Timestamp, nullable=True),
        sa.Column("render", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_items_state_created", "items", ["state", "created_at"])
    op.create_index("ix_items_job_position", "items", ["job_id", "position"])
    op.create_index("ix_items_key", "items", ["key_id"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(26), sa.ForeignKey("items.id", name="fk_artifacts_item_id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_artifacts_item_kind", "artifacts", ["item_id", "kind", "id"])


def downgrade() -> None:
    op.drop_table("artifacts")
    op.drop_table("items")
    op.drop_table("jobs")
    op.drop_table("api_keys")
