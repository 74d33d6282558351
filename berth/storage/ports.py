"""The narrow interfaces services depend on; adapters live beside this module.

Kept deliberately small (Distribution's storage-driver lesson): every method is one
transaction or one file operation, so each adapter can be tested by one shared suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from berth.domain.lifecycle import ImageFacts
from berth.domain.settings import RepositorySettings


@dataclass(frozen=True, slots=True)
class Repository:
    id: int
    account_id: str
    region: str
    name: str
    created_at: datetime
    settings: RepositorySettings = field(default_factory=RepositorySettings)


@dataclass(frozen=True, slots=True)
class AccessKey:
    id: str
    account_id: str
    principal_arn: str
    sealed_secret: bytes
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LifecyclePolicyRecord:
    text: str
    last_evaluated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One manifest as DescribeImages reports it."""

    digest: str
    tags: tuple[str, ...]
    media_type: str
    artifact_media_type: str | None
    image_size: int | None
    pushed_at: datetime
    last_pulled_at: datetime | None
    subject: str | None


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    digest: str
    media_type: str
    size: int
    content: bytes
    pushed_at: datetime


@dataclass(frozen=True, slots=True)
class ReferrerRecord:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class NewManifest:
    digest: str
    media_type: str
    size: int
    content: bytes
    artifact_type: str | None
    subject: str | None
    annotations: dict[str, str] | None
    blobs: Sequence[str]
    children: Sequence[str]
    config_media_type: str | None = None
    # Sizes of the layers, for an image's imageSizeInBytes; an index takes its largest child.
    layer_sizes: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event about a change, written in the change's own transaction."""

    id: str
    account_id: str
    body: str  # the JSON document, as delivered


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    repository_id: int
    offset: int
    # UploadLayerPart bookkeeping: the newest part's size; whether an earlier part was small.
    last_part_size: int | None = None
    has_small_part: bool = False
    # Completed or cancelled: its id names nothing any more.
    finished: bool = False


