"""boto3 CloudWatch Logs and EventBridge clients against Berth, the aws CLI with Berth's root
key, and a server whose EventBus a test can publish to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.config
from aiohttp import web

from berth.app import EVENT_BUS, create_app
from berth.config import Settings
from berth.services.eventbus import EventBus
from tests.conftest import REGION, ROOT_KEY_ID, ROOT_SECRET, _check_output_shape, serving

T = TypeVar("T")
AWS = str(Path(sys.executable).with_name("aws"))
ACCOUNT = "000000000000"


def client(service: str, url: str, region: str = REGION, **credentials: str) -> Any:
    """A boto3 client for `service` pointed at Berth; every response is checked against the
    operation's output shape in botocore's model."""
    made = boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=credentials.get("key_id", ROOT_KEY_ID),
        aws_secret_access_key=credentials.get("secret", ROOT_SECRET),
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    made.meta.events.register(f"after-call.{made.meta.service_model.service_name}", _check_shape)
    return made


def _check_shape(**kwargs: Any) -> None:
    _check_output_shape(**kwargs)


def aws_env(home: Path, url: str) -> dict[str, str]:
    """The aws CLI with the root key and nothing from the machine's AWS configuration; the venv's
    `aws` first on PATH, so that the guide's commands run as written."""
    return {
        "PATH": f"{Path(AWS).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }


def aws(env: dict[str, str], *args: str) -> Any:
    """Run the aws CLI; its JSON output, parsed (None when it printed nothing)."""
    result = subprocess.run([AWS, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, f"aws {' '.join(args)}:\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None


@dataclass
class BusServer:
    """Berth's real server, and a way into its event loop to call its EventBus."""

    url: str
    app: web.Application
    loop: asyncio.AbstractEventLoop

    @property
    def bus(self) -> EventBus:
        return self.app[EVENT_BUS]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)


@contextlib.contextmanager
def bus_server(settings: Settings) -> Iterator[BusServer]:
    app = create_app(settings)
    loops: list[asyncio.AbstractEventLoop] = []

    async def capture(_: web.Application) -> None:
        loops.append(asyncio.get_running_loop())

    app.on_startup.append(capture)
    with serving(app, settings.port) as url:
        yield BusServer(url, app, loops[0])
