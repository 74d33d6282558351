"""`berth.memory`: glibc's malloc limited to a few arenas in a serving process, and what it
freed handed back while it serves."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from berth import memory


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def mallopt(self, *args: int) -> int:
        self.calls.append(("mallopt", args))
        return 1

    def malloc_trim(self, *args: int) -> int:
        self.calls.append(("malloc_trim", args))
        return 1


def _fake(monkeypatch: pytest.MonkeyPatch, libc: Any) -> None:
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)


def test_arenas_are_limited_and_freed_memory_handed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    libc = FakeLibc()
    _fake(monkeypatch, libc)
    memory.tune_malloc()
    assert libc.calls == [("mallopt", (-8, memory.MALLOC_ARENAS)), ("malloc_trim", (0,))]


def test_an_operators_malloc_arena_max_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    libc = FakeLibc()
    _fake(monkeypatch, libc)
    memory.tune_malloc()
    assert libc.calls == [("malloc_trim", (0,))]


def test_nothing_happens_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, object())  # a C library without mallopt or malloc_trim
    memory.tune_malloc()


def test_the_real_call_succeeds() -> None:
    memory.tune_malloc()  # in the test process: limits only arenas not created yet


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def test_freed_heap_goes_back_to_the_system_while_serving() -> None:
    """Real glibc: 64 KiB blocks (below mmap's threshold, so on the heap), freed with the
    last one still held, stay in RSS until malloc_trim hands them back."""
    import asyncio

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 << 10) for _ in range(1600)]  # 100 MiB
    for block in blocks:
        ctypes.memset(block, 1, 64 << 10)
    for block in blocks[:-1]:
        libc.free(block)
    held = _rss_mib()

    async def one_round() -> None:
        job = asyncio.create_task(memory.hand_back_freed_memory(0.01))
        await asyncio.sleep(0.3)
        job.cancel()

    try:
        asyncio.run(one_round())
        assert held - _rss_mib() > 50
    finally:
        libc.free(blocks[-1])
