"""`berth serve --workers N` as processes: a lean parent, and no server left half-staffed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ecr_client, iam_client
from tests.e2e.conftest import BerthProcess

pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _supervising(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return any(arg.endswith(b"supervisor.py") for arg in cmdline)


def _wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_the_parent_keeps_none_of_the_server(berth_process: BerthProcess) -> None:
    berth_process.start("--workers", "2")
    assert berth_process.process is not None
    parent = berth_process.process.pid
    _wait_until(lambda: _supervising(parent))
    # A bare interpreter waiting for its children, not a third copy of the server; `ps` still
    # shows the command that started it.
    assert _rss_mb(parent) < 25
    command = Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")
    assert command[command.index(b"--") + 1 :][1:3] == [b"serve", b"--host"]
    assert len(_children(parent)) == 2
    assert httpx.get(f"{berth_process.url}/healthz", timeout=10).status_code == 200
    assert berth_process.stop() == 0


def test_a_worker_that_dies_stops_the_server(berth_process: BerthProcess) -> None:
    berth_process.start("--workers", "2")
    assert berth_process.process is not None
    parent = berth_process.process.pid
    first, second = _children(parent)
    os.kill(first, signal.SIGKILL)  # as the OOM killer would
    assert berth_process.process.wait(30) == 128 + signal.SIGKILL
    berth_process.process = None
    assert not Path(f"/proc/{second}").exists()
    log = berth_process.log()
    assert f"worker {first} exited with status 137; stopping the other 1 worker(s)" in log
    assert "Traceback" not in log


def _maps_cryptography(pid: int) -> bool:
    return "/cryptography/" in Path(f"/proc/{pid}/maps").read_text()


def test_the_configured_root_key_is_checked_without_loading_aes(
    berth_process: BerthProcess,
) -> None:
    """Signatures of the root key in the settings are checked against the settings' secret,
    not the sealed copy: a process that only sees that key never maps cryptography (8 MB).
    A wrong secret is still refused, and other keys' secrets are unsealed as before."""
    berth_process.start()
    assert berth_process.process is not None
    server = berth_process.process.pid
    assert berth_process.password()
    assert not _maps_cryptography(server)
    with pytest.raises(ClientError) as raised:
        ecr_client(berth_process.url, secret="not-the-root-secret").get_authorization_token()
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"

    iam = iam_client(berth_process.url)
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    user = ecr_client(berth_process.url, key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError) as raised:
        user.get_authorization_token()  # a user without a policy: signed right, not allowed
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    wrong = ecr_client(berth_process.url, key_id=key["AccessKeyId"], secret="not-the-secret")
    with pytest.raises(ClientError) as raised:
        wrong.get_authorization_token()
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
