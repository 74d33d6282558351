"""Writes into a repository deleted after the request read it (a push racing a
DeleteRepository): RepositoryNotFound, not the foreign key's IntegrityError (a 500), and nothing
placed or linked; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from berth.errors import RepositoryNotFound
from berth.storage.metadata.migrate import upgrade
from berth.storage.metadata.store import SqlMetadataStore
from tests.unit.storage.builders import bare_manifest

ACCOUNT, REGION = "000000000000", "us-east-1"
BLOB = "sha256:" + "b" * 64


async def scenario(url: str) -> None:
    metadata = SqlMetadataStore(url)
    try:
        stays = await metadata.ensure_repository(ACCOUNT, REGION, "stays")
        await metadata.store_blob(stays.id, BLOB, 3, lambda: None)
        gone = await metadata.ensure_repository(ACCOUNT, REGION, "gone")
        await metadata.delete_repository(gone.id, force=True)

        placed: list[str] = []
        with pytest.raises(RepositoryNotFound):
            await metadata.store_blob(gone.id, "sha256:" + "c" * 64, 3, lambda: placed.append("c"))
        assert placed == []  # the bytes are not put down for a repository that is gone
        with pytest.raises(RepositoryNotFound):
            await metadata.link_existing_blob(gone.id, BLOB)
        with pytest.raises(RepositoryNotFound):
            await metadata.put_manifest(gone.id, bare_manifest("sha256:" + "d" * 64), ["latest"])

        # The repository that exists takes the same writes.
        assert await metadata.link_existing_blob(stays.id, BLOB) == 3
        assert await metadata.put_manifest(
            stays.id, bare_manifest("sha256:" + "d" * 64), ["latest"]
        )
    finally:
        await metadata.close()


def test_writes_into_a_deleted_repository_are_repository_not_found(database_url: str) -> None:
    upgrade(database_url)
    asyncio.run(scenario(database_url))
