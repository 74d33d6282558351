"""Blob uploads: monolithic, chunked (resumable across restarts and processes) and mounts.

Starting an upload stores nothing: its id says which repository started it, and when (see
`berth.domain.upload_ids`). A blob of up to INLINE_BLOB_MAX bytes sent whole in the request
that completes an upload (the usual POST, then PUT with the body) is kept by the database in
the transaction that records it, with no file at all. Otherwise the bytes go to the blob
store's upload file, made by the first bytes, and the committed length to a row in the
database made by the same request. Anything in the file past that length was never
acknowledged and is dropped by the next write. An upload that ends, completed or cancelled,
leaves its row marked finished until it expires, so that its id names nothing after it.
SHA-256 state cannot be serialised in Python, so each process keeps the running hash of the
uploads it served last and re-reads the file once when it meets an upload whose committed
length it has not seen (after a restart, or a chunk served elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from berth.domain.digests import Digest, digest_of, parse_digest
from berth.domain.scope import Scope
from berth.domain.upload_ids import is_upload_id, new_upload_id, started_in
from berth.errors import (
    DigestMismatch,
    EmptyUpload,
    InvalidDigest,
    LayerAlreadyExists,
    LayerPartTooSmall,
    SizeInvalid,
    UploadNotFound,
    UploadRangeInvalid,
)
from berth.services.repositories import RepositoriesService
from berth.storage.ports import BlobStore, MetadataStore, Repository, Upload

if TYPE_CHECKING:
    from hashlib import _Hash

_HASH_CACHE_SIZE = 1024
MIN_LAYER_PART = 5 * 1024 * 1024
# Blobs up to this size, sent whole, are kept by the database (configs, small layers).
INLINE_BLOB_MAX = 64 * 1024
DEFAULT_UPLOAD_TTL = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class UploadStatus:
    id: str
    repository: str
    offset: int


@dataclass(frozen=True, slots=True)
class Mounted:
    digest: str


class UploadsService:
    def __init__(
        self,
        metadata: MetadataStore,
        blobs: BlobStore,
        repositories: RepositoriesService,
        *,
        upload_ttl: timedelta = DEFAULT_UPLOAD_TTL,
    ) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._repositories = repositories
        self._upload_ttl = upload_ttl.total_seconds()
        self._hashes: OrderedDict[str, tuple[int, _Hash]] = OrderedDict()
        # Weak: a lock lives while some request holds or waits for it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def initiate_layer_upload(self, scope: Scope, name: str) -> UploadStatus:
        """An id, and nothing stored: see the module's docstring."""
        repository = await self._repositories.get_for_push(scope, name)
        return UploadStatus(new_upload_id(repository.id, repository.created_at), name, 0)

    async def upload_blob(
        self,
        scope: Scope,
        name: str,
        digest: str,
        body: AsyncIterator[bytes],
        length: int | None,
    ) -> str:
        """A whole blob in one request (`POST ?digest=`); nothing is stored on a mismatch."""
        expected = parse_digest(digest)
        repository = await self._repositories.get_for_push(scope, name)
        if _inline(length, 0):
            content = await _read_whole(body, length)
            _check_digest(expected, digest_of(content, expected.algorithm).encoded)
            await self._metadata.store_blob(
                repository.id, str(expected), len(content), content=content
            )
            return str(expected)
        temp_id = str(uuid.uuid4())
        self._blobs.create_upload(temp_id)
        try:
            hasher = expected.hasher()
            size = await self._write(temp_id, 0, body, hasher)
            _check_length(size, length)
            _check_digest(expected, hasher.hexdigest())
            await self._metadata.store_blob(
                repository.id, str(expected), size, self._placer(temp_id, str(expected))
            )
        except BaseException:
            self._blobs.delete_upload(temp_id)
            raise
        return str(expected)

    async def upload_layer_part(
        self,
        scope: Scope,
        name: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        *,
        start: int | None,
        length: int | None,
        ecr_part: bool = False,
    ) -> UploadStatus:
        """Append a chunk; `start` (from Content-Range) must be where the upload ends.

        `ecr_part`: an UploadLayerPart, whose parts but the last must be 5 MiB or more.
        """
        async with self._held(scope, name, upload_id, writing=True) as upload:
            hasher, size = await self._append(upload, body, start, length)
            if not await self._metadata.advance_upload(
                upload_id,
                upload.repository_id,
                upload.offset,
                size,
                small_part_below=MIN_LAYER_PART if ecr_part else None,
            ):
                raise UploadRangeInvalid("upload was changed concurrently", offset=upload.offset)
            self._remember(upload_id, size, hasher)
        return UploadStatus(upload_id, name, size)

    async def complete_layer_upload(
        self,
        scope: Scope,
        name: str,
        upload_id: str,
        digest: str | None,
        body: AsyncIterator[bytes],
        *,
        start: int | None = None,
        length: int | None = None,
    ) -> str:
        """Append an optional last chunk, verify the digest, and make the blob visible."""
        if not digest:
            raise InvalidDigest("the digest query parameter is required to complete an upload")
        expected = parse_digest(digest)
        if _inline(length, start):
            async with self._lock(upload_id):
                rest = await self._complete_whole(scope, name, upload_id, expected, body, length)
            if rest is None:
                return str(expected)
            body = rest
        async with self._held(scope, name, upload_id, writing=True) as upload:
            hasher, size = await self._append(upload, body, start, length)
            actual = (
                hasher.hexdigest()
                if expected.algorithm == "sha256"
                else await self._rehash(upload_id, size, expected)
            )
            await self._complete(upload, expected, actual, size)
        return str(expected)

    async def _complete(
        self,
        upload: Upload,
        expected: Digest,
        actual: str,
        size: int,
        content: bytes | None = None,
    ) -> None:
        """Store the blob (its `content`, or the upload's file) and end the upload, which
        ends too when the bytes do not match. `upload` is as read before this request."""
        if actual != expected.encoded:
            await self._discard(upload)
        _check_digest(expected, actual)
        digest = str(expected)
        place = None if content is not None else self._placer(upload.id, digest)
        stored = await self._metadata.complete_upload(
            upload.id, upload.repository_id, upload.offset, digest, size, place, content=content
        )
        if not stored:  # another request ended or moved it since it was read
            raise _unknown(upload.id)

    async def _complete_whole(
        self,
        scope: Scope,
        name: str,
        upload_id: str,
        expected: Digest,
        body: AsyncIterator[bytes],
        length: int | None,
    ) -> AsyncIterator[bytes] | None:
        """Complete the upload with this request's body as the whole blob, kept by the
        database, when no bytes were committed to it before (None then). Otherwise the body,
        to append as the upload's last chunk."""
        content: bytes | None = None
        actual: str | None = None
        if length:
            # A POST nearly always came just before, and the upload has no row: its claim is
            # then the one statement of `complete_upload`, and reading the row first would
            # cost a query per blob. When the claim fails, the row says why.
            repository = await self._repositories.get(scope, name)
            if self._started_recently(upload_id, repository):
                content = await _read_whole(body, length)
                actual = digest_of(content, expected.algorithm).encoded
                if actual == expected.encoded and await self._metadata.complete_upload(
                    upload_id, repository.id, 0, str(expected), len(content), content=content
                ):
                    return None
        upload = await self._upload(scope, name, upload_id)
        if upload.offset:
            return body if content is None else _one(content)
        if content is None:
            content = await _read_whole(body, length)
        if actual is None:
            actual = digest_of(content, expected.algorithm).encoded
        await self._complete(upload, expected, actual, len(content), content)
        return None

    async def complete_ecr_layer_upload(
        self, scope: Scope, name: str, upload_id: str, digest: str
    ) -> str:
        """CompleteLayerUpload: ECR's rules on parts, then the same completion as the OCI API."""
        upload = await self._upload(scope, name, upload_id)
        if upload.offset == 0:
            raise EmptyUpload(f"The upload with id '{upload_id}' contains no data")
        if upload.has_small_part:
            raise LayerPartTooSmall(
                f"Only the last layer part may be smaller than {MIN_LAYER_PART} bytes"
            )
        parsed = str(parse_digest(digest))
        if await self._metadata.linked_blob_size(upload.repository_id, parsed) is not None:
            await self.cancel_upload(scope, name, upload_id)
            raise LayerAlreadyExists(
                f"The layer '{parsed}' already exists in the repository with name '{name}'",
                layerDigest=parsed,
            )
        return await self.complete_layer_upload(scope, name, upload_id, parsed, _nothing())

    async def batch_check_layer_availability(
        self, scope: Scope, name: str, digests: list[str]
    ) -> list[tuple[str, int | None]]:
        """Each well-formed digest with its size here, or None when it is not available."""
        repository = await self._repositories.get(scope, name)
        return [(d, await self._metadata.linked_blob_size(repository.id, d)) for d in digests]

    async def get_upload_status(self, scope: Scope, name: str, upload_id: str) -> UploadStatus:
        upload = await self._upload(scope, name, upload_id)
        return UploadStatus(upload_id, name, upload.offset)

    async def cancel_upload(self, scope: Scope, name: str, upload_id: str) -> None:
        async with self._held(scope, name, upload_id) as upload:
            await self._discard(upload)

    async def mount_layer(
        self, scope: Scope, name: str, digest: str, source: str | None
    ) -> Mounted | None:
        """Link a blob readable in `source` (or, with no source, anywhere in this registry).

        None means the blob could not be mounted and the caller should start an upload.
        """
        parsed = str(parse_digest(digest))
        size = await self._metadata.find_blob_link(
            scope.account_id, scope.region, parsed, in_repository=source
        )
        if size is None:
            return None
        repository = await self._repositories.get_for_push(scope, name)
        # The source's link may have been collected since the lookup: then upload instead.
        if await self._metadata.link_existing_blob(repository.id, parsed) is None:
            return None
        return Mounted(parsed)

    # internals

    def _placer(self, upload_id: str, digest: str) -> Callable[[], None]:
        return lambda: self._blobs.place_upload(upload_id, digest)

    async def _upload(self, scope: Scope, name: str, upload_id: str) -> Upload:
        repository = await self._repositories.get(scope, name)
        if not is_upload_id(upload_id):
            raise _unknown(upload_id)
        upload = await self._metadata.get_upload(upload_id)
        if upload is None:
            if self._started_recently(upload_id, repository):
                return Upload(upload_id, repository.id, 0)
            raise _unknown(upload_id)
        # An upload of another repository is as unknown here as one that never existed.
        if upload.finished or upload.repository_id != repository.id:
            raise _unknown(upload_id)
        return upload

    def _started_recently(self, upload_id: str, repository: Repository) -> bool:
        """Whether the id was handed out for this repository within the upload lifetime: an
        upload with no bytes committed yet has no row, and expires as an idle upload's row
        does."""
        if not is_upload_id(upload_id):
            return False
        started = started_in(upload_id, repository.id, repository.created_at)
        return started is not None and time.time() - started < self._upload_ttl

    @contextlib.asynccontextmanager
    async def _held(
        self, scope: Scope, name: str, upload_id: str, *, writing: bool = False
    ) -> AsyncIterator[Upload]:
        """The upload, for a request that changes it: this process's lock, then the upload
        file's, which requests served by other processes take too. Its row is read again once
        both are held, so the committed length it gives cannot move until the request is
        done. `writing`: the request has bytes for it, and the first bytes make the file."""
        async with self._lock(upload_id):
            upload = await self._upload(scope, name, upload_id)  # an unknown id makes no file
            if writing and upload.offset == 0:
                self._blobs.create_upload(upload_id)
            with contextlib.ExitStack() as held:
                try:
                    held.enter_context(self._blobs.hold_upload(upload_id))
                    holding = True
                except FileNotFoundError:
                    # Ended since it was read; or, with no bytes yet, never written to.
                    if writing or upload.offset:
                        raise _unknown(upload_id) from None
                    holding = False
                except BlockingIOError:
                    raise UploadRangeInvalid(
                        "another request is writing to this upload", offset=upload.offset
                    ) from None
                yield await self._upload(scope, name, upload_id) if holding else upload

    def _lock(self, upload_id: str) -> asyncio.Lock:
        lock = self._locks.get(upload_id)
        if lock is None:
            lock = self._locks[upload_id] = asyncio.Lock()
        return lock

    async def _hasher(self, upload: Upload) -> _Hash:
        # Taken out of the cache: a write that fails half-way leaves the object unusable.
        cached = self._hashes.pop(upload.id, None)
        if cached is not None and cached[0] == upload.offset:
            return cached[1]
        hasher = Digest("sha256", "").hasher()
        if upload.offset == 0:
            return hasher  # nothing committed yet: nothing to read back
        for chunk in self._blobs.read_upload(upload.id, upload.offset):
            hasher.update(chunk)
            await asyncio.sleep(0)
        return hasher

    async def _append(
        self,
        upload: Upload,
        body: AsyncIterator[bytes],
        start: int | None,
        length: int | None,
    ) -> tuple[_Hash, int]:
        """Write a chunk after the committed bytes; the running hash and the new length."""
        if start is not None and start != upload.offset:
            raise UploadRangeInvalid(
                f"chunk starts at {start} but the upload has {upload.offset} bytes",
                offset=upload.offset,
            )
        hasher = await self._hasher(upload)
        size = await self._write(upload.id, upload.offset, body, hasher)
        _check_length(size - upload.offset, length)
        return hasher, size

    async def _rehash(self, upload_id: str, size: int, expected: Digest) -> str:
        hasher = expected.hasher()
        for chunk in self._blobs.read_upload(upload_id, size):
            hasher.update(chunk)
            await asyncio.sleep(0)
        return hasher.hexdigest()

    async def _write(
        self,
        upload_id: str,
        offset: int,
        body: AsyncIterator[bytes],
        hasher: _Hash,
    ) -> int:
        """Append `body` and make it durable.

        The writer hands back a blocking job whenever enough has gathered to go to disk; it
        runs in a thread while more arrives. One job at a time: when the disk is slower than
        the network, the request waits for it instead of holding the difference in memory.
        """
        writer = self._blobs.open_upload(upload_id, offset)
        size = offset
        writing: asyncio.Future[None] | None = None
        try:
            async for chunk in body:
                hasher.update(chunk)
                size += len(chunk)
                job = writer.write(chunk)
                if job is not None:
                    if writing is not None:
                        await writing  # a failed write fails the upload
                    writing = asyncio.ensure_future(asyncio.to_thread(job))
            if writing is not None:
                await writing
        except BaseException:
            if writing is not None:
                with contextlib.suppress(BaseException):
                    await writing
            await asyncio.to_thread(writer.close)
            raise
        # fsync before the caller records the new length; off the loop, it may take a while.
        await asyncio.to_thread(writer.close)
        return size

    def _remember(self, upload_id: str, offset: int, hasher: _Hash) -> None:
        self._hashes[upload_id] = (offset, hasher)
        self._hashes.move_to_end(upload_id)
        while len(self._hashes) > _HASH_CACHE_SIZE:
            self._hashes.popitem(last=False)

    async def _discard(self, upload: Upload) -> None:
        await self._metadata.cancel_upload(upload.id, upload.repository_id)
        self._blobs.delete_upload(upload.id)


def _inline(length: int | None, start: int | None) -> bool:
    """Whether a request's body may be a whole blob the database keeps (see the module)."""
    return length is not None and length <= INLINE_BLOB_MAX and not start


async def _read_whole(body: AsyncIterator[bytes], length: int | None) -> bytes:
    chunks, received = [], 0
    async for chunk in body:
        received += len(chunk)
        if length is not None and received > length:
            break
        chunks.append(chunk)
    _check_length(received, length)
    return b"".join(chunks)


async def _one(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


def _unknown(upload_id: str) -> UploadNotFound:
    return UploadNotFound(f"upload {upload_id[:64]} is unknown", upload_id=upload_id[:64])


def _check_length(received: int, declared: int | None) -> None:
    if declared is not None and received != declared:
        raise SizeInvalid(f"received {received} bytes but Content-Length said {declared}")


def _check_digest(expected: Digest, actual: str) -> None:
    if actual != expected.encoded:
        raise DigestMismatch(
            f"uploaded content has digest {expected.algorithm}:{actual}, not {expected}",
            digest=str(expected),
        )
