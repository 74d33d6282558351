"""The scenarios. Each takes a `Side` (one registry under test) and returns {metric: value}.

Metric names end in their unit; `higher_is_better` reads the direction from it. Metrics whose name
starts with "_" go to the JSON only; "client CPU %" rows are informational (no ratio).
Fixtures (an image, large blobs, a repository with many tags) are pushed once per server, untimed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import client
import loadgen
from client import OCI_MANIFEST, Conn, Image
from servers import HOST, Server

MB = 1_000_000
Metrics = dict[str, float]


@dataclass(frozen=True)
class Config:
    seconds: float = 5.0  # per load-generator measurement
    connections: tuple[int, ...] = (1, 16, 64)
    small_images: int = 200
    pushers: int = 8
    large_blobs: int = 4
    large_size: int = 256 << 20
    chunk: int = 8 << 20  # push-chunked PATCH size (8 MiB)
    streams: tuple[int, ...] = (1, 4)
    tags: int = 10_000
    page: int = 1000
    berth_workers: tuple[int, ...] = (1, 2)  # one Berth side per worker count

    @classmethod
    def quick(cls) -> Config:
        return cls(seconds=1.0, small_images=40, large_size=32 << 20, tags=1000, page=100)


@dataclass
class Side:
    """One registry under test: its main server and the variant used for the auth-cost scenario.

    Berth runs with ECR token auth (and anonymous pull on, so the same server answers without auth),
    one side per worker count (`berth-1w`, `berth-2w`, ...), each with its own server and fixtures;
    Distribution runs without auth, and a second Distribution instance runs with htpasswd.
    """

    name: str
    main: Server
    main_auth: bool  # whether main-scenario requests carry credentials
    with_auth: Server  # answers requests that carry credentials
    without_auth: Server  # answers requests without credentials
    start_fresh: Callable[[Path, str], Server]  # for cold start
    fixtures: dict[str, object] = field(default_factory=dict)

    def headers(self, auth: bool | None = None) -> dict[str, str]:
        use = self.main_auth if auth is None else auth
        return self.with_auth.auth_headers() if use else {}


@dataclass
class Context:
    config: Config
    workdir: Path
    tools: loadgen.Tools
    round: int = 0
    large: list[bytearray] = field(default_factory=list)


# --- fixtures -------------------------------------------------------------------------------------

APP_REPO = "bench/app"


def _app(server: Server, headers: dict[str, str]) -> Image:
    """An image tagged latest in bench/app, pushed once per server."""
    if server.label not in _APP_IMAGES:
        image = client.make_image()
        client.push_images(server.url, headers, APP_REPO, [image], 1)
        with Conn(HOST, server.port, headers) as conn:
            r = conn.request(
                "PUT",
                f"/v2/{APP_REPO}/manifests/latest",
                image.manifest,
                {"Content-Type": OCI_MANIFEST},
            )
            if r.status != 201:
                raise RuntimeError(f"PUT latest on {server.label}: {r.status} {r.body[:200]!r}")
        _APP_IMAGES[server.label] = image
    return _APP_IMAGES[server.label]


_APP_IMAGES: dict[str, Image] = {}


def _large_data(ctx: Context) -> list[bytearray]:
    if not ctx.large:
        ctx.large = [
            bytearray(os.urandom(ctx.config.large_size)) for _ in range(ctx.config.large_blobs)
        ]
    return ctx.large


def _large_pushed(ctx: Context, side: Side) -> list[tuple[str, int]]:
    """Push the large blobs once, pull each back once verifying its digest; → [(digest, size)]."""
    cached = side.fixtures.get("large")
    if cached is None:
        blobs = [(client.sha256(b), b) for b in _large_data(ctx)]
        with Conn(HOST, side.main.port, side.headers()) as conn:
            for digest, data in blobs:
                client.push_blob_monolithic(conn, "bench/large", data, digest)
            for digest, data in blobs:
                hasher = hashlib.sha256()
                r = conn.request(
                    "GET", f"/v2/bench/large/blobs/{digest}", discard=True, hasher=hasher
                )
                if (
                    r.status != 200
                    or r.length != len(data)
                    or "sha256:" + hasher.hexdigest() != digest
                ):
                    raise RuntimeError(
                        f"{side.name}: large blob {digest} came back wrong ({r.status})"
                    )
        cached = [(d, len(b)) for d, b in blobs]
        side.fixtures["large"] = cached
    assert isinstance(cached, list)
    return cached


# --- scenarios ------------------------------------------------------------------------------------


def _check_errors(side: Side, what: str, result: Metrics) -> None:
    if result.get("errors"):
        print(f"  warning: {side.name} {what}: {result['errors']:.0f} failed requests")


def manifest_get(ctx: Context, side: Side) -> Metrics:
    _app(side.main, side.headers())
    url = f"{side.main.url}/v2/{APP_REPO}/manifests/latest"
    out: Metrics = {}
    for c in ctx.config.connections:
        r = loadgen.wrk_get(url, c, ctx.config.seconds, {"Accept": OCI_MANIFEST, **side.headers()})
        _check_errors(side, f"manifest-get c={c}", r)
        out |= _load_metrics(c, r)
    return out


def _load_metrics(c: int, r: dict[str, float]) -> Metrics:
    return {
        f"c={c} req/s": r["rps"],
        f"c={c} p50 ms": r["p50_ms"],
        f"c={c} p99 ms": r["p99_ms"],
        f"_c={c} errors": r["errors"],
    }


def blob_head(ctx: Context, side: Side) -> Metrics:
    image = _app(side.main, side.headers())
    path = f"/v2/{APP_REPO}/blobs/{image.blobs[0][0]}"
    out: Metrics = {}
    for c in ctx.config.connections:
        r = loadgen.head_load(
            ctx.tools.headload, HOST, side.main.port, path, c, ctx.config.seconds, side.headers()
        )
        _check_errors(side, f"blob-head c={c}", r)
        out |= _load_metrics(c, r)
    return out


def auth_cost(ctx: Context, side: Side) -> Metrics:
    """manifest-get at the highest connection count, with and without credentials."""
    c = max(ctx.config.connections)
    rps = {}
    for auth, server in ((False, side.without_auth), (True, side.with_auth)):
        _app(server, side.headers(auth))
        url = f"{server.url}/v2/{APP_REPO}/manifests/latest"
        r = loadgen.wrk_get(
            url, c, ctx.config.seconds, {"Accept": OCI_MANIFEST, **side.headers(auth)}
        )
        _check_errors(side, f"auth-cost auth={auth}", r)
        rps[auth] = r["rps"]
    return {
        f"c={c} no auth req/s": rps[False],
        f"c={c} auth req/s": rps[True],
        "slowdown from auth %": 100.0 * (1.0 - rps[True] / rps[False]) if rps[False] else 0.0,
    }


def push_small_images(ctx: Context, side: Side) -> Metrics:
    n = ctx.config.small_images
    images = [client.make_image() for _ in range(n)]
    repo = f"bench/small-r{ctx.round}"
    r = loadgen.push_images(
        ctx.tools.pushload,
        HOST,
        side.main.port,
        repo,
        images,
        ctx.config.pushers,
        side.headers(),
        ctx.workdir,
    )
    return {"images/s": n / r["seconds"], "client CPU %": 100.0 * r["cpu_seconds"] / r["seconds"]}


def _fresh_large(ctx: Context) -> list[tuple[str, bytearray]]:
    """The large blobs with their first 16 bytes renewed in place, so every push is a new blob."""
    blobs = []
    for data in _large_data(ctx):
        data[:16] = os.urandom(16)
        blobs.append((client.sha256(data), data))
    return blobs


def push_large(ctx: Context, side: Side) -> Metrics:
    """Monolithic POST+PUT of fresh variants of the large blobs (first bytes changed), in turn."""
    blobs = _fresh_large(ctx)
    cpu0, t0 = time.process_time(), time.perf_counter()
    with Conn(HOST, side.main.port, side.headers()) as conn:
        for digest, data in blobs:
            client.push_blob_monolithic(conn, f"bench/push-r{ctx.round}", data, digest)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    total = sum(len(d) for _, d in blobs)
    return {"MB/s": total / MB / wall, "client CPU %": 100.0 * cpu / wall}


def push_chunked(ctx: Context, side: Side) -> Metrics:
    """push-large with the blob sent as PATCH chunks of `chunk` bytes, then an empty PUT."""
    blobs = _fresh_large(ctx)
    cpu0, t0 = time.process_time(), time.perf_counter()
    with Conn(HOST, side.main.port, side.headers()) as conn:
        for digest, data in blobs:
            client.push_blob_chunked(
                conn, f"bench/chunked-r{ctx.round}", data, digest, ctx.config.chunk
            )
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    total = sum(len(d) for _, d in blobs)
    return {"MB/s": total / MB / wall, "client CPU %": 100.0 * cpu / wall}


def pull_large(ctx: Context, side: Side) -> Metrics:
    """GET the large blobs into a discard buffer over 1 and N concurrent streams."""
    blobs = _large_pushed(ctx, side)
    out: Metrics = {}
    for streams in ctx.config.streams:
        errors: list[str] = []

        def pull(mine: list[tuple[str, int]], errors: list[str] = errors) -> None:
            try:
                with Conn(HOST, side.main.port, side.headers()) as conn:
                    for digest, size in mine:
                        r = conn.request("GET", f"/v2/bench/large/blobs/{digest}", discard=True)
                        if r.status != 200 or r.length != size:
                            errors.append(f"{digest}: {r.status}, {r.length} bytes")
            except Exception as exc:
                errors.append(repr(exc))

        shares = [blobs[i::streams] for i in range(streams)]
        threads = [threading.Thread(target=pull, args=(share,)) for share in shares if share]
        cpu0, t0 = time.process_time(), time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if errors:
            raise RuntimeError(f"{side.name} pull-large: {errors[:3]}")
        total = sum(size for _, size in blobs)
        out[f"{streams} streams MB/s"] = total / MB / wall
        out[f"{streams} streams client CPU %"] = 100.0 * cpu / wall
    return out


def tags_list(ctx: Context, side: Side) -> Metrics:
    """GET /tags/list?n=PAGE and follow Link headers to the end (or for one page, if none)."""
    repo = "bench/tags"
    if "tags" not in side.fixtures:
        client.tag_many(
            side.main.url,
            side.headers(),
            repo,
            client.make_image(),
            ctx.config.tags,
            ctx.config.pushers,
        )
        side.fixtures["tags"] = ctx.config.tags
    path: str | None = f"/v2/{repo}/tags/list?n={ctx.config.page}"
    tags = pages = 0
    t0 = time.perf_counter()
    with Conn(HOST, side.main.port, side.headers()) as conn:
        for _ in range(ctx.config.tags // max(1, ctx.config.page) + 10):
            if path is None:
                break
            r = conn.request("GET", path)
            if r.status != 200:
                raise RuntimeError(f"{side.name} tags list: {r.status} {r.body[:200]!r}")
            tags += len(json.loads(r.body)["tags"] or [])
            pages += 1
            link = r.headers.get("link", "")
            path = unquote(link[link.index("<") + 1 : link.index(">")]) if "<" in link else None
    elapsed = time.perf_counter() - t0
    return {"all pages ms": 1000.0 * elapsed, "pages": float(pages), "tags returned": float(tags)}


def cold_start(ctx: Context, side: Side) -> Metrics:
    """Start a fresh instance on an empty data dir: time to first 200, then RSS after 1 s idle.

    Berth sides start theirs with their own worker count (`Side.start_fresh`)."""
    label = f"{side.name}-cold-r{ctx.round}"
    server = side.start_fresh(ctx.workdir, label)
    try:
        time.sleep(1.0)
        idle = server.rss_bytes()
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
    return {"first answer ms": 1000.0 * server.cold_start_s, "idle RSS MB": idle / MB}


SCENARIOS: dict[str, Callable[[Context, Side], Metrics]] = {
    "manifest-get": manifest_get,
    "blob-head": blob_head,
    "auth-cost": auth_cost,
    "push-small-images": push_small_images,
    "push-large": push_large,
    "push-chunked": push_chunked,
    "pull-large": pull_large,
    "tags-list": tags_list,
    "cold-start": cold_start,
}


def higher_is_better(metric: str) -> bool | None:
    """True/False by unit; None for informational rows (no ratio)."""
    if "client CPU" in metric or metric in ("pages", "tags returned"):
        return None
    return metric.endswith("/s")
