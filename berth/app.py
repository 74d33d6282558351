"""Composition root: the only module that knows concrete adapters."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web

from berth.api import ops
from berth.api.audit import ecr_observer, oci_observer, query_observer
from berth.api.cloudtrail import cloudtrail_api
from berth.api.ecr.dispatch import EcrApi
from berth.api.ecr.operations import Operations
from berth.api.ecr.signing import sigv4_authenticator
from berth.api.events import EventsApi, EventsOperations
from berth.api.iam.errors import to_query_error
from berth.api.iam.operations import IamOperations
from berth.api.inflight import InFlight
from berth.api.logs import LogsApi, LogsOperations
from berth.api.metrics import Gauges, Metrics
from berth.api.oci.routes import OciApi
from berth.api.query.dispatch import Call as QueryCall
from berth.api.query.dispatch import Handler as QueryHandler
from berth.api.query.dispatch import QueryApi, signed_service
from berth.api.query.wire import QueryModel
from berth.api.sts import StsOperations
from berth.config import Settings
from berth.domain.scope import Scope
from berth.memory import hand_back_freed_memory
from berth.services.audit import AuditTrail
from berth.services.auth import AuthService, Caller, write_credentials_file
from berth.services.authz import Authorizer, Target
from berth.services.eventbus import EventBus
from berth.services.events import Deliver, EventDelivery, json_lines, webhook
from berth.services.gc import GarbageCollector
from berth.services.iam import IamService
from berth.services.images import EcrImages
from berth.services.logs import LogsService
from berth.services.policies import PoliciesService
from berth.services.registry import Registry
from berth.services.scanning import ScanningService
from berth.services.sts import StsService
from berth.storage.blobs.filesystem import FilesystemBlobStore
from berth.storage.crypto import load_master_key
from berth.storage.metadata import migrate
from berth.storage.metadata.audit import SqlAuditStore
from berth.storage.metadata.gc import SqlGarbageStore
from berth.storage.metadata.iam import SqlIamStore
from berth.storage.metadata.lifecycle import SqlLifecycleStore
from berth.storage.metadata.logs import SqlLogStore
from berth.storage.metadata.outbox import SqlOutboxStore
from berth.storage.metadata.policies import SqlPolicyStore
from berth.storage.metadata.rules import SqlRuleStore
from berth.storage.metadata.scans import SqlScanStore
from berth.storage.metadata.store import SqlMetadataStore

log = logging.getLogger(__name__)

# Bound on bodies read whole by aiohttp; blob uploads and manifests are streamed instead.
MAX_JSON_BODY = 8 * 1024 * 1024
ROOT_CREDENTIALS_FILE = "root-credentials"


@dataclass(frozen=True, slots=True)
class GeneratedRootKey:
    account_id: str
    access_key_id: str
    secret_access_key: str
    path: str


IN_FLIGHT = web.AppKey("in_flight", InFlight)
# Set on first start when Berth generated the root key; `berth serve` shows it once.
ROOT_KEY = web.AppKey("root_key", list[GeneratedRootKey])
# The EventBridge bus (rules routing events to CloudWatch Logs): `await app[EVENT_BUS].publish(e)`.
EVENT_BUS = web.AppKey("event_bus", EventBus)


@dataclass(frozen=True, slots=True)
class Installation:
    """The stores and services of one data folder, for the server and the admin commands."""

    metadata: SqlMetadataStore
    blobs: FilesystemBlobStore
    registry: Registry
    collector: GarbageCollector
    scanning: ScanningService


def open_installation(settings: Settings) -> Installation:
    # Owner-only: the folder holds every image, the database and the server key.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    metadata = SqlMetadataStore(settings.sqlalchemy_url)
    blob_store = FilesystemBlobStore(settings.data_dir)
    registry = Registry.build(
        metadata,
        blob_store,
        SqlLifecycleStore(metadata),
        create_on_push=settings.create_on_push,
        upload_ttl=timedelta(seconds=settings.upload_ttl),
    )
    collector = GarbageCollector(
        SqlGarbageStore(metadata),
        metadata,
        blob_store,
        grace=timedelta(seconds=settings.gc_grace),
        upload_ttl=timedelta(seconds=settings.upload_ttl),
    )
    scanning = ScanningService(
        SqlScanStore(metadata),
        metadata,
        blob_store,
        registry.repositories,
        rescan_interval=settings.scan_rescan_interval,
        poll_interval=settings.scan_poll_interval,
    )
    registry.images.push_listeners.append(scanning.image_pushed)
    return Installation(metadata, blob_store, registry, collector, scanning)


def _invalidating(
    handlers: Mapping[str, QueryHandler], authorizer: Authorizer
) -> dict[str, QueryHandler]:
    """IAM handlers that drop the authorizer's cached policies after every change."""

    def wrap(handler: QueryHandler) -> QueryHandler:
        async def changed(call: QueryCall, params: dict[str, Any]) -> Mapping[str, Any] | None:
            try:
                return await handler(call, params)
            finally:
                authorizer.invalidate()

        return changed

    return {
        name: handler if name.startswith(("Get", "List")) else wrap(handler)
        for name, handler in handlers.items()
    }


