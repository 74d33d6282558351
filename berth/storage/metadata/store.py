"""`MetadataStore` on SQLAlchemy Core: SQLite in WAL mode by default, or PostgreSQL.

The SQL runs on SQLAlchemy's synchronous engine. Measured here, a SQLite read on the event
loop costs ~30 µs against ~1.2 ms through aiosqlite's thread hops, so SQLite reads run inline
(WAL readers never wait for writers); SQLite writes go to one writer thread, which commits the
writes waiting together (SQLite admits one writer anyway, and a commit's fsync must not stall
the loop: `writer.py`). PostgreSQL work runs in a thread pool as large as the connection pool.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite

from berth.domain.settings import RepositorySettings
from berth.errors import (
    BlobReferenced,
    ImageTagAlreadyExists,
    ManifestBlobUnknown,
    ManifestReferenced,
    ReferencedImagesNotFound,
    RepositoryAlreadyExists,
    RepositoryNotEmpty,
    RepositoryNotFound,
)
from berth.storage.metadata.schema import (
    access_keys,
    account_settings,
    accounts,
    blob_contents,
    blobs,
    lifecycle_policies,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    repository_tags,
    tags,
    uploads,
)
from berth.storage.metadata.schema import events as outbox
from berth.storage.metadata.urls import sync_url
from berth.storage.metadata.writer import (
    COMMITS,
    REPOSITORIES,
    CommitCounter,
    CountedCache,
    GroupCommitWriter,
)
from berth.storage.ports import (
    AccessKey,
    ImageRecord,
    LifecyclePolicyRecord,
    ManifestRecord,
    NewManifest,
    OutboxEvent,
    ReferrerRecord,
    Repository,
    Upload,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[sa.Connection], T]

BLOB, MANIFEST = "blob", "manifest"
_OUTBOX_LOCK = 0x6265727468  # "berth": the advisory lock that orders outbox writes
_MANIFEST_COLUMNS = (
    manifests.c.digest,
    manifests.c.media_type,
    manifests.c.size,
    manifests.c.content,
    manifests.c.pushed_at,
)


def _pull_statements() -> dict[str, sa.Select[Any]]:
    """The pull path's reads, with named parameters, compiled once per store."""
    repo = repositories.c
    in_repository = (
        repo.account_id == sa.bindparam("account"),
        repo.region == sa.bindparam("region"),
        repo.name == sa.bindparam("name"),
    )
    return {
        "manifest_by_tag": sa.select(repo.id, *_MANIFEST_COLUMNS)
        .select_from(repositories)
        .outerjoin(
            tags, sa.and_(tags.c.repository_id == repo.id, tags.c.name == sa.bindparam("ref"))
        )
        .outerjoin(manifests, manifests.c.id == tags.c.manifest_id)
        .where(*in_repository),
        "manifest_by_digest": sa.select(repo.id, *_MANIFEST_COLUMNS)
        .select_from(repositories)
        .outerjoin(
            manifests,
            sa.and_(
                manifests.c.repository_id == repo.id, manifests.c.digest == sa.bindparam("ref")
            ),
        )
        .where(*in_repository),
        "blob": sa.select(
            repo.id, blobs.c.size, blob_contents.c.digest.is_not(None).label("inline")
        )
        .select_from(repositories)
        .outerjoin(
            repository_blobs,
            sa.and_(
                repository_blobs.c.repository_id == repo.id,
                repository_blobs.c.digest == sa.bindparam("ref"),
            ),
        )
        .outerjoin(blobs, blobs.c.digest == repository_blobs.c.digest)
        .outerjoin(blob_contents, blob_contents.c.digest == blobs.c.digest)
        .where(*in_repository),
    }


def _upsert(
    table: sa.Table,
    columns: Sequence[str],
    conflict: Sequence[str],
    update: Sequence[str] = (),
    returning: str | None = None,
) -> sa.TextClause:
    """INSERT … ON CONFLICT in the syntax SQLite and PostgreSQL share, bound by column name.

    Written as text because SQLAlchemy cannot cache the compiled form of its dialect upserts,
    and compiling one on every push cost more than running it.
    """
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)
        if update
        else "DO NOTHING"
    )
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(conflict)}) {action}"
    )
    if returning:
        sql += f" RETURNING {returning}"
    # Typed binds, so that timestamps and JSON are stored as SQLAlchemy stores them elsewhere.
    statement = sa.text(sql).bindparams(*(sa.bindparam(c, type_=table.c[c].type) for c in columns))
    if returning:
        return statement.columns(table.c[returning])  # type: ignore[return-value]
    return statement


def _upload_statement(sql: str) -> sa.TextClause:
    """An upload row's statement, returning its id when it matched: `offset` is a keyword
    that SQLAlchemy's own constructs quote, so these are written as text like `_upsert`'s."""
    binds = [sa.bindparam("now", type_=uploads.c.updated_at.type)]
    return sa.text(sql).bindparams(*binds).columns(uploads.c.id)  # type: ignore[return-value]


# An upload's row once it is completed or cancelled, until it expires: an id names an upload
# from its start without any row (see `berth.domain.upload_ids`), so the end needs one.
FINISHED = -1


