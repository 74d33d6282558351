"""What the audit trail records of each API: the hooks the dispatchers call after a request."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aiohttp import web

from berth.api.awsjson.dispatch import Call
from berth.api.awsjson.dispatch import Observe as JsonObserve
from berth.api.awsjson.errors import JsonError
from berth.api.ecr import access
from berth.api.metrics import REQUEST_ID
from berth.api.oci.routes import Observe as OciObserve
from berth.api.query.dispatch import Call as QueryCall
from berth.api.query.errors import QueryError
from berth.domain import audit
from berth.domain.scope import Scope
from berth.errors import BerthError
from berth.services.audit import AuditTrail
from berth.services.auth import Caller

REPOSITORY = "AWS::ECR::Repository"
ECR_SOURCE = "ecr.amazonaws.com"
# Registry requests as the ECR API calls a client would have made for them; HEADs and chunk
# PATCHes are left out (too many, and they tell nothing the completion does not).
_RECORDED = {
    ("GET", "ecr:BatchGetImage"): "BatchGetImage",
    ("PUT", "ecr:PutImage"): "PutImage",
    ("DELETE", "ecr:BatchDeleteImage"): "BatchDeleteImage",
    ("GET", "ecr:GetDownloadUrlForLayer"): "GetDownloadUrlForLayer",
    ("POST", "ecr:InitiateLayerUpload"): "InitiateLayerUpload",
    ("PUT", "ecr:CompleteLayerUpload"): "CompleteLayerUpload",
    ("GET", "ecr:ListImages"): "ListImages",
}


def _actor(caller: Caller | None) -> audit.Actor | None:
    return audit.Actor(caller.principal, caller.access_key_id) if caller is not None else None


def ecr_observer(trail: AuditTrail) -> JsonObserve:
    def observe(
        call: Call,
        params: Mapping[str, Any],
        result: Mapping[str, Any] | None,
        error: JsonError | None,
    ) -> None:
        caller: Caller = call.caller
        targets = access.requests(call.operation, call, dict(params))
        target = targets[0][0] if len(targets) == 1 else None
        arn = target.arn if target is not None and target.repository not in (None, "*") else None
        now = datetime.now(UTC)
        trail.record(
            lambda: audit.entry(
                event_id=audit.event_id(now, os.urandom(10)),
                request_id=call.request_id,
                event_time=now,
                event_source=ECR_SOURCE,
                event_name=call.operation,
                region=call.region,
                account_id=target.account_id if target is not None else caller.account_id,
                caller=_actor(caller),
                source_ip=call.source_ip,
                user_agent=call.user_agent,
                request_parameters=params,
                response_elements=result,
                error_code=error.type_name if error is not None else None,
                error_message=error.message if error is not None else None,
                resource_arn=arn,
                resource_type=REPOSITORY if arn else None,
            )
        )

    return observe


def query_observer(trail: AuditTrail, source: str) -> Callable[..., None]:
    """IAM and STS calls (`iam.amazonaws.com`, `sts.amazonaws.com`)."""

    def observe(
        call: QueryCall,
        params: Mapping[str, Any],
        result: Mapping[str, Any] | None,
        error: QueryError | None,
    ) -> None:
        caller: Caller = call.caller
        now = datetime.now(UTC)
        trail.record(
            lambda: audit.entry(
                event_id=audit.event_id(now, os.urandom(10)),
                request_id=call.request_id,
                event_time=now,
                event_source=source,
                event_name=call.operation,
                region=call.region,
                account_id=caller.account_id,
                caller=_actor(caller),
                source_ip=call.source_ip,
                user_agent=None,
                request_parameters=params,
                response_elements=result,
                error_code=error.code if error is not None else None,
                error_message=error.message if error is not None else None,
            )
        )

    return observe


def oci_observer(trail: AuditTrail) -> OciObserve:
    def observe(
        request: web.Request,
        caller: Caller | None,
        scope: Scope,
        actions: tuple[str, ...],
        params: dict[str, Any],
        response: web.StreamResponse,
        failure: BerthError | None,
    ) -> None:
        if not actions:
            return
        name = _RECORDED.get((request.method, actions[0]))
        if name is None:
            return
        if name == "InitiateLayerUpload" and response.status == 201:
            name = "CompleteLayerUpload"  # a monolithic upload or a mount finished the blob
        repository = params.get("name")
        arn = (
            f"arn:aws:ecr:{scope.region}:{scope.account_id}:repository/{repository}"
            if repository
            else None
        )
        reference = params.get("reference") or params.get("digest")
        now = datetime.now(UTC)
        request_id = request.get(REQUEST_ID) or str(uuid.uuid4())
        # Plain values only: the builder runs at the next flush and must not keep the request.
        fields = (
            name,
            scope,
            _actor(caller),
            request.remote,
            request.headers.get("User-Agent"),
            repository,
            reference,
            arn,
        )
        if response.status >= 400 or (reference is not None and request.method != "GET"):
            # Failures and pushes of images or blobs named in the URL would only fill the cache
            # with templates that are never used again; uploads (an upload's id and its
            # digest are not recorded) repeat as pulls do.
            error = (type(failure).__name__, failure.message) if failure else (None, None)
            trail.record(
                lambda: _registry_template(*fields, *error).entry(
                    audit.event_id(now, os.urandom(10)), request_id, now
                )
            )
            return
        trail.record(
            lambda: _cached_registry_template(*fields).entry(
                audit.event_id(now, os.urandom(10)), request_id, now
            )
        )

    return observe


def _registry_template(
    name: str,
    scope: Scope,
    actor: audit.Actor | None,
    source_ip: str | None,
    user_agent: str | None,
    repository: str | None,
    reference: str | None,
    arn: str | None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> audit.Template:
    return audit.template(
        event_source=ECR_SOURCE,
        event_name=name,
        region=scope.region,
        account_id=scope.account_id,
        caller=actor,
        source_ip=source_ip,
        user_agent=user_agent,
        request_parameters={
            "registryId": scope.account_id,
            "repositoryName": repository,
            **({"reference": reference} if reference else {}),
        },
        response_elements=None,
        error_code=error_code,
        error_message=error_message,
        resource_arn=arn,
        resource_type=REPOSITORY if arn else None,
        plain_parameters=True,
    )


# Successful pulls repeat (a fleet pulling the same images): their records are serialised
# once per distinct request.
_cached_registry_template = lru_cache(maxsize=4096)(_registry_template)
