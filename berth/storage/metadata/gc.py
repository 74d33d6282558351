"""Garbage collection queries: what nothing references any more, deleted in resumable batches.

Safety against concurrent pushes rests on row locks, not on stopping the world:
- a manifest push share-locks the links it uses and checks them inside its transaction, and a
  link is deleted only after it is locked here and found unreferenced by a fresh statement;
- a blob's bytes are placed (uploads) under its row lock, and deleted here only under it too.
On SQLite the single writer transaction holds the whole database, which gives the same order.
Every batch is its own transaction, so a collection killed halfway leaves a consistent store
and the next run picks up where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa

from berth.storage.metadata.schema import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    tags,
    uploads,
)
from berth.storage.metadata.store import (
    BLOB,
    FINISHED,
    MANIFEST,
    SqlMetadataStore,
    drop_manifest,
)
from berth.storage.ports import GarbageEstimate, StorageUsage

_in_progress = uploads.c.offset != FINISHED


def _link_unreferenced() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(
        manifests.c.repository_id == repository_blobs.c.repository_id,
        manifest_references.c.manifest_id == manifests.c.id,
        manifest_references.c.kind == BLOB,
        manifest_references.c.digest == repository_blobs.c.digest,
    )


def _blob_unlinked() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(repository_blobs.c.digest == blobs.c.digest)


def _orphan_referrer(before: datetime) -> sa.ColumnElement[bool]:
    """A referrer whose subject has gone, untagged, in no index, older than the grace period."""
    subject = manifests.alias("subject")
    parent = manifests.alias("parent")
    return sa.and_(
        manifests.c.subject_digest.is_not(None),
        manifests.c.pushed_at < before,
        ~sa.exists().where(
            subject.c.repository_id == manifests.c.repository_id,
            subject.c.digest == manifests.c.subject_digest,
        ),
        ~sa.exists().where(tags.c.manifest_id == manifests.c.id),
        ~sa.exists().where(
            parent.c.repository_id == manifests.c.repository_id,
            manifest_references.c.manifest_id == parent.c.id,
            manifest_references.c.kind == MANIFEST,
            manifest_references.c.digest == manifests.c.digest,
        ),
    )


class SqlGarbageStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    async def expired_uploads(self, before: datetime, limit: int) -> list[str]:
        query = (
            sa.select(uploads.c.id)
            .where(uploads.c.updated_at < before, _in_progress)
            .order_by(uploads.c.id)
        ).limit(limit)
        return await self._store.read(lambda conn: list(conn.execute(query).scalars()))

    async def forget_finished_uploads(self, before: datetime) -> None:
        """Drop the rows of uploads that ended before `before`: their ids have expired too."""
        statement = sa.delete(uploads).where(
            uploads.c.updated_at < before, uploads.c.offset == FINISHED
        )
        await self._store.write(lambda conn: conn.execute(statement))

    async def known_uploads(self, upload_ids: Sequence[str]) -> set[str]:
        query = sa.select(uploads.c.id).where(uploads.c.id.in_(list(upload_ids)))
        return await self._store.read(lambda conn: set(conn.execute(query).scalars()))

    async def collect_referrers(self, before: datetime, limit: int) -> int:
        """Delete one batch of orphaned referrers; how many went."""
        candidates = (
            sa.select(manifests.c.id, manifests.c.repository_id)
            .where(_orphan_referrer(before))
            .order_by(manifests.c.id)
            .limit(limit)
        )

        def work(conn: sa.Connection) -> int:
            rows = conn.execute(candidates.with_for_update(of=manifests)).all()
            # Re-checked by a new statement after the locks: a tag or index may have arrived.
            still = set(
                conn.execute(
                    sa.select(manifests.c.id).where(
                        manifests.c.id.in_([r.id for r in rows]), _orphan_referrer(before)
                    )
                ).scalars()
            )
            for row in rows:
                if row.id in still:
                    drop_manifest(conn, row.repository_id, row.id)
            return len(still)

        return await self._store.write(work)

    async def collect_links(
        self, before: datetime, limit: int, after: tuple[int, str] | None = None
    ) -> tuple[int, tuple[int, str] | None]:
        """Unlink one batch of blobs no manifest of their repository uses, after the key the
        previous batch ended at (so a collection walks the links once, not once per batch);
        how many went, and where this batch ended (None: nothing left)."""
        key = sa.tuple_(repository_blobs.c.repository_id, repository_blobs.c.digest)
        candidates = (
            sa.select(repository_blobs.c.repository_id, repository_blobs.c.digest)
            .where(repository_blobs.c.created_at < before, _link_unreferenced())
            .order_by(repository_blobs.c.repository_id, repository_blobs.c.digest)
            .limit(limit)
        )
        if after is not None:
            candidates = candidates.where(
                key > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
            )

        def work(conn: sa.Connection) -> tuple[int, tuple[int, str] | None]:
            rows = [(int(r[0]), str(r[1])) for r in conn.execute(candidates.with_for_update())]
            if not rows:
                return 0, None
            deleted = conn.execute(
                sa.delete(repository_blobs).where(
                    key.in_(rows),
                    repository_blobs.c.created_at < before,
                    _link_unreferenced(),
                )
            ).rowcount
            return int(deleted), rows[-1]

        return await self._store.write(work)

    async def collect_blobs(
        self, limit: int, delete: Callable[[str], None], after: str | None = None
    ) -> tuple[list[tuple[str, int]], str | None]:
        """Delete one batch of blobs linked nowhere, after digest `after`: rows and, under
        their locks, the bytes; what went, and where the batch ended (None: nothing left)."""
        candidates = (
            # No grace of their own: a blob row and its first link are written together, so
            # a blob linked nowhere was unlinked (and the link had its grace period).
            sa.select(blobs.c.digest).where(_blob_unlinked()).order_by(blobs.c.digest).limit(limit)
        )
        if after is not None:
            candidates = candidates.where(blobs.c.digest > after)

        def work(conn: sa.Connection) -> tuple[list[tuple[str, int]], str | None]:
            digests = list(conn.execute(candidates.with_for_update()).scalars())
            if not digests:
                return [], None
            gone = [
                (row.digest, int(row.size))
                for row in conn.execute(
                    sa.delete(blobs)
                    .where(blobs.c.digest.in_(digests), _blob_unlinked())
                    .returning(blobs.c.digest, blobs.c.size)
                )
            ]
            # Still inside the transaction: an upload of the same bytes waits for the row lock
            # and puts its file down after this. If the commit fails after the files went, the
            # rows stay unlinked and the next run deletes them; nothing can link to such a
            # row without placing the bytes again.
            for digest, _size in gone:
                delete(digest)
            return gone, digests[-1]

        return await self._store.write(work)

    async def estimate(self, before: datetime, uploads_before: datetime) -> GarbageEstimate:
        """What a collection would delete now (`--dry-run`); blobs that only orphaned referrers
        use are not counted, so the bytes are a lower bound."""
        link_kept = sa.or_(repository_blobs.c.created_at >= before, ~_link_unreferenced())
        count = sa.func.count()
        queries = (
            sa.select(count).where(uploads.c.updated_at < uploads_before, _in_progress),
            sa.select(count).where(_orphan_referrer(before)),
            sa.select(count).where(repository_blobs.c.created_at < before, _link_unreferenced()),
            sa.select(count, sa.func.coalesce(sa.func.sum(blobs.c.size), 0)).where(
                ~sa.exists().where(repository_blobs.c.digest == blobs.c.digest, link_kept),
            ),
        )

        def work(conn: sa.Connection) -> GarbageEstimate:
            expired, referrers, links = (int(conn.execute(q).scalar_one()) for q in queries[:3])
            blob_count, size = conn.execute(queries[3]).one()
            return GarbageEstimate(expired, referrers, links, int(blob_count), int(size))

        return await self._store.read(work)

    async def uploads_in_progress(self) -> int:
        query = sa.select(sa.func.count()).where(_in_progress)
        return int(await self._store.read(lambda conn: conn.execute(query).scalar_one()))

    async def storage_usage(self) -> StorageUsage:
        """Bytes stored, from the database alone (no walk of the disk)."""
        total = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(blobs.c.size), 0))
        per_repository = (
            sa.select(
                repositories.c.account_id,
                repositories.c.region,
                repositories.c.name,
                sa.func.coalesce(sa.func.sum(blobs.c.size), 0),
            )
            .select_from(repositories)
            .outerjoin(repository_blobs, repository_blobs.c.repository_id == repositories.c.id)
            .outerjoin(blobs, blobs.c.digest == repository_blobs.c.digest)
            .group_by(repositories.c.account_id, repositories.c.region, repositories.c.name)
        )

        def work(conn: sa.Connection) -> StorageUsage:
            count, size = conn.execute(total).one()
            usage = {(a, r, n): int(b) for a, r, n, b in conn.execute(per_repository)}
            return StorageUsage(int(size), int(count), usage)

        return await self._store.read(work)
