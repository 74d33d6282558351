"""What every OCI handler receives besides the request."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from berth.domain.scope import Scope
from berth.errors import InvalidPagination, SizeInvalid
from berth.services.registry import Registry

BODY_CHUNK = 1 << 20
_COUNT = re.compile(r"[0-9]{1,9}")
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Context:
    registry: Registry
    scope: Scope
    # Whether a `mount` request may link the blob (the caller may read its source).
    can_mount: bool = True
    # The CycloneDX document of an image (a Berth extension), when scanning is wired.
    sbom: Sbom | None = None


# (scope, repository, tag or digest) -> (image digest, CycloneDX document)
Sbom = Callable[[Scope, str, str], Awaitable[tuple[str, dict[str, Any]]]]


async def body(request: web.Request) -> AsyncIterator[bytes]:
    """The request body in large chunks, never whole in memory."""
    try:
        async for chunk in request.content.iter_chunked(BODY_CHUNK):
            yield chunk
    except HttpProcessingError as exc:  # a body shorter than declared, broken chunked encoding
        raise SizeInvalid(f"request body could not be read: {exc.message}") from None


def page(request: web.Request) -> tuple[int, str | None]:
    """`n` and `last` of a paginated listing; `n` is capped at MAX_PAGE."""
    raw = request.query.get("n")
    if raw is None:
        limit = MAX_PAGE
    else:
        if not _COUNT.fullmatch(raw):
            raise InvalidPagination(f"n must be a non-negative integer, not {raw[:20]!r}")
        limit = min(int(raw), MAX_PAGE)
    return limit, request.query.get("last") or None


def paginated(found: list[str], limit: int, path: str) -> tuple[list[str], dict[str, str]]:
    """Trim a listing fetched with `limit + 1` rows; link to the next page when there is one."""
    if limit == 0 or len(found) <= limit:
        return found[:limit], {}
    found = found[:limit]
    query = urlencode({"n": limit, "last": found[-1]})
    return found, {"Link": f'<{path}?{query}>; rel="next"'}
