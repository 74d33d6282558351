"""Group commit on a real SQLite file: units share transactions, fail alone, and every unit
is answered only once its transaction has committed."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from berth.storage.metadata.store import _configure_sqlite
from berth.storage.metadata.writer import GroupCommitWriter


class Boom(Exception):
    pass


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'w.db'}", connect_args={"check_same_thread": False}
    )
    _configure_sqlite(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    return engine


def _rows(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT k, v FROM t").all())  # type: ignore[arg-type]


def _insert(k: int, v: str, *, fail_after: bool = False) -> object:
    def work(conn: sa.Connection) -> int:
        conn.exec_driver_sql("INSERT INTO t (k, v) VALUES (?, ?)", (k, v))
        if fail_after:
            raise Boom(k)  # after its own write: that write must not survive
        return k

    return work


async def _many(writer: GroupCommitWriter, works: list[object]) -> list[object]:
    return await asyncio.gather(*(writer.submit(w) for w in works), return_exceptions=True)  # type: ignore[arg-type]


def test_concurrent_units_share_transactions_and_fail_alone(
    engine: sa.Engine, tmp_path: Path
) -> None:
    writer = GroupCommitWriter(engine, str(tmp_path / "w.lock"))
    # Hold the first transaction open until every unit is queued, so they must batch.
    gate = threading.Event()

    def blocker(conn: sa.Connection) -> str:
        gate.wait(5)
        return "first"

    async def run() -> list[object]:
        first = asyncio.ensure_future(writer.submit(blocker))
        await asyncio.sleep(0.05)
        works = [_insert(k, f"v{k}", fail_after=k % 5 == 0) for k in range(1, 41)]
        rest = asyncio.ensure_future(_many(writer, works))
        await asyncio.sleep(0.05)
        gate.set()
        return [await first, *(await rest)]

    try:
        results = asyncio.run(run())
    finally:
        writer.close()
    assert results[0] == "first"
    for k, result in enumerate(results[1:], start=1):
        if k % 5 == 0:
            assert isinstance(result, Boom) and result.args == (k,)
        else:
            assert result == k
    assert _rows(engine) == {k: f"v{k}" for k in range(1, 41) if k % 5}
    # 41 units; the 40 queued behind the blocker went in far fewer transactions.
    assert writer.units == 41
    assert writer.transactions <= 3


def _while_first_runs(
    writer: GroupCommitWriter, first: object, works: list[object]
) -> tuple[object, list[object]]:
    """Submit `first`, which holds its transaction until released; queue `works` while it
    runs; then release it. `first` is given the gate to wait on."""
    gate = threading.Event()

    async def run() -> tuple[object, list[object]]:
        held = asyncio.ensure_future(writer.submit(lambda conn: first(conn, gate)))  # type: ignore[operator]
        await asyncio.sleep(0.05)  # the writer has taken it alone and runs it
        rest = asyncio.ensure_future(_many(writer, works))
        await asyncio.sleep(0.05)
        gate.set()
        outcome: object
        try:
            outcome = await held
        except Boom as exc:
            outcome = exc
        return outcome, await rest

    return asyncio.run(run())


def test_units_queued_while_a_batch_runs_join_it_before_its_commit(engine: sa.Engine) -> None:
    writer = GroupCommitWriter(engine, None)

    def first(conn: sa.Connection, gate: threading.Event) -> str:
        conn.exec_driver_sql("INSERT INTO t (k, v) VALUES (0, 'first')")
        gate.wait(5)
        return "first"

    works = [_insert(k, f"v{k}", fail_after=k == 3) for k in range(1, 11)]
    try:
        outcome, results = _while_first_runs(writer, first, works)
    finally:
        writer.close()
    assert outcome == "first"
    assert isinstance(results[2], Boom)
    assert [r for k, r in enumerate(results, start=1) if k != 3] == [1, 2, *range(4, 11)]
    # One COMMIT for all eleven; the late unit that failed was rolled back alone.
    assert (writer.transactions, writer.units) == (1, 11)
    assert _rows(engine) == {0: "first"} | {k: f"v{k}" for k in range(1, 11) if k != 3}


def test_units_queued_behind_a_lone_unit_that_fails_are_written_after_its_rollback(
    engine: sa.Engine,
) -> None:
    writer = GroupCommitWriter(engine, None)

    def first(conn: sa.Connection, gate: threading.Event) -> str:
        conn.exec_driver_sql("INSERT INTO t (k, v) VALUES (0, 'first')")
        gate.wait(5)
        raise Boom(0)

    try:
        outcome, results = _while_first_runs(writer, first, [_insert(k, "v") for k in (1, 2)])
    finally:
        writer.close()
    assert isinstance(outcome, Boom)
    assert results == [1, 2]
    assert writer.transactions == 2
    assert _rows(engine) == {1: "v", 2: "v"}


def test_a_lone_failing_unit_rolls_back_and_the_writer_goes_on(engine: sa.Engine) -> None:
    writer = GroupCommitWriter(engine, None)

    async def run() -> tuple[object, object]:
        failed = await _many(writer, [_insert(1, "a", fail_after=True)])
        ok = await writer.submit(_insert(2, "b"))  # type: ignore[arg-type]
        return failed[0], ok

    try:
        failed, ok = asyncio.run(run())
    finally:
        writer.close()
    assert isinstance(failed, Boom)
    assert ok == 2
    assert _rows(engine) == {2: "b"}


def test_a_constraint_violation_fails_only_its_unit(engine: sa.Engine) -> None:
    writer = GroupCommitWriter(engine, None)
    gate = threading.Event()

    async def run() -> list[object]:
        first = asyncio.ensure_future(writer.submit(lambda conn: gate.wait(5)))
        await asyncio.sleep(0.05)
        rest = asyncio.ensure_future(
            _many(writer, [_insert(1, "a"), _insert(1, "duplicate"), _insert(2, "b")])
        )
        await asyncio.sleep(0.05)
        gate.set()
        await first
        return await rest

    try:
        results = asyncio.run(run())
    finally:
        writer.close()
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], sa.exc.IntegrityError)
    assert _rows(engine) == {1: "a", 2: "b"}


def test_two_writers_on_one_file_serialise_through_the_lock(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Two processes' writers, as with `serve --workers 2`: no write is lost or refused."""
    lock = str(tmp_path / "w.lock")
    writers = [GroupCommitWriter(engine, lock), GroupCommitWriter(engine, lock)]

    def read_modify_write(conn: sa.Connection) -> None:
        # Lost updates would show if the two transactions interleaved.
        (count,) = conn.exec_driver_sql("SELECT count(*) FROM t").one()
        conn.exec_driver_sql("INSERT INTO t (k, v) VALUES (?, ?)", (count + 1, "x"))

    async def run() -> None:
        await asyncio.gather(*(writers[i % 2].submit(read_modify_write) for i in range(200)))

    try:
        asyncio.run(run())
    finally:
        for writer in writers:
            writer.close()
    assert sorted(_rows(engine)) == list(range(1, 201))