EVENT_POLL_SECONDS = 0.5
GAUGE_SECONDS = 15.0


async def refresh_gauges(
    gauges: Gauges, garbage: SqlGarbageStore, outbox: SqlOutboxStore, interval: float
) -> None:
    """Keep the database-backed metrics current (scrapes never wait for a query)."""
    while True:
        try:
            usage = await garbage.storage_usage()
            gauges.storage_bytes = usage.repositories
            gauges.total_bytes = usage.total_bytes
            gauges.uploads_in_progress = await garbage.uploads_in_progress()
            gauges.events_pending = {t.name: t.pending for t in await outbox.targets()}
        except Exception:
            log.exception("could not refresh metrics")
        await asyncio.sleep(interval)


def _guarded(handler: Callable[[web.Request], Awaitable[web.Response]], token: str) -> Any:
    """`/metrics` for a bearer token, or for loopback clients when no token is set."""

    async def guarded(request: web.Request) -> web.Response:
        if token:
            allowed = hmac.compare_digest(
                request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
            )
        else:
            allowed = request.remote in ("127.0.0.1", "::1")
        if not allowed:
            return web.Response(status=403, text="forbidden\n")
        return await handler(request)

    return guarded


AUDIT_FLUSH_SECONDS = 1.0
TRIM_SECONDS = 5.0


def event_delivery(
    settings: Settings,
    outbox: SqlOutboxStore,
    session: Callable[[], aiohttp.ClientSession],
    *,
    extra: Mapping[str, Deliver] | None = None,
) -> EventDelivery:
    """The delivery worker with every configured target."""
    targets: dict[str, Deliver] = {
        f"webhook:{hook.name}": webhook(hook.url, hook.secret, session)
        for hook in settings.webhooks
    }
    if settings.events_file is not None:
        targets["file"] = json_lines(settings.events_file)
    targets.update(extra or {})
    return EventDelivery(
        outbox,
        targets,
        max_attempts=settings.event_max_attempts,
        backoff=settings.event_retry_base,
    )


async def _prepare(settings: Settings, auth: AuthService) -> list[GeneratedRootKey]:
    # Migrations first: nothing is served from a schema older than the code.
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    pair = await auth.ensure_root_key(
        settings.account_id, settings.root_access_key_id, settings.root_secret_access_key
    )
    if pair is None:
        return []
    path = settings.data_dir / ROOT_CREDENTIALS_FILE
    write_credentials_file(path, *pair)
    return [GeneratedRootKey(settings.account_id, *pair, str(path))]


