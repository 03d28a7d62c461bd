"""Persistence: SQLAlchemy models (schema), the database handle and migrations (connection), queries (repo)."""

from service.db.connection import Database, DatabaseError, open_database

__all__ = ["Database", "DatabaseError", "open_database"]
