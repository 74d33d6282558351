"""The parent of `berth serve --workers N` once it has become `berth.supervisor`: signals are
passed on, workers are reaped, and one worker stopping on its own stops the others.

Each case runs in a process of its own that forks stand-in workers and execs the supervisor
exactly as `berth.workers` does, so nothing here can reap a child of the test run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from berth import supervisor

# Forks workers that behave as `behaviours` say, prints their pids, then becomes the supervisor
# (as `berth.workers.run_workers` does, without a server to import).
# "serve": waits for SIGTERM/SIGINT and exits 0; "exit N": exits with N after 0.3 s.
PARENT = """
import os, signal, sys, time
from berth import supervisor

signal.pthread_sigmask(signal.SIG_BLOCK, supervisor.STOP_SIGNALS)
pids = []
for behaviour in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        if behaviour == "serve":
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            signal.signal(signal.SIGINT, lambda *_: os._exit(0))
            signal.pthread_sigmask(signal.SIG_UNBLOCK, supervisor.STOP_SIGNALS)
            while True:
                time.sleep(1)
        time.sleep(0.3)
        os._exit(int(behaviour.split()[1]))
    pids.append(pid)
print(" ".join(map(str, pids)), flush=True)
supervisor.become(pids, 30)
"""


def _start(*behaviours: str) -> tuple[subprocess.Popen[str], list[int]]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, *behaviours],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(pids) == len(behaviours)
    return parent, pids


def _finish(parent: subprocess.Popen[str]) -> tuple[int, str]:
    """The parent's exit code and its log."""
    _, log = parent.communicate(timeout=10)
    return parent.returncode, log


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def _wait_for_exec(pid: int) -> None:
    deadline = time.monotonic() + 10
    while not any(arg.endswith("supervisor.py") for arg in _cmdline(pid)):
        assert time.monotonic() < deadline, _cmdline(pid)
        time.sleep(0.01)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_is_passed_on_and_the_workers_are_reaped(sig: int) -> None:
    parent, pids = _start("serve", "serve")
    _wait_for_exec(parent.pid)
    # The parent became a bare interpreter: standard library only, none of the server; its
    # command line still shows how it was started.
    cmdline = _cmdline(parent.pid)
    assert cmdline[1:3] == ["-I", "-S"]
    assert cmdline[cmdline.index("--") :] == ["--", "-c", "serve", "serve"]
    parent.send_signal(sig)
    assert _finish(parent) == (0, "")
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


def test_a_signal_before_the_supervisor_runs_is_not_lost() -> None:
    parent, _ = _start("serve", "serve")
    parent.send_signal(signal.SIGTERM)  # most likely before the exec: held, then passed on
    assert _finish(parent) == (0, "")


def test_a_worker_that_fails_stops_the_others_and_its_status_is_the_servers() -> None:
    parent, pids = _start("serve", "exit 3", "serve")
    code, log = _finish(parent)
    assert code == 3
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()
    assert f"ERROR berth: worker {pids[1]} exited with status 3" in log
    assert "stopping the other 2 worker(s)" in log


def test_a_killed_worker_is_reported_as_the_shell_would() -> None:
    parent, pids = _start("serve", "serve")
    _wait_for_exec(parent.pid)
    os.kill(pids[0], signal.SIGKILL)
    code, log = _finish(parent)
    assert code == 128 + signal.SIGKILL
    assert f"ERROR berth: worker {pids[0]} exited with status 137" in log
    assert not Path(f"/proc/{pids[1]}").exists()


def test_exit_codes() -> None:
    assert supervisor.exit_code(0) == 0
    assert supervisor.exit_code(3 << 8) == 3
    assert supervisor.exit_code(signal.SIGKILL) == 137
