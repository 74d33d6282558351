"""The audit trail: CloudTrail-shaped records, written in batches, looked up by attribute."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from berth.domain.audit import AuditEntry
from berth.storage.metadata.schema import audit_events
from berth.storage.metadata.store import SqlMetadataStore, aware

# LookupEvents' attribute keys and the column each filters.
COLUMNS = {
    "EventId": audit_events.c.id,
    "EventName": audit_events.c.event_name,
    "ReadOnly": audit_events.c.read_only,
    "Username": audit_events.c.username,
    "ResourceType": audit_events.c.resource_type,
    "ResourceName": audit_events.c.resource_name,
    "EventSource": audit_events.c.event_source,
    "AccessKeyId": audit_events.c.access_key_id,
}


class SqlAuditStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    async def add(self, entries: list[AuditEntry]) -> None:
        rows = [
            {
                "id": e.event_id,
                "account_id": e.account_id,
                "event_time": e.event_time,
                "event_name": e.event_name,
                "event_source": e.event_source,
                "read_only": e.read_only,
                "username": e.username,
                "access_key_id": e.access_key_id,
                "resource_type": e.resource_type,
                "resource_name": e.resource_name,
                "record": e.record,
            }
            for e in entries
        ]
        if rows:
            await self._store.write(lambda conn: self._store.bulk_insert(conn, audit_events, rows))

    async def lookup(
        self,
        account_id: str,
        *,
        attribute: tuple[str, str] | None,
        start: datetime | None,
        end: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[AuditEntry]:
        """Newest first; `after` is the (time, id) of the last record of the previous page."""
        query = sa.select(audit_events).where(audit_events.c.account_id == account_id)
        if attribute is not None:
            key, value = attribute
            column = COLUMNS[key]
            if key == "ReadOnly":
                query = query.where(column == (value.lower() == "true"))
            elif key == "ResourceName":
                # A repository by ARN or by its plain name.
                query = query.where(
                    sa.or_(column == value, column.like(f"%:repository/{_escape(value)}", "\\"))
                )
            else:
                query = query.where(column == value)
        if start is not None:
            query = query.where(audit_events.c.event_time >= start)
        if end is not None:
            query = query.where(audit_events.c.event_time <= end)
        if after is not None:
            time, event_id = after
            query = query.where(
                sa.or_(
                    audit_events.c.event_time < time,
                    sa.and_(audit_events.c.event_time == time, audit_events.c.id < event_id),
                )
            )
        query = query.order_by(audit_events.c.event_time.desc(), audit_events.c.id.desc()).limit(
            limit
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [
            AuditEntry(
                r.id,
                r.account_id,
                aware(r.event_time),
                r.event_name,
                r.event_source,
                bool(r.read_only),
                r.username,
                r.access_key_id,
                r.resource_type,
                r.resource_name,
                r.record,
            )
            for r in rows
        ]

    async def prune(self, before: datetime) -> int:
        statement = sa.delete(audit_events).where(audit_events.c.event_time < before)
        return int(await self._store.write(lambda conn: conn.execute(statement).rowcount))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
