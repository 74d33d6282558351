"""The one route table of the OCI API, and the handler that dispatches `/v2/…` through it.

Repository names contain slashes, so routes are matched here on the raw path rather than by
aiohttp's router; the first matching pattern wins (uploads before blobs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from berth.api.oci import blobs, manifests
from berth.api.oci.context import Context
from berth.api.oci.errors import error_response, render
from berth.domain.scope import Scope, scope_from_host
from berth.errors import BerthError, NotAuthenticated
from berth.services.auth import Caller
from berth.services.registry import Registry

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[web.StreamResponse]]

_NAME = r"(?P<name>[^?#]+?)"


async def _base(request: web.Request, ctx: Context) -> web.Response:
    return web.json_response({})


ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(r"^$"), {"GET": _base, "HEAD": _base}),
    (re.compile(r"^_catalog$"), {"GET": manifests.catalog}),
    (re.compile(rf"^{_NAME}/tags/list$"), {"GET": manifests.list_tags}),
    (
        re.compile(rf"^{_NAME}/manifests/(?P<reference>[^/]+)$"),
        {
            "GET": manifests.get_manifest,
            "HEAD": manifests.get_manifest,
            "PUT": manifests.put_manifest,
            "DELETE": manifests.delete_manifest,
        },
    ),
    (re.compile(rf"^{_NAME}/blobs/uploads/?$"), {"POST": blobs.start_upload}),
    (
        re.compile(rf"^{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)$"),
        {
            "GET": blobs.upload_status,
            "PATCH": blobs.patch_upload,
            "PUT": blobs.finish_upload,
            "DELETE": blobs.cancel_upload,
        },
    ),
    (
        re.compile(rf"^{_NAME}/blobs/(?P<digest>[^/]+)$"),
        {"GET": blobs.get_blob, "HEAD": blobs.get_blob, "DELETE": blobs.delete_blob},
    ),
    (re.compile(rf"^{_NAME}/referrers/(?P<digest>[^/]+)$"), {"GET": manifests.list_referrers}),
]

_API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def _match(path: str, method: str) -> tuple[Handler | None, dict[str, Any], bool]:
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return methods.get(method), match.groupdict(), True
    return None, {}, False


Login = Callable[[str | None], Awaitable[tuple[Caller, str]]]
_READS = frozenset({"GET", "HEAD"})


class OciApi:
    """Authenticates the ECR registry login, resolves the registry a request addresses,
    dispatches it, renders domain errors."""

    def __init__(
        self,
        registry: Registry,
        default_scope: Scope,
        login: Login,
        *,
        realm: str,
        anonymous_pull: bool = False,
    ) -> None:
        self._registry = registry
        self._default_scope = default_scope
        self._login = login
        self._anonymous_pull = anonymous_pull
        self._challenge = {
            "Www-Authenticate": f'Basic realm="{realm}/",service="ecr.amazonaws.com"',
            **_API_VERSION,
        }

    async def _scope(self, request: web.Request) -> Scope | web.Response:
        """The registry this request may use, or the response that refuses it.

        A host of the form `<account>.dkr.ecr.<region>.<domain>` names the registry; any other
        host means the caller's own account in the region its token was issued for.
        """
        named = scope_from_host(request.host, None)
        try:
            caller, region = await self._login(request.headers.get("Authorization"))
        except NotAuthenticated:
            if self._anonymous_pull and request.method in _READS:
                return named or self._default_scope
            # ECR answers with a plain-text body here, not the OCI error envelope.
            return web.Response(status=401, text="Not Authorized", headers=self._challenge)
        scope = named or Scope(caller.account_id, region)
        if scope.account_id != caller.account_id:
            # Cross-account access comes with repository policies; until then it is denied.
            return error_response(
                403,
                "DENIED",
                f"User: {caller.principal_arn} is not authorized to access registry "
                f"{scope.account_id}",
            )
        return scope

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path[len("/v2/") :]
        handler, params, known = _match(path, request.method)
        try:
            scope = await self._scope(request)
            if isinstance(scope, web.Response):
                return scope
            if handler is None:
                if known:
                    response: web.StreamResponse = error_response(
                        405, "UNSUPPORTED", f"{request.method} is not supported here"
                    )
                else:
                    response = error_response(404, "NAME_UNKNOWN", "no such endpoint")
            else:
                response = await handler(request, Context(self._registry, scope), **params)
        except BerthError as exc:
            response = render(exc)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            response = error_response(500, "UNKNOWN", "internal server error")
        response.headers.update(_API_VERSION)
        return response
