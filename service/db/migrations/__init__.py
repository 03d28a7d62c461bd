"""Alembic migrations, applied in-process by service.db.connection.open_database (a package so they ship as code)."""
