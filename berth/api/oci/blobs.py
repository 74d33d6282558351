"""Blob reads and deletes (end-2, end-10) and uploads (end-4a/4b, end-5, end-6, end-11, end-13)."""

from __future__ import annotations

import re

from aiohttp import web

from berth.api.oci.context import Context, body
from berth.errors import SizeInvalid, UploadInvalid

_CONTENT_RANGE = re.compile(r"^(?:bytes )?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def _blob_headers(name: str, digest: str) -> dict[str, str]:
    return {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}


def _upload_headers(name: str, upload_id: str, offset: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": f"0-{max(offset - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
    }


async def get_blob(
    request: web.Request, ctx: Context, name: str, digest: str
) -> web.StreamResponse:
    layer = await ctx.registry.blobs.get_layer(ctx.scope, name, digest)
    headers = {"Docker-Content-Digest": layer.digest, "Accept-Ranges": "bytes"}
    if request.method == "HEAD":
        headers["Content-Type"] = "application/octet-stream"
        headers["Content-Length"] = str(layer.size)
        return web.Response(status=200, headers=headers)
    if layer.inline:
        return _content_response(request, await ctx.registry.blobs.content(layer), headers)
    response = web.FileResponse(layer.path, headers=headers)
    response.content_type = "application/octet-stream"
    return response


def _content_response(
    request: web.Request, content: bytes, headers: dict[str, str]
) -> web.Response:
    """A blob the database keeps, whole or one range of it, as FileResponse serves a file."""
    try:
        wanted = request.http_range
    except ValueError:  # malformed: unsatisfiable, as FileResponse answers
        wanted = slice(0, 0)
    if wanted.start is None and wanted.stop is None:
        return web.Response(body=content, headers=headers, content_type="application/octet-stream")
    first, stop, _ = wanted.indices(len(content))
    if stop <= first:
        headers["Content-Range"] = f"bytes */{len(content)}"
        return web.Response(status=416, headers=headers)
    headers["Content-Range"] = f"bytes {first}-{stop - 1}/{len(content)}"
    return web.Response(
        status=206,
        body=content[first:stop],
        headers=headers,
        content_type="application/octet-stream",
    )


async def delete_blob(request: web.Request, ctx: Context, name: str, digest: str) -> web.Response:
    await ctx.registry.blobs.delete_layer(ctx.scope, name, digest)
    return web.Response(status=202)


async def start_upload(request: web.Request, ctx: Context, name: str) -> web.Response:
    uploads = ctx.registry.uploads
    query = request.query
    if "mount" in query and ctx.can_mount:
        mounted = await uploads.mount_layer(ctx.scope, name, query["mount"], query.get("from"))
        if mounted is not None:
            return web.Response(status=201, headers=_blob_headers(name, mounted.digest))
    elif "digest" in query and "mount" not in query:
        digest = await uploads.upload_blob(
            ctx.scope, name, query["digest"], body(request), request.content_length
        )
        return web.Response(status=201, headers=_blob_headers(name, digest))
    status = await uploads.initiate_layer_upload(ctx.scope, name)
    return web.Response(status=202, headers=_upload_headers(name, status.id, status.offset))


async def patch_upload(
    request: web.Request, ctx: Context, name: str, upload_id: str
) -> web.Response:
    start, length = _chunk_range(request)
    status = await ctx.registry.uploads.upload_layer_part(
        ctx.scope, name, upload_id, body(request), start=start, length=length
    )
    return web.Response(status=202, headers=_upload_headers(name, upload_id, status.offset))


async def finish_upload(
    request: web.Request, ctx: Context, name: str, upload_id: str
) -> web.Response:
    start, length = _chunk_range(request)
    digest = await ctx.registry.uploads.complete_layer_upload(
        ctx.scope,
        name,
        upload_id,
        request.query.get("digest"),
        body(request),
        start=start,
        length=length,
    )
    return web.Response(status=201, headers=_blob_headers(name, digest))


async def upload_status(
    request: web.Request, ctx: Context, name: str, upload_id: str
) -> web.Response:
    status = await ctx.registry.uploads.get_upload_status(ctx.scope, name, upload_id)
    return web.Response(status=204, headers=_upload_headers(name, upload_id, status.offset))


async def cancel_upload(
    request: web.Request, ctx: Context, name: str, upload_id: str
) -> web.Response:
    await ctx.registry.uploads.cancel_upload(ctx.scope, name, upload_id)
    return web.Response(status=204)


def _chunk_range(request: web.Request) -> tuple[int | None, int | None]:
    """Where a PATCH chunk starts and how long it is, from Content-Range and Content-Length."""
    length = request.content_length
    header = request.headers.get("Content-Range")
    if header is None:
        return None, length
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        raise UploadInvalid(f"malformed Content-Range {header[:60]!r}")
    first, last = int(match[1]), int(match[2])
    if last < first:
        raise UploadInvalid(f"Content-Range {header[:60]!r} ends before it starts")
    span = last - first + 1
    if length is not None and length != span:
        raise SizeInvalid(f"Content-Range spans {span} bytes but Content-Length is {length}")
    return first, span
