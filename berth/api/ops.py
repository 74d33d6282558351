"""Operational endpoints: liveness and readiness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web


def routes(ready: Callable[[], Awaitable[bool]]) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        ok = await ready()
        return web.Response(status=200 if ok else 503, text="ready\n" if ok else "not ready\n")

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
