"""CloudWatch Logs storage: log groups, streams and events, on the metadata store's engine.

Events are read in (timestamp, id) order through two indexes, one per stream and one per
group; positions in a listing are (timestamp, id) pairs, so paging is a range scan however
far in it goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from berth.services.logs_errors import LogGroupAlreadyExists, LogGroupNotFound
from berth.storage.logs_ports import (
    Delivery,
    EventQuery,
    GroupQuery,
    LogEventRecord,
    LogGroupRecord,
    LogStreamRecord,
    NewLogEvent,
    Position,
    StreamPosition,
)
from berth.storage.metadata.schema import log_events, log_groups, log_streams
from berth.storage.metadata.store import SqlMetadataStore

DAY_MS = 86_400_000
_MAX_CODE_POINT = 0x10FFFF


def successor(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`, in code point order
    (UTF-8 byte order, which the `ordered_text` columns compare by); None if there is none."""
    chars = list(prefix)
    while chars and ord(chars[-1]) == _MAX_CODE_POINT:
        chars.pop()
    if not chars:
        return None
    following = ord(chars[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters
        following = 0xE000
    chars[-1] = chr(following)
    return "".join(chars)


def starts_with(column: sa.ColumnElement[str], prefix: str) -> list[sa.ColumnElement[bool]]:
    """`column` starts with `prefix`, as a range an index serves (LIKE would fold case in
    SQLite and treat `_` as a wildcard)."""
    conditions = [column >= prefix]
    upper = successor(prefix)
    if upper is not None:
        conditions.append(column < upper)
    return conditions


def _after(
    first: sa.ColumnElement[Any], second: sa.ColumnElement[Any], position: tuple[Any, Any]
) -> sa.ColumnElement[bool]:
    return sa.or_(first > position[0], sa.and_(first == position[0], second > position[1]))


def _before(
    first: sa.ColumnElement[Any], second: sa.ColumnElement[Any], position: tuple[Any, Any]
) -> sa.ColumnElement[bool]:
    return sa.or_(first < position[0], sa.and_(first == position[0], second < position[1]))


_STORED_BYTES = (
    sa.select(sa.func.coalesce(sa.func.sum(log_streams.c.stored_bytes), 0))
    .where(log_streams.c.log_group_id == log_groups.c.id)
    .scalar_subquery()
    .label("stored_bytes")
)


def _group(row: sa.Row[Any]) -> LogGroupRecord:
    return LogGroupRecord(
        id=row.id,
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        created_at=row.created_at,
        retention_in_days=row.retention_in_days,
        kms_key_id=row.kms_key_id,
        log_group_class=row.log_group_class,
        stored_bytes=int(row.stored_bytes or 0),
    )


def _stream(row: sa.Row[Any]) -> LogStreamRecord:
    return LogStreamRecord(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        first_event_at=row.first_event_at,
        last_event_at=row.last_event_at,
        last_ingestion_at=row.last_ingestion_at,
        stored_bytes=row.stored_bytes,
        sequence=row.sequence,
    )


def _size(message: str) -> int:
    return len(message.encode("utf-8", "surrogatepass"))


class SqlLogStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    # log groups

    async def create_group(
        self,
        account_id: str,
        region: str,
        name: str,
        *,
        created_at: int,
        kms_key_id: str | None,
        log_group_class: str,
        tags: Mapping[str, str] | None,
    ) -> None:
        statement = (
            self._store.insert(log_groups)
            .values(
                account_id=account_id,
                region=region,
                name=name,
                created_at=created_at,
                kms_key_id=kms_key_id,
                log_group_class=log_group_class,
                tags=dict(tags) if tags else None,
            )
            .on_conflict_do_nothing()
            .returning(log_groups.c.id)
        )
        created = await self._store.write(lambda conn: conn.execute(statement).scalar())
        if created is None:
            raise LogGroupAlreadyExists()

    def _groups(self, account_id: str, region: str) -> sa.Select[Any]:
        return sa.select(log_groups, _STORED_BYTES).where(
            log_groups.c.account_id == account_id, log_groups.c.region == region
        )

    async def get_group(self, account_id: str, region: str, name: str) -> LogGroupRecord | None:
        query = self._groups(account_id, region).where(log_groups.c.name == name)
        row = await self._store.read(lambda conn: conn.execute(query).first())
        return _group(row) if row is not None else None

    async def list_groups(
        self, account_id: str, region: str, query: GroupQuery, after: str | None, limit: int
    ) -> list[LogGroupRecord]:
        select = self._groups(account_id, region)
        if query.prefix:
            select = select.where(*starts_with(log_groups.c.name, query.prefix))
        if query.contains:
            select = select.where(
                sa.func.lower(log_groups.c.name).contains(query.contains.lower(), autoescape=True)
            )
        if query.log_group_class:
            select = select.where(log_groups.c.log_group_class == query.log_group_class)
        if after is not None:
            select = select.where(log_groups.c.name > after)
        select = select.order_by(log_groups.c.name).limit(limit)
        rows = await self._store.read(lambda conn: list(conn.execute(select)))
        return [_group(row) for row in rows]

    async def delete_group(self, account_id: str, region: str, name: str) -> bool:
        statement = sa.delete(log_groups).where(
            log_groups.c.account_id == account_id,
            log_groups.c.region == region,
            log_groups.c.name == name,
        )
        deleted = await self._store.write(lambda conn: conn.execute(statement).rowcount)
        return bool(deleted)

    async def set_retention(
        self, account_id: str, region: str, name: str, days: int | None
    ) -> bool:
        statement = (
            sa.update(log_groups)
            .where(
                log_groups.c.account_id == account_id,
                log_groups.c.region == region,
                log_groups.c.name == name,
            )
            .values(retention_in_days=days)
        )
        updated = await self._store.write(lambda conn: conn.execute(statement).rowcount)
        return bool(updated)

    # log streams

    async def create_stream(self, group_id: int, name: str, created_at: int) -> bool:
        statement = (
            self._store.insert(log_streams)
            .values(log_group_id=group_id, name=name, created_at=created_at)
            .on_conflict_do_nothing()
            .returning(log_streams.c.id)
        )
        try:
            created = await self._store.write(lambda conn: conn.execute(statement).scalar())
        except sa.exc.IntegrityError:  # the group went meanwhile
            raise LogGroupNotFound() from None
        return created is not None

    async def get_stream(self, group_id: int, name: str) -> LogStreamRecord | None:
        query = sa.select(log_streams).where(
            log_streams.c.log_group_id == group_id, log_streams.c.name == name
        )
        row = await self._store.read(lambda conn: conn.execute(query).first())
        return _stream(row) if row is not None else None

    async def list_streams(
        self,
        group_id: int,
        *,
        prefix: str | None,
        by_last_event: bool,
        descending: bool,
        after: StreamPosition | None,
        limit: int,
    ) -> list[tuple[StreamPosition, LogStreamRecord]]:
        key: sa.ColumnElement[int] = (
            sa.func.coalesce(log_streams.c.last_event_at, -1)
            if by_last_event
            else sa.literal(0, sa.BigInteger)
        )
        name = log_streams.c.name
        query = sa.select(log_streams, key.label("sort_key")).where(
            log_streams.c.log_group_id == group_id
        )
        if prefix:
            query = query.where(*starts_with(name, prefix))
        if after is not None:
            if by_last_event:
                query = query.where(
                    _before(key, name, after) if descending else _after(key, name, after)
                )
            else:
                query = query.where(name < after[1] if descending else name > after[1])
        if by_last_event:
            query = query.order_by(*((key.desc(), name.desc()) if descending else (key, name)))
        else:
            query = query.order_by(name.desc() if descending else name)
        rows = await self._store.read(lambda conn: list(conn.execute(query.limit(limit))))
        return [((int(row.sort_key), row.name), _stream(row)) for row in rows]

    async def delete_stream(self, group_id: int, name: str) -> bool:
        statement = sa.delete(log_streams).where(
            log_streams.c.log_group_id == group_id, log_streams.c.name == name
        )
        deleted = await self._store.write(lambda conn: conn.execute(statement).rowcount)
        return bool(deleted)

    # log events

    async def append(
        self, group_id: int, stream: str, events: Sequence[NewLogEvent], ingestion_time: int
    ) -> int | None:
        def work(conn: sa.Connection) -> int | None:
            row = conn.execute(
                sa.select(log_streams)
                .where(log_streams.c.log_group_id == group_id, log_streams.c.name == stream)
                .with_for_update()
            ).first()
            if row is None:
                return None
            if events:
                conn.execute(
                    sa.insert(log_events),
                    [
                        {
                            "log_group_id": group_id,
                            "log_stream_id": row.id,
                            "timestamp": event.timestamp,
                            "ingestion_time": ingestion_time,
                            "message": event.message,
                        }
                        for event in events
                    ],
                )
            _record_upload(conn, row, events, ingestion_time)
            return int(row.sequence) + 1

        return await self._store.write(work)

    async def read(
        self,
        group_id: int,
        query: EventQuery,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
        backwards: bool,
    ) -> list[LogEventRecord]:
        timestamp, event_id = log_events.c.timestamp, log_events.c.id
        select = (
            sa.select(
                event_id,
                log_streams.c.name,
                timestamp,
                log_events.c.ingestion_time,
                log_events.c.message,
            )
            .join(log_streams, log_streams.c.id == log_events.c.log_stream_id)
            .where(log_events.c.log_group_id == group_id)
        )
        if query.stream_id is not None:
            select = select.where(log_events.c.log_stream_id == query.stream_id)
        if query.stream_names is not None:
            select = select.where(log_streams.c.name.in_(list(query.stream_names)))
        if query.stream_prefix:
            select = select.where(*starts_with(log_streams.c.name, query.stream_prefix))
        if query.start is not None:
            select = select.where(timestamp >= query.start)
        if query.end is not None:
            select = select.where(timestamp < query.end)
        if after is not None:
            select = select.where(_after(timestamp, event_id, after))
        if before is not None:
            select = select.where(_before(timestamp, event_id, before))
        order = (timestamp.desc(), event_id.desc()) if backwards else (timestamp, event_id)
        select = select.order_by(*order).limit(limit)
        rows = await self._store.read(lambda conn: list(conn.execute(select)))
        found = [LogEventRecord(row.id, row.name, row[2], row[3], row[4]) for row in rows]
        if backwards:
            found.reverse()
        return found

    async def deliver(
        self,
        account_id: str,
        region: str,
        group: str,
        stream: str,
        key: str,
        event: NewLogEvent,
        ingestion_time: int,
    ) -> Delivery:
        def work(conn: sa.Connection) -> Delivery:
            group_id = conn.execute(
                sa.select(log_groups.c.id).where(
                    log_groups.c.account_id == account_id,
                    log_groups.c.region == region,
                    log_groups.c.name == group,
                )
            ).scalar()
            if group_id is None:
                return "no-group"
            seen = conn.execute(
                sa.select(log_events.c.id).where(
                    log_events.c.log_group_id == group_id, log_events.c.event_key == key
                )
            ).first()
            if seen is not None:
                return "duplicate"
            conn.execute(
                self._store.insert(log_streams)
                .values(log_group_id=group_id, name=stream, created_at=ingestion_time)
                .on_conflict_do_nothing()
            )
            row = conn.execute(
                sa.select(log_streams)
                .where(log_streams.c.log_group_id == group_id, log_streams.c.name == stream)
                .with_for_update()
            ).one()
            inserted = conn.execute(
                self._store.insert(log_events)
                .values(
                    log_group_id=group_id,
                    log_stream_id=row.id,
                    timestamp=event.timestamp,
                    ingestion_time=ingestion_time,
                    message=event.message,
                    event_key=key,
                )
                .on_conflict_do_nothing()
                .returning(log_events.c.id)
            ).scalar()
            if inserted is None:  # a concurrent delivery of the same event won
                return "duplicate"
            _record_upload(conn, row, [event], ingestion_time, count_upload=False)
            return "stored"

        return await self._store.write(work)

    async def prune(self, now: int) -> int:
        groups = sa.select(log_groups.c.id, log_groups.c.retention_in_days).where(
            log_groups.c.retention_in_days.is_not(None)
        )

        def work(conn: sa.Connection) -> int:
            removed = 0
            for group_id, days in list(conn.execute(groups)):
                removed += conn.execute(
                    sa.delete(log_events).where(
                        log_events.c.log_group_id == group_id,
                        log_events.c.timestamp < now - days * DAY_MS,
                    )
                ).rowcount
            return removed

        return await self._store.write(work)


def _record_upload(
    conn: sa.Connection,
    stream: sa.Row[Any],
    events: Sequence[NewLogEvent],
    ingestion_time: int,
    *,
    count_upload: bool = True,
) -> None:
    """Update a stream's first and last event times, size and upload count."""
    values: dict[str, Any] = {}
    if events:
        earliest = min(event.timestamp for event in events)
        latest = max(event.timestamp for event in events)
        first, last = stream.first_event_at, stream.last_event_at
        values = {
            "first_event_at": earliest if first is None else min(first, earliest),
            "last_event_at": latest if last is None else max(last, latest),
            "last_ingestion_at": ingestion_time,
            "stored_bytes": stream.stored_bytes + sum(_size(e.message) for e in events),
        }
    if count_upload:
        values["sequence"] = stream.sequence + 1
    if values:
        conn.execute(sa.update(log_streams).where(log_streams.c.id == stream.id).values(**values))
