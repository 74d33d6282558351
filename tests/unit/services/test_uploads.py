"""Upload service on a real SQLite database and blob folder: any chunking, any process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.domain.scope import Scope
from berth.domain.upload_ids import new_upload_id
from berth.errors import (
    DigestMismatch,
    RepositoryNotFound,
    SizeInvalid,
    UploadNotFound,
    UploadRangeInvalid,
)
from berth.services.registry import Registry
from berth.services.uploads import DEFAULT_UPLOAD_TTL, INLINE_BLOB_MAX
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


async def layer_bytes(registry: Registry, name: str, digest: str) -> bytes:
    """A stored blob's bytes, from the database or from its file."""
    layer = await registry.blobs.get_layer(SCOPE, name, digest)
    return await registry.blobs.content(layer) if layer.inline else layer.path.read_bytes()


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


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=chunked_blobs(),
    final_in_put=st.booleans(),
    final_range=st.booleans(),
    algorithm=st.sampled_from(["sha256", "sha512"]),
)
def test_any_chunking_gives_the_right_digest(
    case: tuple[bytes, list[int], list[bool], int],
    final_in_put: bool,
    final_range: bool,
    algorithm: str,
) -> None:
    """`final_range`: the PUT says where its chunk goes; without it, a small last chunk looks
    like a whole blob until the upload's row says otherwise."""
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
                start=offset if final_range else None,
                length=len(last),
            )
            assert done == digest
            return await layer_bytes(registry, "prop/test", digest)

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
            # Cancelled before any bytes: the id is unknown from then on, by a finished row.
            empty = await uploads.initiate_layer_upload(SCOPE, "rowless/test")
            await uploads.cancel_upload(SCOPE, "rowless/test", empty.id)
            ended = await metadata.get_upload(empty.id)
            assert ended is not None and ended.finished
            with pytest.raises(UploadNotFound):
                await uploads.get_upload_status(SCOPE, "rowless/test", empty.id)
            with pytest.raises(UploadNotFound):
                await uploads.upload_layer_part(
                    SCOPE, "rowless/test", empty.id, stream(b"x", 1), start=0, length=1
                )
            # Completed with no PATCH at all (POST, then PUT with the bytes): no file ever,
            # the database keeps the bytes, and the id is unknown from then on.
            whole = await uploads.initiate_layer_upload(SCOPE, "rowless/test")
            digest = "sha256:" + hashlib.sha256(b"one go").hexdigest()
            await uploads.complete_layer_upload(
                SCOPE, "rowless/test", whole.id, digest, stream(b"one go", 4), start=0, length=6
            )
            layer = await registry.blobs.get_layer(SCOPE, "rowless/test", digest)
            assert layer.inline and await registry.blobs.content(layer) == b"one go"
            assert not layer.path.exists()
            assert not (root / "uploads" / whole.id).exists()
            ended = await metadata.get_upload(whole.id)
            assert ended is not None and ended.finished
            with pytest.raises(UploadNotFound):
                await uploads.get_upload_status(SCOPE, "rowless/test", whole.id)
            with pytest.raises(UploadNotFound):
                await uploads.complete_layer_upload(
                    SCOPE, "rowless/test", whole.id, digest, stream(b"one go", 4), length=6
                )

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
            with pytest.raises(UploadNotFound):
                await registry.uploads.upload_layer_part(
                    SCOPE, "second", upload.id, stream(b"bytes", 5), start=0, length=5
                )
            with pytest.raises(UploadNotFound):
                await registry.uploads.get_upload_status(SCOPE, "second", upload.id)

    in_temp_dir(run)


@pytest.mark.parametrize("size", [0, 1, INLINE_BLOB_MAX, INLINE_BLOB_MAX + 1, 3 << 20])
@pytest.mark.parametrize("request_kind", ["post-then-put", "post-with-digest"])
def test_a_small_blob_sent_whole_is_kept_by_the_database_and_a_larger_one_in_a_file(
    size: int, request_kind: str
) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    name = "whole/blob"

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            registry = process(metadata, blobs)
            if request_kind == "post-with-digest":
                await registry.uploads.upload_blob(SCOPE, name, digest, stream(data, 7000), size)
            else:
                upload = await registry.uploads.initiate_layer_upload(SCOPE, name)
                await registry.uploads.complete_layer_upload(
                    SCOPE, name, upload.id, digest, stream(data, 7000), length=size
                )
            layer = await registry.blobs.get_layer(SCOPE, name, digest)
            assert layer.size == size
            assert layer.inline == (size <= INLINE_BLOB_MAX)
            assert layer.path.exists() == (size > INLINE_BLOB_MAX)
            assert await layer_bytes(registry, name, digest) == data
            assert not list((root / "uploads").iterdir())

    in_temp_dir(run)


