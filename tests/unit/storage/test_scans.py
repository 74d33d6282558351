"""The scan queue on SQLite and PostgreSQL: claims are exclusive, a dead worker's scan is queued
again (and failed after too many tries), rescans respect the interval."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from berth.storage.metadata.migrate import upgrade
from berth.storage.metadata.scans import SqlScanStore
from berth.storage.metadata.schema import image_scans
from berth.storage.metadata.store import SqlMetadataStore
from berth.storage.ports import AdvisoryRow, ScanOutcome
from tests.unit.storage.builders import bare_manifest


async def scenario(url: str) -> None:
    metadata = SqlMetadataStore(url)
    scans = SqlScanStore(metadata)
    try:
        repository = await metadata.ensure_repository("000000000000", "us-east-1", "scan/q")
        for digest in ("sha256:" + "a" * 64, "sha256:" + "b" * 64):
            await metadata.put_manifest(repository.id, bare_manifest(digest), [])
        a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
        assert await scans.request_scan(repository.id, a, not_before=None) == "queued"
        assert await scans.request_scan(repository.id, a, not_before=None) == "active"
        assert await scans.request_scan(repository.id, "sha256:" + "c" * 64, not_before=None) == (
            "missing"
        )

        # Many workers race for one queued scan: exactly one wins it.
        claims = await asyncio.gather(*(scans.claim(f"w{n}") for n in range(8)))
        won = [c for c in claims if c is not None]
        assert len(won) == 1 and won[0].digest == a and won[0].repository_name == "scan/q"
        worker = next(f"w{n}" for n, c in enumerate(claims) if c is not None)
        assert await scans.claim("late") is None

        # Another worker cannot finish it; its own worker can.
        outcome = ScanOutcome([], {}, [], None)
        assert not await scans.complete(won[0].manifest_id, "intruder", outcome)
        assert await scans.complete(won[0].manifest_id, worker, outcome)
        record = await scans.get_scan(repository.id, a)
        assert record is not None and record.status == "COMPLETE"
        assert await scans.request_scan(repository.id, a, not_before=None) == "exists"
        soon = datetime.now(UTC) - timedelta(hours=1)
        assert await scans.request_scan(repository.id, a, not_before=soon) == "too_soon"
        later = datetime.now(UTC) + timedelta(seconds=1)
        assert await scans.request_scan(repository.id, a, not_before=later) == "queued"

        # A worker that stops beating loses its scan to the queue, and after three tries the
        # scan fails.
        await scans.request_scan(repository.id, b, not_before=None)
        for attempt in range(3):
            claimed = await scans.claim("dying")
            assert claimed is not None
            if claimed.digest == a:  # the rescan of a is older in the queue
                await scans.fail(claimed.manifest_id, "dying", "no")
                claimed = await scans.claim("dying")
                assert claimed is not None
            assert claimed.digest == b and claimed.attempts == attempt + 1
            future = datetime.now(UTC) + timedelta(minutes=5)
            await scans.requeue_stale(future, max_attempts=3)
        record = await scans.get_scan(repository.id, b)
        assert record is not None and record.status == "FAILED"
        assert record.description == "The scan was interrupted 3 times"

        # Deleting the image deletes its scan.
        await metadata.delete_manifest(repository.id, b)
        count = await metadata.read(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(image_scans)).scalar()
        )
        assert count == 1

        # The vulnerability database: upserts by id and modified.
        row = AdvisoryRow("OSV-1", "2024-01-01", {"id": "OSV-1"}, [("PyPI", "x"), ("PyPI", "y")])
        first = await scans.import_advisories([row])
        assert (first.new, first.updated, first.unchanged) == (1, 0, 0)
        again = await scans.import_advisories([row])
        assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
        changed = AdvisoryRow("OSV-1", "2024-02-01", {"id": "OSV-1", "v": 2}, [("PyPI", "z")])
        third = await scans.import_advisories([changed])
        assert (third.new, third.updated, third.unchanged) == (0, 1, 0)
        assert await scans.advisories([("PyPI", "x")]) == []
        assert await scans.advisories([("PyPI", "z"), ("npm", "z")]) == [{"id": "OSV-1", "v": 2}]
        status = await scans.database_status()
        assert status.records == 1 and status.by_ecosystem == {"PyPI": 1}
    finally:
        await metadata.close()


def test_scan_queue_and_database(database_url: str) -> None:
    upgrade(database_url)
    asyncio.run(scenario(database_url))
