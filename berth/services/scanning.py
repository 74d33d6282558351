"""Image scanning: StartImageScan, DescribeImageScanFindings, scan on push, the registry and
repository scanning configurations, the background worker, and SBOMs.

Scans run off the request path. A push (or StartImageScan) only queues a PENDING row; workers
in any Berth process claim queued scans atomically, read the image's layers from the blob store
in a thread (`berth.scan`), match the packages against the imported OSV database and store the
findings. A worker keeps a heartbeat on the scan it runs; a scan whose worker died is queued
again, so a restart resumes what was pending or running.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from berth.domain import media_types as mt
from berth.domain.digests import digest_of, is_digest
from berth.domain.events import image_scan_event
from berth.domain.manifests import Manifest, parse_manifest
from berth.domain.pagination import decode_token, encode_token
from berth.domain.scope import Scope
from berth.domain.wildcards import matches
from berth.errors import (
    BerthError,
    InvalidParameter,
    ManifestNotFound,
    ScanLimitExceeded,
    ScanNotFound,
    UnsupportedImageType,
)
from berth.scan.errors import OsvError, ScanError
from berth.services.images import ImageId, ImagesService, PushedImage
from berth.services.repositories import RepositoriesService
from berth.services.uploads import UploadsService
from berth.storage.ports import (
    AdvisoryRow,
    BlobStore,
    ClaimedScan,
    FindingRecord,
    ImportCounts,
    MetadataStore,
    OutboxEvent,
    Repository,
    ScanEvent,
    ScanOutcome,
    ScanRecord,
    ScanStore,
    VulnerabilityDbStatus,
)

if TYPE_CHECKING:
    # The scanner itself (`berth.scan` with univers, cvss, zstandard and packageurl) is imported
    # by the functions that scan, import advisories or write SBOMs: a process that never does
    # any of these never holds it.
    from berth.scan.inventory import Package
    from berth.scan.osv import Advisory, Finding

log = logging.getLogger(__name__)

PENDING, IN_PROGRESS, COMPLETE, FAILED = "PENDING", "IN_PROGRESS", "COMPLETE", "FAILED"
SCAN_ON_PUSH, MANUAL, CONTINUOUS_SCAN = "SCAN_ON_PUSH", "MANUAL", "CONTINUOUS_SCAN"
BASIC, ENHANCED = "BASIC", "ENHANCED"
IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
SBOM_ARTIFACT_TYPE = "application/vnd.cyclonedx+json"
# A worker refreshes its scan's heartbeat this often; a scan without one for STALE_AFTER lost
# its worker. After MAX_ATTEMPTS interrupted tries the scan fails.
HEARTBEAT = 10.0
STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 3
IMPORT_BATCH = 1000


def is_scannable(media_type: str, config_media_type: str | None) -> bool:
    """Container images (OCI or Docker schema 2 with an image config), not indexes nor
    artifacts."""
    return media_type in mt.IMAGE_MANIFESTS and config_media_type in IMAGE_CONFIGS


@dataclass(frozen=True, slots=True)
class ScanFindingsPage:
    digest: str
    tag: str | None
    scan: ScanRecord
    findings: list[FindingRecord]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class RepositoryScanning:
    repository: Repository
    scan_on_push: bool
    frequency: str
    filters: list[dict[str, Any]]


Progress = Callable[[int, ImportCounts, int], None]  # (records read, counts, invalid)


class ScanningService:
    def __init__(
        self,
        store: ScanStore,
        metadata: MetadataStore,
        blobs: BlobStore,
        repositories: RepositoriesService,
        *,
        rescan_interval: float = 86_400.0,
        poll_interval: float = 5.0,
    ) -> None:
        self._store = store
        self._metadata = metadata
        self._blobs = blobs
        self._repositories = repositories
        self._rescan_interval = timedelta(seconds=rescan_interval)
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self.completed = 0  # scans finished by this process (metrics)
        self.failed = 0

    # scan on push

    async def image_pushed(self, pushed: PushedImage) -> None:
        """The push listener: queue a scan of a new image when its repository scans on push."""
        manifest = pushed.manifest
        if not is_scannable(manifest.media_type, manifest.config_media_type):
            return
        if not (await self.repository_scanning(pushed.repository)).scan_on_push:
            return
        outcome = await self._store.request_scan(
            pushed.repository.id, manifest.digest, not_before=None
        )
        if outcome == "queued":
            self._wakeup.set()

    # StartImageScan, DescribeImageScanFindings, DescribeImages' summaries

    async def start_image_scan(
        self, scope: Scope, name: str, image_id: ImageId
    ) -> tuple[ImageId, str]:
        repository = await self._repositories.get(scope, name)
        digest, manifest = await self._image(repository, image_id)
        if not is_scannable(manifest.media_type, _config_type(manifest)):
            raise UnsupportedImageType(
                f"The image with digest '{digest}' ({manifest.media_type}) is not a container "
                "image; only image manifests can be scanned"
            )
        not_before = datetime.now(UTC) - self._rescan_interval
        outcome = await self._store.request_scan(repository.id, digest, not_before=not_before)
        if outcome == "too_soon":
            raise ScanLimitExceeded(
                "The scan quota per image has been exceeded. Wait and try again."
            )
        if outcome == "missing":
            raise _image_not_found(repository, image_id)
        self._wakeup.set()
        scan = await self._store.get_scan(repository.id, digest)
        return ImageId(digest, image_id.tag), scan.status if scan else PENDING

    async def describe_image_scan_findings(
        self,
        scope: Scope,
        name: str,
        image_id: ImageId,
        next_token: str | None,
        limit: int,
    ) -> ScanFindingsPage:
        repository = await self._repositories.get(scope, name)
        digest, _ = await self._image(repository, image_id)
        scan = await self._store.get_scan(repository.id, digest)
        if scan is None:
            raise ScanNotFound(
                f"Image scan does not exist for the image with '{_show(image_id, digest)}' in "
                f"the repository with name '{name}' in the registry with id "
                f"'{repository.account_id}'"
            )
        if scan.status != COMPLETE:
            return ScanFindingsPage(digest, image_id.tag, scan, [], None)
        after = decode_token(next_token)
        try:
            position = int(after) if after is not None else 0
        except ValueError:
            raise InvalidParameter(
                "Invalid parameter at 'nextToken': the token is not valid"
            ) from None
        found = await self._store.findings(repository.id, digest, after=position, limit=limit + 1)
        token = None
        if len(found) > limit:
            found = found[:limit]
            token = encode_token(str(found[-1].ordinal))
        return ScanFindingsPage(digest, image_id.tag, scan, found, token)

    async def scan_records(
        self, scope: Scope, name: str, digests: Sequence[str]
    ) -> dict[str, ScanRecord]:
        """The scans of a page of DescribeImages, in one query."""
        if not digests:
            return {}
        repository = await self._repositories.get(scope, name)
        return await self._store.scans(repository.id, digests)

    async def _image(self, repository: Repository, image_id: ImageId) -> tuple[str, Manifest]:
        if image_id.digest is None and image_id.tag is None:
            raise InvalidParameter("Invalid parameter at 'imageId': imageDigest or imageTag")
        record = None
        if image_id.tag is not None:
            record = await self._metadata.get_manifest(repository.id, tag=image_id.tag)
            if record is not None and image_id.digest and record.digest != image_id.digest:
                record = None
        elif image_id.digest is not None and is_digest(image_id.digest):
            record = await self._metadata.get_manifest(repository.id, digest=image_id.digest)
        if record is None:
            raise _image_not_found(repository, image_id)
        return record.digest, parse_manifest(record.content, record.media_type)

    # registry and repository scanning configuration

    async def get_registry_scanning_configuration(
        self, scope: Scope
    ) -> tuple[str, list[dict[str, Any]]]:
        stored = await self._store.registry_scanning(scope.account_id, scope.region)
        return stored if stored is not None else (BASIC, [])

    async def put_registry_scanning_configuration(
        self, scope: Scope, scan_type: str, rules: Sequence[dict[str, Any]]
    ) -> tuple[str, list[dict[str, Any]]]:
        if scan_type == ENHANCED:
            raise InvalidParameter(
                "Invalid parameter at 'scanType': Berth implements BASIC scanning only; "
                "ENHANCED scanning (Amazon Inspector) is not available"
            )
        seen: set[str] = set()
        clean: list[dict[str, Any]] = []
        for rule in rules:
            frequency = rule["scanFrequency"]
            if frequency == CONTINUOUS_SCAN:
                raise InvalidParameter(
                    "Invalid parameter at 'rules': scanFrequency CONTINUOUS_SCAN needs ENHANCED "
                    "scanning, which Berth does not implement; use SCAN_ON_PUSH or MANUAL"
                )
            if frequency in seen:
                raise InvalidParameter(
                    f"Invalid parameter at 'rules': more than one rule with scanFrequency "
                    f"{frequency}"
                )
            seen.add(frequency)
            filters = [
                {"filter": f["filter"], "filterType": f["filterType"]}
                for f in rule["repositoryFilters"]
            ]
            if not filters:
                raise InvalidParameter(
                    "Invalid parameter at 'rules': a rule needs at least one repository filter"
                )
            clean.append({"scanFrequency": frequency, "repositoryFilters": filters})
        await self._store.put_registry_scanning(scope.account_id, scope.region, BASIC, clean)
        return BASIC, clean

    async def repository_scanning(self, repository: Repository) -> RepositoryScanning:
        """The effective configuration: the repository's scanOnPush, or a registry rule whose
        WILDCARD filter matches its name."""
        stored = await self._store.registry_scanning(repository.account_id, repository.region)
        rules = stored[1] if stored is not None else []

        def rule_for(frequency: str) -> list[dict[str, Any]] | None:
            for rule in rules:
                if rule["scanFrequency"] == frequency and any(
                    matches(f["filter"], repository.name) for f in rule["repositoryFilters"]
                ):
                    return list(rule["repositoryFilters"])
            return None

        on_push = rule_for(SCAN_ON_PUSH)
        if on_push is not None:
            return RepositoryScanning(repository, True, SCAN_ON_PUSH, on_push)
        if repository.settings.scan_on_push:
            return RepositoryScanning(repository, True, SCAN_ON_PUSH, [])
        return RepositoryScanning(repository, False, MANUAL, rule_for(MANUAL) or [])

    async def batch_get_repository_scanning_configuration(
        self, scope: Scope, names: Sequence[str]
    ) -> tuple[list[RepositoryScanning], list[str]]:
        found: list[RepositoryScanning] = []
        missing: list[str] = []
        for name in dict.fromkeys(names):
            repository = await self._metadata.get_repository(scope.account_id, scope.region, name)
            if repository is None:
                missing.append(name)
            else:
                found.append(await self.repository_scanning(repository))
        return found, missing

    # the worker

    async def run(self, workers: int) -> None:
        """Scan queued images until cancelled, `workers` at a time."""
        worker = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        loops = [self._work(f"{worker}:{n}") for n in range(workers)]
        await asyncio.gather(self._requeue(), *loops)

    async def _requeue(self) -> None:
        while True:
            try:
                requeued = await self._store.requeue_stale(
                    datetime.now(UTC) - STALE_AFTER, MAX_ATTEMPTS
                )
                if requeued:
                    log.info("queued %d interrupted scans again", requeued)
                    self._wakeup.set()
            except Exception:
                log.exception("could not look for interrupted scans")
            await asyncio.sleep(HEARTBEAT)

    async def _work(self, worker: str) -> None:
        while True:
            self._wakeup.clear()
            try:
                claimed = await self._store.claim(worker)
            except Exception:
                log.exception("could not claim a scan")
                claimed = None
            if claimed is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
                continue
            await self.scan(claimed, worker)

    async def scan(self, claimed: ClaimedScan, worker: str) -> None:
        """Run one claimed scan to COMPLETE or FAILED."""
        beating = asyncio.create_task(self._beat(claimed.manifest_id, worker))
        try:
            try:
                outcome = await self._scan(claimed)
            except (ScanError, BerthError) as exc:
                await self._store.fail(claimed.manifest_id, worker, exc.message)
                log.info("scan of %s@%s failed: %s", claimed.repository_name, claimed.digest, exc)
                self.failed += 1
                return
            except OSError as exc:
                await self._store.fail(claimed.manifest_id, worker, f"Unreadable layer: {exc}")
                return
            except Exception as exc:
                log.exception("scan of %s@%s crashed", claimed.repository_name, claimed.digest)
                await self._store.fail(
                    claimed.manifest_id, worker, f"Internal error while scanning: {exc!r}"
                )
                return
            await self._store.complete(
                claimed.manifest_id, worker, outcome, self._scan_event(claimed, outcome)
            )
            self.completed += 1
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    def _scan_event(self, claimed: ClaimedScan, outcome: ScanOutcome) -> ScanEvent:
        def event(account: str, region: str, tags: tuple[str, ...]) -> OutboxEvent:
            body = image_scan_event(
                scan_status="COMPLETE",
                repository=claimed.repository_name,
                digest=claimed.digest,
                tags=tags,
                finding_counts=outcome.severity_counts,
                account=account,
                region=region,
                now=datetime.now(UTC),
                event_id=str(uuid.uuid4()),
            )
            return OutboxEvent(str(body["id"]), account, json.dumps(body))

        return event

    async def _beat(self, manifest_id: int, worker: str) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            with contextlib.suppress(Exception):
                await self._store.heartbeat(manifest_id, worker)

    async def _scan(self, claimed: ClaimedScan) -> ScanOutcome:
        from berth.scan import osv

        manifest = parse_manifest(claimed.content, claimed.media_type)
        packages = await self._packages(manifest)
        source_updated_at = await self._store.source_updated_at()
        keys = [(p.ecosystem, name) for p in packages for name in osv.lookup_names(p)]
        records = await self._store.advisories(keys)
        findings = await asyncio.to_thread(_match, packages, records)
        return ScanOutcome(
            findings=[
                FindingRecord(
                    ordinal,
                    finding.name,
                    finding.severity,
                    finding.uri,
                    finding.description,
                    finding.attributes,
                )
                for ordinal, finding in enumerate(findings, 1)
            ],
            severity_counts=dict(Counter(f.severity for f in findings)),
            packages=[dataclasses.asdict(p) for p in packages],
            source_updated_at=source_updated_at,
        )

    async def _packages(self, manifest: Manifest) -> list[Package]:
        inline = await self._metadata.blob_contents(
            [str(layer.digest) for layer in manifest.layers]
        )
        return await asyncio.to_thread(self.read_packages, manifest, inline)

    def read_packages(self, manifest: Manifest, inline: dict[str, bytes]) -> list[Package]:
        """The image's package inventory, from its layers in order (blocking: call in a
        thread); `inline`, the bytes of its layers that the database keeps. Foreign layers,
        which the registry does not hold, are left out."""
        from berth.scan.inventory import extract_file, inventory, wanted_path
        from berth.scan.layers import read_files

        openers: list[Callable[[], BinaryIO]] = []
        for layer in manifest.layers:
            content = inline.get(str(layer.digest))
            if content is not None:
                openers.append(partial(io.BytesIO, content))
                continue
            path = self._blobs.blob_path(str(layer.digest))
            if not path.is_file():
                if layer.is_foreign:
                    continue
                raise ScanError(f"Layer {layer.digest} is missing from the registry")
            openers.append(partial(_open, path))
        return inventory(read_files(openers, wanted_path, extract=extract_file))

    # SBOMs

    async def sbom(self, scope: Scope, name: str, reference: str) -> tuple[str, dict[str, Any]]:
        """The CycloneDX document of an image: from its last complete scan's inventory, else
        read from its layers now."""
        from berth.scan import cyclonedx
        from berth.scan.inventory import Package

        repository = await self._repositories.get(scope, name)
        image_id = ImageId(reference, None) if is_digest(reference) else ImageId(None, reference)
        digest, manifest = await self._image(repository, image_id)
        if not is_scannable(manifest.media_type, _config_type(manifest)):
            raise UnsupportedImageType(f"{name}@{digest} is not a container image")
        stored = await self._store.packages(repository.id, digest)
        if stored is not None:
            packages = [Package(**p) for p in stored]  # type: ignore[arg-type]
        else:
            packages = await self._packages(manifest)
        document = cyclonedx.sbom(
            packages,
            image_name=f"{repository.name}@{digest}",
            image_digest=digest,
            timestamp=datetime.now(UTC).replace(microsecond=0),
        )
        return digest, document

    async def push_sbom(
        self,
        scope: Scope,
        name: str,
        reference: str,
        images: ImagesService,
        uploads: UploadsService,
    ) -> tuple[str, str, dict[str, Any]]:
        """Store the SBOM as an OCI referrer artifact of the image; (image digest, artifact
        digest, document)."""
        digest, document = await self.sbom(scope, name, reference)
        subject = await self._metadata.get_manifest(
            (await self._repositories.get(scope, name)).id, digest=digest
        )
        assert subject is not None
        content = json.dumps(document, indent=2).encode()
        empty = b"{}"
        for blob in (content, empty):
            await uploads.upload_blob(scope, name, str(digest_of(blob)), _once(blob), len(blob))
        artifact = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": SBOM_ARTIFACT_TYPE,
            "config": {
                "mediaType": mt.OCI_EMPTY,
                "digest": str(digest_of(empty)),
                "size": len(empty),
            },
            "layers": [
                {
                    "mediaType": SBOM_ARTIFACT_TYPE,
                    "digest": str(digest_of(content)),
                    "size": len(content),
                }
            ],
            "subject": {"mediaType": subject.media_type, "digest": digest, "size": subject.size},
            "annotations": {
                "org.opencontainers.image.created": document["metadata"]["timestamp"],
            },
        }
        raw = json.dumps(artifact).encode()
        result = await images.put_image(scope, name, str(digest_of(raw)), raw, mt.OCI_MANIFEST)
        return digest, result.digest, document

    # the vulnerability database

    async def import_advisories(
        self, paths: Iterable[str | Path], progress: Progress | None = None
    ) -> tuple[ImportCounts, int]:
        """Upsert the OSV records of files, folders or zip exports; (counts, invalid records)."""
        from berth.scan import osv

        totals = ImportCounts()
        invalid = read = 0
        batch: list[AdvisoryRow] = []

        async def flush() -> None:
            nonlocal totals, batch
            if batch:
                counts = await self._store.import_advisories(batch)
                totals = ImportCounts(
                    totals.new + counts.new,
                    totals.updated + counts.updated,
                    totals.unchanged + counts.unchanged,
                )
                batch = []
            if progress:
                progress(read, totals, invalid)

        for path in paths:
            async for record in _records(path):
                read += 1
                try:
                    advisory = osv.parse_advisory(record)
                except OsvError as exc:
                    invalid += 1
                    log.warning("skipping an OSV record: %s", exc.message)
                    continue
                batch.append(AdvisoryRow(advisory.id, advisory.modified, record, _keys(advisory)))
                if len(batch) >= IMPORT_BATCH:
                    await flush()
        await flush()
        return totals, invalid

    async def database_status(self) -> VulnerabilityDbStatus:
        return await self._store.database_status()


def _keys(advisory: Advisory) -> list[tuple[str, str]]:
    """What `osv.index` files an advisory under: base ecosystem, name as matching asks."""
    from berth.scan import osv
    from berth.scan.inventory import normalise_pypi_name

    keys = set()
    for entry in advisory.affected:
        ecosystem = osv.base_ecosystem(entry.ecosystem)
        name = normalise_pypi_name(entry.name) if ecosystem == "PyPI" else entry.name
        keys.add((ecosystem[:64], name[:512]))
    return sorted(keys)


async def _records(path: str | Path) -> AsyncIterator[dict[str, Any]]:
    """`osv.load_records`, read in a thread a chunk at a time."""
    from berth.scan import osv

    iterator = osv.load_records(path)
    sentinel: list[dict[str, Any]] = []

    def chunk() -> list[dict[str, Any]]:
        out = []
        for record in iterator:
            out.append(record)
            if len(out) == IMPORT_BATCH:
                break
        return out

    while True:
        records = await asyncio.to_thread(chunk)
        if records == sentinel:
            return
        for record in records:
            yield record


def _match(packages: list[Package], records: list[dict[str, Any]]) -> list[Finding]:
    from berth.scan import osv

    advisories = []
    for record in records:
        try:
            advisories.append(osv.parse_advisory(record))
        except OsvError:
            continue
    return osv.match(packages, osv.index(advisories))


def _open(path: Path) -> BinaryIO:
    return open(path, "rb")


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _config_type(manifest: Manifest) -> str | None:
    return manifest.config.media_type if manifest.config else None


def _show(image_id: ImageId, digest: str) -> str:
    parts = [f"imageDigest:'{image_id.digest or digest}'"]
    if image_id.tag:
        parts.append(f"imageTag:'{image_id.tag}'")
    return "{" + ", ".join(parts) + "}"


def _image_not_found(repository: Repository, image_id: ImageId) -> ManifestNotFound:
    parts = []
    if image_id.digest:
        parts.append(f"imageDigest:'{image_id.digest}'")
    if image_id.tag:
        parts.append(f"imageTag:'{image_id.tag}'")
    return ManifestNotFound(
        f"The image with imageId {{{', '.join(parts)}}} does not exist within the repository "
        f"with name '{repository.name}' in the registry with id '{repository.account_id}'"
    )
