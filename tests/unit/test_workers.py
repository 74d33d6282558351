"""`berth.workers.tune_malloc`: glibc's malloc limited to a few arenas in a serving process."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from berth import workers


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
    workers.tune_malloc()
    assert libc.calls == [("mallopt", (-8, workers.MALLOC_ARENAS)), ("malloc_trim", (0,))]


def test_an_operators_malloc_arena_max_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    libc = FakeLibc()
    _fake(monkeypatch, libc)
    workers.tune_malloc()
    assert libc.calls == [("malloc_trim", (0,))]


def test_nothing_happens_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, object())  # a C library without mallopt or malloc_trim
    workers.tune_malloc()


def test_the_real_call_succeeds() -> None:
    workers.tune_malloc()  # in the test process: limits only arenas not created yet