def _push_statements() -> dict[str, Any]:
    """The push path's statements, built once with bound parameters: built per call, their
    construction and cache-key generation cost more than running them."""
    p = sa.bindparam
    return {
        "repository": sa.select(repositories).where(
            repositories.c.account_id == p("account"),
            repositories.c.region == p("region"),
            repositories.c.name == p("name"),
        ),
        # Held until commit (PostgreSQL: against a DELETE; SQLite's write lock holds it anyway).
        "hold_repository": sa.select(repositories.c.id)
        .where(repositories.c.id == p("id"))
        .with_for_update(read=True, key_share=True),
        "upload": sa.select(uploads).where(uploads.c.id == p("id")),
        "expire_upload": _upload_statement(
            f'UPDATE uploads SET "offset" = {FINISHED}, updated_at = :now '
            f'WHERE id = :id AND "offset" <> {FINISHED} RETURNING id'
        ),
        # Ending an upload that has no row (no bytes committed): fails when any row exists.
        "claim_upload": _upload_statement(
            'INSERT INTO uploads (id, repository_id, "offset", created_at, updated_at) '
            f"VALUES (:id, :repository_id, {FINISHED}, :now, :now) "
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        ),
        # Ending an upload at the length it was read at: fails when it has moved or ended.
        "finish_upload": _upload_statement(
            f'UPDATE uploads SET "offset" = {FINISHED}, updated_at = :now '
            'WHERE id = :id AND "offset" = :expected RETURNING id'
        ),
        "cancel_upload": _upload_statement(
            'INSERT INTO uploads (id, repository_id, "offset", created_at, updated_at) '
            f"VALUES (:id, :repository_id, {FINISHED}, :now, :now) "
            f'ON CONFLICT (id) DO UPDATE SET "offset" = {FINISHED}, updated_at = :now '
            "RETURNING id"
        ),
        "content": _upsert(blob_contents, ("digest", "content"), ("digest",)),
        "blob": _upsert(blobs, ("digest", "size", "created_at"), ("digest",), ("size",)),
        "link": _upsert(
            repository_blobs,
            ("repository_id", "digest", "created_at"),
            ("repository_id", "digest"),
            ("created_at",),
        ),
        # A page of a tag listing (a thousand rows: SQLAlchemy's per-row work was most of it).
        "tags": sa.select(tags.c.name)
        .where(tags.c.repository_id == p("repository_id"))
        .order_by(tags.c.name)
        .limit(p("limit")),
        "tags_after": sa.select(tags.c.name)
        .where(tags.c.repository_id == p("repository_id"), tags.c.name > p("after"))
        .order_by(tags.c.name)
        .limit(p("limit")),
        "tag": sa.select(tags.c.manifest_id).where(
            tags.c.repository_id == p("repository_id"), tags.c.name == p("name")
        ),
        "set_tag": _upsert(
            tags,
            ("repository_id", "name", "manifest_id", "updated_at"),
            ("repository_id", "name"),
            ("manifest_id", "updated_at"),
        ),
        "manifest": _upsert(
            manifests,
            (
                "repository_id",
                "digest",
                "media_type",
                "artifact_type",
                "subject_digest",
                "annotations",
                "size",
                "image_size",
                "config_media_type",
                "content",
                "pushed_at",
            ),
            ("repository_id", "digest"),
            returning="id",
        ),
    }


