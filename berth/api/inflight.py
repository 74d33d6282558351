"""Counts requests being handled, so a shutdown can wait for them before closing connections.

aiohttp's own graceful shutdown marks every connection as closing and then ignores the rest of
a request body still arriving, which would cut an upload in progress; Berth stops listening,
waits here for the requests it already took, and only then lets aiohttp close connections.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from aiohttp.typedefs import Handler


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._count += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True once no request is being handled; False if `timeout` seconds pass first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        return self._idle.is_set()