class MetadataStore(Protocol):
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # repositories
    async def get_repository(
        self, account_id: str, region: str, name: str
    ) -> Repository | None: ...
    async def ensure_repository(self, account_id: str, region: str, name: str) -> Repository: ...
    async def list_repository_names(
        self, account_id: str, region: str, *, after: str | None, limit: int
    ) -> list[str]: ...
    async def create_repository(
        self,
        account_id: str,
        region: str,
        name: str,
        settings: RepositorySettings,
        tags: dict[str, str],
    ) -> Repository:
        """Raises `RepositoryAlreadyExists`."""
        ...

    async def list_repositories(
        self,
        account_id: str,
        region: str,
        *,
        names: Sequence[str] | None,
        after: str | None,
        limit: int,
    ) -> list[Repository]: ...
    async def update_repository_settings(
        self, repository_id: int, settings: RepositorySettings
    ) -> None: ...
    async def delete_repository(self, repository_id: int, *, force: bool) -> None:
        """Raises `RepositoryNotEmpty` when it holds images and `force` is false."""
        ...

    # resource tags of repositories
    async def get_repository_tags(self, repository_id: int) -> dict[str, str]: ...
    async def tag_repository(self, repository_id: int, tags: dict[str, str]) -> None: ...
    async def untag_repository(self, repository_id: int, keys: Sequence[str]) -> None: ...

    # lifecycle policies
    async def put_lifecycle_policy(self, repository_id: int, text: str) -> None: ...
    async def get_lifecycle_policy(self, repository_id: int) -> LifecyclePolicyRecord | None: ...
    async def delete_lifecycle_policy(self, repository_id: int) -> LifecyclePolicyRecord | None:
        """Remove and return the policy; None when there was none."""
        ...

    # accounts, keys and settings
    async def ensure_account(self, account_id: str) -> None: ...
    async def put_access_key(self, key: AccessKey) -> None: ...
    async def get_access_key(self, access_key_id: str) -> AccessKey | None: ...
    async def count_root_keys(self, account_id: str) -> int: ...
    async def get_account_setting(self, account_id: str, region: str, name: str) -> str | None: ...
    async def put_account_setting(
        self, account_id: str, region: str, name: str, value: str
    ) -> None: ...

    # blobs and their links to repositories
    async def linked_blob_size(self, repository_id: int, digest: str) -> int | None: ...
    async def store_blob(
        self,
        repository_id: int,
        digest: str,
        size: int,
        place: Callable[[], None] | None = None,
        *,
        content: bytes | None = None,
    ) -> None:
        """Record the blob and link it to the repository; `place` puts its bytes where they
        belong, inside the transaction and under the blob's row lock, or the database keeps
        `content` (a small blob) with the row."""
        ...

    async def blob_contents(self, digests: Sequence[str]) -> dict[str, bytes]:
        """The bytes of those blobs that the database keeps (see `store_blob`)."""
        ...

    async def link_existing_blob(self, repository_id: int, digest: str) -> int | None:
        """Link a blob that is stored already (a mount); its size, or None when it is gone."""
        ...

    async def unlink_blob(self, repository_id: int, digest: str) -> bool:
        """Remove the link; raises `BlobReferenced` while a manifest of the repository uses it."""
        ...

    async def find_blob_link(
        self, account_id: str, region: str, digest: str, *, in_repository: str | None
    ) -> int | None:
        """Size of a blob linked to `in_repository` (or to any repository when None)."""
        ...

    # manifests and tags
    async def get_manifest(
        self, repository_id: int, *, digest: str | None = None, tag: str | None = None
    ) -> ManifestRecord | None: ...
    async def find_manifest(
        self,
        account_id: str,
        region: str,
        name: str,
        *,
        digest: str | None = None,
        tag: str | None = None,
    ) -> tuple[int, ManifestRecord | None] | None:
        """The pull path in one query: None without such a repository, else its id and the
        manifest (None when the repository has no such manifest)."""
        ...

    async def find_blob(
        self, account_id: str, region: str, name: str, digest: str
    ) -> tuple[int, int | None, bool] | None:
        """Like `find_manifest`: None without the repository, else its id, the blob's size
        when the blob is linked to it, and whether the database holds its bytes."""
        ...

    async def missing_manifests(self, repository_id: int, digests: Sequence[str]) -> list[str]: ...
    async def put_manifest(
        self,
        repository_id: int,
        manifest: NewManifest,
        tags: Sequence[str],
        *,
        is_immutable: Callable[[str], bool] = lambda _tag: False,
        events: Sequence[OutboxEvent] = (),
    ) -> bool:
        """Store the manifest and point `tags` at it, atomically; False when nothing changed.
        `events` go to the outbox in the same transaction, when something changed.

        Raises `ImageTagAlreadyExists` if an immutable tag would move to another manifest.
        """
        ...

    async def delete_manifest(
        self, repository_id: int, digest: str, *, events: Sequence[OutboxEvent] = ()
    ) -> bool:
        """Delete a manifest and its tags; raises `ManifestReferenced` while an index lists it."""
        ...

    async def delete_tag(
        self, repository_id: int, tag: str, *, events: Sequence[OutboxEvent] = ()
    ) -> bool: ...
    async def publish_events(self, events: Sequence[OutboxEvent]) -> None:
        """Write events to the outbox on their own (no change goes with them)."""
        ...

    async def record_pulls(self, pulls: Sequence[tuple[int, str, datetime]]) -> None:
        """Set lastRecordedPullTime of (repository, digest) pairs, never moving it back."""
        ...

    async def tag_target(self, repository_id: int, tag: str) -> str | None:
        """The digest a tag points at."""
        ...

    async def describe_images(
        self,
        repository_id: int,
        *,
        digests: Sequence[str] | None = None,
        tag_status: str = "ANY",
        after: str | None = None,
        limit: int = 1000,
    ) -> list[ImageRecord]:
        """Images in digest order after `after`; TAGGED / UNTAGGED / ANY."""
        ...

    async def list_tags(
        self, repository_id: int, *, after: str | None, limit: int
    ) -> list[str]: ...
    async def list_referrers(
        self, repository_id: int, subject: str, artifact_type: str | None
    ) -> list[ReferrerRecord]: ...

    # uploads
    async def get_upload(self, upload_id: str) -> Upload | None:
        """The upload's row: there is none until its first bytes are committed, or until it
        ends without any (then the row says it is `finished`)."""
        ...

    async def advance_upload(
        self,
        upload_id: str,
        repository_id: int,
        expected_offset: int,
        new_offset: int,
        *,
        small_part_below: int | None = None,
    ) -> bool:
        """Compare-and-set the committed length of an upload; from 0, its row is created.

        With `small_part_below`, the bytes are an ECR layer part: remember its size, and that
        an earlier part was smaller than that minimum (which only the last part may be).
        """
        ...

    async def complete_upload(
        self,
        upload_id: str,
        repository_id: int,
        offset: int,
        digest: str,
        size: int,
        place: Callable[[], None] | None = None,
        *,
        content: bytes | None = None,
    ) -> bool:
        """`store_blob` and mark the upload finished, atomically, if its committed length is
        still `offset` and it has not finished; False (nothing written) otherwise."""
        ...

    async def cancel_upload(self, upload_id: str, repository_id: int) -> None:
        """Mark the upload finished, whatever its length."""
        ...

    async def expire_upload(self, upload_id: str) -> bool:
        """Mark an abandoned upload finished; False when it was already. Its row stays for
        another upload lifetime, by the end of which its id has expired too."""
        ...