class _Prepared:
    """A statement compiled once for the dialect and run on the DBAPI connection, its values
    converted by the column types' own processors: what SQLAlchemy does per execution,
    without the bookkeeping that cost more than SQLite's own work on the push path."""

    def __init__(self, statement: Any, dialect: sa.Dialect, *, multi_row: bool = False) -> None:
        """`multi_row`: a plain INSERT … VALUES (…), which `many` may repeat for many rows."""
        compiled = statement.compile(dialect=dialect)
        self._sql = str(compiled)
        self._positional = compiled.positiontup is not None
        self._multi_row_ok = multi_row and self._positional
        names = compiled.positiontup or list(compiled.binds)
        self._binds = tuple(
            (
                name,
                compiled.binds[name].effective_value,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in names
        )
        columns = list(getattr(statement, "selected_columns", ()))
        self._results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        self._row: Any = namedtuple("_Row", [c.key for c in columns]) if columns else None

    def _values(self, params: Mapping[str, Any]) -> Any:
        values = []
        for name, default, process in self._binds:
            value = params.get(name, default)
            values.append(value if process is None or value is None else process(value))
        return (
            values
            if self._positional
            else dict(zip((b[0] for b in self._binds), values, strict=True))
        )

    def rows(self, raw: Any, params: Mapping[str, Any]) -> list[Any]:
        cursor = raw.execute(self._sql, self._values(params))
        if self._row is None:
            return []
        found = cursor.fetchall()
        if not any(self._results):
            return list(map(self._row._make, found))
        return [
            self._row(
                *(
                    v if p is None or v is None else p(v)
                    for p, v in zip(self._results, row, strict=True)
                )
            )
            for row in found
        ]

    def column(self, raw: Any, params: Mapping[str, Any]) -> list[Any]:
        """The first column of every row: a page of a thousand names built no row objects."""
        cursor = raw.execute(self._sql, self._values(params))
        process = self._results[0]
        # itemgetter in C: unpacking each row in Python (`value, *_`) cost as much as the query.
        values = map(_first, cursor)
        if process is None:
            return list(values)
        return [value if value is None else process(value) for value in values]

    def many(self, raw: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._multi_row_ok and len(rows) > 1:
            self._multi_row(raw, rows)
            return
        cursor = raw.cursor()
        try:
            cursor.executemany(self._sql, [self._values(row) for row in rows])
        finally:
            cursor.close()

    def _multi_row(self, raw: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """An INSERT's rows in statements of many rows each (SQLite): executemany steps once
        per row, and pysqlite hands the GIL back and forth around every step, which under a
        pull storm (an audit row per pull) cost the event loop more than the inserts."""
        head, _, group = self._sql.partition(" VALUES ")
        most = min(MULTI_ROW_INSERT, SQLITE_MAX_VARIABLES // max(1, len(self._binds)))
        start = 0
        while start < len(rows):
            # Statements of a power of two rows: pysqlite keeps each distinct statement it
            # prepared, and one per remainder size held megabytes of SQLite's memory.
            size = min(most, 1 << ((len(rows) - start).bit_length() - 1))
            size = 1 << (size.bit_length() - 1)
            chunk = rows[start : start + size]
            sql = f"{head} VALUES {', '.join([group] * size)}"
            raw.execute(sql, [value for row in chunk for value in self._values(row)])
            start += size


_first = itemgetter(0)

# Most rows per INSERT statement of `bulk_insert` on SQLite (a power of two), within its limit
# on bound values (999 before 3.32).
MULTI_ROW_INSERT = 64
SQLITE_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999

# Rows of the pull path kept between commits; manifests past the size are read every time.
PULL_CACHE_ENTRIES = 512
PULL_CACHE_MAX_BYTES = 64 * 1024
REPOSITORY_CACHE_ENTRIES = 1024


def _small(row: Sequence[Any]) -> bool:
    return all(not isinstance(v, bytes | str) or len(v) <= PULL_CACHE_MAX_BYTES for v in row)


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SqlMetadataStore:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        full = sync_url(url)
        self._sqlite = full.startswith("sqlite")
        if self._sqlite:
            self.engine = sa.create_engine(
                full, connect_args={"check_same_thread": False}, pool_size=pool_size
            )
            _configure_sqlite(self.engine)
            database = self.engine.url.database
            on_disk = bool(database) and database != ":memory:"
            self._commits = CommitCounter(f"{database}-commits" if on_disk else None)
            self._group: GroupCommitWriter | None = GroupCommitWriter(
                self.engine, f"{database}-writer.lock" if on_disk else None, self._commits
            )
            self._writer: ThreadPoolExecutor | None = None
            self._readers: ThreadPoolExecutor | None = None
            self._loop_reader: sa.Connection | None = None
            # The pull path skips SQLAlchemy's per-statement machinery on SQLite (it costs
            # more than the query): SQL compiled once, run on the DBAPI connection.
            self._fast = {
                key: _Prepared(statement, self.engine.dialect)
                for key, statement in _pull_statements().items()
            }
            self._pulled: CountedCache[tuple[str, tuple[str, ...]], Any] | None = (
                self.counted_cache(COMMITS, PULL_CACHE_ENTRIES)
            )
            self._repositories: CountedCache[tuple[str, str, str], Repository] | None = (
                self.counted_cache(REPOSITORIES, REPOSITORY_CACHE_ENTRIES)
            )
        else:
            self.engine = sa.create_engine(
                full, pool_size=pool_size, max_overflow=0, pool_pre_ping=True
            )
            self._group = None
            self._writer = ThreadPoolExecutor(pool_size, thread_name_prefix="berth-db")
            self._readers = self._writer
            self._repositories = None
        self._insert: Callable[[sa.Table], Any]
        if self._sqlite:
            self._insert = sqlite.insert
        else:
            # Imported here: the PostgreSQL dialect is about 2 MB that a SQLite worker never uses.
            from sqlalchemy.dialects import postgresql

            self._insert = postgresql.insert
        self._statements = _pull_statements()
        self._push = _push_statements()
        self._bulk: dict[tuple[str, ...], _Prepared] = {}
        self._selects: dict[Any, _Prepared] = {}
        # SQLite runs the push path's statements on the DBAPI connection (PostgreSQL's round
        # trips dwarf SQLAlchemy's own cost, so it keeps the ordinary path).
        self._prepared = (
            {key: _Prepared(st, self.engine.dialect) for key, st in self._push.items()}
            if self._sqlite
            else None
        )

    async def close(self) -> None:
        if self._group is not None:
            await asyncio.to_thread(self._group.close)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.shutdown)
        if self._sqlite and self._loop_reader is not None:
            self._loop_reader.close()
        self.engine.dispose()

    async def ping(self) -> bool:
        try:
            await self._read(lambda conn: conn.execute(sa.text("SELECT 1")).scalar())
        except Exception:
            log.exception("database is not reachable")
            return False
        return True

    # how work reaches the database

    def _read_now(self, work: Work[T]) -> T:
        if self._readers is None:
            # SQLite reads all run on the event loop's thread: one connection serves them, and
            # ending each read's transaction lets the next one see newer commits.
            if self._loop_reader is None:
                # Each read statement is its own snapshot (no BEGIN/ROLLBACK round trip): the
                # hot reads are single statements.
                self._loop_reader = self.engine.connect().execution_options(berth_autocommit=True)
            try:
                return work(self._loop_reader)
            finally:
                self._loop_reader.rollback()
        with self.engine.connect() as conn:
            return work(conn)

    def _write_now(self, work: Work[T]) -> T:
        with self.engine.connect() as conn, conn.begin():
            return work(conn)

    def _loop_connection(self) -> Any:
        """SQLite: the DBAPI connection of the event loop's reader (autocommit: each statement
        is its own snapshot)."""
        if self._loop_reader is None:
            self._read_now(lambda conn: None)  # opens the loop's reader connection
        assert self._loop_reader is not None
        raw = self._loop_reader.connection.driver_connection
        assert raw is not None
        return raw

    async def select_rows(self, statement: Any, params: Mapping[str, Any]) -> list[Any]:
        """The rows of a SELECT built once with bound parameters (a module-level statement:
        its compiled form is kept for the life of the store). Rows have the columns as
        attributes. On SQLite it runs prepared on the loop's connection, without SQLAlchemy's
        per-execution work, which cost more than the query on the push path."""
        if self._readers is None:
            prepared = self._selects.get(statement)
            if prepared is None:
                prepared = self._selects[statement] = _Prepared(statement, self.engine.dialect)
            return prepared.rows(self._loop_connection(), params)
        return await self._read(lambda conn: list(conn.execute(statement, params)))

    async def _pull_row(self, key: str, params: dict[str, str]) -> Any:
        """One row of a pull-path statement."""
        if self._readers is None:
            raw = self._loop_connection()
            # Until some writer (another worker, this process's own) has ended a transaction,
            # the answer to a pull's query is the one before: a repeated pull is a lookup.
            cache, cache_key = self._pulled, (key, tuple(params.values()))
            if cache is not None:
                version = cache.current()
                cached = cache.get(cache_key)
                if cached is not None:
                    return cached
            rows = self._fast[key].rows(raw, params)
            row = rows[0] if rows else None
            if cache is not None and row is not None and _small(row):
                cache.put(cache_key, row, version)
            return row
        statement = self._statements[key]
        return await self._read(lambda conn: conn.execute(statement, params).first())

    async def _read(self, work: Work[T]) -> T:
        if self._readers is None:
            return self._read_now(work)
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read_now, work)

    async def _write(self, work: Work[T], *, changes: tuple[int, ...] = ()) -> T:
        """`changes`: as `write`'s (REPOSITORIES: see `get_repository`)."""
        if self._group is not None:
            return await self._group.submit(work, changes=changes)
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._write_now, work)

    # for the other stores sharing this engine (garbage collection, lifecycle)

    async def read(self, work: Work[T]) -> T:
        return await self._read(work)

    async def write(self, work: Work[T], *, changes: tuple[int, ...] = ()) -> T:
        """`changes`: the commit counters besides COMMITS that the work may move (see
        `berth.storage.metadata.writer`), so that caches that follow them see it at once."""
        return await self._write(work, changes=changes)

    def counted_cache(self, counter: int, entries: int) -> CountedCache[Any, Any] | None:
        """A cache for this process that follows a commit counter; None where nothing may be
        cached: on PostgreSQL the processes may be on several hosts."""
        if self._sqlite and self._commits.usable:
            return CountedCache(self._commits, counter, entries)
        return None

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return self._insert(table)

    def _run(self, conn: sa.Connection, key: str, params: Mapping[str, Any]) -> list[Any]:
        """The rows of push-path statement `key` (none for a write without RETURNING)."""
        if self._prepared is not None:
            return self._prepared[key].rows(conn.connection.driver_connection, params)
        result = conn.execute(self._push[key], params)
        return list(result) if result.returns_rows else []

    def _column(self, conn: sa.Connection, key: str, params: Mapping[str, Any]) -> list[Any]:
        """The first column of the rows of push-path statement `key`."""
        if self._prepared is not None:
            return self._prepared[key].column(conn.connection.driver_connection, params)
        return list(conn.execute(self._push[key], params).scalars())

    def bulk_insert(
        self, conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]
    ) -> None:
        """INSERT many rows through the DBAPI's executemany, the values converted by the
        columns' own bind processors: what SQLAlchemy's executemany does, without its
        per-row bookkeeping, which cost more than SQLite's inserts (the audit trail writes a
        row per pull)."""
        if not rows:
            return
        # The columns the rows name (a serial key is left to the database).
        key = (table.name, *rows[0])
        insert = self._bulk.get(key)
        if insert is None:
            statement = sa.insert(table).values({name: sa.bindparam(name) for name in rows[0]})
            insert = self._bulk[key] = _Prepared(statement, self.engine.dialect, multi_row=True)
        insert.many(conn.connection.driver_connection, rows)

    async def _names_after(
        self,
        column: sa.ColumnElement[str],
        where: tuple[sa.ColumnElement[bool], ...],
        after: str | None,
        limit: int,
    ) -> list[str]:
        """One page of a listing in byte order: `limit` names after `after`."""
        query = sa.select(column).where(*where).order_by(column).limit(limit)
        if after is not None:
            query = query.where(column > after)
        return await self._read(lambda conn: list(conn.execute(query).scalars()))

    # repositories

    async def get_repository(self, account_id: str, region: str, name: str) -> Repository | None:
        """Every request that names a repository reads it, and pushes commit many times a
        second while its row stays the same: SQLite processes keep the rows they read until
        a transaction that may have changed one ends (the counter of those, not of every
        commit, that the pull path's cache follows)."""
        key = (account_id, region, name)
        cache = self._repositories
        if cache is not None:
            version = cache.current()
            cached = cache.get(key)
            if cached is not None:
                return cached
        params = {"account": account_id, "region": region, "name": name}
        rows = await self.select_rows(self._push["repository"], params)
        repository = _repository(rows[0]) if rows else None
        if cache is not None and repository is not None:
            cache.put(key, repository, version)
        return repository

    async def ensure_repository(self, account_id: str, region: str, name: str) -> Repository:
        existing = await self.get_repository(account_id, region, name)
        if existing:
            return existing
        insert = (
            self._insert(repositories)
            .values(account_id=account_id, region=region, name=name, created_at=utcnow())
            .on_conflict_do_nothing()
        )
        await self._write(lambda conn: conn.execute(insert), changes=(REPOSITORIES,))
        created = await self.get_repository(account_id, region, name)
        assert created is not None
        return created

    async def list_repository_names(
        self, account_id: str, region: str, *, after: str | None, limit: int
    ) -> list[str]:
        return await self._names_after(
            repositories.c.name,
            (repositories.c.account_id == account_id, repositories.c.region == region),
            after,
            limit,
        )

    async def create_repository(
        self,
        account_id: str,
        region: str,
        name: str,
        settings: RepositorySettings,
        tags: dict[str, str],
    ) -> Repository:
        def work(conn: sa.Connection) -> int | None:
            repository_id = conn.execute(
                self._insert(repositories)
                .values(
                    account_id=account_id,
                    region=region,
                    name=name,
                    created_at=utcnow(),
                    **_settings_values(settings),
                )
                .on_conflict_do_nothing()
                .returning(repositories.c.id)
            ).scalar()
            if repository_id is not None and tags:
                conn.execute(
                    sa.insert(repository_tags),
                    [
                        {"repository_id": repository_id, "key": k, "value": v}
                        for k, v in tags.items()
                    ],
                )
            return repository_id

        if await self._write(work, changes=(REPOSITORIES,)) is None:
            raise RepositoryAlreadyExists(
                f"The repository with name '{name}' already exists in the registry with id "
                f"'{account_id}'"
            )
        created = await self.get_repository(account_id, region, name)
        assert created is not None
        return created

    async def list_repositories(
        self,
        account_id: str,
        region: str,
        *,
        names: Sequence[str] | None,
        after: str | None,
        limit: int,
    ) -> list[Repository]:
        query = (
            sa.select(repositories)
            .where(repositories.c.account_id == account_id, repositories.c.region == region)
            .order_by(repositories.c.name)
            .limit(limit)
        )
        if names is not None:
            query = query.where(repositories.c.name.in_(list(names)))
        if after is not None:
            query = query.where(repositories.c.name > after)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_repository(row) for row in rows]

    async def update_repository_settings(
        self, repository_id: int, settings: RepositorySettings
    ) -> None:
        statement = (
            sa.update(repositories)
            .where(repositories.c.id == repository_id)
            .values(**_settings_values(settings))
        )
        await self._write(lambda conn: conn.execute(statement), changes=(REPOSITORIES,))

    async def delete_repository(self, repository_id: int, *, force: bool) -> None:
        def work(conn: sa.Connection) -> None:
            if not force and _count_images(conn, repository_id):
                raise RepositoryNotEmpty(
                    "The repository cannot be deleted because it still contains images"
                )
            # Explicit, child tables first: SQLite cascades only with foreign keys on.
            manifest_ids = sa.select(manifests.c.id).where(
                manifests.c.repository_id == repository_id
            )
            conn.execute(sa.delete(tags).where(tags.c.repository_id == repository_id))
            conn.execute(
                sa.delete(manifest_references).where(
                    manifest_references.c.manifest_id.in_(manifest_ids)
                )
            )
            conn.execute(sa.delete(manifests).where(manifests.c.repository_id == repository_id))
            for table in (repository_blobs, repository_tags, uploads, lifecycle_policies):
                conn.execute(sa.delete(table).where(table.c.repository_id == repository_id))
            conn.execute(sa.delete(repositories).where(repositories.c.id == repository_id))

        await self._write(work, changes=(REPOSITORIES,))

    async def get_repository_tags(self, repository_id: int) -> dict[str, str]:
        query = (
            sa.select(repository_tags.c.key, repository_tags.c.value)
            .where(repository_tags.c.repository_id == repository_id)
            .order_by(repository_tags.c.key)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return {row.key: row.value for row in rows}

    async def tag_repository(self, repository_id: int, tags_: dict[str, str]) -> None:
        def work(conn: sa.Connection) -> None:
            for key, value in tags_.items():
                statement = self._insert(repository_tags).values(
                    repository_id=repository_id, key=key, value=value
                )
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[repository_tags.c.repository_id, repository_tags.c.key],
                        set_={"value": value},
                    )
                )

        await self._write(work)

    async def untag_repository(self, repository_id: int, keys: Sequence[str]) -> None:
        statement = sa.delete(repository_tags).where(
            repository_tags.c.repository_id == repository_id,
            repository_tags.c.key.in_(list(keys)),
        )
        await self._write(lambda conn: conn.execute(statement))

    # lifecycle policies

    async def put_lifecycle_policy(self, repository_id: int, text: str) -> None:
        now = utcnow()
        statement = (
            self._insert(lifecycle_policies)
            .values(repository_id=repository_id, text=text, updated_at=now)
            .on_conflict_do_update(
                index_elements=[lifecycle_policies.c.repository_id],
                set_={"text": text, "updated_at": now},
            )
        )
        await self._write(lambda conn: conn.execute(statement))

    async def get_lifecycle_policy(self, repository_id: int) -> LifecyclePolicyRecord | None:
        query = sa.select(lifecycle_policies.c.text, lifecycle_policies.c.last_evaluated_at).where(
            lifecycle_policies.c.repository_id == repository_id
        )
        row = await self._read(lambda conn: conn.execute(query).first())
        return _lifecycle_policy(row) if row else None

    async def delete_lifecycle_policy(self, repository_id: int) -> LifecyclePolicyRecord | None:
        def work(conn: sa.Connection) -> LifecyclePolicyRecord | None:
            row = conn.execute(
                sa.delete(lifecycle_policies)
                .where(lifecycle_policies.c.repository_id == repository_id)
                .returning(lifecycle_policies.c.text, lifecycle_policies.c.last_evaluated_at)
            ).first()
            return _lifecycle_policy(row) if row else None

        return await self._write(work)

    # accounts, keys and settings

    async def ensure_account(self, account_id: str) -> None:
        statement = (
            self._insert(accounts)
            .values(id=account_id, created_at=utcnow())
            .on_conflict_do_nothing()
        )
        await self._write(lambda conn: conn.execute(statement))

    async def put_access_key(self, key: AccessKey) -> None:
        statement = self._insert(access_keys).values(
            id=key.id,
            account_id=key.account_id,
            principal_arn=key.principal_arn,
            sealed_secret=key.sealed_secret,
            status=key.status,
            created_at=key.created_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[access_keys.c.id],
            set_={
                "account_id": key.account_id,
                "principal_arn": key.principal_arn,
                "sealed_secret": key.sealed_secret,
                "status": key.status,
            },
        )
        await self._write(lambda conn: conn.execute(statement))

    async def get_access_key(self, access_key_id: str) -> AccessKey | None:
        query = sa.lambda_stmt(
            lambda: sa.select(access_keys).where(access_keys.c.id == access_key_id)
        )
        row = await self._read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return AccessKey(
            row.id,
            row.account_id,
            row.principal_arn,
            row.sealed_secret,
            row.status,
            aware(row.created_at),
        )

    async def count_root_keys(self, account_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            access_keys.c.account_id == account_id,
            access_keys.c.principal_arn == f"arn:aws:iam::{account_id}:root",
        )
        return await self._read(lambda conn: int(conn.execute(query).scalar_one()))

    async def get_account_setting(self, account_id: str, region: str, name: str) -> str | None:
        query = sa.select(account_settings.c.value).where(
            account_settings.c.account_id == account_id,
            account_settings.c.region == region,
            account_settings.c.name == name,
        )
        return await self._read(lambda conn: conn.execute(query).scalar())

    async def put_account_setting(
        self, account_id: str, region: str, name: str, value: str
    ) -> None:
        statement = (
            self._insert(account_settings)
            .values(account_id=account_id, region=region, name=name, value=value)
            .on_conflict_do_update(
                index_elements=[
                    account_settings.c.account_id,
                    account_settings.c.region,
                    account_settings.c.name,
                ],
                set_={"value": value},
            )
        )
        await self._write(lambda conn: conn.execute(statement))

    # blobs

    async def linked_blob_size(self, repository_id: int, digest: str) -> int | None:
        query = sa.lambda_stmt(
            lambda: (
                sa.select(blobs.c.size)
                .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
                .where(repository_blobs.c.repository_id == repository_id, blobs.c.digest == digest)
            )
        )
        return await self._read(lambda conn: conn.execute(query).scalar())

    def _store(
        self,
        conn: sa.Connection,
        repository_id: int,
        digest: str,
        size: int,
        place: Callable[[], None] | None,
        content: bytes | None,
    ) -> None:
        params = {
            "repository_id": repository_id,
            "digest": digest,
            "size": size,
            "created_at": utcnow(),
        }
        self._hold_repository(conn, repository_id)
        # The upsert locks the blob's row (SQLite: the whole database) until commit, and garbage
        # collection deletes a blob's file only while holding that lock: so the bytes `place`
        # puts down cannot be removed before this link makes them referenced.
        self._run(conn, "blob", params)
        if content is not None:
            self._run(conn, "content", {"digest": digest, "content": content})
        elif place is not None:
            place()
        self._run(conn, "link", params)

    def _hold_repository(self, conn: sa.Connection, repository_id: int) -> None:
        """Keep the repository until commit. A request that read it may see it deleted before
        its write (its rows would fail their foreign key): that is the repository not found."""
        if not self._run(conn, "hold_repository", {"id": repository_id}):
            raise RepositoryNotFound("The repository was deleted while this request was served")

    async def store_blob(
        self,
        repository_id: int,
        digest: str,
        size: int,
        place: Callable[[], None] | None = None,
        *,
        content: bytes | None = None,
    ) -> None:
        await self._write(
            lambda conn: self._store(conn, repository_id, digest, size, place, content)
        )

    async def blob_contents(self, digests: Sequence[str]) -> dict[str, bytes]:
        if not digests:
            return {}
        query = sa.select(blob_contents.c.digest, blob_contents.c.content).where(
            blob_contents.c.digest.in_(set(digests))
        )
        return await self._read(lambda conn: {d: bytes(c) for d, c in conn.execute(query)})

    async def link_existing_blob(self, repository_id: int, digest: str) -> int | None:
        def work(conn: sa.Connection) -> int | None:
            # FOR SHARE waits for a collector holding the row, then sees whether it survived.
            size = conn.execute(
                sa.select(blobs.c.size).where(blobs.c.digest == digest).with_for_update(read=True)
            ).scalar()
            if size is None:
                return None
            self._hold_repository(conn, repository_id)
            params = {"repository_id": repository_id, "digest": digest, "created_at": utcnow()}
            self._run(conn, "link", params)
            return int(size)

        return await self._write(work)

    async def unlink_blob(self, repository_id: int, digest: str) -> bool:
        def work(conn: sa.Connection) -> bool:
            user = _referenced_by(conn, repository_id, BLOB, digest)
            if user is not None:
                raise BlobReferenced(
                    f"blob {digest} is referenced by manifest {user}; delete the manifest first"
                )
            result = conn.execute(
                sa.delete(repository_blobs).where(
                    repository_blobs.c.repository_id == repository_id,
                    repository_blobs.c.digest == digest,
                )
            )
            return result.rowcount > 0

        return await self._write(work)

    async def find_blob_link(
        self, account_id: str, region: str, digest: str, *, in_repository: str | None
    ) -> int | None:
        query = (
            sa.select(blobs.c.size)
            .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
            .join(repositories, repositories.c.id == repository_blobs.c.repository_id)
            .where(
                blobs.c.digest == digest,
                repositories.c.account_id == account_id,
                repositories.c.region == region,
            )
            .limit(1)
        )
        if in_repository is not None:
            query = query.where(repositories.c.name == in_repository)
        return await self._read(lambda conn: conn.execute(query).scalar())

    # manifests and tags

    async def get_manifest(
        self, repository_id: int, *, digest: str | None = None, tag: str | None = None
    ) -> ManifestRecord | None:
        if tag is not None:
            query = sa.lambda_stmt(
                lambda: (
                    sa.select(*_MANIFEST_COLUMNS)
                    .join(tags, tags.c.manifest_id == manifests.c.id)
                    .where(tags.c.repository_id == repository_id, tags.c.name == tag)
                )
            )
        else:
            query = sa.lambda_stmt(
                lambda: sa.select(*_MANIFEST_COLUMNS).where(
                    manifests.c.repository_id == repository_id, manifests.c.digest == digest
                )
            )
        row = await self._read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return ManifestRecord(
            row.digest, row.media_type, row.size, row.content, aware(row.pushed_at)
        )

    async def find_manifest(
        self,
        account_id: str,
        region: str,
        name: str,
        *,
        digest: str | None = None,
        tag: str | None = None,
    ) -> tuple[int, ManifestRecord | None] | None:
        key, ref = ("manifest_by_tag", tag) if tag is not None else ("manifest_by_digest", digest)
        row = await self._pull_row(
            key, {"account": account_id, "region": region, "name": name, "ref": ref or ""}
        )
        if row is None:
            return None
        repository_id, found, media_type, size, content, pushed_at = row
        if found is None:
            return repository_id, None
        return repository_id, ManifestRecord(found, media_type, size, content, _moment(pushed_at))

    async def find_blob(
        self, account_id: str, region: str, name: str, digest: str
    ) -> tuple[int, int | None, bool] | None:
        row = await self._pull_row(
            "blob", {"account": account_id, "region": region, "name": name, "ref": digest}
        )
        return None if row is None else (row[0], row[1], bool(row[2]))

    async def missing_manifests(self, repository_id: int, digests: Sequence[str]) -> list[str]:
        if not digests:
            return []
        query = sa.select(manifests.c.digest).where(
            manifests.c.repository_id == repository_id, manifests.c.digest.in_(set(digests))
        )
        present = await self._read(lambda conn: set(conn.execute(query).scalars()))
        return [d for d in dict.fromkeys(digests) if d not in present]

    async def put_manifest(
        self,
        repository_id: int,
        manifest: NewManifest,
        tag_names: Sequence[str],
        *,
        is_immutable: Callable[[str], bool] = lambda _tag: False,
        events: Sequence[OutboxEvent] = (),
    ) -> bool:
        now = utcnow()

        def work(conn: sa.Connection) -> bool:
            self._hold_repository(conn, repository_id)
            # Checked inside the transaction, with the rows share-locked on PostgreSQL, so that
            # garbage collection or a delete cannot remove what the manifest is about to use.
            missing = _absent(conn, repository_blobs, repository_id, manifest.blobs)
            if missing:
                raise ManifestBlobUnknown(
                    f"manifest references blobs unknown to the repository: {', '.join(missing)}",
                    digests=missing,
                )
            absent = _absent(conn, manifests, repository_id, manifest.children)
            if absent:
                raise ReferencedImagesNotFound(
                    "image index references manifests unknown to the repository: "
                    f"{', '.join(absent)}",
                    digests=absent,
                )
            # Concurrent pushes of the same manifest are normal: insert-or-ignore, then read.
            inserted = self._run(
                conn,
                "manifest",
                {
                    "repository_id": repository_id,
                    "digest": manifest.digest,
                    "media_type": manifest.media_type,
                    "artifact_type": manifest.artifact_type,
                    "subject_digest": manifest.subject,
                    "annotations": manifest.annotations,
                    "size": manifest.size,
                    "image_size": _image_size(conn, repository_id, manifest),
                    "config_media_type": manifest.config_media_type,
                    "content": manifest.content,
                    "pushed_at": now,
                },
            )
            manifest_id = inserted[0][0] if inserted else None
            changed = manifest_id is not None
            if manifest_id is not None:
                references = [
                    {"manifest_id": manifest_id, "kind": BLOB, "digest": d}
                    for d in dict.fromkeys(manifest.blobs)
                ] + [
                    {"manifest_id": manifest_id, "kind": MANIFEST, "digest": d}
                    for d in dict.fromkeys(manifest.children)
                ]
                if references:
                    conn.execute(sa.insert(manifest_references), references)
            else:
                manifest_id = conn.execute(
                    sa.select(manifests.c.id).where(
                        manifests.c.repository_id == repository_id,
                        manifests.c.digest == manifest.digest,
                    )
                ).scalar_one()
            for name in dict.fromkeys(tag_names):
                tag = {"repository_id": repository_id, "name": name}
                found = self._run(conn, "tag", tag)
                current = found[0][0] if found else None
                if current == manifest_id:
                    continue
                if current is not None and is_immutable(name):
                    # Raising rolls back the whole push: nothing of it becomes visible.
                    raise ImageTagAlreadyExists(
                        f"The image tag '{name}' already exists in the repository and cannot be "
                        "overwritten because the tag is immutable.",
                        tag=name,
                    )
                self._run(conn, "set_tag", {**tag, "manifest_id": manifest_id, "updated_at": now})
                changed = True
            if changed:
                self.emit(conn, events)
            return changed

        return await self._write(work)

    async def delete_manifest(
        self, repository_id: int, digest: str, *, events: Sequence[OutboxEvent] = ()
    ) -> bool:
        def work(conn: sa.Connection) -> bool:
            # Locked first (PostgreSQL): an index push share-locks its children, so the check
            # below sees any index that committed while this waited.
            manifest_id = conn.execute(
                sa.select(manifests.c.id)
                .where(manifests.c.repository_id == repository_id, manifests.c.digest == digest)
                .with_for_update()
            ).scalar()
            if manifest_id is None:
                return False
            parent = _referenced_by(conn, repository_id, MANIFEST, digest)
            if parent is not None:
                raise ManifestReferenced(
                    f"manifest {digest} is listed by image index {parent}; delete the index first"
                )
            drop_manifest(conn, repository_id, manifest_id)
            self.emit(conn, events)
            return True

        return await self._write(work)

    async def delete_tag(
        self, repository_id: int, tag: str, *, events: Sequence[OutboxEvent] = ()
    ) -> bool:
        statement = sa.delete(tags).where(tags.c.repository_id == repository_id, tags.c.name == tag)

        def work(conn: sa.Connection) -> bool:
            if conn.execute(statement).rowcount == 0:
                return False
            self.emit(conn, events)
            return True

        return await self._write(work)

    async def publish_events(self, events: Sequence[OutboxEvent]) -> None:
        await self._write(lambda conn: self.emit(conn, events))

    def emit(self, conn: sa.Connection, batch: Sequence[OutboxEvent]) -> None:
        """Append events to the outbox inside the caller's transaction.

        Delivery reads the outbox in `seq` order from a cursor per target, so `seq` must follow
        commit order: SQLite's single writer gives that; on PostgreSQL a transaction-scoped
        advisory lock makes event-writing transactions take their numbers one at a time.
        """
        if not batch:
            return
        if not self._sqlite:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_OUTBOX_LOCK)))
        now = utcnow()
        self.bulk_insert(
            conn,
            outbox,
            [
                {"id": e.id, "account_id": e.account_id, "created_at": now, "body": e.body}
                for e in batch
            ],
        )

    async def record_pulls(self, pulls: Sequence[tuple[int, str, datetime]]) -> None:
        def work(conn: sa.Connection) -> None:
            for repository_id, digest, at in pulls:
                conn.execute(
                    sa.update(manifests)
                    .where(
                        manifests.c.repository_id == repository_id,
                        manifests.c.digest == digest,
                        sa.or_(
                            manifests.c.last_pulled_at.is_(None), manifests.c.last_pulled_at < at
                        ),
                    )
                    .values(last_pulled_at=at)
                )

        await self._write(work)

    async def tag_target(self, repository_id: int, tag: str) -> str | None:
        query = (
            sa.select(manifests.c.digest)
            .join(tags, tags.c.manifest_id == manifests.c.id)
            .where(tags.c.repository_id == repository_id, tags.c.name == tag)
        )
        return await self._read(lambda conn: conn.execute(query).scalar())

    async def describe_images(
        self,
        repository_id: int,
        *,
        digests: Sequence[str] | None = None,
        tag_status: str = "ANY",
        after: str | None = None,
        limit: int = 1000,
    ) -> list[ImageRecord]:
        tagged = sa.exists().where(tags.c.manifest_id == manifests.c.id)
        query = (
            sa.select(
                manifests.c.id,
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.config_media_type,
                manifests.c.image_size,
                manifests.c.pushed_at,
                manifests.c.last_pulled_at,
                manifests.c.subject_digest,
            )
            .where(manifests.c.repository_id == repository_id)
            .order_by(manifests.c.digest)
            .limit(limit)
        )
        if digests is not None:
            query = query.where(manifests.c.digest.in_(list(digests)))
        if tag_status == "TAGGED":
            query = query.where(tagged)
        elif tag_status == "UNTAGGED":
            query = query.where(~tagged)
        if after is not None:
            query = query.where(manifests.c.digest > after)

        def work(conn: sa.Connection) -> list[ImageRecord]:
            rows = conn.execute(query).all()
            names: dict[int, list[str]] = {row.id: [] for row in rows}
            if names:
                for manifest_id, name in conn.execute(
                    sa.select(tags.c.manifest_id, tags.c.name)
                    .where(tags.c.manifest_id.in_(list(names)))
                    .order_by(tags.c.name)
                ):
                    names[manifest_id].append(name)
            return [
                ImageRecord(
                    digest=row.digest,
                    tags=tuple(names[row.id]),
                    media_type=row.media_type,
                    artifact_media_type=row.config_media_type,
                    image_size=row.image_size,
                    pushed_at=aware(row.pushed_at),
                    last_pulled_at=aware(row.last_pulled_at) if row.last_pulled_at else None,
                    subject=row.subject_digest,
                )
                for row in rows
            ]

        return await self._read(work)

    async def list_tags(self, repository_id: int, *, after: str | None, limit: int) -> list[str]:
        key = "tags_after" if after is not None else "tags"
        params = {"repository_id": repository_id, "after": after, "limit": limit}
        return await self._read(lambda conn: self._column(conn, key, params))

    async def list_referrers(
        self, repository_id: int, subject: str, artifact_type: str | None
    ) -> list[ReferrerRecord]:
        query = (
            sa.select(
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.size,
                manifests.c.artifact_type,
                manifests.c.annotations,
            )
            .where(
                manifests.c.repository_id == repository_id,
                manifests.c.subject_digest == subject,
            )
            .order_by(manifests.c.id)
        )
        if artifact_type is not None:
            query = query.where(manifests.c.artifact_type == artifact_type)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [
            ReferrerRecord(r.digest, r.media_type, r.size, r.artifact_type, r.annotations)
            for r in rows
        ]

    # uploads

    async def get_upload(self, upload_id: str) -> Upload | None:
        rows = await self.select_rows(self._push["upload"], {"id": upload_id})
        if not rows:
            return None
        row = rows[0]
        if row.offset == FINISHED:
            return Upload(row.id, row.repository_id, 0, finished=True)
        return Upload(
            row.id, row.repository_id, row.offset, row.last_part_size, bool(row.has_small_part)
        )

    async def advance_upload(
        self,
        upload_id: str,
        repository_id: int,
        expected_offset: int,
        new_offset: int,
        *,
        small_part_below: int | None = None,
    ) -> bool:
        now = utcnow()
        values: dict[str, Any] = {"offset": new_offset, "updated_at": now}
        if small_part_below is not None:
            values["last_part_size"] = new_offset - expected_offset
            values["has_small_part"] = sa.or_(
                uploads.c.has_small_part,
                sa.and_(
                    uploads.c.last_part_size.is_not(None),
                    uploads.c.last_part_size < small_part_below,
                ),
            )
        update = (
            sa.update(uploads)
            .where(uploads.c.id == upload_id, uploads.c.offset == expected_offset)
            .values(**values)
        )
        first = (
            None
            if expected_offset
            else _first_chunk(
                self._insert,
                upload_id,
                repository_id,
                new_offset,
                now,
                values.get("last_part_size"),
            )
        )

        def work(conn: sa.Connection) -> bool:
            if conn.execute(update).rowcount == 1:
                return True
            if first is None:
                return False
            self._hold_repository(conn, repository_id)
            return conn.execute(first).first() is not None

        return await self._write(work)

    async def complete_upload(
        self,
        upload_id: str,
        repository_id: int,
        offset: int,
        digest: str,
        size: int,
        place: Callable[[], None] | None = None,
        *,
        content: bytes | None = None,
    ) -> bool:
        params: dict[str, Any] = {"id": upload_id, "repository_id": repository_id}
        params |= {"expected": offset, "now": utcnow()}

        def work(conn: sa.Connection) -> bool:
            self._hold_repository(conn, repository_id)  # before the row that refers to it
            # An upload read at length 0 has no row, almost always (an empty first PATCH
            # makes one): the claim, tried first, is then the only statement.
            ended = (not offset and self._run(conn, "claim_upload", params)) or self._run(
                conn, "finish_upload", params
            )
            if not ended:
                return False
            self._store(conn, repository_id, digest, size, place, content)
            return True

        return await self._write(work)

    async def cancel_upload(self, upload_id: str, repository_id: int) -> None:
        params = {"id": upload_id, "repository_id": repository_id, "now": utcnow()}

        def work(conn: sa.Connection) -> None:
            self._hold_repository(conn, repository_id)
            self._run(conn, "cancel_upload", params)

        await self._write(work)

    async def expire_upload(self, upload_id: str) -> bool:
        params = {"id": upload_id, "now": utcnow()}
        return await self._write(lambda conn: bool(self._run(conn, "expire_upload", params)))


