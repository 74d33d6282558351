"""The event outbox and each delivery target's cursor, attempts and dead letters."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from berth.storage.metadata.schema import event_dead_letters, event_targets
from berth.storage.metadata.schema import events as outbox
from berth.storage.metadata.store import SqlMetadataStore, aware, utcnow
from berth.storage.ports import StoredEvent, TargetCursor, TargetState


class SqlOutboxStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    async def cursor(self, name: str) -> TargetCursor:
        # Read on every delivery pass, twice a second per process: one row, none of `targets`'
        # counts, which scan every pending event (many thousands while a webhook is down).
        query = sa.select(
            event_targets.c.cursor, event_targets.c.attempts, event_targets.c.next_attempt_at
        ).where(event_targets.c.name == name)

        def work(conn: sa.Connection) -> None:
            # A new target starts at the newest event: it gets what happens from now on.
            newest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.seq), 0)))
            conn.execute(
                self._store.insert(event_targets)
                .values(name=name, cursor=newest.scalar_one())
                .on_conflict_do_nothing()
            )

        row = await self._store.read(lambda conn: conn.execute(query).first())
        if row is None:
            await self._store.write(work)
            row = await self._store.read(lambda conn: conn.execute(query).one())
        cursor, attempts, next_attempt_at = row
        return TargetCursor(
            int(cursor), int(attempts), aware(next_attempt_at) if next_attempt_at else None
        )

    async def events_after(self, cursor: int, limit: int) -> list[StoredEvent]:
        query = (
            sa.select(outbox.c.seq, outbox.c.body)
            .where(outbox.c.seq > cursor)
            .order_by(outbox.c.seq)
            .limit(limit)
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [StoredEvent(int(r.seq), r.body) for r in rows]

    async def advance(self, name: str, old_cursor: int, new_cursor: int, delivered: int) -> bool:
        """Compare-and-set: another process that moved the cursor first wins."""
        statement = (
            sa.update(event_targets)
            .where(event_targets.c.name == name, event_targets.c.cursor == old_cursor)
            .values(
                cursor=new_cursor,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
                delivered=event_targets.c.delivered + delivered,
            )
        )
        return bool(await self._store.write(lambda conn: conn.execute(statement).rowcount))

    async def failed(
        self, name: str, cursor: int, attempts: int, error: str, next_attempt_at: datetime
    ) -> None:
        statement = (
            sa.update(event_targets)
            .where(event_targets.c.name == name, event_targets.c.cursor == cursor)
            .values(
                attempts=attempts,
                last_error=error,
                next_attempt_at=next_attempt_at,
                failed=event_targets.c.failed + 1,
            )
        )
        await self._store.write(lambda conn: conn.execute(statement))

    async def dead_letter(self, name: str, event: StoredEvent, attempts: int, error: str) -> None:
        statement = (
            self._store.insert(event_dead_letters)
            .values(target=name, seq=event.seq, failed_at=utcnow(), attempts=attempts, error=error)
            .on_conflict_do_nothing()
        )
        await self._store.write(lambda conn: conn.execute(statement))

    async def targets(self) -> list[TargetState]:
        dead = (
            sa.select(sa.func.count())
            .where(event_dead_letters.c.target == event_targets.c.name)
            .scalar_subquery()
        )
        pending = (
            sa.select(sa.func.count())
            .where(outbox.c.seq > event_targets.c.cursor)
            .scalar_subquery()
        )
        query = sa.select(event_targets, pending.label("pending"), dead.label("dead")).order_by(
            event_targets.c.name
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [
            TargetState(
                r.name,
                int(r.cursor),
                int(r.attempts),
                aware(r.next_attempt_at) if r.next_attempt_at else None,
                r.last_error,
                int(r.delivered),
                int(r.failed),
                int(r.pending),
                int(r.dead),
            )
            for r in rows
        ]

    async def dead_letters(self, name: str, limit: int) -> list[tuple[int, datetime, str]]:
        query = (
            sa.select(event_dead_letters.c.seq, event_dead_letters.c.failed_at, outbox.c.body)
            .join(outbox, outbox.c.seq == event_dead_letters.c.seq)
            .where(event_dead_letters.c.target == name)
            .order_by(event_dead_letters.c.seq)
            .limit(limit)
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [(int(r.seq), aware(r.failed_at), r.body) for r in rows]

    async def prune(self, before: datetime) -> int:
        """Drop events older than `before` that every target has passed (dead letters keep
        theirs)."""

        def work(conn: sa.Connection) -> int:
            low = conn.execute(sa.select(sa.func.min(event_targets.c.cursor))).scalar()
            if low is None:
                low = conn.execute(sa.select(sa.func.max(outbox.c.seq))).scalar() or 0
            kept = sa.select(event_dead_letters.c.seq)
            return int(
                conn.execute(
                    sa.delete(outbox).where(
                        outbox.c.seq <= low,
                        outbox.c.created_at < before,
                        outbox.c.seq.not_in(kept),
                    )
                ).rowcount
            )

        return await self._store.write(work)
