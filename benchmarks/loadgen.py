"""Native load generators: wrk for GET, headload (benchmarks/headload.c, built here) for HEAD."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

HEADLOAD_SRC = Path(__file__).with_name("headload.c")
THREADS = 2  # the machine has 2 cores shared by the server and the load generator


def build_headload(outdir: Path) -> Path:
    """Compile headload.c into the run's temp dir (binaries are never kept in the repository)."""
    binary = outdir / "headload"
    cmd = ["gcc", "-O2", "-pthread", "-o", str(binary), str(HEADLOAD_SRC)]
    subprocess.run(cmd, check=True, timeout=120)
    return binary


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk_get(
    url: str, connections: int, seconds: float, headers: dict[str, str]
) -> dict[str, float]:
    """GET `url` with wrk over `connections` keep-alive connections → rps, p50/p99 ms, errors."""
    cmd = ["wrk", "--latency", "-t", str(min(THREADS, connections)), "-c", str(connections)]
    cmd += ["-d", f"{max(1, round(seconds))}s", "--timeout", "10s"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    result: dict[str, float] = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    result["rps"] = float(rps.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        result[key] = _ms(m.group(1), m.group(2)) if m else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    result["errors"] = float(non2xx.group(1)) if non2xx else 0.0
    if socket_errors:
        result["errors"] += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(0)))
    return result


def head_load(
    binary: Path,
    host: str,
    port: int,
    path: str,
    connections: int,
    seconds: float,
    headers: dict[str, str],
) -> dict[str, float]:
    """HEAD `path` with headload → rps (of 200s), p50_ms, p99_ms, errors (non-200 + socket)."""
    cmd = [str(binary), host, str(port), path, str(connections), str(min(THREADS, connections))]
    cmd += [str(seconds), *(f"{k}: {v}" for k, v in headers.items())]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    data = json.loads(out.stdout)
    return {
        "rps": float(data["rps"]),
        "p50_ms": float(data["p50_ms"]),
        "p99_ms": float(data["p99_ms"]),
        "errors": float(data["non_200"] + data["errors"]),
    }
