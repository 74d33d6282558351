"""Online garbage collection: expire abandoned uploads, then delete what nothing references.

Order matters: orphaned referrers go first (their blobs become unreferenced), then links no
manifest uses (older than the grace period), then blobs linked nowhere. Each step runs in
batches until a batch comes back short, so the work is bounded in memory and resumable.
What "referenced" means and why it is safe while pushes run is the store's business
(`berth.storage.metadata.gc`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from berth.storage.ports import BlobStore, GarbageEstimate, GarbageStore, MetadataStore

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class GcReport:
    dry_run: bool = False
    uploads: int = 0
    referrers: int = 0
    links: int = 0
    blobs: int = 0
    bytes: int = 0


Progress = Callable[[GcReport], None]


class GarbageCollector:
    def __init__(
        self,
        garbage: GarbageStore,
        metadata: MetadataStore,
        blobs: BlobStore,
        *,
        grace: timedelta,
        upload_ttl: timedelta,
        batch: int = BATCH,
    ) -> None:
        self._garbage = garbage
        self._metadata = metadata
        self._blobs = blobs
        self.grace = grace
        self.upload_ttl = upload_ttl
        self._batch = batch
        # One collection at a time per process; other processes are safe through row locks.
        self._running = asyncio.Lock()

    async def collect(self, *, dry_run: bool = False, progress: Progress | None = None) -> GcReport:
        now = datetime.now(UTC)
        before, uploads_before = now - self.grace, now - self.upload_ttl
        if dry_run:
            estimate: GarbageEstimate = await self._garbage.estimate(before, uploads_before)
            return GcReport(
                True,
                estimate.uploads,
                estimate.referrers,
                estimate.links,
                estimate.blobs,
                estimate.bytes,
            )
        async with self._running:
            report = GcReport(
                uploads=await self._expire_uploads(uploads_before),
                referrers=await self._drain(
                    lambda: self._garbage.collect_referrers(before, self._batch)
                ),
                links=await self._collect_links(before),
            )
            # Each batch starts where the last ended: one pass over the blobs, not one per batch.
            last: str | None = None
            while True:
                gone, last = await self._garbage.collect_blobs(
                    self._batch, self._blobs.delete_blob, after=last
                )
                report = replace(
                    report,
                    blobs=report.blobs + len(gone),
                    bytes=report.bytes + sum(size for _, size in gone),
                )
                if progress:
                    progress(report)
                if last is None:
                    break
        log.info(
            "garbage collection: %d uploads expired, %d referrers, %d links, %d blobs deleted, "
            "%d bytes reclaimed",
            report.uploads,
            report.referrers,
            report.links,
            report.blobs,
            report.bytes,
        )
        return report

    async def _collect_links(self, before: datetime) -> int:
        total, last = 0, None
        while True:
            count, last = await self._garbage.collect_links(before, self._batch, after=last)
            total += count
            if last is None:
                return total

    async def _drain(self, batch: Callable[[], Awaitable[int]]) -> int:
        total = 0
        while True:
            count = await batch()
            total += count
            if count < self._batch:
                return total

    async def _expire_uploads(self, before: datetime) -> int:
        expired = 0
        while True:
            ids = await self._garbage.expired_uploads(before, self._batch)
            for upload_id in ids:
                if await self._metadata.expire_upload(upload_id):
                    expired += 1
                self._blobs.delete_upload(upload_id)
            if len(ids) < self._batch:
                break
        # Files with no upload row: first chunks and monolithic uploads cut off by a crash.
        stale = self._blobs.stale_uploads(older_than=before.timestamp())
        if stale:
            known = await self._garbage.known_uploads(stale)
            for upload_id in stale:
                if upload_id not in known:
                    self._blobs.delete_upload(upload_id)
        await self._garbage.forget_finished_uploads(before)
        return expired

    async def run(self, interval: float) -> None:
        """Collect every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                await self.collect()
            except Exception:
                log.exception("garbage collection failed; will retry")
            log.debug("garbage collection took %.1fs", time.monotonic() - started)
