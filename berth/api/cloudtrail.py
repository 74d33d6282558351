"""CloudTrail's LookupEvents over the audit trail, on the AWS JSON protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berth import errors
from berth.api.awsjson import errors as awsjson_errors
from berth.api.awsjson.dispatch import Authenticate, Call, Handler, JsonApi
from berth.api.awsjson.errors import JsonError, Table
from berth.api.awsjson.model import JsonModel
from berth.services import audit
from berth.services.auth import Caller
from berth.services.authz import Authorizer, Target

CLOUDTRAIL = JsonModel("cloudtrail")

TABLE: Table = {
    audit.InvalidLookupAttributes: ("InvalidLookupAttributesException", None),
    audit.InvalidTimeRange: ("InvalidTimeRangeException", None),
    audit.InvalidNextToken: ("InvalidNextTokenException", None),
    errors.InvalidParameter: ("InvalidParameterException", None),
    errors.AccessDenied: ("AccessDeniedException", None),
    errors.NotAuthenticated: ("UnrecognizedClientException", None),
}


def from_domain(exc: errors.BerthError, operation: str | None) -> JsonError:
    return awsjson_errors.from_domain(CLOUDTRAIL, TABLE, exc, operation)


class CloudTrailOperations:
    def __init__(self, trail: audit.AuditTrail, authorizer: Authorizer) -> None:
        self._trail = trail
        self._authorizer = authorizer

    def table(self) -> dict[str, Handler]:
        return {"LookupEvents": self.lookup_events}

    async def authorize(self, call: Call, params: dict[str, Any]) -> None:
        caller: Caller = call.caller
        target = Target(caller.account_id, call.region)
        await self._authorizer.authorize(caller, f"cloudtrail:{call.operation}", target)

    async def lookup_events(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = call.caller
        page = await self._trail.lookup_events(
            caller.account_id,
            p.get("LookupAttributes", []),
            p.get("StartTime"),
            p.get("EndTime"),
            p.get("MaxResults") or 50,
            p.get("NextToken"),
        )
        return {"Events": [_event(e) for e in page.entries], "NextToken": page.next_token}


def _event(entry: Any) -> Mapping[str, Any]:
    event: dict[str, Any] = {
        "EventId": entry.event_id,
        "EventName": entry.event_name,
        "ReadOnly": "true" if entry.read_only else "false",
        "AccessKeyId": entry.access_key_id,
        "EventTime": entry.event_time,
        "EventSource": entry.event_source,
        "Username": entry.username,
        "CloudTrailEvent": entry.record,
    }
    if entry.resource_name:
        event["Resources"] = [
            {"ResourceType": entry.resource_type, "ResourceName": entry.resource_name}
        ]
    return event


def cloudtrail_api(
    trail: audit.AuditTrail, authorizer: Authorizer, authenticate: Authenticate
) -> JsonApi:
    operations = CloudTrailOperations(trail, authorizer)
    return JsonApi(
        CLOUDTRAIL, operations.table(), authenticate, from_domain, authorize=operations.authorize
    )