def test_a_body_shorter_or_not_matching_its_digest_stores_nothing_and_ends_the_upload() -> None:
    name = "whole/bad"
    data = b"a small config"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            uploads = process(metadata, blobs).uploads
            short = await uploads.initiate_layer_upload(SCOPE, name)
            with pytest.raises(SizeInvalid):
                await uploads.complete_layer_upload(
                    SCOPE, name, short.id, digest, stream(data[:5], 2), length=len(data)
                )
            wrong = await uploads.initiate_layer_upload(SCOPE, name)
            with pytest.raises(DigestMismatch):
                await uploads.complete_layer_upload(
                    SCOPE, name, wrong.id, digest, stream(b"something else", 3), length=14
                )
            with pytest.raises(UploadNotFound):  # a mismatch ends the upload, as a file's does
                await uploads.get_upload_status(SCOPE, name, wrong.id)
            with pytest.raises(DigestMismatch):
                await uploads.upload_blob(SCOPE, name, digest, stream(b"other", 2), 5)
            stored = await metadata.blob_contents([digest])
            query = sa.select(blob_rows).where(blob_rows.c.digest == digest)
            assert stored == {} and await metadata.read(lambda c: c.execute(query).all()) == []

    in_temp_dir(run)


def test_an_upload_id_expires_with_the_upload_lifetime() -> None:
    """An upload that never got bytes has no row to expire: its id says when it started."""
    name = "whole/expiry"

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            registry = process(metadata, blobs)
            await registry.uploads.initiate_layer_upload(SCOPE, name)
            repository = await registry.repositories.get(SCOPE, name)
            day = DEFAULT_UPLOAD_TTL.total_seconds()
            old = new_upload_id(repository.id, repository.created_at, now=time.time() - day - 60)
            recent = new_upload_id(repository.id, repository.created_at, now=time.time() - 60)
            with pytest.raises(UploadNotFound):
                await registry.uploads.get_upload_status(SCOPE, name, old)
            with pytest.raises(UploadNotFound):
                await registry.uploads.upload_layer_part(
                    SCOPE, name, old, stream(b"late", 4), start=0, length=4
                )
            assert not (root / "uploads" / old).exists()  # refused before any file is made
            status = await registry.uploads.get_upload_status(SCOPE, name, recent)
            assert status.offset == 0

    in_temp_dir(run)


def test_two_processes_completing_one_upload_store_one_blob_and_refuse_the_other() -> None:
    """No file to lock when the bytes come whole: the database decides, and the loser is told
    the upload is gone, as it would be after a completion it did not see."""
    name = "whole/race"

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            first, second = process(metadata, blobs), process(metadata, blobs)
            upload = await first.uploads.initiate_layer_upload(SCOPE, name)
            one, two = b"one body", b"two body"
            results = await asyncio.gather(
                *(
                    registry.uploads.complete_layer_upload(
                        SCOPE,
                        name,
                        upload.id,
                        "sha256:" + hashlib.sha256(body).hexdigest(),
                        stream(body, 3),
                        length=len(body),
                    )
                    for registry, body in ((first, one), (second, two))
                ),
                return_exceptions=True,
            )
            stored = [r for r in results if isinstance(r, str)]
            refused = [r for r in results if isinstance(r, UploadNotFound)]
            assert len(stored) == 1 and len(refused) == 1, results
            digests = {"sha256:" + hashlib.sha256(b).hexdigest() for b in (one, two)}
            assert set(await metadata.blob_contents(sorted(digests))) == set(stored)

    in_temp_dir(run)


def test_a_whole_blob_completing_an_upload_that_a_chunk_is_starting_elsewhere() -> None:
    """One process receives a first PATCH while another completes the same upload with a whole
    body: one of them wins, and the stored blob is whole either way."""
    name = "whole/versus-chunk"
    whole = b"the whole blob"
    digest = "sha256:" + hashlib.sha256(whole).hexdigest()

    async def run(root: Path) -> None:
        async with store(root) as (metadata, blobs):
            patcher, completer = process(metadata, blobs), process(metadata, blobs)
            upload = await patcher.uploads.initiate_layer_upload(SCOPE, name)
            gate = asyncio.Event()
            chunk = asyncio.ensure_future(
                patcher.uploads.upload_layer_part(
                    SCOPE,
                    name,
                    upload.id,
                    held_back(b"half ", gate, b"a chunk"),
                    start=0,
                    length=None,
                )
            )
            await asyncio.sleep(0.05)  # the chunk's file exists and is held
            await completer.uploads.complete_layer_upload(
                SCOPE, name, upload.id, digest, stream(whole, 4), length=len(whole)
            )
            gate.set()
            with pytest.raises(UploadRangeInvalid):
                await chunk
            assert await layer_bytes(completer, name, digest) == whole
            with pytest.raises(UploadNotFound):
                await patcher.uploads.get_upload_status(SCOPE, name, upload.id)

    in_temp_dir(run)