@dataclass(frozen=True, slots=True)
class GarbageEstimate:
    uploads: int
    referrers: int
    links: int
    blobs: int
    bytes: int


@dataclass(frozen=True, slots=True)
class StorageUsage:
    total_bytes: int
    blob_count: int
    # (account, region, repository name) → bytes of the blobs linked to it.
    repositories: dict[tuple[str, str, str], int]


class GarbageStore(Protocol):
    """Batches of garbage collection; each call is one transaction."""

    async def expired_uploads(self, before: datetime, limit: int) -> list[str]: ...
    async def forget_finished_uploads(self, before: datetime) -> None: ...
    async def known_uploads(self, upload_ids: Sequence[str]) -> set[str]: ...
    async def collect_referrers(self, before: datetime, limit: int) -> int: ...
    async def collect_links(
        self, before: datetime, limit: int, after: tuple[int, str] | None = None
    ) -> tuple[int, tuple[int, str] | None]: ...
    async def collect_blobs(
        self, limit: int, delete: Callable[[str], None], after: str | None = None
    ) -> tuple[list[tuple[str, int]], str | None]: ...
    async def estimate(self, before: datetime, uploads_before: datetime) -> GarbageEstimate: ...
    async def storage_usage(self) -> StorageUsage: ...


@dataclass(frozen=True, slots=True)
class PolicyTarget:
    repository: Repository
    text: str


@dataclass(frozen=True, slots=True)
class ExpiredImage:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    # Referrers and index children that went with it.
    dependents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PreviewRecord:
    text: str
    status: str
    started_at: datetime
    expiring_count: int | None


@dataclass(frozen=True, slots=True)
class PreviewResult:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    rule_priority: int


class LifecycleStore(Protocol):
    async def policy_targets(self) -> list[PolicyTarget]: ...
    async def image_facts(self, repository_id: int) -> list[ImageFacts]: ...
    async def expire(
        self,
        repository_id: int,
        images: Sequence[tuple[str, tuple[str, ...]]],
        events: Callable[[str, tuple[str, ...]], Sequence[OutboxEvent]] = ...,
    ) -> list[ExpiredImage]:
        """Delete the images (judged with these tags), each with `events(digest, tags)`."""
        ...

    async def mark_evaluated(self, repository_id: int, at: datetime) -> None: ...
    async def start_preview(self, repository_id: int, text: str) -> bool: ...
    async def finish_preview(
        self, repository_id: int, results: Sequence[PreviewResult], *, failed: bool = False
    ) -> None: ...
    async def fail_unfinished_previews(self, started_before: datetime) -> None: ...
    async def get_preview(self, repository_id: int) -> PreviewRecord | None: ...
    async def preview_results(
        self,
        repository_id: int,
        *,
        digests: Sequence[str] | None,
        tag_status: str,
        after: str | None,
        limit: int,
    ) -> list[PreviewResult]: ...


