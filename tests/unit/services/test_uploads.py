"""Upload service on a real SQLite database and blob folder: any chunking, any process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.domain.scope import Scope
from berth.errors import RepositoryNotFound, UploadNotFound, UploadRangeInvalid
from berth.services.registry import Registry
from berth.storage.blobs.filesystem import FilesystemBlobStore
from berth.storage.metadata import migrate
from berth.storage.metadata.lifecycle import SqlLifecycleStore
from berth.storage.metadata.schema import blobs as blob_rows
from berth.storage.metadata.store import SqlMetadataStore

SCOPE = Scope("000000000000", "us-east-1")
T = TypeVar("T")


async def stream(data: bytes, piece: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


async def held_back(first: bytes, gate: asyncio.Event, rest: bytes) -> AsyncIterator[bytes]:
    """A chunk's body that stops after `first` until `gate` is set: a request still coming in."""
    yield first
    await gate.wait()
    yield rest


@contextlib.asynccontextmanager
async def store(root: Path) -> AsyncIterator[tuple[SqlMetadataStore, FilesystemBlobStore]]:
    """A migrated SQLite database and a blob folder under `root`."""
    url = f"sqlite:///{root / 'berth.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    metadata = SqlMetadataStore(url)
    try:
        yield metadata, FilesystemBlobStore(root)
    finally:
        await metadata.close()


def process(metadata: SqlMetadataStore, blobs: FilesystemBlobStore) -> Registry:
    """The services of one process on the store: a fresh one is a restart, or another worker."""
    return Registry.build(metadata, blobs, SqlLifecycleStore(metadata))


def in_temp_dir(main: Callable[[Path], Awaitable[T]]) -> T:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(main(Path(tmp)))


