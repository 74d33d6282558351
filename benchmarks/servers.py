"""Start and stop the registries under test (Berth, CNCF Distribution) on 127.0.0.1 only.

Every server runs in its own process group and its own folder under the run's temp dir; `stop()`
ends exactly that group and `Server` objects are always stopped through an `ExitStack` in run.py.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
BERTH_BIN = Path(sys.executable).with_name("berth")
if not BERTH_BIN.exists():
    BERTH_BIN = ROOT / ".venv" / "bin" / "berth"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class Server:
    """One running registry process (and its children)."""

    label: str  # "berth", "distribution", "distribution-htpasswd", ...
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes]
    auth: str | None = None  # value of the Authorization header for /v2/, or None
    cold_start_s: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self.auth} if self.auth else {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
            except ProcessLookupError:
                pass
        # Children that outlived the leader (multi-worker servers) share its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def rss_bytes(self) -> int:
        """Resident memory of the server process and all its descendants."""
        return sum(_rss(pid) for pid in _tree(self.proc.pid))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            found.extend(int(p) for p in text.split())
    except OSError:
        pass
    return found


def _tree(pid: int) -> list[int]:
    pids: list[int] = []
    todo = [pid]
    while todo and len(pids) < 1000:
        p = todo.pop()
        pids.append(p)
        todo.extend(_children(p))
    return pids


def _rss(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _status(port: int, path: str) -> int | None:
    """Status of one GET on 127.0.0.1:port, or None while nothing answers."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as s:
            s.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
            )
            head = s.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _spawn(
    label: str, argv: list[str], env: dict[str, str], workdir: Path
) -> subprocess.Popen[bytes]:
    log = open(workdir / f"{label}.log", "wb")  # noqa: SIM115 - the child keeps it
    try:
        return subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir
        )
    finally:
        log.close()


def _wait_ready(server: Server, path: str, ok: set[int], started: float) -> None:
    deadline = started + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            log = (server.workdir / f"{server.label}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{server.label} exited with {server.proc.returncode}:\n{log}")
        if _status(server.port, path) in ok:
            server.cold_start_s = time.monotonic() - started
            return
        time.sleep(0.005)
    server.stop()
    raise RuntimeError(f"{server.label} did not answer {path} within {READY_TIMEOUT:.0f} s")


# --- Berth ---------------------------------------------------------------------------------------

ACCESS_KEY_ID = "AKIABENCH" + "0" * 11  # 20 characters like a real one
SECRET_ACCESS_KEY = "benchmark-secret-" + "x" * 23


def start_berth(base: Path, label: str = "berth", workers: int = 1) -> Server:
    """Berth with ECR token auth (Basic AWS:<token>); anonymous pull on for the auth-cost test.
    Access logs are off, as Distribution's are."""
    workdir = Path(base) / label
    workdir.mkdir(parents=True)
    port = free_port()
    env = dict(
        os.environ,
        BERTH_ROOT_ACCESS_KEY_ID=ACCESS_KEY_ID,
        BERTH_ROOT_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        BERTH_CREATE_ON_PUSH="1",
        BERTH_ANONYMOUS_PULL="1",
        BERTH_ACCESS_LOG="0",
    )
    for key in ("BERTH_CONFIG", "BERTH_DATABASE_URL", "AWS_ENDPOINT_URL"):
        env.pop(key, None)
    argv = [str(BERTH_BIN), "serve", "--host", HOST, "--port", str(port)]
    argv += ["--data-dir", str(workdir / "data"), "--workers", str(workers)]
    started = time.monotonic()
    server = Server(label, port, workdir, _spawn(label, argv, env, workdir))
    _wait_ready(server, "/healthz", {200}, started)
    server.auth = "Basic " + ecr_token(server.url)
    server.extra["workers"] = str(workers)
    return server


def ecr_token(url: str) -> str:
    import boto3  # type: ignore[import-untyped]  # slow to import; only needed here

    ecr = boto3.client(
        "ecr",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    data = ecr.get_authorization_token()["authorizationData"][0]
    return str(data["authorizationToken"])


# --- CNCF Distribution ---------------------------------------------------------------------------

DISTRIBUTION_BIN = "docker-registry"
HTPASSWD_USER = "bench"


def ensure_tools() -> None:
    """Install Distribution, wrk and htpasswd from Debian when missing (the run needs root then)."""
    missing = [
        pkg
        for binary, pkg in (
            (DISTRIBUTION_BIN, "docker-registry"),
            ("wrk", "wrk"),
            ("htpasswd", "apache2-utils"),
            ("gcc", "gcc"),
        )
        if shutil.which(binary) is None
    ]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    apt = ["apt-get", "-y", "-q", "-o", "Dpkg::Options::=--force-confold"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, timeout=600)
    subprocess.run([*apt, "install", *missing], check=True, env=env, timeout=900)


def distribution_version() -> str:
    out = subprocess.run(
        [DISTRIBUTION_BIN, "--version"], capture_output=True, text=True, timeout=30
    )
    return out.stdout.strip()


def start_distribution(base: Path, label: str = "distribution", htpasswd: bool = False) -> Server:
    """Distribution with filesystem storage in its own folder; optionally htpasswd (bcrypt) auth."""
    workdir = Path(base) / label
    workdir.mkdir(parents=True)
    port = free_port()
    auth_block, auth = "", None
    if htpasswd:
        password = secrets.token_hex(12)
        path = workdir / "htpasswd"
        subprocess.run(
            ["htpasswd", "-B", "-b", "-c", str(path), HTPASSWD_USER, password],
            check=True,
            capture_output=True,
            timeout=60,
        )
        auth_block = f"auth:\n  htpasswd:\n    realm: berth-bench\n    path: {path}\n"
        auth = "Basic " + base64.b64encode(f"{HTPASSWD_USER}:{password}".encode()).decode()
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        f"  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
        "  delete:\n    enabled: true\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        f"http:\n  addr: {HOST}:{port}\n  secret: {secrets.token_hex(16)}\n" + auth_block
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)}
    started = time.monotonic()
    server = Server(
        label, port, workdir, _spawn(label, [DISTRIBUTION_BIN, "serve", str(config)], env, workdir)
    )
    _wait_ready(server, "/v2/", {401} if htpasswd else {200}, started)
    server.auth = auth
    return server
