"""Native load generators: wrk for GET; headload for HEAD and pushload for small-image pushes
(benchmarks/headload.c and pushload.c, built here)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from client import OCI_MANIFEST, Image

HERE = Path(__file__).parent
THREADS = 2  # the machine has 2 cores shared by the server and the load generator


@dataclass(frozen=True)
class Tools:
    headload: Path
    pushload: Path


def build_tools(outdir: Path) -> Tools:
    """Compile the C load generators into the run's temp dir (binaries are never kept in the
    repository)."""
    built = {}
    for name in ("headload", "pushload"):
        built[name] = outdir / name
        cmd = ["gcc", "-O2", "-pthread", "-o", str(built[name]), str(HERE / f"{name}.c")]
        subprocess.run(cmd, check=True, timeout=120)
    return Tools(**built)


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


def push_images(
    binary: Path,
    host: str,
    port: int,
    repo: str,
    images: list[Image],
    pushers: int,
    headers: dict[str, str],
    workdir: Path,
) -> dict[str, float]:
    """Push `images` (tags i0, i1, …) from `pushers` concurrent connections with pushload →
    seconds and the client's cpu_seconds; raises if any image failed."""
    path = workdir / "pushload-images"
    with path.open("wb") as out:
        for image in images:
            out.write(f"image {len(image.blobs)}\n".encode())
            for digest, data in image.blobs:
                out.write(f"blob {digest} {len(data)}\n".encode())
                out.write(data)
            out.write(f"manifest {OCI_MANIFEST} {len(image.manifest)}\n".encode())
            out.write(image.manifest)
    cmd = [str(binary), host, str(port), repo, str(pushers), str(path)]
    cmd += [f"{k}: {v}" for k, v in headers.items()]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600)
    finally:
        path.unlink(missing_ok=True)
    data = json.loads(out.stdout)
    if data["failed"] or data["images"] != len(images):
        raise RuntimeError(
            f"pushload: {data['images']} of {len(images)} images pushed: {data['error']}"
        )
    return {"seconds": float(data["seconds"]), "cpu_seconds": float(data["cpu_seconds"])}
