"""glibc malloc in a serving process: few arenas, and freed memory handed back."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

# glibc's M_ARENA_MAX (malloc.h) and how many arenas a serving process keeps.
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def tune_malloc() -> None:
    """For a process about to serve, before it starts a thread (workers inherit it): glibc's
    malloc keeps at most MALLOC_ARENAS arenas, and hands back what startup freed.

    Without a limit every thread that allocates (the default executor's, the SQLite writer)
    gets an arena of its own, up to eight per core, and each keeps the most it ever held:
    3 to 4 MB a worker after the benchmark's load, 1 to 2 MB with two arenas. Python's
    small objects live in its own arenas;
    these hold larger blocks, and threads take turns on the GIL anyway. An operator's
    MALLOC_ARENA_MAX (read by glibc at startup) is left as it is. Does nothing off glibc."""
    mallopt, malloc_trim = _glibc("mallopt"), _glibc("malloc_trim")
    if mallopt is None or malloc_trim is None:
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    malloc_trim(0)


async def hand_back_freed_memory(interval: float) -> None:
    """Every `interval` seconds, glibc's malloc_trim in a thread (it walks the heap for about a
    millisecond): what a burst of requests allocated and freed goes back to the system instead
    of staying in the process's RSS (2 to 3 MB per worker after the benchmark's loads). Returns
    at once off glibc."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(trim, 0)


def _glibc(name: str) -> Callable[..., int] | None:
    try:
        import ctypes

        function: Callable[..., int] = getattr(ctypes.CDLL(None), name)
    except (ImportError, OSError, AttributeError):
        return None
    return function
