"""The audit trail on a real SQLite database: a lookup sees every call that finished before it,
even while a periodic flush is still writing them."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from berth.domain import audit
from berth.domain.audit import AuditEntry
from berth.domain.policy.model import Principal
from berth.services.audit import FLUSH_AT, AuditTrail
from berth.storage.metadata import migrate
from berth.storage.metadata.audit import SqlAuditStore
from berth.storage.metadata.store import SqlMetadataStore

ACCOUNT = "000000000000"


class SlowStore(SqlAuditStore):
    """The real store, its writes made slow enough for a lookup to overtake them."""

    async def add(self, entries: list[AuditEntry]) -> None:
        await asyncio.sleep(0.3)
        await super().add(entries)


def _record(name: str) -> AuditEntry:
    now = datetime.now(UTC)
    return audit.entry(
        event_id=audit.event_id(now, os.urandom(10)),
        request_id=name,
        event_time=now,
        event_source="ecr.amazonaws.com",
        event_name=name,
        region="us-east-1",
        account_id=ACCOUNT,
        caller=audit.Actor(Principal.root(ACCOUNT), "AKIAEXAMPLE"),
        source_ip="127.0.0.1",
        user_agent="test",
        request_parameters={"repositoryName": "app"},
        response_elements=None,
    )


def test_a_lookup_waits_for_the_flush_in_progress(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'berth.db'}"
    migrate.upgrade(url)

    async def run() -> set[str]:
        metadata = SqlMetadataStore(url)
        try:
            trail = AuditTrail(SlowStore(metadata))
            for name in ("PutImage", "BatchGetImage"):
                trail.add(_record(name))
            periodic = asyncio.ensure_future(trail.flush())  # takes the queue, writes slowly
            await asyncio.sleep(0.05)
            page = await trail.lookup_events(ACCOUNT, [], None, None, 50, None)
            await periodic
            return {entry.event_name for entry in page.entries}
        finally:
            await metadata.close()

    assert asyncio.run(run()) == {"PutImage", "BatchGetImage"}


class FailingOnce(SqlAuditStore):
    """The real store; its second write fails once (a database that went away briefly)."""

    def __init__(self, metadata: SqlMetadataStore) -> None:
        super().__init__(metadata)
        self.writes: list[int] = []

    async def add(self, entries: list[AuditEntry]) -> None:
        self.writes.append(len(entries))
        if len(self.writes) == 2:
            raise OSError("database unavailable")
        await super().add(entries)


def test_a_large_queue_is_written_in_slices_and_a_failed_slice_is_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'berth.db'}"
    migrate.upgrade(url)
    total = FLUSH_AT * 2 + 7

    async def run() -> tuple[list[int], list[str]]:
        metadata = SqlMetadataStore(url)
        try:
            store = FailingOnce(metadata)
            trail = AuditTrail(store)
            for n in range(total):
                trail.add(_record(f"Call{n:05d}"))
            with pytest.raises(OSError):
                await trail.flush()
            await trail.flush()  # the failed slice and the rest, in order
            found: list[str] = []
            token = None
            while True:
                page = await trail.lookup_events(ACCOUNT, [], None, None, 50, token)
                found += [entry.event_name for entry in page.entries]
                token = page.next_token
                if token is None:
                    return store.writes, found
        finally:
            await metadata.close()

    writes, names = asyncio.run(run())
    assert writes[:2] == [FLUSH_AT, FLUSH_AT]  # no write larger than a slice
    assert max(writes) <= FLUSH_AT
    assert sorted(names) == [f"Call{n:05d}" for n in range(total)]  # none lost, none twice
