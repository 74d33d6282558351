"""The EventBridge API subset: rules of the default event bus and their CloudWatch Logs targets,
over AWS JSON 1.1 (`AWSEvents.<Operation>`), signed for the service `events`, on the same
`POST /` as ECR.

One table maps domain exceptions to EventBridge's errors. Every operation is authorized as
`events:<Operation>` on the rule's ARN (`arn:aws:events:<region>:<account>:rule/<name>`);
ListRules on `rule/*`, TestEventPattern (which touches nothing) on `*`.
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
from berth.domain.event_patterns import InvalidEvent, InvalidEventPattern
from berth.services.auth import Caller
from berth.services.authz import Authorizer, Target
from berth.services.eventbus import DISABLED, ENABLED, EventBus, FailedEntry, rule_arn
from berth.services.logs_errors import (
    EventBusNotFound,
    EventsValidation,
    RuleHasTargets,
    RuleNotFound,
    TooManyTargets,
)
from berth.storage.logs_ports import RuleRecord

EVENTS = JsonModel("events")
SERVICE = "events"

TABLE: Table = {
    RuleNotFound: ("ResourceNotFoundException", None),
    EventBusNotFound: ("ResourceNotFoundException", None),
    RuleHasTargets: ("ValidationException", None),
    TooManyTargets: ("LimitExceededException", None),
    EventsValidation: ("ValidationException", None),
    InvalidEventPattern: ("InvalidEventPatternException", None),
    InvalidEvent: ("ValidationException", None),
    errors.NotAuthenticated: ("UnrecognizedClientException", None),
    errors.AccessDenied: ("AccessDeniedException", None),
}


def to_error(exc: errors.BerthError, operation: str | None) -> JsonError:
    return awsjson_errors.from_domain(EVENTS, TABLE, exc, operation)


def _account(call: Call) -> str:
    caller: Caller = call.caller
    return caller.account_id


def _rule(rule: RuleRecord) -> dict[str, Any]:
    return {
        "Name": rule.name,
        "Arn": rule_arn(rule.region, rule.account_id, rule.name),
        "EventPattern": rule.event_pattern,
        "State": rule.state,
        "Description": rule.description,
        "RoleArn": rule.role_arn,
        "EventBusName": rule.event_bus,
    }


def _failed(entries: list[FailedEntry]) -> dict[str, Any]:
    return {
        "FailedEntryCount": len(entries),
        "FailedEntries": [
            {"TargetId": e.target_id, "ErrorCode": e.code, "ErrorMessage": e.message}
            for e in entries
        ],
    }


@dataclass(frozen=True, slots=True)
class EventsOperations:
    bus: EventBus
    authorizer: Authorizer

    def table(self) -> dict[str, Handler]:
        return {
            "PutRule": self.put_rule,
            "DescribeRule": self.describe_rule,
            "ListRules": self.list_rules,
            "DeleteRule": self.delete_rule,
            "EnableRule": self.enable_rule,
            "DisableRule": self.disable_rule,
            "PutTargets": self.put_targets,
            "ListTargetsByRule": self.list_targets_by_rule,
            "RemoveTargets": self.remove_targets,
            "TestEventPattern": self.test_event_pattern,
        }

    async def authorize(self, call: Call, p: dict[str, Any]) -> None:
        """The dispatcher's authorization hook: `events:<Operation>` on the rule."""
        caller: Caller = call.caller
        account = caller.account_id
        name = p.get("Name") or p.get("Rule")
        if call.operation == "TestEventPattern":
            resource = "*"
        elif name is None:
            resource = rule_arn(call.region, account, "*")
        else:
            resource = rule_arn(call.region, account, name)
        context: dict[str, str | Sequence[str]] = {
            "aws:SecureTransport": "true" if call.secure else "false",
        }
        if call.source_ip:
            context["aws:SourceIp"] = call.source_ip
        tags = p.get("Tags")
        if tags:
            for tag in tags:
                context[f"aws:RequestTag/{tag['Key']}"] = tag["Value"]
            context["aws:TagKeys"] = [tag["Key"] for tag in tags]
        await self.authorizer.authorize(
            caller,
            f"events:{call.operation}",
            Target(account, call.region, resource=resource),
            context=context,
        )

    async def put_rule(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        arn = await self.bus.put_rule(
            _account(call),
            call.region,
            p["Name"],
            event_pattern=p.get("EventPattern"),
            schedule_expression=p.get("ScheduleExpression"),
            state=p.get("State"),
            description=p.get("Description"),
            role_arn=p.get("RoleArn"),
            tags={tag["Key"]: tag["Value"] for tag in p.get("Tags", [])} or None,
            event_bus=p.get("EventBusName"),
        )
        return {"RuleArn": arn}

    async def describe_rule(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        rule = await self.bus.describe_rule(
            _account(call), call.region, p["Name"], p.get("EventBusName")
        )
        return {**_rule(rule), "CreatedBy": rule.account_id}

    async def list_rules(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        rules, token = await self.bus.list_rules(
            _account(call),
            call.region,
            prefix=p.get("NamePrefix"),
            token=p.get("NextToken"),
            limit=p.get("Limit"),
            event_bus=p.get("EventBusName"),
        )
        return {"Rules": [_rule(rule) for rule in rules], "NextToken": token}

    async def delete_rule(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.bus.delete_rule(_account(call), call.region, p["Name"], p.get("EventBusName"))
        return {}

    async def enable_rule(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.bus.set_state(
            _account(call), call.region, p["Name"], ENABLED, p.get("EventBusName")
        )
        return {}

    async def disable_rule(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        await self.bus.set_state(
            _account(call), call.region, p["Name"], DISABLED, p.get("EventBusName")
        )
        return {}

    async def put_targets(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        failed = await self.bus.put_targets(
            _account(call), call.region, p["Rule"], p["Targets"], p.get("EventBusName")
        )
        return _failed(failed)

    async def list_targets_by_rule(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        targets, token = await self.bus.list_targets(
            _account(call),
            call.region,
            p["Rule"],
            token=p.get("NextToken"),
            limit=p.get("Limit"),
            event_bus=p.get("EventBusName"),
        )
        return {"Targets": [target.spec for target in targets], "NextToken": token}

    async def remove_targets(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        failed = await self.bus.remove_targets(
            _account(call), call.region, p["Rule"], p["Ids"], p.get("EventBusName")
        )
        return _failed(failed)

    async def test_event_pattern(self, call: Call, p: dict[str, Any]) -> dict[str, Any]:
        return {"Result": self.bus.test_event_pattern(p["EventPattern"], p["Event"])}


def EventsApi(operations: EventsOperations, authenticate: Authenticate) -> JsonApi:
    return JsonApi(
        EVENTS, operations.table(), authenticate, to_error, authorize=operations.authorize
    )
