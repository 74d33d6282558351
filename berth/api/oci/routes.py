"""The one route table of the OCI API, and the handler that dispatches `/v2/…` through it.

Repository names contain slashes, so routes are matched here on the raw path rather than by
aiohttp's router; the first matching pattern wins (uploads before blobs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from berth.api.oci import blobs, manifests
from berth.api.oci.context import Context, Sbom
from berth.api.oci.errors import error_response, render
from berth.domain.scope import Scope, scope_from_host
from berth.errors import BerthError, NotAuthenticated
from berth.services.auth import Caller
from berth.services.authz import Authorizer, Target
from berth.services.registry import Registry

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[web.StreamResponse]]

_NAME = r"(?P<name>[^?#]+?)"


async def _base(request: web.Request, ctx: Context) -> web.Response:
    return web.json_response({})


# The actions ECR checks for each kind of registry request (its IAM documentation's mapping).
PULL = ("ecr:BatchGetImage",)
PUSH_MANIFEST = ("ecr:PutImage",)
DELETE = ("ecr:BatchDeleteImage",)
LAYER_READ = ("ecr:GetDownloadUrlForLayer",)
LAYER_CHECK = ("ecr:BatchCheckLayerAvailability",)
LAYER_PUSH = ("ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")
LAYER_PART = ("ecr:UploadLayerPart",)
LAYER_COMPLETE = ("ecr:CompleteLayerUpload",)
Route = tuple[Handler, tuple[str, ...]]

ROUTES: list[tuple[re.Pattern[str], dict[str, Route]]] = [
    (re.compile(r"^$"), {"GET": (_base, ()), "HEAD": (_base, ())}),
    (re.compile(r"^_catalog$"), {"GET": (manifests.catalog, ("ecr:DescribeRepositories",))}),
    (re.compile(rf"^{_NAME}/tags/list$"), {"GET": (manifests.list_tags, ("ecr:ListImages",))}),
    (
        re.compile(rf"^{_NAME}/manifests/(?P<reference>[^/]+)$"),
        {
            "GET": (manifests.get_manifest, PULL),
            "HEAD": (manifests.get_manifest, PULL),
            "PUT": (manifests.put_manifest, PUSH_MANIFEST),
            "DELETE": (manifests.delete_manifest, DELETE),
        },
    ),
    (re.compile(rf"^{_NAME}/blobs/uploads/?$"), {"POST": (blobs.start_upload, LAYER_PUSH)}),
    (
        re.compile(rf"^{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)$"),
        {
            "GET": (blobs.upload_status, LAYER_PART),
            "PATCH": (blobs.patch_upload, LAYER_PART),
            "PUT": (blobs.finish_upload, LAYER_COMPLETE),
            "DELETE": (blobs.cancel_upload, LAYER_PART),
        },
    ),
    (
        re.compile(rf"^{_NAME}/blobs/(?P<digest>[^/]+)$"),
        {
            "GET": (blobs.get_blob, LAYER_READ),
            "HEAD": (blobs.get_blob, LAYER_CHECK),
            "DELETE": (blobs.delete_blob, DELETE),
        },
    ),
    (
        re.compile(rf"^{_NAME}/referrers/(?P<digest>[^/]+)$"),
        {"GET": (manifests.list_referrers, PULL)},
    ),
    # Berth extension, last so that no OCI route is shadowed: an image's SBOM.
    (re.compile(rf"^{_NAME}/sbom/(?P<reference>[^/]+)$"), {"GET": (manifests.get_sbom, PULL)}),
]

_API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


Match = tuple[Route | None, dict[str, Any], bool]
# Reads repeat the same few paths (a manifest, its layers); trying the patterns in turn cost
# several regex matches per request. Bounded: paths come from clients.
_READ_MATCHES: dict[str, Match] = {}
MAX_READ_MATCHES = 4096


def _match(path: str, method: str) -> Match:
    """The route, its parameters (shared between requests: read them, never change them) and
    whether the path names an endpoint at all."""
    if method in _READS:
        key = f"{method} {path}"
        found = _READ_MATCHES.get(key)
        if found is None:
            if len(_READ_MATCHES) >= MAX_READ_MATCHES:
                _READ_MATCHES.clear()
            found = _READ_MATCHES[key] = _find(path, method)
        return found
    return _find(path, method)


def _find(path: str, method: str) -> Match:
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return methods.get(method), match.groupdict(), True
    return None, {}, False


Login = Callable[[str | None], Awaitable[tuple[Caller, str]]]
# Told about every routed request and how it ended (the audit trail); must not block.
Observe = Callable[
    [
        web.Request,
        Caller | None,
        Scope,
        tuple[str, ...],
        dict[str, Any],
        web.StreamResponse,
        BerthError | None,
    ],
    None,
]
_READS = frozenset({"GET", "HEAD"})


class OciApi:
    """Authenticates the ECR registry login, resolves the registry a request addresses,
    authorizes the request's actions, dispatches it, renders domain errors."""

    def __init__(
        self,
        registry: Registry,
        default_scope: Scope,
        login: Login,
        authorizer: Authorizer,
        *,
        realm: str,
        anonymous_pull: bool = False,
    ) -> None:
        self._registry = registry
        self._default_scope = default_scope
        self._authenticate = login
        self._authorizer = authorizer
        self.observe: Observe | None = None
        self.sbom: Sbom | None = None
        self._anonymous_pull = anonymous_pull
        self._challenge = {
            "Www-Authenticate": f'Basic realm="{realm}/",service="ecr.amazonaws.com"',
            **_API_VERSION,
        }

    async def _login(self, request: web.Request) -> tuple[Caller | None, Scope] | web.Response:
        """Who is calling and the registry this request addresses, or the refusal.

        A host of the form `<account>.dkr.ecr.<region>.<domain>` names the registry (another
        account's is reachable when its policies allow); any other host means the caller's own
        account in the region its token was issued for.
        """
        named = scope_from_host(request.host, None)
        try:
            caller, region = await self._authenticate(request.headers.get("Authorization"))
        except NotAuthenticated:
            if self._anonymous_pull and request.method in _READS:
                return None, named or self._default_scope
            # ECR answers with a plain-text body here, not the OCI error envelope.
            return web.Response(status=401, text="Not Authorized", headers=self._challenge)
        return caller, named or Scope(caller.account_id, region)

    async def _authorize(
        self,
        request: web.Request,
        caller: Caller | None,
        scope: Scope,
        actions: tuple[str, ...],
        params: dict[str, Any],
    ) -> Context:
        """Check `actions` on the repository; what the handler may do besides (mounts)."""
        if caller is None:
            # Only reads get here without a login, and only with anonymous pulls switched on.
            return Context(self._registry, scope, can_mount=False, sbom=self.sbom)
        context: dict[str, str | Sequence[str]] = {
            # `scheme`, not `secure`: the latter builds the request's whole URL to tell.
            "aws:SecureTransport": "true" if request.scheme == "https" else "false",
        }
        if request.remote:
            context["aws:SourceIp"] = request.remote
        target = Target(scope.account_id, scope.region, params.get("name", "*"))
        for action in actions:
            await self._authorizer.authorize(caller, action, target, context=context)
        can_mount = True
        if "mount" in request.query and request.method == "POST":
            source = request.query.get("from")
            if source:
                # Mounting reads the source: a caller who cannot pull from it uploads instead.
                can_mount = await self._authorizer.allowed(
                    caller,
                    "ecr:GetDownloadUrlForLayer",
                    Target(scope.account_id, scope.region, source),
                )
            else:
                # Without `from` the blob may come from any repository; only a principal who
                # may read them all (the account's root) gets that.
                can_mount = (
                    caller.principal.kind == "root" and caller.account_id == scope.account_id
                )
        return Context(self._registry, scope, can_mount=can_mount, sbom=self.sbom)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path[len("/v2/") :]
        route, params, known = _match(path, request.method)
        login: tuple[Caller | None, Scope] | web.Response | None = None
        failure: BerthError | None = None
        try:
            login = await self._login(request)
            if isinstance(login, web.Response):
                return login
            caller, scope = login
            if route is None:
                if known:
                    response: web.StreamResponse = error_response(
                        405, "UNSUPPORTED", f"{request.method} is not supported here"
                    )
                else:
                    response = error_response(404, "NAME_UNKNOWN", "no such endpoint")
            else:
                handler, actions = route
                ctx = await self._authorize(request, caller, scope, actions, params)
                response = await handler(request, ctx, **params)
        except BerthError as exc:
            failure = exc
            response = render(exc)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            response = error_response(500, "UNKNOWN", "internal server error")
        response.headers.update(_API_VERSION)
        if self.observe is not None and route is not None and isinstance(login, tuple):
            self.observe(request, login[0], login[1], route[1], params, response, failure)
        return response
