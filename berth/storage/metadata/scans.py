"""Image scanning storage: the scan queue and results, the OSV database, registry scanning
configuration. Shares the metadata store's engine (`SqlMetadataStore.read/write/insert`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa

from berth.storage.metadata.schema import (
    image_scan_findings,
    image_scans,
    manifests,
    registry_scanning_configurations,
    repositories,
    tags,
    vulnerabilities,
    vulnerability_packages,
)
from berth.storage.metadata.store import SqlMetadataStore, aware, utcnow
from berth.storage.ports import (
    AdvisoryRow,
    ClaimedScan,
    FindingRecord,
    ImportCounts,
    ScanEvent,
    ScanOutcome,
    ScanRecord,
    VulnerabilityDbStatus,
)

PENDING, IN_PROGRESS, COMPLETE, FAILED = "PENDING", "IN_PROGRESS", "COMPLETE", "FAILED"
ACTIVE = (PENDING, IN_PROGRESS)
_CHUNK = 500  # keys or rows per statement
# Read on every push (scan on push): built once.
_REGISTRY_SCANNING = sa.select(
    registry_scanning_configurations.c.scan_type, registry_scanning_configurations.c.rules
).where(
    registry_scanning_configurations.c.account_id == sa.bindparam("account"),
    registry_scanning_configurations.c.region == sa.bindparam("region"),
)


def _optional(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


def _scan_record(row: Any) -> ScanRecord:
    return ScanRecord(
        digest=row.digest,
        status=row.status,
        description=row.status_description,
        requested_at=aware(row.requested_at),
        completed_at=_optional(row.completed_at),
        source_updated_at=_optional(row.vulnerability_source_updated_at),
        severity_counts=row.severity_counts,
    )


_SCAN_COLUMNS = (
    manifests.c.digest,
    image_scans.c.status,
    image_scans.c.status_description,
    image_scans.c.requested_at,
    image_scans.c.completed_at,
    image_scans.c.vulnerability_source_updated_at,
    image_scans.c.severity_counts,
)


def _manifest_id(conn: sa.Connection, repository_id: int, digest: str) -> int | None:
    return conn.execute(
        sa.select(manifests.c.id).where(
            manifests.c.repository_id == repository_id, manifests.c.digest == digest
        )
    ).scalar()


def _all(query: sa.Select[Any], conn: sa.Connection) -> list[sa.Row[Any]]:
    return list(conn.execute(query).all())


class SqlScanStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    # the queue

    async def request_scan(
        self, repository_id: int, digest: str, *, not_before: datetime | None
    ) -> str:
        def work(conn: sa.Connection) -> str:
            manifest_id = _manifest_id(conn, repository_id, digest)
            if manifest_id is None:
                return "missing"
            now = utcnow()
            row = conn.execute(
                sa.select(image_scans.c.status, image_scans.c.requested_at)
                .where(image_scans.c.manifest_id == manifest_id)
                .with_for_update()
            ).first()
            if row is None:
                inserted = conn.execute(
                    self._store.insert(image_scans)
                    .values(manifest_id=manifest_id, status=PENDING, requested_at=now)
                    .on_conflict_do_nothing()
                ).rowcount
                return "queued" if inserted else "active"
            if not_before is not None and aware(row.requested_at) >= not_before:
                return "too_soon"
            if row.status in ACTIVE:
                return "active"
            if not_before is None:
                return "exists"
            conn.execute(
                sa.update(image_scans)
                .where(image_scans.c.manifest_id == manifest_id)
                .values(
                    status=PENDING,
                    status_description=None,
                    requested_at=now,
                    started_at=None,
                    heartbeat_at=None,
                    worker=None,
                    attempts=0,
                )
            )
            return "queued"

        return await self._store.write(work)

    async def claim(self, worker: str) -> ClaimedScan | None:
        def work(conn: sa.Connection) -> ClaimedScan | None:
            # FOR UPDATE SKIP LOCKED lets PostgreSQL workers pass each other; SQLite's writer
            # holds the database anyway. The status check in the UPDATE makes the claim a
            # compare-and-set either way.
            row = conn.execute(
                sa.select(image_scans.c.manifest_id, image_scans.c.attempts)
                .where(image_scans.c.status == PENDING)
                .order_by(image_scans.c.requested_at, image_scans.c.manifest_id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            now = utcnow()
            claimed = conn.execute(
                sa.update(image_scans)
                .where(
                    image_scans.c.manifest_id == row.manifest_id, image_scans.c.status == PENDING
                )
                .values(
                    status=IN_PROGRESS,
                    worker=worker,
                    started_at=now,
                    heartbeat_at=now,
                    attempts=image_scans.c.attempts + 1,
                )
            ).rowcount
            if not claimed:
                return None
            image = conn.execute(
                sa.select(
                    manifests.c.repository_id,
                    manifests.c.digest,
                    manifests.c.media_type,
                    manifests.c.content,
                    repositories.c.name,
                )
                .join(repositories, repositories.c.id == manifests.c.repository_id)
                .where(manifests.c.id == row.manifest_id)
            ).one()
            return ClaimedScan(
                manifest_id=row.manifest_id,
                repository_id=image.repository_id,
                repository_name=image.name,
                digest=image.digest,
                media_type=image.media_type,
                content=image.content,
                attempts=row.attempts + 1,
            )

        return await self._store.write(work)

    def _mine(self, manifest_id: int, worker: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (
            image_scans.c.manifest_id == manifest_id,
            image_scans.c.worker == worker,
            image_scans.c.status == IN_PROGRESS,
        )

    async def heartbeat(self, manifest_id: int, worker: str) -> None:
        statement = (
            sa.update(image_scans)
            .where(*self._mine(manifest_id, worker))
            .values(heartbeat_at=utcnow())
        )
        await self._store.write(lambda conn: conn.execute(statement))

    async def requeue_stale(self, heartbeat_before: datetime, max_attempts: int) -> int:
        """Scans whose worker stopped beating (its process died): again PENDING, or FAILED once
        they were tried `max_attempts` times (an image that kills its scanner)."""
        stale = (image_scans.c.status == IN_PROGRESS, image_scans.c.heartbeat_at < heartbeat_before)

        def work(conn: sa.Connection) -> int:
            conn.execute(
                sa.update(image_scans)
                .where(*stale, image_scans.c.attempts >= max_attempts)
                .values(
                    status=FAILED,
                    worker=None,
                    completed_at=utcnow(),
                    status_description=f"The scan was interrupted {max_attempts} times",
                )
            )
            return int(
                conn.execute(
                    sa.update(image_scans)
                    .where(*stale)
                    .values(status=PENDING, worker=None, heartbeat_at=None)
                ).rowcount
            )

        return await self._store.write(work)

    async def complete(
        self,
        manifest_id: int,
        worker: str,
        outcome: ScanOutcome,
        event: ScanEvent | None = None,
    ) -> bool:
        def work(conn: sa.Connection) -> bool:
            done = conn.execute(
                sa.update(image_scans)
                .where(*self._mine(manifest_id, worker))
                .values(
                    status=COMPLETE,
                    status_description="The scan was completed successfully.",
                    completed_at=utcnow(),
                    worker=None,
                    vulnerability_source_updated_at=outcome.source_updated_at,
                    severity_counts=outcome.severity_counts,
                    packages=outcome.packages,
                )
            ).rowcount
            if not done:
                return False  # requeued and taken by another worker meanwhile
            conn.execute(
                sa.delete(image_scan_findings).where(
                    image_scan_findings.c.manifest_id == manifest_id
                )
            )
            rows = [
                {
                    "manifest_id": manifest_id,
                    "ordinal": f.ordinal,
                    "name": f.name[:255],
                    "severity": f.severity,
                    "uri": f.uri[:2048] if f.uri else None,
                    "description": f.description,
                    "attributes": [list(pair) for pair in f.attributes],
                }
                for f in outcome.findings
            ]
            for start in range(0, len(rows), _CHUNK):
                conn.execute(sa.insert(image_scan_findings), rows[start : start + _CHUNK])
            if event is not None:
                account, region = conn.execute(
                    sa.select(repositories.c.account_id, repositories.c.region)
                    .join(manifests, manifests.c.repository_id == repositories.c.id)
                    .where(manifests.c.id == manifest_id)
                ).one()
                names = conn.execute(
                    sa.select(tags.c.name).where(tags.c.manifest_id == manifest_id)
                ).scalars()
                self._store.emit(conn, [event(account, region, tuple(sorted(names)))])
            return True

        return await self._store.write(work)

    async def fail(self, manifest_id: int, worker: str, reason: str) -> bool:
        statement = (
            sa.update(image_scans)
            .where(*self._mine(manifest_id, worker))
            .values(
                status=FAILED,
                status_description=reason[:1024],
                completed_at=utcnow(),
                worker=None,
            )
        )
        return await self._store.write(lambda conn: conn.execute(statement).rowcount > 0)

    # results

    def _scans_query(self, repository_id: int) -> sa.Select[Any]:
        return (
            sa.select(*_SCAN_COLUMNS)
            .join(manifests, manifests.c.id == image_scans.c.manifest_id)
            .where(manifests.c.repository_id == repository_id)
        )

    async def get_scan(self, repository_id: int, digest: str) -> ScanRecord | None:
        query = self._scans_query(repository_id).where(manifests.c.digest == digest)
        row = await self._store.read(lambda conn: conn.execute(query).first())
        return _scan_record(row) if row is not None else None

    async def scans(self, repository_id: int, digests: Sequence[str]) -> dict[str, ScanRecord]:
        if not digests:
            return {}
        query = self._scans_query(repository_id).where(manifests.c.digest.in_(list(digests)))
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return {row.digest: _scan_record(row) for row in rows}

    async def findings(
        self, repository_id: int, digest: str, *, after: int, limit: int
    ) -> list[FindingRecord]:
        f = image_scan_findings
        query = (
            sa.select(f)
            .join(manifests, manifests.c.id == f.c.manifest_id)
            .where(
                manifests.c.repository_id == repository_id,
                manifests.c.digest == digest,
                f.c.ordinal > after,
            )
            .order_by(f.c.ordinal)
            .limit(limit)
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [
            FindingRecord(
                r.ordinal,
                r.name,
                r.severity,
                r.uri,
                r.description,
                tuple((str(k), str(v)) for k, v in r.attributes),
            )
            for r in rows
        ]

    async def packages(self, repository_id: int, digest: str) -> list[dict[str, str | None]] | None:
        query = (
            sa.select(image_scans.c.packages)
            .join(manifests, manifests.c.id == image_scans.c.manifest_id)
            .where(
                manifests.c.repository_id == repository_id,
                manifests.c.digest == digest,
                image_scans.c.status == COMPLETE,
            )
        )
        return await self._store.read(lambda conn: conn.execute(query).scalar())

    # the vulnerability database

    async def advisories(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """The records filed under any of `keys`, each once."""
        found: dict[str, dict[str, Any]] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            ids = (
                sa.select(vulnerability_packages.c.vulnerability_id)
                .where(
                    sa.tuple_(
                        vulnerability_packages.c.ecosystem, vulnerability_packages.c.name
                    ).in_(chunk)
                )
                .scalar_subquery()
            )
            query = sa.select(vulnerabilities.c.id, vulnerabilities.c.record).where(
                vulnerabilities.c.id.in_(ids)
            )
            rows = await self._store.read(partial(_all, query))
            for row in rows:
                found[row.id] = row.record
        return [found[key] for key in sorted(found)]

    async def source_updated_at(self) -> datetime | None:
        query = sa.select(sa.func.max(vulnerabilities.c.imported_at))
        value = await self._store.read(lambda conn: conn.execute(query).scalar())
        return _optional(value)

    async def import_advisories(self, rows: Sequence[AdvisoryRow]) -> ImportCounts:
        """Upsert a batch in one transaction: new ids are added, ids whose `modified` differs
        are replaced (with their lookup keys), the rest left alone."""
        latest = {row.id: row for row in rows}  # a later duplicate wins

        def work(conn: sa.Connection) -> ImportCounts:
            known: dict[str, str | None] = {
                row.id: row.modified
                for row in conn.execute(
                    sa.select(vulnerabilities.c.id, vulnerabilities.c.modified).where(
                        vulnerabilities.c.id.in_(list(latest))
                    )
                )
            }
            changed = [
                row
                for row in latest.values()
                if row.id not in known or known[row.id] != row.modified
            ]
            now = utcnow()
            replaced = [row.id for row in changed if row.id in known]
            if replaced:
                conn.execute(
                    sa.delete(vulnerability_packages).where(
                        vulnerability_packages.c.vulnerability_id.in_(replaced)
                    )
                )
                conn.execute(sa.delete(vulnerabilities).where(vulnerabilities.c.id.in_(replaced)))
            if changed:
                conn.execute(
                    sa.insert(vulnerabilities),
                    [
                        {
                            "id": row.id,
                            "modified": row.modified,
                            "record": row.record,
                            "imported_at": now,
                        }
                        for row in changed
                    ],
                )
                keys = [
                    {"ecosystem": ecosystem, "name": name, "vulnerability_id": row.id}
                    for row in changed
                    for ecosystem, name in sorted(set(row.keys))
                ]
                for start in range(0, len(keys), _CHUNK):
                    conn.execute(sa.insert(vulnerability_packages), keys[start : start + _CHUNK])
            return ImportCounts(
                new=len(changed) - len(replaced),
                updated=len(replaced),
                unchanged=len(latest) - len(changed),
            )

        return await self._store.write(work)

    async def database_status(self) -> VulnerabilityDbStatus:
        def work(conn: sa.Connection) -> VulnerabilityDbStatus:
            count, last = conn.execute(
                sa.select(sa.func.count(), sa.func.max(vulnerabilities.c.imported_at))
            ).one()
            p = vulnerability_packages
            by_ecosystem = {
                ecosystem: int(n)
                for ecosystem, n in conn.execute(
                    sa.select(p.c.ecosystem, sa.func.count(sa.distinct(p.c.vulnerability_id)))
                    .group_by(p.c.ecosystem)
                    .order_by(p.c.ecosystem)
                )
            }
            return VulnerabilityDbStatus(int(count), by_ecosystem, _optional(last))

        return await self._store.read(work)

    # registry scanning configuration

    async def registry_scanning(
        self, account_id: str, region: str
    ) -> tuple[str, list[dict[str, Any]]] | None:
        rows = await self._store.select_rows(
            _REGISTRY_SCANNING, {"account": account_id, "region": region}
        )
        return (rows[0].scan_type, list(rows[0].rules)) if rows else None

    async def put_registry_scanning(
        self, account_id: str, region: str, scan_type: str, rules: list[dict[str, Any]]
    ) -> None:
        c = registry_scanning_configurations
        now = utcnow()
        statement = (
            self._store.insert(c)
            .values(
                account_id=account_id,
                region=region,
                scan_type=scan_type,
                rules=rules,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=[c.c.account_id, c.c.region],
                set_={"scan_type": scan_type, "rules": rules, "updated_at": now},
            )
        )
        await self._store.write(lambda conn: conn.execute(statement))
