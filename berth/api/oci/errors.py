"""The one table from domain exceptions to OCI error codes and HTTP statuses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from aiohttp import web

from berth import errors

Headers = Callable[[errors.BerthError], Mapping[str, str]]


def _range(exc: errors.BerthError) -> Mapping[str, str]:
    assert isinstance(exc, errors.UploadRangeInvalid)
    return {"Range": f"0-{max(exc.offset - 1, 0)}"}


TABLE: dict[type[errors.BerthError], tuple[int, str, Headers | None]] = {
    errors.InvalidName: (400, "NAME_INVALID", None),
    errors.InvalidTag: (400, "TAG_INVALID", None),
    errors.ImageTagAlreadyExists: (400, "TAG_INVALID", None),
    errors.InvalidDigest: (400, "DIGEST_INVALID", None),
    errors.DigestMismatch: (400, "DIGEST_INVALID", None),
    errors.InvalidPagination: (400, "PAGINATION_NUMBER_INVALID", None),
    errors.RepositoryNotFound: (404, "NAME_UNKNOWN", None),
    errors.BlobNotFound: (404, "BLOB_UNKNOWN", None),
    errors.BlobReferenced: (409, "DENIED", None),
    errors.UploadNotFound: (404, "BLOB_UPLOAD_UNKNOWN", None),
    errors.UploadInvalid: (400, "BLOB_UPLOAD_INVALID", None),
    errors.UploadRangeInvalid: (416, "BLOB_UPLOAD_INVALID", _range),
    errors.SizeInvalid: (400, "SIZE_INVALID", None),
    errors.ManifestInvalid: (400, "MANIFEST_INVALID", None),
    errors.ManifestTooLarge: (413, "MANIFEST_INVALID", None),
    errors.ManifestUnsupported: (415, "UNSUPPORTED", None),
    errors.ManifestNotFound: (404, "MANIFEST_UNKNOWN", None),
    errors.ManifestBlobUnknown: (400, "MANIFEST_BLOB_UNKNOWN", None),
    errors.ManifestReferenced: (409, "DENIED", None),
    errors.AccessDenied: (403, "DENIED", None),
}


def error_response(
    status: int, code: str, message: str, detail: object = None, headers: Mapping[str, str] = {}
) -> web.Response:
    body = {"errors": [{"code": code, "message": message, "detail": detail or {}}]}
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


def render(exc: errors.BerthError) -> web.Response:
    for cls in type(exc).__mro__:
        entry = TABLE.get(cls)
        if entry is not None:
            status, code, headers = entry
            return error_response(
                status, code, exc.message, exc.detail, headers(exc) if headers else {}
            )
    raise LookupError(f"no OCI error for {type(exc).__name__}") from exc
