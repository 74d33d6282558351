"""The CloudWatch Logs API subset: AWS JSON 1.1 (`Logs_20140328.<Operation>`), signed for the
service `logs`, on the same `POST /` as ECR.

One table maps domain exceptions to CloudWatch Logs' errors. Every operation is authorized as
`logs:<Operation>` on the resource CloudWatch Logs itself names in its AccessDenied messages:
`arn:aws:logs:<region>:<account>:log-group:<group>:log-stream:<stream>` for the operations on a
stream, the same with an empty stream for those on a group (so that a policy on
`...:log-group:<group>:*` covers both), and `...:log-group::log-stream:` for DescribeLogGroups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from berth import errors
from berth.api.awsjson import errors as awsjson_errors
from berth.api.awsjson.dispatch import Authenticate, Call, Handler, JsonApi
from berth.api.awsjson.errors import JsonError, Table
from berth.api.awsjson.model import JsonModel
from berth.domain.log_filters import InvalidFilterPattern
from berth.services.auth import Caller
from berth.services.authz import Authorizer, Target
from berth.services.logs import (
    GroupRef,
    LogsService,
    event_id,
    group_arn,
    group_ref,
    stream_arn,
)
from berth.services.logs_errors import (
    InvalidLogsParameter,
    LogGroupAlreadyExists,
    LogGroupNotFound,
    LogStreamAlreadyExists,
    LogStreamNotFound,
)
from berth.storage.logs_ports import LogGroupRecord, LogStreamRecord, NewLogEvent

# CloudWatch Logs reports broken constraints as InvalidParameterException, "1 validation error
# detected: Value '' at 'logGroupName' failed to satisfy constraint: ...".
LOGS = JsonModel("logs", constraint_error="InvalidParameterException")
SERVICE = "logs"

TABLE: Table = {
    LogGroupNotFound: ("ResourceNotFoundException", None),
    LogStreamNotFound: ("ResourceNotFoundException", None),
    LogGroupAlreadyExists: ("ResourceAlreadyExistsException", None),
    LogStreamAlreadyExists: ("ResourceAlreadyExistsException", None),
    InvalidLogsParameter: ("InvalidParameterException", None),
    InvalidFilterPattern: ("InvalidParameterException", None),
    errors.InvalidParameter: ("InvalidParameterException", None),
    errors.NotAuthenticated: ("UnrecognizedClientException", None),
    errors.AccessDenied: ("AccessDeniedException", None),
}

# Operations on one stream; the others act on a group (DescribeLogGroups on all of them).
_STREAM_OPERATIONS = frozenset(
    {"CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"}
)


def to_error(exc: errors.BerthError, operation: str | None) -> JsonError:
    return awsjson_errors.from_domain(LOGS, TABLE, exc, operation)


def _ref(call: Call, p: dict[str, Any]) -> GroupRef:
    caller: Caller = call.caller
    return group_ref(
        caller.account_id, call.region, p.get("logGroupName"), p.get("logGroupIdentifier")
    )


def _group(group: LogGroupRecord) -> dict[str, Any]:
    arn = group_arn(group.region, group.account_id, group.name)
    return {
        "logGroupName": group.name,
        "creationTime": group.created_at,
        "retentionInDays": group.retention_in_days,
        "metricFilterCount": 0,
        "arn": f"{arn}:*",
        "storedBytes": group.stored_bytes,
        "kmsKeyId": group.kms_key_id,
        "logGroupClass": group.log_group_class,
        "logGroupArn": arn,
    }


def _stream(group: LogGroupRecord, stream: LogStreamRecord) -> dict[str, Any]:
    return {
        "logStreamName": stream.name,
        "creationTime": stream.created_at,
        "firstEventTimestamp": stream.first_event_at,
        "lastEventTimestamp": stream.last_event_at,
        "lastIngestionTime": stream.last_ingestion_at,
        "uploadSequenceToken": f"{stream.sequence:056d}" if stream.sequence else None,
        "arn": stream_arn(group.region, group.account_id, group.name, stream.name),
        "storedBytes": stream.stored_bytes,
    }


@dataclass(frozen=True, slots=True)
class LogsOperations:
    logs: LogsService
    authorizer: Authorizer

    def table(self) -> dict[str, Handler]:
        return {
            "CreateLogGroup": self.create_log_group,
            "DescribeLogGroups": self.describe_log_groups,
            "DeleteLogGroup": self.delete_log_group,
            "PutRetentionPolicy": self.put_retention_policy,
            "DeleteRetentionPolicy": self.delete_retention_policy,
            "CreateLogStream": self.create_log_stream,
            "DeleteLogStream": self.delete_log_stream,
            "DescribeLogStreams": self.describe_log_streams,
            "PutLogEvents": self.put_log_events,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
        }

    async def authorize(self, call: Call, p: dict[str, Any]) -> None:
        """The dispatcher's authorization hook: `logs:<Operation>` on the group or stream."""
        caller: Caller = call.caller
        if call.operation == "DescribeLogGroups":
            ref = GroupRef(caller.account_id, call.region, "")
        else:
            ref = _ref(call, p)
        stream = p.get("logStreamName", "") if call.operation in _STREAM_OPERATIONS else ""
        context: dict[str, str | Sequence[str]] = {
            "aws:SecureTransport": "true" if call.secure else "false",
        }
        if call.source_ip:
            context["aws:SourceIp"] = call.source_ip
        tags = p.get("tags")
        if tags:
            for key, value in tags.items():
                context[f"aws:RequestTag/{key}"] = value
            context["aws:TagKeys"] = list(tags)
        resource = stream_arn(ref.region, ref.account_id, ref.name, stream)
        await self.authorizer.authorize(
            caller,
            f"logs:{call.operation}",
            Target(ref.account_id, ref.region, resource=resource),
            context=context,
        )

    # log groups

    async def create_log_group(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.logs.create_log_group(
            _ref(call, p),
            kms_key_id=p.get("kmsKeyId"),
            log_group_class=p.get("logGroupClass", "STANDARD"),
            tags=p.get("tags"),
        )
        return {}

    async def describe_log_groups(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = call.caller
        groups, token = await self.logs.describe_log_groups(
            caller.account_id,
            call.region,
            prefix=p.get("logGroupNamePrefix"),
            pattern=p.get("logGroupNamePattern"),
            log_group_class=p.get("logGroupClass"),
            token=p.get("nextToken"),
            limit=p.get("limit"),
        )
        return {"logGroups": [_group(g) for g in groups], "nextToken": token}

    async def delete_log_group(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.logs.delete_log_group(_ref(call, p))
        return {}

    async def put_retention_policy(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.logs.put_retention_policy(_ref(call, p), p["retentionInDays"])
        return {}

    async def delete_retention_policy(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.logs.delete_retention_policy(_ref(call, p))
        return {}

    # log streams

    async def create_log_stream(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.logs.create_log_stream(_ref(call, p), p["logStreamName"])
        return {}

    async def delete_log_stream(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.logs.delete_log_stream(_ref(call, p), p["logStreamName"])
        return {}

    async def describe_log_streams(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        group, streams, token = await self.logs.describe_log_streams(
            _ref(call, p),
            prefix=p.get("logStreamNamePrefix"),
            order_by=p.get("orderBy", "LogStreamName"),
            descending=bool(p.get("descending", False)),
            token=p.get("nextToken"),
            limit=p.get("limit"),
        )
        return {"logStreams": [_stream(group, s) for s in streams], "nextToken": token}

    # log events

    async def put_log_events(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        events = [NewLogEvent(e["timestamp"], e["message"]) for e in p["logEvents"]]
        result = await self.logs.put_log_events(_ref(call, p), p["logStreamName"], events)
        rejected = {
            "tooNewLogEventStartIndex": result.too_new_start,
            "tooOldLogEventEndIndex": result.too_old_end,
            "expiredLogEventEndIndex": result.expired_end,
        }
        return {
            "nextSequenceToken": f"{result.sequence:056d}",
            "rejectedLogEventsInfo": rejected
            if any(v is not None for v in rejected.values())
            else None,
        }

    async def get_log_events(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        page = await self.logs.get_log_events(
            _ref(call, p),
            p["logStreamName"],
            start=p.get("startTime"),
            end=p.get("endTime"),
            token=p.get("nextToken"),
            limit=p.get("limit"),
            start_from_head=bool(p.get("startFromHead", False)),
        )
        return {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                for e in page.events
            ],
            "nextForwardToken": page.forward,
            "nextBackwardToken": page.backward,
        }

    async def filter_log_events(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        events, token = await self.logs.filter_log_events(
            _ref(call, p),
            stream_names=p.get("logStreamNames"),
            stream_prefix=p.get("logStreamNamePrefix"),
            start=p.get("startTime"),
            end=p.get("endTime"),
            pattern=p.get("filterPattern"),
            token=p.get("nextToken"),
            limit=p.get("limit"),
        )
        return {
            "events": [
                {
                    "logStreamName": e.stream,
                    "timestamp": e.timestamp,
                    "message": e.message,
                    "ingestionTime": e.ingestion_time,
                    "eventId": event_id(e),
                }
                for e in events
            ],
            # Deprecated by CloudWatch Logs in 2020, which answers it empty since.
            "searchedLogStreams": [],
            "nextToken": token,
        }


def LogsApi(operations: LogsOperations, authenticate: Authenticate) -> JsonApi:
    return JsonApi(LOGS, operations.table(), authenticate, to_error, authorize=operations.authorize)