def _first_chunk(
    insert: Callable[[sa.Table], Any],
    upload_id: str,
    repository_id: int,
    offset: int,
    now: datetime,
    last_part_size: int | None,
) -> Any:
    """An upload's row, made by its first bytes unless a concurrent first chunk made it."""
    return (
        insert(uploads)
        .values(
            id=upload_id,
            repository_id=repository_id,
            offset=offset,
            created_at=now,
            updated_at=now,
            last_part_size=last_part_size,
        )
        .on_conflict_do_nothing(index_elements=[uploads.c.id])
        .returning(uploads.c.id)  # psycopg reports no rowcount for it
    )


def _count_images(conn: sa.Connection, repository_id: int) -> int:
    query = sa.select(sa.func.count()).where(manifests.c.repository_id == repository_id)
    return int(conn.execute(query).scalar_one())


def _image_size(conn: sa.Connection, repository_id: int, manifest: NewManifest) -> int | None:
    """Compressed size as ECR reports it: the layers, or for an index its largest child."""
    if not manifest.children:
        return sum(manifest.layer_sizes)
    return conn.execute(
        sa.select(sa.func.max(manifests.c.image_size)).where(
            manifests.c.repository_id == repository_id,
            manifests.c.digest.in_(list(manifest.children)),
        )
    ).scalar()


