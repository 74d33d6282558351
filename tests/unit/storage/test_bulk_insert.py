"""bulk_insert on SQLite and PostgreSQL: every row, every value converted by its column's type,
whatever the count against SQLite's rows per statement."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from berth.storage.metadata import migrate
from berth.storage.metadata.schema import audit_events
from berth.storage.metadata.store import MULTI_ROW_INSERT, SqlMetadataStore, aware

START = datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC)


def _rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"event-{i:05d}",
            "account_id": "000000000000",
            "event_time": START + timedelta(microseconds=i),
            "event_name": "BatchGetImage",
            "event_source": "ecr.amazonaws.com",
            "read_only": i % 2 == 0,
            "username": None if i % 3 else f"user-{i}",
            "access_key_id": None,
            "resource_type": "AWS::ECR::Repository",
            "resource_name": f"arn:aws:ecr:us-east-1:000000000000:repository/r{i}",
            "record": f'{{"n": {i}, "quote": "\'"}}',
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [1, 2, MULTI_ROW_INSERT, 2 * MULTI_ROW_INSERT + 37])
def test_every_row_is_inserted_with_its_values(database_url: str, count: int) -> None:
    rows = _rows(count)

    async def scenario() -> list[sa.Row[tuple[object, ...]]]:
        await asyncio.to_thread(migrate.upgrade, database_url)
        store = SqlMetadataStore(database_url)
        try:
            await store.write(lambda conn: store.bulk_insert(conn, audit_events, rows))
            # Twice: the statements cached by the first call serve the second.
            more = [{**row, "id": f"again-{row['id']}"} for row in rows]
            await store.write(lambda conn: store.bulk_insert(conn, audit_events, more))
            query = sa.select(audit_events).order_by(audit_events.c.id)
            return await store.read(lambda conn: list(conn.execute(query)))
        finally:
            await store.close()

    stored = asyncio.run(scenario())
    expected = sorted([{**r, "id": f"again-{r['id']}"} for r in rows] + rows, key=lambda r: r["id"])  # type: ignore[arg-type,return-value]
    assert len(stored) == 2 * count
    for row, want in zip(stored, expected, strict=True):
        got = row._asdict()
        got["event_time"] = aware(got["event_time"])
        assert got == want
