"""Reading and unlinking layers (the OCI side of GetDownloadUrlForLayer and friends)."""

from __future__ import annotations

from pathlib import Path

from berth.domain.digests import parse_digest
from berth.domain.names import validate_name
from berth.domain.scope import Scope
from berth.errors import BlobNotFound
from berth.services.repositories import RepositoriesService
from berth.storage.ports import BlobStore, MetadataStore


class Layer:
    """A readable blob: a file, or (`inline`) bytes the database keeps. Its file's path is
    built on first use: a HEAD never needs it, and building the Path cost a sixth of a blob
    HEAD."""

    __slots__ = ("_blobs", "digest", "inline", "size")

    def __init__(self, digest: str, size: int, blobs: BlobStore, inline: bool = False) -> None:
        self.digest = digest
        self.size = size
        self.inline = inline
        self._blobs = blobs

    @property
    def path(self) -> Path:
        return self._blobs.blob_path(self.digest)


class BlobsService:
    def __init__(
        self, metadata: MetadataStore, blobs: BlobStore, repositories: RepositoriesService
    ) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._repositories = repositories

    async def get_layer(self, scope: Scope, name: str, digest: str) -> Layer:
        """A blob readable from this repository; knowing a digest alone grants nothing."""
        parsed = str(parse_digest(digest))
        validate_name(name)
        found = await self._metadata.find_blob(scope.account_id, scope.region, name, parsed)
        if found is None:
            await self._repositories.get(scope, name)  # raises the right RepositoryNotFound
        size = found[1] if found else None
        if found is None or size is None:
            raise BlobNotFound(f"blob {parsed} is unknown to repository {name}", digest=parsed)
        return Layer(parsed, size, self._blobs, found[2])

    async def content(self, layer: Layer) -> bytes:
        """The bytes of an `inline` layer."""
        found = await self._metadata.blob_contents([layer.digest])
        if layer.digest not in found:  # collected since it was looked up
            raise BlobNotFound(f"blob {layer.digest} is unknown", digest=layer.digest)
        return found[layer.digest]

    async def delete_layer(self, scope: Scope, name: str, digest: str) -> None:
        """Unlink the blob from the repository; its bytes go when garbage collection runs."""
        parsed = str(parse_digest(digest))
        repository = await self._repositories.get(scope, name)
        if not await self._metadata.unlink_blob(repository.id, parsed):
            raise BlobNotFound(f"blob {parsed} is unknown to repository {name}", digest=parsed)
