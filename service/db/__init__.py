"""Persistence: SQLAlchemy models (schema), the database handle and migrations (connection), queries (repo)."""

from service.db.connection import (
    Database,
    DatabaseError,
    Migration,
    SchemaNotCurrentError,
    head_revision,
    migrate_database,
    open_database,
    schema_revision,
)

__all__ = [
    "Database", "DatabaseError", "Migration", "SchemaNotCurrentError", "head_revision", "migrate_database",
    "open_database", "schema_revision",
]
