"""The pull path's cache on SQLite: a tag moved or an image deleted by another process (another
store on the same file) is seen by the very next pull."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from berth.domain import media_types as mt
from berth.domain.scope import Scope
from berth.errors import ManifestNotFound, RepositoryNotFound
from berth.services.registry import Registry
from berth.storage.blobs.filesystem import FilesystemBlobStore
from berth.storage.metadata import migrate
from berth.storage.metadata.lifecycle import SqlLifecycleStore
from berth.storage.metadata.store import SqlMetadataStore

SCOPE = Scope("000000000000", "us-east-1")
REPO = "cache/app"


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _push(registry: Registry, tag: str, layer: bytes) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux", "layer": _digest(layer)}).encode()
    for blob in (layer, config):
        await registry.uploads.upload_blob(SCOPE, REPO, _digest(blob), _body(blob), len(blob))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    result = await registry.images.put_image(SCOPE, REPO, tag, manifest, mt.OCI_MANIFEST)
    return result.digest


@contextlib.asynccontextmanager
async def two_processes(root: Path) -> AsyncIterator[tuple[Registry, Registry]]:
    """The services of two processes on one SQLite database: one reads, one writes."""
    url = f"sqlite:///{root / 'berth.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    stores = [SqlMetadataStore(url), SqlMetadataStore(url)]
    blobs = FilesystemBlobStore(root)
    reader, writer = (
        Registry.build(store, blobs, SqlLifecycleStore(store), create_on_push=True)
        for store in stores
    )
    try:
        yield reader, writer
    finally:
        for store in stores:
            await store.close()


def test_a_pull_sees_what_another_process_committed(tmp_path: Path) -> None:
    async def run() -> None:
        async with two_processes(tmp_path) as (reader, writer):
            first = await _push(writer, "latest", b"one")
            for _ in range(3):  # served from the cache after the first
                assert (await reader.images.get_image(SCOPE, REPO, "latest")).digest == first
            second = await _push(writer, "latest", b"two")
            assert (await reader.images.get_image(SCOPE, REPO, "latest")).digest == second
            await writer.images.delete_image(SCOPE, REPO, second)
            with pytest.raises(ManifestNotFound):
                await reader.images.get_image(SCOPE, REPO, "latest")
            assert (await reader.images.get_image(SCOPE, REPO, first)).digest == first

    asyncio.run(run())


def test_a_repository_changed_by_another_process_is_seen_at_once(tmp_path: Path) -> None:
    """Repositories are kept until a transaction that may change one ends; other commits (every
    blob pushed) leave them cached."""

    async def run() -> None:
        async with two_processes(tmp_path) as (reader, writer):
            await _push(writer, "latest", b"one")
            first = await reader.repositories.get(SCOPE, REPO)
            await _push(writer, "other", b"two")  # commits that leave repositories alone
            assert await reader.repositories.get(SCOPE, REPO) is first  # still cached
            await writer.repositories.put_image_tag_mutability(SCOPE, REPO, "IMMUTABLE", [])
            changed = await reader.repositories.get(SCOPE, REPO)
            assert changed.settings.image_tag_mutability == "IMMUTABLE"
            await writer.repositories.delete_repository(SCOPE, REPO, force=True)
            with pytest.raises(RepositoryNotFound):
                await reader.repositories.get(SCOPE, REPO)
            # Created again under the same name: a new id and creation time, not the old ones.
            await _push(writer, "latest", b"three")
            again = await reader.repositories.get(SCOPE, REPO)
            assert (again.id, again.created_at) != (first.id, first.created_at)
            upload = await reader.uploads.initiate_layer_upload(SCOPE, REPO)
            assert (await writer.uploads.get_upload_status(SCOPE, REPO, upload.id)).offset == 0

    asyncio.run(run())
