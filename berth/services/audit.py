"""The audit trail: records are queued in memory by the request path and written in batches
off it, every `interval` seconds (a crash loses at most that much of the trail, never a
change); LookupEvents reads them back; old ones are pruned after the retention period."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from berth.domain.audit import AuditEntry
from berth.errors import InvalidParameter

log = logging.getLogger(__name__)

FLUSH_AT = 500
MAX_QUEUE = 100_000
LOOKUP_KEYS = frozenset(
    {
        "EventId",
        "EventName",
        "ReadOnly",
        "Username",
        "ResourceType",
        "ResourceName",
        "EventSource",
        "AccessKeyId",
    }
)


class AuditStore(Protocol):
    async def add(self, entries: list[AuditEntry]) -> None: ...
    async def lookup(
        self,
        account_id: str,
        *,
        attribute: tuple[str, str] | None,
        start: datetime | None,
        end: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[AuditEntry]: ...
    async def prune(self, before: datetime) -> int: ...


class InvalidLookupAttributes(InvalidParameter):
    pass


class InvalidTimeRange(InvalidParameter):
    pass


class InvalidNextToken(InvalidParameter):
    pass


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[AuditEntry]
    next_token: str | None


class AuditTrail:
    def __init__(self, store: AuditStore) -> None:
        self._store = store
        # Builders, not records: serialising happens at flush time, off the request path.
        self._queue: list[Callable[[], AuditEntry]] = []
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self.dropped = 0

    def record(self, entry: Callable[[], AuditEntry]) -> None:
        """Queue a record's builder; never blocks the request that made it."""
        if len(self._queue) >= MAX_QUEUE:
            self.dropped += 1  # the database is not keeping up; keep serving
            return
        self._queue.append(entry)
        if len(self._queue) >= FLUSH_AT:
            self._wake.set()

    def add(self, entry: AuditEntry) -> None:
        """Queue a record built already (service events such as lifecycle runs)."""
        self.record(_ready(entry))

    async def flush(self) -> None:
        # One at a time: a lookup's flush must also wait for the records another flush took
        # from the queue and has not written yet.
        async with self._flushing:
            builders, self._queue = self._queue, []
            # In slices: under a pull storm the queue holds thousands of records, and building
            # and inserting them all at once held tens of megabytes that the process kept.
            for start in range(0, len(builders), FLUSH_AT):
                # Built in a thread: thousands of JSON documents on the event loop would
                # stall every request for that long.
                batch = await asyncio.to_thread(_build, builders[start : start + FLUSH_AT])
                try:
                    await self._store.add(batch)
                except Exception:
                    # Try again with the next flush, in order.
                    retry = [_ready(e) for e in batch] + builders[start + FLUSH_AT :]
                    self._queue[:0] = retry
                    raise

    async def run(self, interval: float, retention: timedelta) -> None:
        """Write queued records every `interval` seconds; prune hourly; flush on cancel."""
        pruned_at = datetime.min.replace(tzinfo=UTC)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
                self._wake.clear()
                try:
                    await self.flush()
                    now = datetime.now(UTC)
                    if now - pruned_at > timedelta(hours=1):
                        await self._store.prune(now - retention)
                        pruned_at = now
                except Exception:
                    log.exception("could not write the audit trail; will retry")
        finally:
            with contextlib.suppress(Exception):
                await self.flush()

    async def lookup_events(
        self,
        account_id: str,
        attributes: list[dict[str, str]],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        next_token: str | None,
    ) -> Page:
        if len(attributes) > 1:
            raise InvalidLookupAttributes("You cannot specify more than one lookup attribute.")
        attribute = None
        if attributes:
            key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
            if key not in LOOKUP_KEYS:
                raise InvalidLookupAttributes(f"Invalid lookup attribute key: {key}")
            attribute = (key, value)
        if start is not None and end is not None and start > end:
            raise InvalidTimeRange("Start time must be before end time.")
        await self.flush()  # a lookup sees every call that finished before it
        entries = await self._store.lookup(
            account_id,
            attribute=attribute,
            start=start,
            end=end,
            after=_decode(next_token),
            limit=limit + 1,
        )
        token = None
        if len(entries) > limit:
            entries = entries[:limit]
            last = entries[-1]
            token = base64.urlsafe_b64encode(
                json.dumps([last.event_time.isoformat(), last.event_id]).encode()
            ).decode()
        return Page(entries, token)


def _build(builders: list[Callable[[], AuditEntry]]) -> list[AuditEntry]:
    batch: list[AuditEntry] = []
    for build in builders:
        try:
            batch.append(build())
        except Exception:
            log.exception("could not build an audit record")
    return batch


def _ready(entry: AuditEntry) -> Callable[[], AuditEntry]:
    return lambda: entry


def _decode(token: str | None) -> tuple[datetime, str] | None:
    if token is None:
        return None
    try:
        time, event_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(time), str(event_id)
    except (ValueError, TypeError):
        raise InvalidNextToken("Invalid NextToken") from None
