"""`berth serve` as a real subprocess, for tests with real clients and real crashes."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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


class Podman:
    """podman with storage, configuration and credentials of its own."""

    def __init__(self, binary: str, root: Path, runroot: Path) -> None:
        self.binary = binary
        self.flags = [
            *("--root", str(root / "storage"), "--runroot", str(runroot / "run")),
            *("--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"),
            *("--events-backend", "none"),
        ]
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root / "home"),
            "XDG_RUNTIME_DIR": str(runroot / "xdg"),
            "REGISTRY_AUTH_FILE": str(root / "auth.json"),
        }
        for folder in (root / "home", runroot / "xdg"):
            folder.mkdir(parents=True, exist_ok=True)
        (root / "auth.json").write_text('{"auths": {}}')

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.binary, *self.flags, *args],
            input=None if stdin is None else stdin.encode(),
            capture_output=True,
            env=self.env,
            timeout=180,
        )

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        if result.returncode != 0:
            pytest.fail(
                f"podman {' '.join(args)} failed:\n{result.stderr.decode(errors='replace')}"
            )
        return result.stdout.decode()


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    binary = require_tool("podman")()
    # podman refuses a run root longer than 50 characters; pytest's tmp_path is longer.
    runroot = Path(tempfile.mkdtemp(prefix="berth-pm-", dir="/tmp"))
    yield Podman(binary, tmp_path / "podman", runroot)
    shutil.rmtree(runroot, ignore_errors=True)
