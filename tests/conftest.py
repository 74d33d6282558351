"""Shared fixtures. The whole suite runs on SQLite by default and on PostgreSQL when
BERTH_TEST_DATABASE_URL names one (each test then gets a schema of its own)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import httpx
import pytest
import sqlalchemy as sa
from aiohttp import web
from botocore.validate import ParamValidator

from berth.app import create_app
from berth.config import Settings

PG_URL = os.environ.get("BERTH_TEST_DATABASE_URL", "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'berth.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


ROOT_KEY_ID = "AKIABERTHTESTROOT001"
ROOT_SECRET = "berth-test-root-secret-key-0000000000000"
REGION = "us-east-1"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        port=free_port(),
        create_on_push=True,
        pull_time_interval=0.1,
        root_access_key_id=ROOT_KEY_ID,
        root_secret_access_key=ROOT_SECRET,
    )


def ecr_client(url: str, region: str = REGION, **credentials: str) -> Any:
    """A real boto3 ECR client pointed at Berth; every response it parses is also checked
    against the operation's output shape in botocore's model (types, required members,
    lengths, ranges)."""
    client = boto3.client(
        "ecr",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=credentials.get("key_id", ROOT_KEY_ID),
        aws_secret_access_key=credentials.get("secret", ROOT_SECRET),
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    client.meta.events.register("after-call.ecr", _check_output_shape)
    return client


def iam_client(url: str, key_id: str = ROOT_KEY_ID, secret: str = ROOT_SECRET) -> Any:
    """A real boto3 IAM client pointed at Berth, as the root key unless told otherwise."""
    return boto3.client(
        "iam",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def _check_output_shape(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    if http_response.status_code != 200 or model.output_shape is None:
        return
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, model.output_shape)
    # List shapes are shared with inputs, whose minimum of one item AWS's own responses do not
    # keep (BatchDeleteImage answers "imageIds": [] when it deleted nothing).
    problems = [
        e for e in report._errors if not (e[0] == "invalid length" and e[2].get("param") == 0)
    ]
    assert not problems, f"{model.name} response: {problems}"


def registry_password(url: str, region: str = REGION) -> str:
    """The password `aws ecr get-login-password` would print."""
    token = ecr_client(url, region).get_authorization_token()["authorizationData"][0]
    return base64.b64decode(token["authorizationToken"]).decode().split(":", 1)[1]


@dataclass
class RunningRegistry:
    url: str
    settings: Settings
    client: httpx.Client  # logged in as the root key
    ecr: Any  # boto3 ECR client with the root key
    password: str = ""

    @property
    def authorization(self) -> str:
        """The `Authorization` header a logged-in registry client sends."""
        return "Basic " + base64.b64encode(f"AWS:{self.password}".encode()).decode()


@contextlib.contextmanager
def serving(app: web.Application, port: int) -> Iterator[str]:
    """An aiohttp app on a real loopback port, in a thread of this process; yields its URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(30)
    if failure:
        raise failure[0]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


@pytest.fixture
def registry(settings: Settings) -> Iterator[RunningRegistry]:
    """Berth's real HTTP server on a loopback port, logged in as the root key."""
    with serving(create_app(settings), settings.port) as url:
        password = registry_password(url)
        with httpx.Client(base_url=url, timeout=30, auth=("AWS", password)) as client:
            yield RunningRegistry(url, settings, client, ecr_client(url), password)