def test_units_queued_while_another_process_writes_share_the_next_transaction(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The writer takes its batch once it holds the lock, not before waiting for it."""
    lock = str(tmp_path / "w.lock")
    writer = GroupCommitWriter(engine, lock)
    other = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)  # another process's writer, writing

    async def run() -> list[object]:
        fcntl.flock(other, fcntl.LOCK_EX)
        try:
            first = asyncio.ensure_future(writer.submit(_insert(1, "first")))  # type: ignore[arg-type]
            await asyncio.sleep(0.05)  # the writer has taken it and waits for the lock
            rest = asyncio.ensure_future(_many(writer, [_insert(k, "v") for k in range(2, 22)]))
            await asyncio.sleep(0.05)
        finally:
            fcntl.flock(other, fcntl.LOCK_UN)
        return [await first, *(await rest)]

    try:
        results = asyncio.run(run())
    finally:
        writer.close()
        os.close(other)
    assert results == list(range(1, 22))
    assert writer.units == 21
    assert writer.transactions == 1


def test_a_writer_that_cannot_connect_fails_its_units_instead_of_hanging(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'w.db'}")  # no such folder
    writer = GroupCommitWriter(engine, None)

    async def run() -> object:
        return await asyncio.wait_for(writer.submit(lambda conn: 1), 10)

    try:
        with pytest.raises(sa.exc.OperationalError):
            asyncio.run(run())
    finally:
        writer.close()
