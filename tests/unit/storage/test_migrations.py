"""Alembic's migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from berth.storage.metadata.migrate import alembic_config, upgrade
from berth.storage.metadata.schema import metadata
from berth.storage.metadata.urls import sync_url


def test_migrations_match_the_schema(database_url: str) -> None:
    upgrade(database_url)
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert (
                context.get_current_revision()
                == ScriptDirectory.from_config(alembic_config(conn)).get_current_head()
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
