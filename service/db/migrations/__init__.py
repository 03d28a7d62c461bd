"""Alembic migrations, applied in-process by service.db.engine.open_database (a package so they ship as code)."""
