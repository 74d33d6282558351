"""Apply Alembic migrations at start-up (and from `berth migrate`).

Alembic (with Mako and Pygments behind it) is imported only when a migration runs: it is about
10 MB of a process's memory, and `berth serve` runs migrations in a short-lived child process,
so no serving process ever holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from berth.storage.metadata.urls import sync_url

if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config(connection: sa.Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()
