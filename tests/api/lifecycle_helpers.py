"""Time travel for lifecycle and garbage collection tests: age rows in the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from berth.storage.metadata.schema import manifests, repositories, repository_blobs, uploads
from berth.storage.metadata.urls import sync_url


def _engine(database_url: str) -> sa.Engine:
    return sa.create_engine(sync_url(database_url))


def age_image(database_url: str, repository: str, digest: str, days: float) -> None:
    """Make an image look pushed `days` ago."""
    engine = _engine(database_url)
    try:
        with engine.begin() as conn:
            repo_id = conn.execute(
                sa.select(repositories.c.id).where(repositories.c.name == repository)
            ).scalar_one()
            changed = conn.execute(
                sa.update(manifests)
                .where(manifests.c.repository_id == repo_id, manifests.c.digest == digest)
                .values(pushed_at=datetime.now(UTC) - timedelta(days=days))
            ).rowcount
            assert changed == 1, f"no image {digest} in {repository}"
    finally:
        engine.dispose()


def age_everything(database_url: str, hours: float) -> None:
    """Make every blob link and upload look `hours` old (for a garbage collection grace)."""
    engine = _engine(database_url)
    then = datetime.now(UTC) - timedelta(hours=hours)
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(repository_blobs).values(created_at=then))
            conn.execute(sa.update(uploads).values(updated_at=then))
            conn.execute(sa.update(manifests).values(pushed_at=then))
    finally:
        engine.dispose()