def _moment(value: datetime | str) -> datetime:
    """A timestamp as the DBAPI hands it back: SQLite's text, or PostgreSQL's datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return aware(value)


def drop_manifest(conn: sa.Connection, repository_id: int, manifest_id: int) -> None:
    """Delete a manifest, its tags and its references.

    The links of the blobs it used are touched: garbage collection's grace period for a link
    counts from when it last became unreferenced, so a client that just saw the blob exist can
    still push a manifest using it.
    """
    used = sa.select(manifest_references.c.digest).where(
        manifest_references.c.manifest_id == manifest_id, manifest_references.c.kind == BLOB
    )
    conn.execute(
        sa.update(repository_blobs)
        .where(
            repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest.in_(used)
        )
        .values(created_at=utcnow())
    )
    conn.execute(sa.delete(tags).where(tags.c.manifest_id == manifest_id))
    conn.execute(
        sa.delete(manifest_references).where(manifest_references.c.manifest_id == manifest_id)
    )
    conn.execute(sa.delete(manifests).where(manifests.c.id == manifest_id))


def _absent(
    conn: sa.Connection, table: sa.Table, repository_id: int, digests: Sequence[str]
) -> list[str]:
    """Which of `digests` the repository lacks (links or manifests); the rest stay share-locked
    until commit on PostgreSQL (SQLite's writer holds the whole database anyway)."""
    if not digests:
        return []
    params = {"repository_id": repository_id, "digests": sorted(set(digests))}
    present = set(conn.execute(_PRESENT[table.name], params).scalars())
    return [d for d in dict.fromkeys(digests) if d not in present]


# Built once: an expanding IN compiles once per statement, not once per push.
_PRESENT = {
    table.name: sa.select(table.c.digest)
    .where(
        table.c.repository_id == sa.bindparam("repository_id"),
        table.c.digest.in_(sa.bindparam("digests", expanding=True)),
    )
    .with_for_update(read=True)
    for table in (repository_blobs, manifests)
}


def _referenced_by(conn: sa.Connection, repository_id: int, kind: str, digest: str) -> str | None:
    """A manifest of the repository that references `digest` (as a blob or as a child)."""
    return conn.execute(
        sa.select(manifests.c.digest)
        .join(manifest_references, manifest_references.c.manifest_id == manifests.c.id)
        .where(
            manifests.c.repository_id == repository_id,
            manifest_references.c.kind == kind,
            manifest_references.c.digest == digest,
        )
        .limit(1)
    ).scalar()


def _lifecycle_policy(row: sa.Row[Any]) -> LifecyclePolicyRecord:
    evaluated = row.last_evaluated_at
    return LifecyclePolicyRecord(row.text, aware(evaluated) if evaluated else None)


def _repository(row: sa.Row[Any]) -> Repository:
    settings = RepositorySettings(
        image_tag_mutability=row.image_tag_mutability,
        mutability_exclusions=tuple(row.mutability_exclusions or ()),
        scan_on_push=bool(row.scan_on_push),
        encryption_type=row.encryption_type,
        kms_key=row.kms_key,
    )
    return Repository(row.id, row.account_id, row.region, row.name, aware(row.created_at), settings)


def _settings_values(settings: RepositorySettings) -> dict[str, Any]:
    return {
        "image_tag_mutability": settings.image_tag_mutability,
        "mutability_exclusions": list(settings.mutability_exclusions) or None,
        "scan_on_push": settings.scan_on_push,
        "encryption_type": settings.encryption_type,
        "kms_key": settings.kms_key,
    }


def _configure_sqlite(engine: sa.Engine) -> None:
    """WAL, foreign keys, a busy timeout, and explicit BEGIN so writes can BEGIN IMMEDIATE.

    pysqlite's own transaction handling must be switched off for that (SQLAlchemy's
    documented recipe for SQLite transactions).
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        if options.get("berth_autocommit", False):
            return
        immediate = options.get("berth_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
