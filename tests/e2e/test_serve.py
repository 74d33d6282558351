"""`berth serve` as an operator runs it: first start, logging, signals, settings, TLS."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import re
import shutil
import signal
import sqlite3
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import httpx
import pytest

from tests.api.helpers import push_blob, push_image, sha256
from tests.conftest import PG_URL, REGION, ROOT_KEY_ID, ROOT_SECRET, free_port
from tests.e2e.conftest import BerthProcess

pytestmark = pytest.mark.e2e

NAME = "serve/app"


def _env(**extra: str) -> dict[str, str]:
    """The test's environment without any BERTH_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    return {**env, **extra}


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        """What is shown on the terminal only: the generated root key, once."""
        return self.stdout_path.read_text(errors="replace")

    def output(self) -> str:
        """The log (stderr)."""
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout)


@contextlib.contextmanager
def _serve(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    url: str,
    verify: ssl.SSLContext | bool = True,
) -> Iterator[Served]:
    """`python -m berth <args>` in `cwd` until `url`/healthz answers; killed on the way out."""
    stem = cwd / f"berth-{time.monotonic_ns()}"
    stdout_path, stderr_path = stem.with_suffix(".out"), stem.with_suffix(".log")
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "berth", *args], cwd=cwd, env=env, stdout=stdout, stderr=stderr
        )
    served = Served(process, stdout_path, stderr_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"berth exited with {process.returncode}:\n{served.output()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"berth did not answer in 30 s:\n{served.output()}")
            time.sleep(0.05)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _refuses(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def _lines_announcing(output: str, url: str) -> list[str]:
    pattern = re.compile(rf"{re.escape(url)}(?![0-9])")
    return [line for line in output.splitlines() if pattern.search(line)]


def _sqlite_tables(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def _database_flag(database_url: str) -> list[str]:
    """Nothing on SQLite (the default database is under test); the schema on PostgreSQL."""
    return ["--database-url", database_url] if PG_URL else []


def _ecr(url: str, key_id: str, secret: str, verify: bool | str | None = None) -> Any:
    """A boto3 ECR client with this key against Berth."""
    return boto3.client(
        "ecr",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        verify=verify,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def _registry_password(url: str, key_id: str, secret: str, verify: bool | str | None = None) -> str:
    """`aws ecr get-login-password` with this key against Berth."""
    ecr = _ecr(url, key_id, secret, verify)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    assert user == "AWS"
    return password


GENERATED_KEY = re.compile(
    r"\ACreated the root access key of account 000000000000:\n"
    r"  AWS_ACCESS_KEY_ID=(AKIA[A-Z0-9]{16})\n"
    r"  AWS_SECRET_ACCESS_KEY=(\S+)\n"
    r"  \(also in (.+), readable by its owner only\)\n\Z"
)


# first start and logging


def test_first_start_creates_data_dir_and_database_and_logs_url_once(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "berth-data"  # the default, relative to the working directory
    assert not data_dir.exists()
    args = ["serve", "--port", str(port), *_database_flag(database_url)]
    data = os.urandom(10_000)
    credentials = data_dir / "root-credentials"

    for start in range(2):
        with _serve(args, cwd=tmp_path, env=_env(), url=url) as served:
            assert (data_dir / "blobs").is_dir()
            assert (data_dir / "uploads").is_dir()
            database = data_dir / "berth.db"
            if PG_URL:
                assert not database.exists()
            else:
                assert database.read_bytes()[:16] == b"SQLite format 3\x00"
                assert {"alembic_version", "repositories", "manifests"} <= _sqlite_tables(database)
            if start == 0:
                # No root key configured: one is generated and shown once, on stdout.
                shown = GENERATED_KEY.match(served.stdout())
                assert shown is not None, served.stdout()
                key_id, secret, shown_path = shown.groups()
                # As given: relative to the working directory, like the data folder.
                assert (tmp_path / shown_path).resolve() == credentials.resolve()
                old_password = _registry_password(url, key_id, secret)
            else:
                assert served.stdout() == ""
                # The key persists, and so does the server key: a password minted before
                # the restart still logs in.
                with httpx.Client(base_url=url, timeout=30, auth=("AWS", old_password)) as old:
                    assert old.get("/v2/").status_code == 200
            assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
            assert credentials.read_text() == (
                f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
            )
            assert httpx.get(f"{url}/v2/", timeout=30).status_code == 401
            password = _registry_password(url, key_id, secret)
            with httpx.Client(base_url=url, timeout=30, auth=("AWS", password)) as client:
                if start == 0:
                    # Create-on-push is off by default: the repository comes first.
                    _ecr(url, key_id, secret).create_repository(repositoryName=NAME)
                    push_blob(client, NAME, data)
                response = client.get(f"/v2/{NAME}/blobs/{sha256(data)}")
                assert response.status_code == 200
                assert response.content == data
            assert served.stop() == 0
        output = served.output()
        assert secret not in output
        assert len(_lines_announcing(output, url)) == 1, output
        assert not _lines_announcing(served.stdout(), url)
        assert "alembic" not in output.lower(), output
        assert "Running upgrade" not in output, output
        assert "Traceback" not in output, output


# signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_when_idle_exits_zero(berth_process: BerthProcess, sig: int) -> None:
    berth_process.start()
    with berth_process.client(timeout=30) as client:
        # A kept-alive idle connection must not hold the shutdown up.
        assert client.get("/v2/").status_code == 200
        started = time.monotonic()
        assert berth_process.stop(sig, timeout=10) == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in berth_process.log()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_lets_a_slow_upload_finish(berth_process: BerthProcess, sig: int) -> None:
    berth_process.start(env={"BERTH_SHUTDOWN_TIMEOUT": "3"})
    with berth_process.client(timeout=30) as client:
        start = client.post(f"/v2/{NAME}/blobs/uploads/")
        assert start.status_code == 202
        location = start.headers["Location"]
    pieces = [os.urandom(1000) for _ in range(10)]
    authorization = berth_process.authorization
    conn = http.client.HTTPConnection("127.0.0.1", berth_process.port, timeout=15)
    try:
        conn.putrequest("PATCH", location)
        conn.putheader("Authorization", authorization)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(sum(map(len, pieces))))
        conn.endheaders()
        conn.send(pieces[0])
        time.sleep(0.2)
        assert berth_process.process is not None
        berth_process.process.send_signal(sig)
        for piece in pieces[1:]:  # dribbled over ~1 s after the signal
            time.sleep(0.1)
            conn.send(piece)
        response = conn.getresponse()
        response.read()
        assert response.status == 202
        assert response.getheader("Range") == "0-9999"
    finally:
        conn.close()
    finished = time.monotonic()
    assert berth_process.stop(sig, timeout=10) == 0
    assert time.monotonic() - finished < 3
    # The chunk was committed, not just answered.
    berth_process.start()
    with berth_process.client(timeout=30) as client:
        status = client.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-9999"
        digest = sha256(b"".join(pieces))
        assert client.put(location, params={"digest": digest}).status_code == 201
        assert client.get(f"/v2/{NAME}/blobs/{digest}").content == b"".join(pieces)


# settings


def test_config_file_env_and_flags_in_a_real_process(tmp_path: Path, database_url: str) -> None:
    file_port, env_port, flag_port = free_port(), free_port(), free_port()
    config = tmp_path / "berth.toml"
    config.write_text(f'port = {file_port}\ndata_dir = "from-file"\n')
    env = _env(BERTH_PORT=str(env_port), BERTH_DATA_DIR=str(tmp_path / "from-env"))
    db = ["--database-url", database_url]

    # flags > BERTH_* > file, field by field.
    args = ["--config", str(config), "serve", "--port", str(flag_port), *db]
    url = f"http://127.0.0.1:{flag_port}"
    with _serve(args, cwd=tmp_path, env=env, url=url) as served:
        assert _refuses(file_port)
        assert _refuses(env_port)
        assert (tmp_path / "from-env" / "blobs").is_dir()
        assert not (tmp_path / "from-file").exists()
        assert served.stop() == 0
    assert len(_lines_announcing(served.output(), url)) == 1

    # BERTH_CONFIG names the file; with no env or flag for them, its values hold.
    url = f"http://127.0.0.1:{file_port}"
    args = ["serve", *db]
    with _serve(args, cwd=tmp_path, env=_env(BERTH_CONFIG=str(config)), url=url) as served:
        assert (tmp_path / "from-file" / "blobs").is_dir()
        assert served.stop() == 0


def _tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1 (openssl; `cryptography` is not installed)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


# More invalid settings are checked in-process in tests/unit/test_config.py.
INVALID = [
    pytest.param({"toml": 'port = "abc"\n'}, "port", id="toml-port-not-a-number"),
    pytest.param({"env": {"BERTH_ACCOUNT_ID": "123"}}, "account_id", id="env-account-id"),
    pytest.param({"args": ["--tls-cert", "c.pem"]}, "--tls-key", id="cert-without-key"),
    pytest.param({"toml": "port = \n"}, "berth.toml", id="toml-syntax-error"),
    pytest.param({"env": {"BERTH_SECRET_KEY": "short"}}, "secret_key", id="secret-not-base64"),
    pytest.param(
        {"env": {"BERTH_SECRET_KEY": "c2hvcnQ="}}, "at least 32 bytes", id="secret-too-short"
    ),
    pytest.param(
        {"args": ["--tls-cert", "missing.pem", "--tls-key", "missing.pem"]},
        "missing.pem",
        id="missing-tls-files",
    ),
]


@pytest.mark.parametrize(("case", "mentions"), INVALID)
def test_invalid_configuration_exits_2_with_a_message(
    tmp_path: Path, case: dict[str, object], mentions: str
) -> None:
    top: list[str] = []
    if "toml" in case:
        (tmp_path / "berth.toml").write_text(str(case["toml"]))
        top = ["--config", "berth.toml"]
    extra_env = case.get("env", {})
    assert isinstance(extra_env, dict)
    extra_args = case.get("args", [])
    assert isinstance(extra_args, list)
    # A --port flag would outrank (and so hide) a bad port from the file or the environment.
    port = [] if mentions == "port" else ["--port", str(free_port())]
    result = subprocess.run(
        [sys.executable, "-m", "berth", *top, "serve", *port, *extra_args],
        cwd=tmp_path,
        env=_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("berth:"), result.stderr
    assert mentions in result.stderr
    assert not (tmp_path / "berth-data").exists()


def test_tls(tmp_path: Path, database_url: str) -> None:
    cert, key = _tls_files(tmp_path)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))
    args = ["serve", "--port", str(port), "--database-url", database_url]
    args += ["--data-dir", str(tmp_path / "data"), "--tls-cert", str(cert), "--tls-key", str(key)]
    env = _env(BERTH_ROOT_ACCESS_KEY_ID=ROOT_KEY_ID, BERTH_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET)
    with _serve(args, cwd=tmp_path, env=env, url=url, verify=trust) as served:
        # The login challenge names the HTTPS address; the ECR API answers on it too.
        challenge = httpx.get(f"{url}/v2/", verify=trust)
        assert challenge.status_code == 401
        assert challenge.headers["Www-Authenticate"] == (
            f'Basic realm="{url}/",service="ecr.amazonaws.com"'
        )
        password = _registry_password(url, ROOT_KEY_ID, ROOT_SECRET, verify=str(cert))
        response = httpx.get(f"{url}/v2/", verify=trust, auth=("AWS", password))
        assert response.status_code == 200
        assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        with pytest.raises(httpx.ConnectError):  # the system trust store does not know it
            httpx.get(f"{url}/v2/")
        with pytest.raises(httpx.TransportError):  # no plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=5)
        assert served.stop() == 0
    assert len(_lines_announcing(served.output(), url)) == 1
    assert f"http://127.0.0.1:{port}" not in served.output()
    assert served.stdout() == ""  # the root key was configured, so none was generated


def test_two_workers_share_the_port_and_the_store(berth_process: BerthProcess) -> None:
    """`--workers 2`: both processes answer; a chunked upload whose chunks land on either
    worker completes with the right digest; pushes from many connections are all kept; a
    SIGTERM stops both."""
    berth_process.start("--workers", "2")
    assert berth_process.process is not None
    parent = berth_process.process.pid
    workers = _children(parent)
    assert len(workers) == 2

    chunks = [os.urandom(256 * 1024) for _ in range(12)]
    digest = "sha256:" + hashlib.sha256(b"".join(chunks)).hexdigest()
    password = berth_process.password()
    with httpx.Client(base_url=berth_process.url, auth=("AWS", password), timeout=30) as start:
        location = start.post("/v2/workers/app/blobs/uploads/").headers["Location"]
    offset = 0
    for chunk in chunks:
        # A new connection per chunk: the kernel spreads them over both workers.
        with httpx.Client(base_url=berth_process.url, auth=("AWS", password), timeout=30) as c:
            response = c.patch(
                location,
                content=chunk,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                },
            )
            assert response.status_code == 202, response.text
            location = response.headers["Location"]
            offset += len(chunk)
    with httpx.Client(base_url=berth_process.url, auth=("AWS", password), timeout=30) as c:
        done = c.put(location, params={"digest": digest})
        assert done.status_code == 201, done.text
        assert c.get(f"/v2/workers/app/blobs/{digest}").content == b"".join(chunks)
    for i in range(20):
        with httpx.Client(base_url=berth_process.url, auth=("AWS", password), timeout=30) as c:
            push_image(c, "workers/app", f"t{i}", seed=f"s{i}".encode())
    with httpx.Client(base_url=berth_process.url, auth=("AWS", password), timeout=30) as c:
        tags = c.get("/v2/workers/app/tags/list").json()["tags"]
    assert sorted(tags) == sorted(f"t{i}" for i in range(20))
    assert berth_process.stop() == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]
