"""A real aiohttp server on a loopback port that routes `POST /` to whatever EcrApi a test
installs, and a botocore ECR client pointed at it: requests are built by botocore itself."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import httpx
import pytest
from aiohttp import web
from botocore.config import Config

from berth.api.ecr.dispatch import EcrApi, Handler
from berth.api.ecr.model import ECR
from tests.conftest import serving

TARGET_PREFIX = ECR.target_prefix


@dataclass
class FakeAuth:
    """Records what authenticate saw; raises `error` when set."""

    caller: Any = "caller-1"
    error: Exception | None = None
    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, request: web.Request, body: bytes) -> tuple[Any, str]:
        self.bodies.append(body)
        if self.error is not None:
            raise self.error
        return self.caller, "us-east-1"


@dataclass
class Server:
    url: str
    http: httpx.Client
    api: EcrApi | None = None
    auth: FakeAuth = field(default_factory=FakeAuth)

    def use(self, handlers: Mapping[str, Handler], **options: Any) -> FakeAuth:
        self.auth = FakeAuth()
        self.api = EcrApi(handlers, self.auth, **options)
        return self.auth

    def raw(self, operation: str, body: bytes | str, **headers: str) -> httpx.Response:
        """A hand-made request, for what botocore's client-side validation never sends."""
        return self.http.post(
            "/",
            content=body,
            headers={
                "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-west-1/ecr/"
                "aws4_request, SignedHeaders=host, Signature=00",
                **headers,
            },
        )


@pytest.fixture(scope="session")
def _server() -> Iterator[Server]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    server = Server(url, httpx.Client(base_url=url, timeout=10))

    async def route(request: web.Request) -> web.StreamResponse:
        if server.api is None or not server.api.accepts(request):
            return web.Response(status=404, text="not ECR")
        return await server.api.handle(request)

    app = web.Application()
    app.router.add_route("*", "/", route)
    with serving(app, port):
        yield server
        server.http.close()


@pytest.fixture
def server(_server: Server) -> Iterator[Server]:
    _server.use({})
    yield _server
    _server.api = None


@pytest.fixture(scope="session")
def ecr(_server: Server) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "ecr",
        region_name="us-east-1",
        endpoint_url=_server.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