class PolicyStore(Protocol):
    """ECR's resource policies, as the text that was put."""

    async def repository_policy(self, account_id: str, region: str, name: str) -> str | None: ...
    async def put_repository_policy(self, repository_id: int, text: str) -> None: ...
    async def delete_repository_policy(self, repository_id: int) -> str | None: ...
    async def registry_policy(self, account_id: str, region: str) -> str | None: ...
    async def put_registry_policy(self, account_id: str, region: str, text: str) -> None: ...
    async def delete_registry_policy(self, account_id: str, region: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    body: str


@dataclass(frozen=True, slots=True)
class TargetCursor:
    """Where delivery to a target stands: the last event it took, and its retry state."""

    cursor: int
    attempts: int
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class TargetState:
    """A target for `berth events status`: its cursor and its counts."""

    name: str
    cursor: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered: int
    failed: int
    pending: int
    dead_letters: int


class OutboxStore(Protocol):
    """The outbox as delivery sees it: events in commit order, a cursor per target."""

    async def cursor(self, name: str) -> TargetCursor:
        """Target `name`'s cursor; a new target starts at the newest event."""
        ...

    async def events_after(self, cursor: int, limit: int) -> list[StoredEvent]: ...
    async def advance(
        self, name: str, old_cursor: int, new_cursor: int, delivered: int
    ) -> bool: ...
    async def failed(
        self, name: str, cursor: int, attempts: int, error: str, next_attempt_at: datetime
    ) -> None: ...
    async def dead_letter(
        self, name: str, event: StoredEvent, attempts: int, error: str
    ) -> None: ...
    async def targets(self) -> list[TargetState]: ...
    async def dead_letters(self, name: str, limit: int) -> list[tuple[int, datetime, str]]: ...
    async def prune(self, before: datetime) -> int: ...


class UploadWriter(Protocol):
    def write(self, data: bytes) -> Callable[[], None] | None:
        """Take `data` (cheap: called on the loop). When enough has gathered to go to disk,
        the blocking call that writes it: run it off the loop while more arrives, and let it
        finish before the next one starts, so that `close` has only the tail left."""
        ...

    def close(self) -> None:
        """Write what no job has written and the tail, make it all durable, then release the
        file (blocks: call it off the loop; it waits for a job that is running)."""
        ...


class BlobStore(Protocol):
    """Bytes only; which repository may read a blob is metadata's business."""

    def create_upload(self, upload_id: str) -> None:
        """The upload's (empty) file, if it has none yet."""
        ...

    def open_upload(self, upload_id: str, offset: int) -> UploadWriter:
        """A writer appending at `offset`; anything past it (an unacknowledged chunk) is dropped."""
        ...

    def hold_upload(self, upload_id: str) -> AbstractContextManager[None]:
        """Exclusive use of an upload, against every process on the store, while the context
        lasts: no other holder can write to it, or move it into place (a write after the move
        would change a stored blob). Entering raises BlockingIOError when another holder has
        it, FileNotFoundError when the upload has no file (no bytes yet, completed or cancelled)."""
        ...

    def read_upload(self, upload_id: str, length: int) -> Iterator[bytes]: ...
    def place_upload(self, upload_id: str, digest: str) -> None:
        """Move a closed (so durable) upload into place as blob `digest` (atomic rename;
        dropped when the blob is there already). Only called by the metadata store, under the
        blob's row lock, so that garbage collection never deletes a blob that is being stored
        again."""
        ...

    def delete_blob(self, digest: str) -> None:
        """Remove a blob's bytes (missing is fine); only garbage collection calls this."""
        ...

    def stale_uploads(self, older_than: float) -> list[str]:
        """Upload files last written before `older_than` (epoch seconds)."""
        ...

    def delete_upload(self, upload_id: str) -> None: ...
    def blob_path(self, digest: str) -> Path:
        """Filesystem path for zero-copy serving."""
        ...


# image scanning


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """The scan of one image, as DescribeImages and DescribeImageScanFindings report it."""

    digest: str
    status: str  # PENDING, IN_PROGRESS, COMPLETE, FAILED
    description: str | None
    requested_at: datetime
    completed_at: datetime | None
    source_updated_at: datetime | None
    severity_counts: dict[str, int] | None


@dataclass(frozen=True, slots=True)
class FindingRecord:
    ordinal: int
    name: str
    severity: str
    uri: str | None
    description: str | None
    attributes: tuple[tuple[str, str], ...]


# Builds the "ECR Image Scan" event of a completed scan from the image's registry and tags.
ScanEvent = Callable[[str, str, tuple[str, ...]], OutboxEvent]


@dataclass(frozen=True, slots=True)
class ClaimedScan:
    manifest_id: int
    repository_id: int
    repository_name: str
    digest: str
    media_type: str
    content: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    findings: Sequence[FindingRecord]
    severity_counts: dict[str, int]
    packages: list[dict[str, str | None]]
    source_updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class AdvisoryRow:
    """One OSV record to import: its id, `modified`, the record, and the (ecosystem, name)
    lookup keys it is filed under."""

    id: str
    modified: str | None
    record: dict[str, Any]
    keys: Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ImportCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class VulnerabilityDbStatus:
    records: int
    by_ecosystem: dict[str, int]
    last_import: datetime | None


class ScanStore(Protocol):
    # the queue
    async def request_scan(
        self, repository_id: int, digest: str, *, not_before: datetime | None
    ) -> str:
        """Queue a scan of the image as PENDING; "queued", "active" (one is pending or running),
        "exists" (a scan exists and `not_before` is None), "too_soon" (the last one was requested
        at or after `not_before`) or "missing" (no such image)."""
        ...

    async def claim(self, worker: str) -> ClaimedScan | None:
        """Move the oldest PENDING scan to IN_PROGRESS for `worker`, atomically."""
        ...

    async def heartbeat(self, manifest_id: int, worker: str) -> None: ...
    async def requeue_stale(self, heartbeat_before: datetime, max_attempts: int) -> int: ...
    async def complete(
        self,
        manifest_id: int,
        worker: str,
        outcome: ScanOutcome,
        event: ScanEvent | None = None,
    ) -> bool:
        """Record the outcome; `event(account, region, tags)` goes to the outbox with it."""
        ...

    async def fail(self, manifest_id: int, worker: str, reason: str) -> bool: ...

    # results
    async def get_scan(self, repository_id: int, digest: str) -> ScanRecord | None: ...
    async def scans(self, repository_id: int, digests: Sequence[str]) -> dict[str, ScanRecord]: ...
    async def findings(
        self, repository_id: int, digest: str, *, after: int, limit: int
    ) -> list[FindingRecord]: ...
    async def packages(
        self, repository_id: int, digest: str
    ) -> list[dict[str, str | None]] | None: ...

    # the vulnerability database
    async def advisories(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any]]: ...
    async def source_updated_at(self) -> datetime | None: ...
    async def import_advisories(self, rows: Sequence[AdvisoryRow]) -> ImportCounts: ...
    async def database_status(self) -> VulnerabilityDbStatus: ...

    # registry scanning configuration
    async def registry_scanning(
        self, account_id: str, region: str
    ) -> tuple[str, list[dict[str, Any]]] | None: ...
    async def put_registry_scanning(
        self, account_id: str, region: str, scan_type: str, rules: list[dict[str, Any]]
    ) -> None: ...
