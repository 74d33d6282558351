"""EventBridge on Berth: rules of the default event bus routing events to CloudWatch Logs.

Two halves. The rules API (PutRule, PutTargets, ...) keeps rules and their targets. `publish`
is the bus itself: the outbox delivery worker hands it each event Berth emits (EventBridge's
shape: `id`, `account`, `region`, `source`, `detail-type`, `detail`, ...); every ENABLED rule of
that account and region whose pattern matches sends it to its log group targets.

Delivery into CloudWatch Logs, and how it differs from EventBridge's:

* the message is the event's JSON, the log event's timestamp the event's `time`;
* the log stream is named after the rule that delivered the event (EventBridge picks stream
  names of its own, opaque ones, and does not document them): `--log-stream-names <rule>`
  shows what one rule sent;
* delivery upstream is at least once, so `publish` stores an event at most once per log group,
  keyed by the event's `id`: a retried event, or one that several rules send to the same group,
  is stored once, in the stream of the first of those rules by name (EventBridge would store
  it once per rule);
* a target whose log group does not exist is skipped with a warning (EventBridge counts a
  failed invocation); the PutLogEvents age limits do not apply, so an event delivered late
  (Berth was down) is still stored, until the group's retention prunes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from berth.domain.event_patterns import (
    InvalidEventPattern,
    Pattern,
    matches,
    parse_pattern,
    test_event_pattern,
)
from berth.services.logs import epoch_ms, parse_group_arn
from berth.services.logs_errors import EventBusNotFound, EventsValidation, RuleNotFound
from berth.storage.logs_ports import LogStore, NewLogEvent, RuleRecord, RuleStore, TargetRecord

log = logging.getLogger(__name__)

DEFAULT_BUS = "default"
ENABLED, DISABLED = "ENABLED", "DISABLED"
CLOUDTRAIL_STATE = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
# EventBridge's quota of targets per rule.
MAX_TARGETS = 5
LIST_LIMIT = 100
_ARN = re.compile(r"arn:[\d\w:\-/]*")
_BUS_ARN = re.compile(r"arn:aws[\w-]*:events:([a-z0-9-]+):([0-9]{12}):event-bus/(.+)")
# Target members that would change what is delivered, which Berth does not do.
_TRANSFORMS = ("Input", "InputPath", "InputTransformer")
_INVALID_TOKEN = "The NextToken provided is invalid."


def _utcnow() -> datetime:
    return datetime.now(UTC)


def rule_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:rule/{name}"


@dataclass(frozen=True, slots=True)
class FailedEntry:
    """One target PutTargets or RemoveTargets did not apply, as its FailedEntries lists it."""

    target_id: str
    code: str
    message: str


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Pattern | None:
    try:
        return parse_pattern(text)
    except InvalidEventPattern:
        return None  # validated on PutRule; never let a stored one break delivery


def _event_millis(event: Mapping[str, Any], fallback: int) -> int:
    value = event.get("time")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return max(epoch_ms(parsed), 0)
    return fallback


def _token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(after).encode()).decode()


def _after(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        raise EventsValidation(_INVALID_TOKEN) from None
    if not isinstance(after, str):
        raise EventsValidation(_INVALID_TOKEN)
    return after


class EventBus:
    def __init__(
        self, rules: RuleStore, logs: LogStore, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._rules = rules
        self._logs = logs
        self._clock = clock

    # the rules API

    @staticmethod
    def check_bus(account_id: str, region: str, name: str | None) -> None:
        """Only the default bus exists, by name or by ARN."""
        if name is None or name == DEFAULT_BUS:
            return
        found = _BUS_ARN.fullmatch(name)
        if found and (found[1], found[2], found[3]) == (region, account_id, DEFAULT_BUS):
            return
        raise EventBusNotFound(found[3] if found else name)

    async def put_rule(
        self,
        account_id: str,
        region: str,
        name: str,
        *,
        event_pattern: str | None = None,
        schedule_expression: str | None = None,
        state: str | None = None,
        description: str | None = None,
        role_arn: str | None = None,
        tags: Mapping[str, str] | None = None,
        event_bus: str | None = None,
    ) -> str:
        self.check_bus(account_id, region, event_bus)
        if schedule_expression is not None:
            raise EventsValidation(
                "Berth does not support scheduled rules: Parameter ScheduleExpression is not "
                "supported, give an EventPattern."
            )
        if event_pattern is None:
            raise EventsValidation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        if state == CLOUDTRAIL_STATE:
            raise EventsValidation(f"Berth does not support the rule state {CLOUDTRAIL_STATE}.")
        parse_pattern(event_pattern)
        await self._rules.put_rule(
            RuleRecord(
                account_id=account_id,
                region=region,
                name=name,
                event_pattern=event_pattern,
                state=state or ENABLED,
                description=description,
                role_arn=role_arn,
                created_at=self._clock(),
            ),
            tags,
        )
        return rule_arn(region, account_id, name)

    async def describe_rule(
        self, account_id: str, region: str, name: str, event_bus: str | None = None
    ) -> RuleRecord:
        self.check_bus(account_id, region, event_bus)
        found = await self._rules.get_rule(account_id, region, name)
        if found is None:
            raise RuleNotFound(name)
        return found

    async def list_rules(
        self,
        account_id: str,
        region: str,
        *,
        prefix: str | None = None,
        token: str | None = None,
        limit: int | None = None,
        event_bus: str | None = None,
    ) -> tuple[list[RuleRecord], str | None]:
        self.check_bus(account_id, region, event_bus)
        size = limit or LIST_LIMIT
        found = await self._rules.list_rules(account_id, region, prefix, _after(token), size + 1)
        more = len(found) > size
        found = found[:size]
        return found, _token(found[-1].name) if more else None

    async def delete_rule(
        self, account_id: str, region: str, name: str, event_bus: str | None = None
    ) -> None:
        """Refused while the rule has targets; a rule that does not exist is no error."""
        self.check_bus(account_id, region, event_bus)
        await self._rules.delete_rule(account_id, region, name)

    async def set_state(
        self, account_id: str, region: str, name: str, state: str, event_bus: str | None = None
    ) -> None:
        self.check_bus(account_id, region, event_bus)
        if not await self._rules.set_state(account_id, region, name, state):
            raise RuleNotFound(name)

    def _target_problem(
        self, account_id: str, region: str, target: Mapping[str, Any]
    ) -> str | None:
        arn = target["Arn"]
        if _ARN.match(arn) is None:
            return f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
        parsed = parse_group_arn(arn)
        if parsed is None:
            return (
                f"Parameter {arn} is not valid. Reason: Berth delivers only to CloudWatch Logs "
                "log groups (arn:aws:logs:<region>:<account>:log-group:<name>)."
            )
        if parsed[:2] != (region, account_id):
            return (
                f"Parameter {arn} is not valid. Reason: the log group must be in the rule's "
                f"account ({account_id}) and region ({region})."
            )
        given = [name for name in _TRANSFORMS if target.get(name) is not None]
        if given:
            return (
                f"Parameter(s) {', '.join(given)} not supported: Berth delivers the whole event "
                "to CloudWatch Logs."
            )
        return None

    async def put_targets(
        self,
        account_id: str,
        region: str,
        rule: str,
        targets: Sequence[Mapping[str, Any]],
        event_bus: str | None = None,
    ) -> list[FailedEntry]:
        """Store the log group targets; every other kind of target is a failed entry."""
        self.check_bus(account_id, region, event_bus)
        failed: list[FailedEntry] = []
        accepted: dict[str, TargetRecord] = {}
        for target in targets:
            problem = self._target_problem(account_id, region, target)
            if problem is not None:
                failed.append(FailedEntry(target["Id"], "ValidationException", problem))
            else:
                accepted[target["Id"]] = TargetRecord(target["Id"], target["Arn"], dict(target))
        if accepted or not failed:
            await self._rules.put_targets(
                account_id, region, rule, list(accepted.values()), MAX_TARGETS
            )
        elif await self._rules.get_rule(account_id, region, rule) is None:
            raise RuleNotFound(rule)
        return failed

    async def remove_targets(
        self,
        account_id: str,
        region: str,
        rule: str,
        ids: Sequence[str],
        event_bus: str | None = None,
    ) -> list[FailedEntry]:
        self.check_bus(account_id, region, event_bus)
        missing = await self._rules.remove_targets(account_id, region, rule, ids)
        return [
            FailedEntry(
                target_id,
                "ResourceNotFoundException",
                f"Rule '{rule}' does not have a target with the Id '{target_id}'.",
            )
            for target_id in missing
        ]

    async def list_targets(
        self,
        account_id: str,
        region: str,
        rule: str,
        *,
        token: str | None = None,
        limit: int | None = None,
        event_bus: str | None = None,
    ) -> tuple[list[TargetRecord], str | None]:
        self.check_bus(account_id, region, event_bus)
        size = limit or LIST_LIMIT
        found = await self._rules.list_targets(account_id, region, rule, _after(token), size + 1)
        more = len(found) > size
        found = found[:size]
        return found, _token(found[-1].id) if more else None

    @staticmethod
    def test_event_pattern(pattern: str, event: str) -> bool:
        return test_event_pattern(pattern, event)

    # the bus

    async def deliver(self, body: str) -> None:
        """`publish` for a delivery target that hands over the event's JSON text (the outbox's
        `berth.services.events.Deliver`)."""
        event = json.loads(body)
        if not isinstance(event, dict):
            raise ValueError("an event to publish is a JSON object")
        await self.publish(event)

    async def publish(self, event: Mapping[str, Any]) -> None:
        """Deliver one event to the log groups of the ENABLED rules it matches. Idempotent per
        (log group, event id): delivering the same event again stores nothing more. Raises
        ValueError for an event without `id`, `account` or `region`; database errors propagate,
        so that the caller retries."""
        event_id, account_id, region = event.get("id"), event.get("account"), event.get("region")
        if not (isinstance(event_id, str) and event_id):
            raise ValueError("an event to publish needs an `id`")
        if not (isinstance(account_id, str) and isinstance(region, str)):
            raise ValueError("an event to publish needs its `account` and `region`")
        routes = await self._rules.routes(account_id, region)
        if not routes:
            return
        now = epoch_ms(self._clock())
        message = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        record = NewLogEvent(_event_millis(event, now), message)
        done: set[tuple[str, str, str]] = set()
        for rule, targets in routes:
            pattern = _compiled(rule.event_pattern) if rule.event_pattern else None
            if pattern is None or not matches(pattern, event):
                continue
            for target in targets:
                group = parse_group_arn(target.arn)
                if group is None or group in done:
                    continue
                done.add(group)
                group_region, group_account, group_name = group
                outcome = await self._logs.deliver(
                    group_account,
                    group_region,
                    group_name,
                    rule.name,
                    event_id,
                    record,
                    now,
                )
                if outcome == "no-group":
                    log.warning(
                        "rule %s: log group %s does not exist; event %s not delivered to it",
                        rule.name,
                        group_name,
                        event_id,
                    )
