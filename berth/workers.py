"""The processes of `berth serve`, laid out so that each holds only what it uses.

- Settings are validated in a short-lived child process too: pydantic (about 6 MB) is never
  imported by a process that serves, which gets the checked values.
- Migrations and the root key (`berth.app.prepare`) run in a short-lived child process: Alembic,
  Mako and Pygments (about 10 MB) are never imported by a process that serves.
- With `--workers N` the parent forks N workers that share the port, then replaces itself with
  the standard-library-only `berth.supervisor` (about 9 MB instead of a full server's 80 MB),
  which passes stop signals on and exits when the workers have all stopped.

Every fork happens before any thread or event loop exists in the parent, so a child starts from
a consistent copy of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from berth import memory, supervisor
from berth.app import GeneratedRootKey, prepare
from berth.config import Settings, load_settings

log = logging.getLogger("berth")


class StartFailed(Exception):
    """A child process could not prepare the installation; it has logged why."""


def settings_in_child(config_file: Path | None, **flags: Any) -> Settings:
    """`load_settings(config_file, **flags)` in a child process. Raises ValueError with the
    message of the child's ValueError or OSError (an invalid setting, a missing or malformed
    config file), StartFailed for anything else (the child has printed it)."""
    values = _in_child(
        lambda: vars(load_settings(config_file, **flags)),
        "reading the settings failed",
        # Logging is not set up before the settings are known.
        traceback.print_exc,
    )
    return Settings.checked(values)


def prepare_in_child(settings: Settings) -> list[GeneratedRootKey]:
    """`prepare(settings)` in a child process: the root keys it generated. Raises ValueError
    with the child's message for a bad setting or an unusable folder (what `berth serve`
    reports as "cannot start"), StartFailed for anything else."""
    keys: list[GeneratedRootKey] = _in_child(
        lambda: asyncio.run(prepare(settings)),
        "preparing the installation failed",
        lambda: log.exception("could not prepare the database and the root key"),
    )
    return keys


def _in_child(work: Callable[[], Any], failed: str, crashed: Callable[[], None]) -> Any:
    """What `work()` returns, run in a forked child. Its ValueError or OSError is raised here
    as a ValueError with the same message; anything else is reported by `crashed` in the
    child and raised here as StartFailed(`failed`)."""
    _flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _run_and_report(work, crashed, write_end)
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        report = pipe.read()
    _, status = os.waitpid(pid, 0)
    # Only this process's own child writes to the pipe: unpickling its report is safe.
    outcome = pickle.loads(report) if report else {}
    if "error" in outcome:
        raise ValueError(outcome["error"])
    if os.waitstatus_to_exitcode(status) != 0 or "result" not in outcome:
        raise StartFailed(f"{failed} (status {status})")
    return outcome["result"]


def _run_and_report(
    work: Callable[[], Any], crashed: Callable[[], None], write_end: int
) -> NoReturn:
    code = 0
    try:
        try:
            outcome: dict[str, Any] = {"result": work()}
        except (ValueError, OSError) as exc:
            outcome = {"error": str(exc)}
        with open(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(outcome))
    except KeyboardInterrupt:  # Ctrl-C reached the whole process group: the parent says so
        code = 130
    except BaseException:
        crashed()
        code = 1
    finally:
        _flush()
        os._exit(code)


def run_workers(count: int, serve_one: Callable[[], None], log_level: int) -> int:
    """Fork `count` workers that each run `serve_one`, then supervise them (see
    `berth.supervisor`); the worst exit code of the workers."""
    # Stop signals stay blocked from the first fork until a handler exists for them, in the
    # parent (the supervisor) as in each worker (`berth.cli.serve`): one that arrives in
    # between is held rather than lost, and cannot kill the parent and orphan the workers.
    signal.pthread_sigmask(signal.SIG_BLOCK, supervisor.STOP_SIGNALS)
    # Everything imported so far lives as long as the workers: frozen, the collector in each
    # worker never walks it, so its pages stay shared with the other workers instead of being
    # copied into each (about 8 MB less memory per worker, though RSS counts shared pages too).
    gc.collect()
    gc.freeze()
    memory.tune_malloc()
    children: list[int] = []
    try:
        for _ in range(count):
            _flush()
            pid = os.fork()
            if pid == 0:
                _work(serve_one)
            children.append(pid)
    except OSError:  # no more processes: do not leave the ones already started behind
        for child in children:
            os.kill(child, signal.SIGTERM)
        supervisor.supervise(children, log_level)
        raise
    _flush()
    try:
        supervisor.become(children, log_level)
    except OSError:
        log.warning("could not start the supervisor; the parent stays as it is", exc_info=True)
    return supervisor.supervise(children, log_level)


def _work(serve_one: Callable[[], None]) -> NoReturn:
    # Stop signals are still blocked: `berth.cli.serve` unblocks them once it handles them.
    code = 0
    try:
        serve_one()
    except BaseException:
        log.exception("worker failed")
        code = 1
    finally:
        _flush()
        os._exit(code)


def _flush() -> None:
    # Buffered output would be written twice after a fork, or never after an exec or _exit.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
