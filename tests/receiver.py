"""A webhook receiver on loopback for event tests: records what arrives, fails on demand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from berth.domain.events import verify_webhook
from tests.conftest import free_port, serving

SECRET = "webhook-secret"


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.port = free_port()
        self.fail_first = fail_first
        self.attempts = 0
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                return web.Response(status=503)
            header = request.headers.get("Berth-Signature", "")
            if not verify_webhook(header, body, SECRET.encode(), now=int(time.time())):
                self.bad_signatures += 1
                return web.Response(status=401)
            self.events.append(json.loads(body))
        return web.Response(status=204)

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        with serving(app, self.port):
            yield self

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if done(list(self.events)):
                    return
            time.sleep(0.05)
        raise AssertionError(f"events did not arrive in {timeout}s: {self.events}")


def actions(events: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    return {(e["detail"]["action-type"], e["detail"].get("image-tag")) for e in events}
