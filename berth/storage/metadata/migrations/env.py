"""Alembic environment: Berth always passes an open connection (see `migrate.py`)."""

from __future__ import annotations

from alembic import context

from berth.storage.metadata.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