@st.composite
def chunked_blobs(draw: st.DrawFn) -> tuple[bytes, list[int], list[bool], int]:
    data = draw(st.binary(min_size=0, max_size=4096))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=8))))
    # For each chunk: served by a fresh service (a restart, or another process) or not.
    fresh = draw(st.lists(st.booleans(), min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    piece = draw(st.integers(1, 512))
    return data, cuts, fresh, piece


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=chunked_blobs(),
    final_in_put=st.booleans(),
    algorithm=st.sampled_from(["sha256", "sha512"]),
)
def test_any_chunking_gives_the_right_digest(
    case: tuple[bytes, list[int], list[bool], int], final_in_put: bool, algorithm: str
) -> None:
    data, cuts, fresh, piece = case
    bounds = [0, *cuts, len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    digest = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"

    async def run(root: Path) -> bytes:
        async with store(root) as (metadata, blobs):
            registry = process(metadata, blobs)
            upload = await registry.uploads.initiate_layer_upload(SCOPE, "prop/test")
            offset = 0
            last = chunks.pop() if final_in_put else b""
            for chunk, restart in zip(chunks, fresh, strict=False):
                if restart:
                    registry = process(metadata, blobs)
                status = await registry.uploads.upload_layer_part(
                    SCOPE,
                    "prop/test",
                    upload.id,
                    stream(chunk, piece),
                    start=offset,
                    length=len(chunk),
                )
                offset += len(chunk)
                assert status.offset == offset
            if fresh[-1]:
                registry = process(metadata, blobs)
            done = await registry.uploads.complete_layer_upload(
                SCOPE,
                "prop/test",
                upload.id,
                digest,
                stream(last, piece),
                start=offset,
                length=len(last),
            )
            assert done == digest
            layer = await registry.blobs.get_layer(SCOPE, "prop/test", digest)
            return layer.path.read_bytes()

    assert in_temp_dir(run) == data


def test_a_chunk_in_flight_elsewhere_keeps_the_upload_from_completing() -> None:
    """Two processes (two registries) on one upload: while one is still receiving a chunk, the
    other may not complete the upload. It did, and the first one's bytes, written to the same
    file after its rename, changed the stored blob under its digest."""
    name = "race/test"

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            one = process(metadata, blobs)
            other = process(metadata, blobs)
            upload = await one.uploads.initiate_layer_upload(SCOPE, name)
            await one.uploads.upload_layer_part(
                SCOPE, name, upload.id, stream(b"hello", 5), start=0, length=None
            )
            gate = asyncio.Event()
            chunk = asyncio.ensure_future(
                one.uploads.upload_layer_part(
                    SCOPE,
                    name,
                    upload.id,
                    held_back(b" more", gate, b" bytes"),
                    start=5,
                    length=None,
                )
            )
            await asyncio.sleep(0.05)  # the chunk has started and waits for the rest
            hello = "sha256:" + hashlib.sha256(b"hello").hexdigest()
            with pytest.raises(UploadRangeInvalid):
                await other.uploads.complete_layer_upload(
                    SCOPE, name, upload.id, hello, stream(b"", 1), start=5, length=0
                )
            gate.set()
            assert (await chunk).offset == len(b"hello more bytes")
            assert not blobs.blob_path(hello).exists()
            whole = b"hello more bytes"
            digest = "sha256:" + hashlib.sha256(whole).hexdigest()
            await other.uploads.complete_layer_upload(
                SCOPE, name, upload.id, digest, stream(b"", 1), start=len(whole), length=0
            )
            layer = await one.blobs.get_layer(SCOPE, name, digest)
            assert layer.path.read_bytes() == whole

    in_temp_dir(run)


def test_an_upload_has_no_row_until_its_first_bytes_and_belongs_to_its_repository() -> None:
    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            registry = process(metadata, blobs)
            uploads = registry.uploads
            await uploads.initiate_layer_upload(SCOPE, "other/repo")
            upload = await uploads.initiate_layer_upload(SCOPE, "rowless/test")
            assert await metadata.get_upload(upload.id) is None
            assert (await uploads.get_upload_status(SCOPE, "rowless/test", upload.id)).offset == 0
            # Another repository does not know it, with or without a row.
            with pytest.raises(UploadNotFound):
                await uploads.get_upload_status(SCOPE, "other/repo", upload.id)
            with pytest.raises(UploadNotFound):
                await uploads.upload_layer_part(
                    SCOPE, "other/repo", upload.id, stream(b"x", 1), start=0, length=1
                )
            await uploads.upload_layer_part(
                SCOPE, "rowless/test", upload.id, stream(b"abc", 2), start=0, length=3
            )
            row = await metadata.get_upload(upload.id)
            assert row is not None and row.offset == 3
            with pytest.raises(UploadNotFound):
                await uploads.get_upload_status(SCOPE, "other/repo", upload.id)
            # Cancelled before any bytes: the file goes and the id is unknown from then on.
            empty = await uploads.initiate_layer_upload(SCOPE, "rowless/test")
            await uploads.cancel_upload(SCOPE, "rowless/test", empty.id)
            assert not blobs.has_upload(empty.id)
            with pytest.raises(UploadNotFound):
                await uploads.get_upload_status(SCOPE, "rowless/test", empty.id)
            # Completed with no PATCH at all (POST, then PUT with the bytes).
            whole = await uploads.initiate_layer_upload(SCOPE, "rowless/test")
            digest = "sha256:" + hashlib.sha256(b"one go").hexdigest()
            await uploads.complete_layer_upload(
                SCOPE, "rowless/test", whole.id, digest, stream(b"one go", 4), start=0, length=6
            )
            layer = await registry.blobs.get_layer(SCOPE, "rowless/test", digest)
            assert layer.path.read_bytes() == b"one go"
            assert await metadata.get_upload(whole.id) is None
            with pytest.raises(UploadNotFound):
                await uploads.get_upload_status(SCOPE, "rowless/test", whole.id)

    in_temp_dir(run)


def test_a_first_chunk_into_a_repository_deleted_meanwhile_is_not_found() -> None:
    """Its row would name a repository that is gone: the repository is not found, not a 500."""
    name = "deleted/meanwhile"

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            registry = process(metadata, blobs)
            upload = await registry.uploads.initiate_layer_upload(SCOPE, name)
            gate = asyncio.Event()
            chunk = asyncio.ensure_future(
                registry.uploads.upload_layer_part(
                    SCOPE,
                    name,
                    upload.id,
                    held_back(b"first ", gate, b"bytes"),
                    start=0,
                    length=None,
                )
            )
            await asyncio.sleep(0.05)
            await registry.repositories.delete_repository(SCOPE, name, force=True)
            gate.set()
            with pytest.raises(RepositoryNotFound):
                await chunk
            assert await metadata.get_upload(upload.id) is None

    in_temp_dir(run)


@pytest.mark.parametrize("completion", ["monolithic", "chunked"])
def test_a_blob_completed_into_a_repository_deleted_meanwhile_is_not_found(
    completion: str,
) -> None:
    """Its link would name a repository that is gone: the repository is not found (404), not a
    foreign-key 500, and no blob is stored."""
    name = "deleted/meanwhile"
    data = b"first bytes"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            uploads = process(metadata, blobs).uploads
            gate = asyncio.Event()
            if completion == "monolithic":
                body = held_back(data[:6], gate, data[6:])
                done = uploads.upload_blob(SCOPE, name, digest, body, len(data))
            else:
                upload = await uploads.initiate_layer_upload(SCOPE, name)
                await uploads.upload_layer_part(
                    SCOPE, name, upload.id, stream(data[:6], 6), start=0, length=6
                )
                body = held_back(data[6:8], gate, data[8:])
                done = uploads.complete_layer_upload(SCOPE, name, upload.id, digest, body)
            completing = asyncio.ensure_future(done)
            await asyncio.sleep(0.05)
            await process(metadata, blobs).repositories.delete_repository(SCOPE, name, force=True)
            gate.set()
            with pytest.raises(RepositoryNotFound):
                await completing
            query = sa.select(blob_rows).where(blob_rows.c.digest == digest)
            assert await metadata.read(lambda conn: conn.execute(query).all()) == []
            assert not blobs.blob_path(digest).exists()

    in_temp_dir(run)


def test_an_upload_of_a_deleted_repository_is_unknown_in_one_created_under_its_id() -> None:
    """SQLite gives a new repository the largest id plus one: the id of a deleted repository
    that had the largest. An upload started there and never written to (so with no row, only
    its id to say where it belongs) is not the new repository's."""

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            registry = process(metadata, blobs)
            upload = await registry.uploads.initiate_layer_upload(SCOPE, "first")
            first = await registry.repositories.get(SCOPE, "first")
            await registry.repositories.delete_repository(SCOPE, "first", force=True)
            await registry.uploads.initiate_layer_upload(SCOPE, "second")
            second = await registry.repositories.get(SCOPE, "second")
            assert second.id == first.id  # what this guards against: the id came back
            assert blobs.has_upload(upload.id)
            with pytest.raises(UploadNotFound):
                await registry.uploads.upload_layer_part(
                    SCOPE, "second", upload.id, stream(b"bytes", 5), start=0, length=5
                )
            with pytest.raises(UploadNotFound):
                await registry.uploads.get_upload_status(SCOPE, "second", upload.id)

    in_temp_dir(run)
