"""`/metrics` in Prometheus' format, and a JSON access log line per request.

The request middleware only counts and times (a dictionary lookup and two clock reads); what
needs the database (storage per repository, uploads in progress, events pending) is read by a
background refresh into plain numbers that the collector reports at scrape time.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REQUEST_ID = web.RequestKey("request_id", str)
OPERATION = web.RequestKey("operation", str)
_API = web.RequestKey("api", str)


class RequestIds:
    """UUID-shaped ids, unique across processes: a random per-process prefix and a counter
    (uuid4() per request cost as much as the rest of the metrics middleware)."""

    def __init__(self) -> None:
        head = uuid.uuid4().hex
        self._prefix = f"{head[:8]}-{head[8:12]}-{head[12:16]}-{head[16:20]}-"
        self._count = itertools.count(int(head[20:], 16))

    def next(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


# Label sets are bounded (API, operation, status); this only guards the cache itself.
MAX_SERIES = 1024
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_OCI_KINDS = (
    ("/manifests/", "manifest"),
    ("/blobs/uploads", "upload"),
    ("/blobs/", "blob"),
    ("/tags/list", "tags"),
    ("/referrers/", "referrers"),
)


def _api_and_operation(request: web.Request) -> tuple[str, str]:
    """Bounded labels: the API and the operation (ECR's name, or the kind of registry path)."""
    path = request.path
    if path.startswith("/v2"):
        kind = next((k for marker, k in _OCI_KINDS if marker in path), "base")
        if path.endswith("/_catalog"):
            kind = "catalog"
        return "oci", f"{request.method} {kind}"
    if path == "/" and request.method == "POST":
        target = request.headers.get("X-Amz-Target", "")
        if target:
            service = "ecr" if target.startswith("AmazonEC2ContainerRegistry") else "aws"
            return service, target.rpartition(".")[2][:64]
        return "aws-query", "query"
    return "ops", path if path in ("/healthz", "/readyz", "/metrics") else "other"


@dataclass
class Gauges:
    """Numbers the background refresh fills in from the database."""

    storage_bytes: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    total_bytes: int = 0
    uploads_in_progress: int = 0
    events_pending: Mapping[str, int] = field(default_factory=dict)


class _Collector(Collector):
    def __init__(self, gauges: Gauges, counters: Callable[[], Mapping[str, float]]) -> None:
        self._gauges = gauges
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        g = self._gauges
        per_repo = GaugeMetricFamily(
            "berth_repository_storage_bytes",
            "Bytes of the blobs linked to each repository",
            labels=["account", "region", "repository"],
        )
        for (account, region, name), size in g.storage_bytes.items():
            per_repo.add_metric([account, region, name], size)
        yield per_repo
        yield GaugeMetricFamily(
            "berth_storage_bytes", "Bytes of all stored blobs", value=g.total_bytes
        )
        yield GaugeMetricFamily(
            "berth_uploads_in_progress", "Blob uploads with bytes received and not finished",
            value=g.uploads_in_progress,
        )  # fmt: skip
        pending = GaugeMetricFamily(
            "berth_events_pending", "Events not yet delivered, per target", labels=["target"]
        )
        for target, count in g.events_pending.items():
            pending.add_metric([target], count)
        yield pending
        for name, value in self._counters().items():
            yield CounterMetricFamily(name, name.replace("_", " "), value=value)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "berth_requests",
            "Requests by API, operation and HTTP status",
            ["api", "operation", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "berth_request_duration_seconds",
            "Request latency by API and operation",
            ["api", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bytes_received = Counter(
            "berth_bytes_received", "Request body bytes (pushes)", ["api"], registry=self.registry
        )
        self.bytes_sent = Counter(
            "berth_bytes_sent", "Response body bytes (pulls)", ["api"], registry=self.registry
        )
        self.gauges = Gauges()
        self._counters: dict[str, Callable[[], float]] = {}
        self._ids = RequestIds()
        # The labelled children, looked up once per label set instead of on every request.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self.registry.register(
            _Collector(self.gauges, lambda: {k: f() for k, f in self._counters.items()})
        )

    def counter_from(self, name: str, read: Callable[[], float]) -> None:
        """Report a count kept elsewhere (event deliveries, scans, lifecycle runs)."""
        self._counters[name] = read

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[REQUEST_ID] = self._ids.next()
        started = time.perf_counter()
        api, operation = _api_and_operation(request)
        request[_API] = api
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers.setdefault("X-Request-Id", request[REQUEST_ID])
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            key = (api, operation, str(status))
            series = self._series.get(key)
            if series is None:
                if len(self._series) > MAX_SERIES:
                    self._series.clear()
                series = self._series[key] = (
                    self.requests.labels(*key),
                    self.latency.labels(api, operation),
                )
            series[0].inc()
            series[1].observe(time.perf_counter() - started)
            if request.content_length:
                self.bytes_received.labels(api).inc(request.content_length)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Headers are final here, files' Content-Length included: count what is sent."""
        if request.method == "GET" and response.content_length:
            api = request.get(_API) or _api_and_operation(request)[0]
            self.bytes_sent.labels(api).inc(response.content_length)

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )


class JsonAccessLogger(AbstractAccessLogger):
    """One JSON line per request on the `berth.access` logger, with the request id."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, duration: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        api, operation = _api_and_operation(request)  # type: ignore[arg-type]
        self.logger.info(
            json.dumps(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    # Requests aiohttp refused before any handler ran get an id here.
                    "request_id": request.get(REQUEST_ID) or uuid.uuid4().hex,
                    "remote": request.remote,
                    "method": request.method,
                    "path": request.path,
                    "api": api,
                    "operation": operation,
                    "status": response.status,
                    "bytes": response.body_length,
                    "duration_ms": round(duration * 1000, 3),
                    "user_agent": request.headers.get("User-Agent"),
                },
                separators=(",", ":"),
            )
        )
