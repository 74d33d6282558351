"""Lifecycle policy storage beyond the policy text: image facts, expiry, previews."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa

from berth.domain.lifecycle import ImageFacts
from berth.storage.metadata.schema import (
    lifecycle_policies,
    lifecycle_preview_results,
    lifecycle_previews,
    manifest_references,
    manifests,
    repositories,
    tags,
)
from berth.storage.metadata.store import (
    MANIFEST,
    SqlMetadataStore,
    aware,
    drop_manifest,
    utcnow,
)
from berth.storage.ports import (
    ExpiredImage,
    OutboxEvent,
    PolicyTarget,
    PreviewRecord,
    PreviewResult,
    Repository,
)

_PAGE = 5_000
IN_PROGRESS, COMPLETE, FAILED = "IN_PROGRESS", "COMPLETE", "FAILED"


def _in_an_index(repository_id: int, digest: sa.ColumnElement[str]) -> sa.Exists:
    parent = manifests.alias("parent")
    return sa.exists().where(
        parent.c.repository_id == repository_id,
        manifest_references.c.manifest_id == parent.c.id,
        manifest_references.c.kind == MANIFEST,
        manifest_references.c.digest == digest,
    )


def _tags_of(conn: sa.Connection, manifest_ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {i: [] for i in manifest_ids}
    if manifest_ids:
        for manifest_id, name in conn.execute(
            sa.select(tags.c.manifest_id, tags.c.name)
            .where(tags.c.manifest_id.in_(list(manifest_ids)))
            .order_by(tags.c.name)
        ):
            names[manifest_id].append(name)
    return names


class SqlLifecycleStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    async def policy_targets(self) -> list[PolicyTarget]:
        query = sa.select(
            repositories, lifecycle_policies.c.text, lifecycle_policies.c.last_evaluated_at
        ).join(lifecycle_policies, lifecycle_policies.c.repository_id == repositories.c.id)

        def work(conn: sa.Connection) -> list[PolicyTarget]:
            return [
                PolicyTarget(
                    Repository(row.id, row.account_id, row.region, row.name, aware(row.created_at)),
                    row.text,
                )
                for row in conn.execute(query.order_by(repositories.c.id))
            ]

        return await self._store.read(work)

    async def image_facts(self, repository_id: int) -> list[ImageFacts]:
        """The images a policy judges, read a page at a time: manifests of the repository, but
        not the images inside an index (they live and die with it) nor referrers (they go with
        their subject)."""
        facts: list[ImageFacts] = []
        after = 0
        while True:
            rows, names = await self._store.read(partial(_facts_page, repository_id, after))
            facts.extend(
                ImageFacts(
                    row.digest,
                    tuple(names[row.id]),
                    aware(row.pushed_at),
                    aware(row.last_pulled_at) if row.last_pulled_at else None,
                )
                for row in rows
            )
            if len(rows) < _PAGE:
                return facts
            after = rows[-1].id

    async def expire(
        self,
        repository_id: int,
        images: Sequence[tuple[str, tuple[str, ...]]],
        events: Callable[[str, tuple[str, ...]], Sequence[OutboxEvent]] = lambda _d, _t: (),
    ) -> list[ExpiredImage]:
        """Delete images judged with the given tags, in one transaction; an image whose tags
        changed since, or that an index now lists, is left alone (judged again next run)."""

        def work(conn: sa.Connection) -> list[ExpiredImage]:
            expired = []
            for digest, judged_tags in images:
                row = conn.execute(
                    sa.select(manifests.c.id, manifests.c.pushed_at)
                    .where(manifests.c.repository_id == repository_id, manifests.c.digest == digest)
                    .with_for_update()
                ).first()
                if row is None:
                    continue
                if tuple(_tags_of(conn, [row.id])[row.id]) != tuple(sorted(judged_tags)):
                    continue
                if conn.execute(
                    sa.select(_in_an_index(repository_id, sa.literal(digest)))
                ).scalar():
                    continue
                cascade = _drop_with_dependents(conn, repository_id, row.id, digest)
                self._store.emit(conn, events(digest, judged_tags))
                expired.append(ExpiredImage(digest, judged_tags, aware(row.pushed_at), cascade))
            return expired

        return await self._store.write(work)

    async def mark_evaluated(self, repository_id: int, at: datetime) -> None:
        statement = (
            sa.update(lifecycle_policies)
            .where(lifecycle_policies.c.repository_id == repository_id)
            .values(last_evaluated_at=at)
        )
        await self._store.write(lambda conn: conn.execute(statement))

    # previews

    async def start_preview(self, repository_id: int, text: str) -> bool:
        """Record a new preview as IN_PROGRESS; False while another one is."""

        def work(conn: sa.Connection) -> bool:
            status = conn.execute(
                sa.select(lifecycle_previews.c.status)
                .where(lifecycle_previews.c.repository_id == repository_id)
                .with_for_update()
            ).scalar()
            if status == IN_PROGRESS:
                return False
            conn.execute(
                sa.delete(lifecycle_previews).where(
                    lifecycle_previews.c.repository_id == repository_id
                )
            )
            conn.execute(
                sa.insert(lifecycle_previews).values(
                    repository_id=repository_id,
                    text=text,
                    status=IN_PROGRESS,
                    started_at=utcnow(),
                )
            )
            return True

        return await self._store.write(work)

    async def finish_preview(
        self, repository_id: int, results: Sequence[PreviewResult], *, failed: bool = False
    ) -> None:
        def work(conn: sa.Connection) -> None:
            for start in range(0, len(results), 1000):
                conn.execute(
                    sa.insert(lifecycle_preview_results),
                    [
                        {
                            "repository_id": repository_id,
                            "digest": r.digest,
                            "tags": list(r.tags),
                            "pushed_at": r.pushed_at,
                            "rule_priority": r.rule_priority,
                        }
                        for r in results[start : start + 1000]
                    ],
                )
            conn.execute(
                sa.update(lifecycle_previews)
                .where(lifecycle_previews.c.repository_id == repository_id)
                .values(status=FAILED if failed else COMPLETE, expiring_count=len(results))
            )

        await self._store.write(work)

    async def fail_unfinished_previews(self, started_before: datetime) -> None:
        """Previews whose process went away before finishing them."""
        statement = (
            sa.update(lifecycle_previews)
            .where(
                lifecycle_previews.c.status == IN_PROGRESS,
                lifecycle_previews.c.started_at < started_before,
            )
            .values(status=FAILED)
        )
        await self._store.write(lambda conn: conn.execute(statement))

    async def get_preview(self, repository_id: int) -> PreviewRecord | None:
        query = sa.select(lifecycle_previews).where(
            lifecycle_previews.c.repository_id == repository_id
        )
        row = await self._store.read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return PreviewRecord(row.text, row.status, aware(row.started_at), row.expiring_count)

    async def preview_results(
        self,
        repository_id: int,
        *,
        digests: Sequence[str] | None,
        tag_status: str,
        after: str | None,
        limit: int,
    ) -> list[PreviewResult]:
        r = lifecycle_preview_results
        query = sa.select(r).where(r.c.repository_id == repository_id).order_by(r.c.digest)
        if digests is not None:
            query = query.where(r.c.digest.in_(list(digests)))

        def work(conn: sa.Connection) -> list[PreviewResult]:
            found: list[PreviewResult] = []
            cursor = after
            # The tag filter works on the JSON list, portably: it runs here, on keyset chunks
            # with a LIMIT, so a page never makes the database sort or send the whole rest.
            while len(found) < limit:
                chunk = query if cursor is None else query.where(r.c.digest > cursor)
                rows = conn.execute(chunk.limit(max(limit, 100))).all()
                for row in rows:
                    if (tag_status == "TAGGED" and not row.tags) or (
                        tag_status == "UNTAGGED" and row.tags
                    ):
                        continue
                    found.append(
                        PreviewResult(
                            row.digest, tuple(row.tags), aware(row.pushed_at), row.rule_priority
                        )
                    )
                    if len(found) == limit:
                        return found
                if len(rows) < max(limit, 100):
                    return found
                cursor = rows[-1].digest
            return found

        return await self._store.read(work)


def _facts_page(
    repository_id: int, after: int, conn: sa.Connection
) -> tuple[list[sa.Row[Any]], dict[int, list[str]]]:
    query = (
        sa.select(
            manifests.c.id, manifests.c.digest, manifests.c.pushed_at, manifests.c.last_pulled_at
        )
        .where(
            manifests.c.repository_id == repository_id,
            manifests.c.id > after,
            manifests.c.subject_digest.is_(None),
            ~_in_an_index(repository_id, manifests.c.digest),
        )
        .order_by(manifests.c.id)
        .limit(_PAGE)
    )
    rows = list(conn.execute(query).all())
    return rows, _tags_of(conn, [row.id for row in rows])


def _drop_with_dependents(
    conn: sa.Connection, repository_id: int, manifest_id: int, digest: str
) -> tuple[str, ...]:
    """Drop a manifest with its referrers (recursively) and the untagged images of an index
    that no other index lists; the digests dropped besides `digest`."""
    dropped: list[str] = []
    referrers = conn.execute(
        sa.select(manifests.c.id, manifests.c.digest).where(
            manifests.c.repository_id == repository_id, manifests.c.subject_digest == digest
        )
    ).all()
    children = list(
        conn.execute(
            sa.select(manifest_references.c.digest).where(
                manifest_references.c.manifest_id == manifest_id,
                manifest_references.c.kind == MANIFEST,
            )
        ).scalars()
    )
    drop_manifest(conn, repository_id, manifest_id)
    for referrer in referrers:
        dropped.append(referrer.digest)
        dropped.extend(_drop_with_dependents(conn, repository_id, referrer.id, referrer.digest))
    for child in children:
        row = conn.execute(
            sa.select(manifests.c.id)
            .where(manifests.c.repository_id == repository_id, manifests.c.digest == child)
            .with_for_update()
        ).first()
        if row is None or _tags_of(conn, [row.id])[row.id]:
            continue
        if conn.execute(sa.select(_in_an_index(repository_id, sa.literal(child)))).scalar():
            continue
        dropped.append(child)
        dropped.extend(_drop_with_dependents(conn, repository_id, row.id, child))
    return tuple(dropped)
