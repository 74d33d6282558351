"""The parent of `berth serve --workers N` once the workers run: it passes SIGTERM and SIGINT
on to them, reaps them, and exits when they have all stopped.

It imports the standard library only (no `berth`, no third-party package), because the parent
replaces itself with `python -I -S supervisor.py ...` after forking the workers: a process that
only waits should not keep a copy of the whole server's imports (about 80 MB of resident memory
that nothing would use again). Run like that, it costs about 9 MB.

A worker that exits on its own (a crash, the OOM killer, a signal sent to it alone) stops the
others too: the server does not go on half-staffed without anyone noticing, and its exit status
tells a process manager to start it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence

# `typing` would be a tenth of this process's memory: its names are for the type checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_LEVELS = {30: "WARNING", 40: "ERROR"}


def _log(threshold: int, level: int, message: str) -> None:
    # The format of the server's own log lines (see `berth.cli`), without importing logging.
    if level < threshold:
        return
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    line = f"{stamp},{int(now % 1 * 1000):03d} {_LEVELS[level]} berth: {message}\n"
    with contextlib.suppress(OSError, ValueError):  # stderr closed: nothing else to tell
        sys.stderr.write(line)
        sys.stderr.flush()


def exit_code(status: int) -> int:
    """A wait status as a process exit code; death by signal N is 128 + N, as shells say."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def supervise(children: Iterable[int], log_level: int = 30) -> int:
    """Wait for `children`, passing stop signals on; the worst exit code of them all. Stop
    signals may be blocked on entry (so that none is lost before the handlers exist): they are
    unblocked here, and one already pending is handled then."""
    running = set(children)
    stopping = False

    def stop_all(signum: int) -> None:
        for child in list(running):
            with contextlib.suppress(ProcessLookupError):  # exited, not yet reaped
                os.kill(child, signum)

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        stop_all(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    worst = 0
    while running:
        try:
            pid, status = os.wait()
        except ChildProcessError:  # pragma: no cover - someone else reaped them
            break
        if pid not in running:
            continue
        running.discard(pid)
        code = exit_code(status)
        worst = max(worst, code)
        if not stopping:
            stopping = True
            _log(
                log_level,
                40 if code else 30,
                f"worker {pid} exited with status {code}; stopping the other "
                f"{len(running)} worker(s) so that the server does not run short-handed",
            )
            stop_all(signal.SIGTERM)
    return worst


def become(children: Sequence[int], log_level: int = 30) -> NoReturn:
    """Replace this process with `python -I -S supervisor.py LEVEL PID... -- COMMAND...`: the
    same pid (the workers stay its children; a process manager keeps its pid), without the
    server's memory. COMMAND is this process's own command line, so that `ps` and `pgrep -f`
    still show the server as it was started. Flush buffered output first. Raises OSError when
    that cannot be done."""
    if not sys.executable:
        raise OSError("no Python interpreter to run the supervisor with")
    argv = [sys.executable, "-I", "-S", __file__, str(log_level), *map(str, children)]
    os.execv(sys.executable, [*argv, "--", *sys.argv])


def main(argv: list[str]) -> int:
    """`supervisor.py LOG_LEVEL PID... [-- COMMAND...]`, as `become` runs it."""
    ours = argv[: argv.index("--")] if "--" in argv else argv
    level, *pids = (int(arg) for arg in ours)
    return supervise(pids, level)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
