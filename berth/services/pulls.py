"""lastRecordedPullTime without a database write per pull.

Pulls are noted in memory and written in one transaction every `interval` seconds and at
shutdown, as ECR itself refreshes the time lazily; a crash loses at most one interval of pull
times, never an image.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from berth.storage.ports import MetadataStore

log = logging.getLogger(__name__)


class PullRecorder:
    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata
        self._pending: dict[tuple[int, str], datetime] = {}

    def record(self, repository_id: int, digest: str) -> None:
        self._pending[(repository_id, digest)] = datetime.now(UTC)

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            await self._metadata.record_pulls(
                [(repository_id, digest, at) for (repository_id, digest), at in pending.items()]
            )

    async def run(self, interval: float) -> None:
        """Flush every `interval` seconds until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.flush()
                except Exception:
                    log.exception("could not record pull times; will retry")
        finally:
            with contextlib.suppress(Exception):
                await self.flush()
