"""Manifests (end-3, end-7, end-9), tags (end-8), referrers (end-12) and the catalog."""

from __future__ import annotations

import json

from aiohttp import web

from berth.api.oci.context import Context, page, paginated
from berth.domain import media_types as mt
from berth.domain.manifests import MAX_MANIFEST_BYTES
from berth.errors import ManifestNotFound, ManifestTooLarge
from berth.storage.ports import ReferrerRecord


async def get_manifest(
    request: web.Request, ctx: Context, name: str, reference: str
) -> web.Response:
    record = await ctx.registry.images.get_image(
        ctx.scope, name, reference, pull=request.method == "GET"
    )
    headers = {"Docker-Content-Digest": record.digest, "Content-Type": record.media_type}
    return web.Response(body=record.content, headers=headers)


async def put_manifest(
    request: web.Request, ctx: Context, name: str, reference: str
) -> web.Response:
    raw = await _read_manifest(request)
    result = await ctx.registry.images.put_image(
        ctx.scope,
        name,
        reference,
        raw,
        request.headers.get("Content-Type"),
        tuple(request.query.getall("tag", ())),
    )
    headers = {
        "Location": f"/v2/{name}/manifests/{result.digest}",
        "Docker-Content-Digest": result.digest,
    }
    if result.subject:
        headers["OCI-Subject"] = result.subject
    if "tag" in request.query and result.tags:
        headers["OCI-Tag"] = ", ".join(result.tags)
    return web.Response(status=201, headers=headers)


async def delete_manifest(
    request: web.Request, ctx: Context, name: str, reference: str
) -> web.Response:
    await ctx.registry.images.delete_image(ctx.scope, name, reference)
    return web.Response(status=202)


async def list_tags(request: web.Request, ctx: Context, name: str) -> web.Response:
    limit, last = page(request)
    found = await ctx.registry.images.list_tags(ctx.scope, name, after=last, limit=limit + 1)
    found, headers = paginated(found, limit, f"/v2/{name}/tags/list")
    return web.json_response({"name": name, "tags": found}, headers=headers)


async def catalog(request: web.Request, ctx: Context) -> web.Response:
    limit, last = page(request)
    found = await ctx.registry.repositories.list_names(ctx.scope, after=last, limit=limit + 1)
    found, headers = paginated(found, limit, "/v2/_catalog")
    return web.json_response({"repositories": found}, headers=headers)


async def list_referrers(
    request: web.Request, ctx: Context, name: str, digest: str
) -> web.Response:
    artifact_type = request.query.get("artifactType") or None
    referrers = await ctx.registry.images.list_image_referrers(
        ctx.scope, name, digest, artifact_type
    )
    headers = {"Content-Type": mt.OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return web.Response(body=json.dumps(referrers_index(referrers)).encode(), headers=headers)


def referrers_index(referrers: list[ReferrerRecord]) -> dict[str, object]:
    """The image index a referrers request answers with (empty when there are none)."""
    manifests: list[dict[str, object]] = []
    for r in referrers:
        descriptor: dict[str, object] = {
            "mediaType": r.media_type,
            "digest": r.digest,
            "size": r.size,
        }
        if r.artifact_type:
            descriptor["artifactType"] = r.artifact_type
        if r.annotations:
            descriptor["annotations"] = r.annotations
        manifests.append(descriptor)
    return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}


async def _read_manifest(request: web.Request) -> bytes:
    """The body, refused past 4 MiB before it is read whole."""
    declared = request.content_length
    if declared is not None and declared > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(f"manifest exceeds the limit of {MAX_MANIFEST_BYTES} bytes")
    parts: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        total += len(chunk)
        if total > MAX_MANIFEST_BYTES:
            raise ManifestTooLarge(f"manifest exceeds the limit of {MAX_MANIFEST_BYTES} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def get_sbom(request: web.Request, ctx: Context, name: str, reference: str) -> web.Response:
    """Berth extension: the package inventory of an image's last scan as CycloneDX JSON."""
    if ctx.sbom is None:
        raise ManifestNotFound("image scanning is not enabled on this registry")
    digest, document = await ctx.sbom(ctx.scope, name, reference)
    return web.json_response(
        document,
        content_type="application/vnd.cyclonedx+json",
        headers={"Docker-Content-Digest": digest},
    )
