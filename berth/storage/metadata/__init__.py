"""Metadata in SQL (SQLAlchemy Core): SQLite by default, PostgreSQL for scale-out."""
