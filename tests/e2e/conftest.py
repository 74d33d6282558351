"""`berth serve` as a real subprocess, for tests with real clients and real crashes."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REGION, ROOT_KEY_ID, ROOT_SECRET, free_port, registry_password


@dataclass
class BerthProcess:
    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Berth's settings for these tests: a known root key, create-on-push on."""
        return {
            "BERTH_ROOT_ACCESS_KEY_ID": ROOT_KEY_ID,
            "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET,
            "BERTH_CREATE_ON_PUSH": "1",
        }

    def password(self, region: str = REGION) -> str:
        """A registry password from GetAuthorizationToken, as `aws ecr get-login-password`."""
        return registry_password(self.url, region)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client logged in to the registry."""
        return httpx.Client(base_url=self.url, auth=("AWS", self.password()), **kwargs)

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"AWS:{self.password()}".encode()).decode()

    def start(self, *extra: str, env: dict[str, str] | None = None) -> None:
        assert self.process is None, "already running"
        self.log_path = self.data_dir.parent / f"berth-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "berth",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--database-url",
                self.database_url,
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env, **(env or {})},
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"berth exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"berth did not answer in 30 s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@pytest.fixture
def berth_process(tmp_path: Path, database_url: str) -> Iterator[BerthProcess]:
    berth = BerthProcess(tmp_path / "data", database_url)
    yield berth
    if berth.process is not None:
        berth.kill()


def require_tool(name: str) -> Callable[[], str]:
    """A client binary; missing is a skip locally but a failure in CI (BERTH_REQUIRE_CLIENTS)."""
    import shutil

    def find() -> str:
        path = shutil.which(name)
        if path is None:
            if os.environ.get("BERTH_REQUIRE_CLIENTS"):
                pytest.fail(f"{name} is required (BERTH_REQUIRE_CLIENTS is set) but not installed")
            pytest.skip(f"{name} is not installed")
        return path

    return find
