"""What the audit trail records of each API: the hooks the dispatchers call after a request."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from berth.api.awsjson.dispatch import Call
from berth.api.awsjson.dispatch import Observe as JsonObserve
from berth.api.awsjson.errors import JsonError
from berth.api.ecr import access
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
                event_id=str(uuid.uuid4()),
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
                event_id=str(uuid.uuid4()),
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
        failed = response.status >= 400
        now = datetime.now(UTC)
        trail.record(
            lambda: audit.entry(
                event_id=str(uuid.uuid4()),
                request_id=str(uuid.uuid4()),
                event_time=now,
                event_source=ECR_SOURCE,
                event_name=name,
                region=scope.region,
                account_id=scope.account_id,
                caller=_actor(caller),
                source_ip=request.remote,
                user_agent=request.headers.get("User-Agent"),
                request_parameters={
                    "registryId": scope.account_id,
                    "repositoryName": repository,
                    **({"reference": reference} if reference else {}),
                },
                response_elements=None,
                error_code=type(failure).__name__ if failed and failure else None,
                error_message=(failure.message if failure else None) if failed else None,
                resource_arn=arn,
                resource_type=REPOSITORY if arn else None,
            )
        )

    return observe
