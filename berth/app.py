"""Composition root: the only module that knows concrete adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from berth.api import ops
from berth.api.inflight import InFlight
from berth.api.oci.routes import OciApi
from berth.config import Settings
from berth.domain.scope import Scope
from berth.services.registry import Registry
from berth.storage.blobs.filesystem import FilesystemBlobStore
from berth.storage.metadata import migrate
from berth.storage.metadata.store import SqlMetadataStore

log = logging.getLogger(__name__)

# Bound on bodies read whole by aiohttp; blob uploads and manifests are streamed instead.
MAX_JSON_BODY = 8 * 1024 * 1024

IN_FLIGHT = web.AppKey("in_flight", InFlight)


def create_app(settings: Settings) -> web.Application:
    # Owner-only: the folder holds every image and the database.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    metadata = SqlMetadataStore(settings.sqlalchemy_url)
    registry = Registry.build(metadata, FilesystemBlobStore(settings.data_dir))
    oci = OciApi(registry, Scope(settings.account_id, settings.region))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # Migrations first: nothing is served from a schema older than the code.
        await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
        yield
        await metadata.close()

    in_flight = InFlight()
    app = web.Application(client_max_size=MAX_JSON_BODY, middlewares=[in_flight.middleware])
    app[IN_FLIGHT] = in_flight
    app.cleanup_ctx.append(lifecycle)
    app.router.add_route("*", "/v2", oci.handle)
    app.router.add_route("*", "/v2/{tail:.*}", oci.handle)
    app.router.add_routes(ops.routes(metadata.ping))
    return app