async def prepare(settings: Settings) -> list[GeneratedRootKey]:
    """What must happen once before worker processes start: migrations, the server key, the
    root key (returned when generated, to be shown once)."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    metadata = SqlMetadataStore(settings.sqlalchemy_url)
    try:
        auth = AuthService(metadata, load_master_key(settings.secret_key, settings.data_dir))
        return await _prepare(settings, auth)
    finally:
        await metadata.close()


def _configured_keys(settings: Settings) -> dict[str, str]:
    if not settings.root_access_key_id:
        return {}
    return {settings.root_access_key_id: settings.root_secret_access_key}


def create_app(settings: Settings, *, prepared: bool = False) -> web.Application:
    """The whole server. `prepared`: `prepare` already ran (a worker of `berth serve
    --workers N`), so this process does not migrate or create the root key itself."""
    installation = open_installation(settings)
    metadata, registry, collector = (
        installation.metadata,
        installation.registry,
        installation.collector,
    )
    auth = AuthService(
        metadata,
        load_master_key(settings.secret_key, settings.data_dir),
        configured=_configured_keys(settings),
    )
    policy_store = SqlPolicyStore(metadata)
    iam = IamService(SqlIamStore(metadata), auth.seal_secret, keys_changed=auth.invalidate_keys)
    authorizer = Authorizer(iam, policy_store, metadata)
    oci = OciApi(
        registry,
        Scope(settings.account_id, settings.region),
        auth.authenticate_registry,
        authorizer,
        realm=settings.registry_url,
        anonymous_pull=settings.anonymous_pull,
    )
    operations = Operations(
        registry=registry,
        ecr_images=EcrImages(metadata, registry.repositories),
        auth=auth,
        metadata=metadata,
        registry_url=settings.registry_url,
        authorizer=authorizer,
        policies=PoliciesService(policy_store, registry.repositories, authorizer),
        scanning=installation.scanning,
    )
    ecr = EcrApi(operations.table(), sigv4_authenticator(auth), authorize=operations.authorize)
    trail = AuditTrail(SqlAuditStore(metadata))
    registry.lifecycle.audit = trail.add
    metrics = Metrics()
    metrics.counter_from("berth_audit_records_dropped", lambda: trail.dropped)
    ecr.observe = ecr_observer(trail)
    oci.observe = oci_observer(trail)
    oci.sbom = installation.scanning.sbom
    # Other AWS JSON services on `POST /`, each chosen by its X-Amz-Target prefix.
    json_apis = [
        cloudtrail_api(trail, authorizer, sigv4_authenticator(auth, "cloudtrail")),
    ]
    # CloudWatch Logs and EventBridge (issue 7); `event_bus.publish` is the bus itself.
    log_store = SqlLogStore(metadata)
    logs = LogsService(log_store)
    event_bus = EventBus(SqlRuleStore(metadata), log_store)
    json_apis.append(LogsApi(LogsOperations(logs, authorizer), sigv4_authenticator(auth, "logs")))
    json_apis.append(
        EventsApi(EventsOperations(event_bus, authorizer), sigv4_authenticator(auth, "events"))
    )

    async def authorize_iam(caller: Caller, action: str, resource: str) -> None:
        await authorizer.authorize(caller, action, Target(caller.account_id, "", resource=resource))

    query_apis = {
        "iam": QueryApi(
            QueryModel("iam"),
            _invalidating(IamOperations(iam, authorize_iam).table(), authorizer),
            auth.authenticate_query,
            to_query_error,
        ),
        "sts": QueryApi(
            QueryModel("sts"),
            StsOperations(StsService(iam, auth, authorizer)).table(),
            auth.authenticate_query,
            to_query_error,
        ),
    }
    query_apis["iam"].observe = query_observer(trail, "iam.amazonaws.com")
    query_apis["sts"].observe = query_observer(trail, "sts.amazonaws.com")
    generated: list[GeneratedRootKey] = []

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if not prepared:
            generated.extend(await _prepare(settings, auth))
        jobs = [asyncio.create_task(registry.pulls.run(settings.pull_time_interval))]
        if settings.lifecycle_interval:
            jobs.append(
                asyncio.create_task(registry.lifecycle.run_forever(settings.lifecycle_interval))
            )
        if settings.gc_interval:
            jobs.append(asyncio.create_task(collector.run(settings.gc_interval)))
        jobs.append(asyncio.create_task(logs.run_retention()))
        if settings.scan_workers:
            jobs.append(asyncio.create_task(installation.scanning.run(settings.scan_workers)))
        jobs.append(
            asyncio.create_task(
                trail.run(AUDIT_FLUSH_SECONDS, timedelta(seconds=settings.audit_retention))
            )
        )
        jobs.append(asyncio.create_task(hand_back_freed_memory(TRIM_SECONDS)))
        session = aiohttp.ClientSession()
        outbox = SqlOutboxStore(metadata)
        delivery = event_delivery(
            settings, outbox, lambda: session, extra={"eventbridge": event_bus.deliver}
        )
        metrics.counter_from("berth_events_delivered", lambda: delivery.delivered)
        metrics.counter_from("berth_event_delivery_failures", lambda: delivery.failures)
        metrics.counter_from("berth_lifecycle_images_expired", lambda: registry.lifecycle.expired)
        metrics.counter_from("berth_scans_completed", lambda: installation.scanning.completed)
        metrics.counter_from("berth_scans_failed", lambda: installation.scanning.failed)
        jobs.append(
            asyncio.create_task(
                refresh_gauges(metrics.gauges, SqlGarbageStore(metadata), outbox, GAUGE_SECONDS)
            )
        )
        jobs.append(
            asyncio.create_task(
                delivery.run(EVENT_POLL_SECONDS, timedelta(seconds=settings.event_retention))
            )
        )
        yield
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
        await session.close()
        await registry.lifecycle.wait_for_previews()
        await metadata.close()

    async def aws(request: web.Request) -> web.StreamResponse:
        # `POST /` is every AWS API Berth speaks: JSON services by X-Amz-Target, Query services
        # (IAM, STS) by the service their signature is scoped to. ECR answers anything else
        # with UnknownOperationException.
        if not ecr.accepts(request):
            for other in json_apis:
                if other.accepts(request):
                    return await other.handle(request)
            api = query_apis.get(signed_service(request) or "")
            if api is not None:
                return await api.handle(request)
        return await ecr.handle(request)

    in_flight = InFlight()
    app = web.Application(
        client_max_size=MAX_JSON_BODY, middlewares=[metrics.middleware, in_flight.middleware]
    )
    app.on_response_prepare.append(metrics.on_prepare)
    app[IN_FLIGHT] = in_flight
    app[ROOT_KEY] = generated
    app[EVENT_BUS] = event_bus
    app.cleanup_ctx.append(lifecycle)
    app.router.add_route("POST", "/", aws)
    app.router.add_route("*", "/v2", oci.handle)
    app.router.add_route("*", "/v2/{tail:.*}", oci.handle)
    app.router.add_routes(ops.routes(metadata.ping))
    app.router.add_get("/metrics", _guarded(metrics.handle, settings.metrics_token))
    return app
