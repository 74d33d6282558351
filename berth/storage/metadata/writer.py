"""SQLite writes with group commit: one thread, many units of work per transaction.

SQLite admits one writer per database, and with `synchronous=FULL` every COMMIT waits for an
fsync of the WAL. Run one unit of work per transaction and concurrent pushes queue up behind
each other's fsyncs; here the writer thread takes every unit already waiting, and those that
arrive while they run, up to the COMMIT. It runs each in its own SAVEPOINT (a unit that fails
is rolled back alone, as if it had run by itself) and commits them together, so N concurrent
writers pay for one fsync. No unit is answered before the COMMIT that holds it has returned:
group commit changes throughput, not durability.

Berth's worker processes share the database file. SQLite's busy handler, which makes a
blocked writer sleep and retry for up to 100 ms at a time, is replaced by an exclusive
`flock` on a file beside the database, taken before BEGIN IMMEDIATE: the kernel wakes the
next process as soon as the lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import mmap
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
Work = Callable[[sa.Connection], Any]
# Bounds how long one transaction holds the lock, and how much one failed COMMIT takes with it.
MAX_BATCH = 64


class _Unit:
    __slots__ = ("changes", "future", "loop", "work")

    def __init__(
        self,
        work: Work,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        changes: tuple[int, ...],
    ) -> None:
        self.work = work
        self.loop = loop
        self.future = future
        self.changes = changes


# The counters of a CommitCounter: write transactions, those that changed a repository's row,
# and those that changed an event rule or its targets.
COMMITS, REPOSITORIES, RULES = 0, 1, 2
_COUNTERS = 3


class CommitCounter:
    """How many write transactions have ended on the database, and how many of them changed a
    repository's row or an event rule, in a file that every process maps: readers cache what
    they read until the count it depends on moves (a memory read, where asking SQLite itself,
    `PRAGMA data_version`, cost as much as the query it would save). Writers bump them after
    each transaction while they still hold the write lock."""

    def __init__(self, path: str | None) -> None:
        self._local = [0] * _COUNTERS
        self._map: mmap.mmap | None = None
        if path is None:
            return
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < 8 * _COUNTERS:
                    # Grows with zeros and never rewrites a count that another process uses.
                    os.ftruncate(fd, 8 * _COUNTERS)
                self._map = mmap.mmap(fd, 8 * _COUNTERS)
            finally:
                os.close(fd)
        except OSError:
            log.warning("cannot map the commit counter %s; pull caching is off", path)
            self._local = [-1] * _COUNTERS

    def read(self, counter: int = COMMITS) -> int:
        if self._map is not None:
            return int(struct.unpack_from("<Q", self._map, 8 * counter)[0])
        return self._local[counter]

    def bump(self, counter: int = COMMITS) -> None:
        if self._map is not None:
            value = (self.read(counter) + 1) & 0xFFFFFFFFFFFFFFFF
            struct.pack_into("<Q", self._map, 8 * counter, value)
        elif self._local[counter] >= 0:
            self._local[counter] += 1

    @property
    def usable(self) -> bool:
        return self._local[COMMITS] >= 0


class CountedCache(Generic[K, V]):
    """What a process read from the database, kept until one count of the CommitCounter
    moves. Read `current()` before the query, then `put` what it found under that version:
    a change committed meanwhile moves the count, and the value is dropped."""

    def __init__(self, commits: CommitCounter, counter: int, entries: int) -> None:
        self._commits = commits
        self._counter = counter
        self._entries = entries
        self._values: dict[K, V] = {}
        self._version: int | None = None

    def current(self) -> int:
        version = self._commits.read(self._counter)
        if version != self._version:
            self._values.clear()
            self._version = version
        return version

    def get(self, key: K) -> V | None:
        """The value kept for `key`, as of the last `current()`."""
        return self._values.get(key)

    def put(self, key: K, value: V, version: int) -> None:
        if version != self._version:
            return
        if len(self._values) >= self._entries:
            self._values.clear()
        self._values[key] = value


class GroupCommitWriter:
    def __init__(
        self, engine: sa.Engine, lock_path: str | None, counter: CommitCounter | None = None
    ) -> None:
        self._engine = engine
        self._lock_path = lock_path
        self.counter = counter or CommitCounter(None)
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # Counted for the tests and the benchmark's notes: transactions and units written.
        self.transactions = 0
        self.units = 0

    async def submit(
        self, work: Callable[[sa.Connection], T], *, changes: tuple[int, ...] = ()
    ) -> T:
        """Run `work` in a transaction; `changes`: the counters besides COMMITS that it may
        move (REPOSITORIES, RULES)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_started()
        self._queue.put(_Unit(work, loop, future, changes))
        return await future

    def close(self) -> None:
        """Finish the work queued so far, then stop the thread (blocking)."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="berth-sqlite-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # no connection to write with: fail what waits, start anew
            log.exception("the SQLite writer stopped")
            with self._start_lock:
                self._thread = None
            while True:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    return
                if unit is not None:
                    with contextlib.suppress(RuntimeError):
                        unit.loop.call_soon_threadsafe(_settle, unit.future, False, exc)

    def _serve(self) -> None:
        lock_fd = self._open_lock()
        try:
            with self._engine.connect() as conn:
                # BEGIN IMMEDIATE (see the store's `begin` listener): the write lock is taken
                # up front instead of on the first write, which could fail under contention.
                conn = conn.execution_options(berth_write=True)
                while True:
                    first = self._queue.get()
                    if first is None:
                        return
                    batch, stop = [first], False
                    outcomes: list[tuple[bool, Any]] | None = None
                    try:
                        # The batch is taken once the lock is held: what arrived while another
                        # process wrote shares this transaction instead of waiting for the next.
                        with _flocked(lock_fd):
                            stop = self._take(batch)
                            outcomes, stop = self._write(conn, batch, stop)
                    except OSError as exc:  # flock itself failed
                        if outcomes is None:
                            outcomes = [(False, exc)] * len(batch)
                    # Answered once the lock is released: waking the callers' loops is not
                    # work for the other processes to wait on.
                    for unit, (ok, value) in zip(batch, outcomes, strict=True):
                        with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                            unit.loop.call_soon_threadsafe(_settle, unit.future, ok, value)
                    if stop:
                        return
        finally:
            if lock_fd is not None:
                os.close(lock_fd)

    def _open_lock(self) -> int | None:
        if self._lock_path is None:
            return None
        try:
            return os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            log.warning("cannot open the write lock %s; relying on SQLite's", self._lock_path)
            return None

    def _take(self, batch: list[_Unit]) -> bool:
        """Add the units queued now to `batch`, up to MAX_BATCH; whether the queue asked the
        writer to stop after them."""
        while len(batch) < MAX_BATCH:
            try:
                unit = self._queue.get_nowait()
            except queue.Empty:
                return False
            if unit is None:
                return True
            batch.append(unit)
        return False

    def _write(
        self, conn: sa.Connection, batch: list[_Unit], stop: bool
    ) -> tuple[list[tuple[bool, Any]], bool]:
        """One transaction for the batch, under the write lock: each unit's outcome, and
        whether to stop. Units queued while the batch runs join it before the COMMIT (added to
        `batch`): they would otherwise wait for this transaction's fsync and then their own."""
        outcomes: list[tuple[bool, Any]] = []
        try:
            with conn.begin():
                if len(batch) == 1:
                    outcomes.append(_run_unit(conn, batch[0]))
                else:
                    outcomes.extend(_run_unit(conn, unit, savepoint=True) for unit in batch)
                while not stop and len(batch) < MAX_BATCH:
                    ran = len(batch)
                    stop = self._take(batch)
                    if len(batch) == ran:
                        break
                    outcomes.extend(_run_unit(conn, unit, savepoint=True) for unit in batch[ran:])
        except Exception as exc:  # BEGIN or COMMIT failed: no unit of the batch was written
            outcomes = [(False, exc)] * len(batch)
            if len(batch) == 1 and isinstance(exc, _UnitFailed):
                outcomes = [(False, exc.error)]
        finally:
            # Before the lock goes: no reader caches past them.
            self.counter.bump()
            for counter in {c for unit in batch for c in unit.changes}:
                self.counter.bump(counter)
        self.transactions += 1
        self.units += len(batch)
        return outcomes, stop


class _UnitFailed(Exception):
    """Carries a lone unit's error out of the transaction block so that it rolls back."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _run_unit(conn: sa.Connection, unit: _Unit, *, savepoint: bool = False) -> tuple[bool, Any]:
    if not savepoint:
        try:
            return True, unit.work(conn)
        except Exception as exc:
            raise _UnitFailed(exc) from exc
    # On the DBAPI connection: SQLAlchemy's begin_nested() compiles its SAVEPOINT clause on
    # every call, which cost more than the unit's own statements.
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("SAVEPOINT berth_unit")
    try:
        result = unit.work(conn)
    except Exception as exc:
        raw.execute("ROLLBACK TO berth_unit")
        raw.execute("RELEASE berth_unit")
        return False, exc
    raw.execute("RELEASE berth_unit")
    return True, result


@contextlib.contextmanager
def _flocked(fd: int | None) -> Iterator[None]:
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller was cancelled; its unit ran (or failed) regardless
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
