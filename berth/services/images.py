"""Manifests and tags: PutImage, BatchGetImage, BatchDeleteImage, ListImages, referrers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from berth.domain import mutability
from berth.domain.digests import Digest, digest_of, is_digest, parse_digest
from berth.domain.manifests import parse_manifest
from berth.domain.names import validate_name, validate_tag
from berth.domain.pagination import decode_token, encode_token
from berth.domain.scope import Scope
from berth.errors import (
    DigestMismatch,
    ImageAlreadyExists,
    ImageTagAlreadyExists,
    InvalidDigest,
    InvalidTag,
    ManifestNotFound,
    ManifestReferenced,
)
from berth.services.events import ImageEvents
from berth.services.pulls import PullRecorder
from berth.services.repositories import RepositoriesService
from berth.storage.ports import (
    ImageRecord,
    ManifestRecord,
    MetadataStore,
    NewManifest,
    OutboxEvent,
    ReferrerRecord,
    Repository,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PushedImage:
    """What a push listener learns after a manifest was stored."""

    repository: Repository
    manifest: NewManifest
    tags: tuple[str, ...]


# Called after every successful manifest push (OCI PUT and PutImage); a listener's failure is
# logged, never the push's. Listeners must be quick: the push waits for them.
PushListener = Callable[[PushedImage], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PutImageResult:
    digest: str
    subject: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    """A manifest reference from a URL: exactly one of tag and digest is set."""

    tag: str | None
    digest: Digest | None

    @classmethod
    def parse(cls, reference: str) -> Reference:
        if is_digest(reference):
            return cls(None, parse_digest(reference))
        return cls(validate_tag(reference), None)


class ImagesService:
    def __init__(
        self, metadata: MetadataStore, repositories: RepositoriesService, pulls: PullRecorder
    ) -> None:
        self._metadata = metadata
        self._repositories = repositories
        self._pulls = pulls
        self._events = ImageEvents()
        self.push_listeners: list[PushListener] = []

    async def put_image(
        self,
        scope: Scope,
        name: str,
        reference: str,
        manifest: bytes,
        content_type: str | None,
        extra_tags: tuple[str, ...] = (),
        *,
        fail_if_unchanged: bool = False,
    ) -> PutImageResult:
        """Store a manifest and tag it; the OCI API's manifest PUT and ECR's PutImage.

        PutImage fails when nothing would change (`fail_if_unchanged`); a registry client
        re-pushing the same image must simply succeed.
        """
        validate_name(name)
        ref = Reference.parse(reference)
        tags = [validate_tag(t) for t in ((ref.tag,) if ref.tag else ()) + extra_tags]
        parsed = parse_manifest(manifest, content_type)
        algorithm = ref.digest.algorithm if ref.digest else "sha256"
        digest = digest_of(manifest, algorithm)
        if ref.digest is not None and digest != ref.digest:
            raise DigestMismatch(
                f"manifest has digest {digest}, not {ref.digest}", digest=str(ref.digest)
            )
        repository = await self._repositories.get_for_push(scope, name)
        blobs = [str(d) for d in parsed.required_blobs()]
        children = [str(c.digest) for c in parsed.children]
        subject = str(parsed.subject) if parsed.subject else None
        settings = repository.settings
        new_manifest = NewManifest(
            digest=str(digest),
            media_type=parsed.media_type,
            size=len(manifest),
            content=manifest,
            artifact_type=parsed.artifact_type,
            subject=subject,
            annotations=parsed.annotations,
            blobs=blobs,
            children=children,
            config_media_type=parsed.config.media_type if parsed.config else None,
            layer_sizes=[layer.size for layer in parsed.layers],
        )
        try:
            changed = await self._metadata.put_manifest(
                repository.id,
                new_manifest,
                tags,
                is_immutable=lambda tag: mutability.is_immutable(settings, tag),
                events=self._events.action(
                    repository,
                    "PUSH",
                    str(digest),
                    tags,
                    media_type=parsed.media_type,
                    artifact_media_type=new_manifest.config_media_type,
                ),
            )
        except ImageTagAlreadyExists as exc:
            tag = exc.detail.get("tag", "")
            raise ImageTagAlreadyExists(
                f"The image tag '{tag}' already exists in the '{name}' repository and cannot "
                "be overwritten because the tag is immutable.",
                tag=tag,
            ) from None
        if not changed and fail_if_unchanged:
            raise ImageAlreadyExists(
                "Image with digest '{}' and tag '{}' already exists in the repository with name "
                "'{}' in registry with id '{}'".format(
                    digest, tags[0] if tags else "", name, scope.account_id
                )
            )
        for listener in self.push_listeners:
            try:
                await listener(PushedImage(repository, new_manifest, tuple(tags)))
            except Exception:
                log.exception("push listener failed for %s@%s", name, digest)
        return PutImageResult(str(digest), subject, tuple(dict.fromkeys(tags)))

    async def get_image(
        self, scope: Scope, name: str, reference: str, *, pull: bool = False
    ) -> ManifestRecord:
        """A manifest by tag or digest; `pull` counts it for lastRecordedPullTime."""
        validate_name(name)
        ref = _existing(reference, name)
        found = await self._metadata.find_manifest(
            scope.account_id,
            scope.region,
            name,
            digest=str(ref.digest) if ref.digest else None,
            tag=ref.tag,
        )
        if found is None:
            await self._repositories.get(scope, name)  # raises the right RepositoryNotFound
        repository_id, record = found or (0, None)
        if record is None:
            raise ManifestNotFound(f"manifest {reference} is unknown to repository {name}")
        if pull:
            self._pulls.record(repository_id, record.digest)
        return record

    async def delete_image(self, scope: Scope, name: str, reference: str) -> None:
        """By tag: remove the tag only. By digest: remove the manifest and all its tags."""
        repository = await self._repositories.get(scope, name)
        ref = _existing(reference, name)
        if ref.tag is not None:
            target = await self._metadata.tag_target(repository.id, ref.tag)
            deleted = await self._metadata.delete_tag(
                repository.id,
                ref.tag,
                events=self._events.action(repository, "DELETE", target or "", [ref.tag]),
            )
        else:
            digest = str(ref.digest)
            deleted = await self._metadata.delete_manifest(
                repository.id,
                digest,
                events=await _delete_events(self._metadata, self._events, repository, digest),
            )
        if not deleted:
            raise ManifestNotFound(f"manifest {reference} is unknown to repository {name}")

    async def list_tags(
        self, scope: Scope, name: str, *, after: str | None, limit: int
    ) -> list[str]:
        repository = await self._repositories.get(scope, name)
        return await self._metadata.list_tags(repository.id, after=after, limit=limit)

    async def list_image_referrers(
        self, scope: Scope, name: str, subject: str, artifact_type: str | None
    ) -> list[ReferrerRecord]:
        """Referrers of `subject`; none (not an error) when the repository does not exist yet."""
        parsed = str(parse_digest(subject))
        validate_name(name)
        repository = await self._metadata.get_repository(scope.account_id, scope.region, name)
        if repository is None:
            return []
        return await self._metadata.list_referrers(repository.id, parsed, artifact_type)


def _existing(reference: str, name: str) -> Reference:
    """A reference to read or delete: a tag that could never exist is simply not found."""
    try:
        return Reference.parse(reference)
    except InvalidTag:
        raise ManifestNotFound(
            f"manifest {reference[:200]} is unknown to repository {name}"
        ) from None


@dataclass(frozen=True, slots=True)
class ImageId:
    """An ECR imageId: a digest, a tag, or both (then they must agree)."""

    digest: str | None
    tag: str | None


@dataclass(frozen=True, slots=True)
class ImageFailure:
    image_id: ImageId
    code: str
    reason: str


class EcrImages:
    """The image operations of the ECR API, on the same store the OCI API writes."""

    def __init__(self, metadata: MetadataStore, repositories: RepositoriesService) -> None:
        self._metadata = metadata
        self._repositories = repositories
        self._events = ImageEvents()

    async def list_images(
        self, scope: Scope, name: str, tag_status: str, next_token: str | None, limit: int
    ) -> tuple[list[ImageId], str | None]:
        images, token = await self._page(scope, name, tag_status, next_token, limit)
        ids: list[ImageId] = []
        for image in images:
            ids.extend(ImageId(image.digest, t) for t in image.tags)
            if not image.tags:
                ids.append(ImageId(image.digest, None))
        return ids, token

    async def describe_images(
        self,
        scope: Scope,
        name: str,
        image_ids: Sequence[ImageId] | None,
        tag_status: str,
        next_token: str | None,
        limit: int,
    ) -> tuple[list[ImageRecord], str | None]:
        if not image_ids:
            return await self._page(scope, name, tag_status, next_token, limit)
        repository = await self._repositories.get(scope, name)
        digests = await self._digests(repository, image_ids)
        found = await self._metadata.describe_images(repository.id, digests=digests)
        return found, None

    async def resolve_digests(
        self, scope: Scope, name: str, image_ids: Sequence[ImageId]
    ) -> list[str]:
        """The digests `image_ids` name; ImageNotFoundException for the first that is unknown."""
        return await self._digests(await self._repositories.get(scope, name), image_ids)

    async def _digests(self, repository: Repository, image_ids: Sequence[ImageId]) -> list[str]:
        digests: list[str] = []
        for image_id in image_ids:
            digest, _failure = await self._resolve(repository, image_id)
            if digest is None:
                raise ManifestNotFound(
                    f"The image with imageId {_show(image_id)} does not exist within the "
                    f"repository with name '{repository.name}' in the registry with id "
                    f"'{repository.account_id}'"
                )
            digests.append(digest)
        return digests

    async def batch_get_image(
        self, scope: Scope, name: str, image_ids: Sequence[ImageId], accepted: Sequence[str]
    ) -> tuple[list[tuple[ImageId, ManifestRecord]], list[ImageFailure]]:
        repository = await self._repositories.get(scope, name)
        found: list[tuple[ImageId, ManifestRecord]] = []
        failures: list[ImageFailure] = []
        for image_id in image_ids:
            digest, failure = await self._resolve(repository, image_id)
            if failure is not None:
                failures.append(failure)
                continue
            record = await self._metadata.get_manifest(repository.id, digest=digest)
            if record is None:
                failures.append(
                    ImageFailure(image_id, "ImageNotFound", "Requested image not found")
                )
            elif accepted and record.media_type not in accepted:
                failures.append(
                    ImageFailure(
                        image_id,
                        "UnsupportedImageType",
                        f"Manifest media type {record.media_type} is not among the accepted "
                        "media types",
                    )
                )
            else:
                found.append((ImageId(record.digest, image_id.tag), record))
        return found, failures

    async def batch_delete_image(
        self, scope: Scope, name: str, image_ids: Sequence[ImageId]
    ) -> tuple[list[ImageId], list[ImageFailure]]:
        """By tag: untag, and the image goes with its last tag. By digest: image and tags."""
        repository = await self._repositories.get(scope, name)
        deleted: list[ImageId] = []
        failures: list[ImageFailure] = []
        for image_id in image_ids:
            digest, failure = await self._resolve(repository, image_id)
            if failure is not None:
                failures.append(failure)
                continue
            assert digest is not None
            try:
                if image_id.tag is not None and image_id.digest is None:
                    await self._metadata.delete_tag(
                        repository.id,
                        image_id.tag,
                        events=self._events.action(repository, "DELETE", digest, [image_id.tag]),
                    )
                    remaining = await self._metadata.describe_images(
                        repository.id, digests=[digest]
                    )
                    if remaining and not remaining[0].tags:
                        await self._metadata.delete_manifest(repository.id, digest)
                else:
                    await self._metadata.delete_manifest(
                        repository.id,
                        digest,
                        events=await _delete_events(
                            self._metadata, self._events, repository, digest
                        ),
                    )
            except ManifestReferenced:
                failures.append(
                    ImageFailure(
                        image_id,
                        "ImageReferencedByManifestList",
                        "Requested image is referenced by an image index",
                    )
                )
                continue
            deleted.append(ImageId(digest, image_id.tag))
        return deleted, failures

    async def _page(
        self, scope: Scope, name: str, tag_status: str, next_token: str | None, limit: int
    ) -> tuple[list[ImageRecord], str | None]:
        repository = await self._repositories.get(scope, name)
        images = await self._metadata.describe_images(
            repository.id, tag_status=tag_status, after=decode_token(next_token), limit=limit + 1
        )
        if len(images) > limit:
            images = images[:limit]
            return images, encode_token(images[-1].digest)
        return images, None

    async def _resolve(
        self, repository: Repository, image_id: ImageId
    ) -> tuple[str | None, ImageFailure | None]:
        if image_id.digest is None and image_id.tag is None:
            return None, ImageFailure(
                image_id, "MissingDigestAndTag", "Missing image digest and tag"
            )
        if image_id.digest is not None:
            try:
                parse_digest(image_id.digest)
            except InvalidDigest:
                return None, ImageFailure(image_id, "InvalidImageDigest", "Invalid image digest")
        target = image_id.digest
        if image_id.tag is not None:
            try:
                validate_tag(image_id.tag)
            except InvalidTag:
                return None, ImageFailure(image_id, "InvalidImageTag", "Invalid image tag")
            target = await self._metadata.tag_target(repository.id, image_id.tag)
            if target is None:
                return None, ImageFailure(image_id, "ImageNotFound", "Requested image not found")
            if image_id.digest is not None and image_id.digest != target:
                return None, ImageFailure(
                    image_id, "ImageTagDoesNotMatchDigest", "Invalid image tag for digest"
                )
        elif await self._metadata.missing_manifests(repository.id, [str(target)]):
            return None, ImageFailure(image_id, "ImageNotFound", "Requested image not found")
        return target, None


def _show(image_id: ImageId) -> str:
    parts = []
    if image_id.digest:
        parts.append(f"imageDigest:'{image_id.digest}'")
    if image_id.tag:
        parts.append(f"imageTag:'{image_id.tag}'")
    return "{" + ", ".join(parts) + "}"


async def _delete_events(
    metadata: MetadataStore, events: ImageEvents, repository: Repository, digest: str
) -> list[OutboxEvent]:
    """DELETE events for an image deleted by digest: one per tag it had."""
    found = await metadata.describe_images(repository.id, digests=[digest])
    return events.action(repository, "DELETE", digest, found[0].tags if found else ())
