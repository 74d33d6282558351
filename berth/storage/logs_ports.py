"""The interfaces the CloudWatch Logs and EventBridge services depend on (issue 7).

Kept apart from `berth.storage.ports` so that they can grow without touching the registry's.
Times of the Logs API are epoch milliseconds, as it speaks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol


@dataclass(frozen=True, slots=True)
class LogGroupRecord:
    id: int
    account_id: str
    region: str
    name: str
    created_at: int
    retention_in_days: int | None
    kms_key_id: str | None
    log_group_class: str
    stored_bytes: int = 0


@dataclass(frozen=True, slots=True)
class LogStreamRecord:
    id: int
    name: str
    created_at: int
    first_event_at: int | None
    last_event_at: int | None
    last_ingestion_at: int | None
    stored_bytes: int
    sequence: int


@dataclass(frozen=True, slots=True)
class LogEventRecord:
    id: int
    stream: str
    timestamp: int
    ingestion_time: int
    message: str


@dataclass(frozen=True, slots=True)
class NewLogEvent:
    timestamp: int
    message: str


# Where a listing of events stands: (timestamp, event id). Events sort by both.
Position = tuple[int, int]
# Where a listing of streams stands: (sort key, stream name); the key is the last event time
# (-1 for none) when listing by LastEventTime, else 0.
StreamPosition = tuple[int, str]
Delivery = Literal["stored", "duplicate", "no-group"]


@dataclass(frozen=True, slots=True)
class GroupQuery:
    prefix: str | None = None
    # Case-insensitive substring (DescribeLogGroups' logGroupNamePattern).
    contains: str | None = None
    log_group_class: str | None = None


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events of a group: of one stream (`stream_id`), of the streams named, or of those
    whose name starts with `stream_prefix`; from `start` (inclusive) to `end` (exclusive)."""

    start: int | None = None
    end: int | None = None
    stream_id: int | None = None
    stream_names: Sequence[str] | None = None
    stream_prefix: str | None = None


class LogStore(Protocol):
    async def create_group(
        self,
        account_id: str,
        region: str,
        name: str,
        *,
        created_at: int,
        kms_key_id: str | None,
        log_group_class: str,
        tags: Mapping[str, str] | None,
    ) -> None:
        """Raises LogGroupAlreadyExists."""

    async def get_group(self, account_id: str, region: str, name: str) -> LogGroupRecord | None: ...

    async def list_groups(
        self, account_id: str, region: str, query: GroupQuery, after: str | None, limit: int
    ) -> list[LogGroupRecord]: ...

    async def delete_group(self, account_id: str, region: str, name: str) -> bool: ...

    async def set_retention(
        self, account_id: str, region: str, name: str, days: int | None
    ) -> bool: ...

    async def create_stream(self, group_id: int, name: str, created_at: int) -> bool:
        """False when the group has a stream of that name already."""

    async def get_stream(self, group_id: int, name: str) -> LogStreamRecord | None: ...

    async def list_streams(
        self,
        group_id: int,
        *,
        prefix: str | None,
        by_last_event: bool,
        descending: bool,
        after: StreamPosition | None,
        limit: int,
    ) -> list[tuple[StreamPosition, LogStreamRecord]]: ...

    async def delete_stream(self, group_id: int, name: str) -> bool: ...

    async def append(
        self, group_id: int, stream: str, events: Sequence[NewLogEvent], ingestion_time: int
    ) -> int | None:
        """Store `events` in the stream; the stream's new sequence number, None when the
        stream (or its group) no longer exists."""

    async def read(
        self,
        group_id: int,
        query: EventQuery,
        *,
        after: Position | None,
        before: Position | None,
        limit: int,
        backwards: bool,
    ) -> list[LogEventRecord]:
        """Up to `limit` events strictly between `after` and `before`, ascending; with
        `backwards`, the last `limit` of them (still returned ascending)."""

    async def deliver(
        self,
        account_id: str,
        region: str,
        group: str,
        stream: str,
        key: str,
        event: NewLogEvent,
        ingestion_time: int,
    ) -> Delivery:
        """Store one event under a key unique in its group (created the stream if need be)."""

    async def prune(self, now: int) -> int:
        """Delete events older than their group's retention; how many went."""


@dataclass(frozen=True, slots=True)
class RuleRecord:
    account_id: str
    region: str
    name: str
    event_pattern: str | None
    state: str
    description: str | None
    role_arn: str | None
    created_at: datetime
    event_bus: str = "default"


@dataclass(frozen=True, slots=True)
class TargetRecord:
    id: str
    arn: str
    spec: dict[str, Any]  # the Target as put, for ListTargetsByRule


class RuleStore(Protocol):
    async def put_rule(self, rule: RuleRecord, tags: Mapping[str, str] | None) -> None:
        """Create or replace the rule (its targets stay; tags only count on creation)."""

    async def get_rule(self, account_id: str, region: str, name: str) -> RuleRecord | None: ...

    async def list_rules(
        self, account_id: str, region: str, prefix: str | None, after: str | None, limit: int
    ) -> list[RuleRecord]: ...

    async def set_state(self, account_id: str, region: str, name: str, state: str) -> bool: ...

    async def delete_rule(self, account_id: str, region: str, name: str) -> None:
        """Raises RuleHasTargets; a rule that does not exist is no error."""

    async def put_targets(
        self,
        account_id: str,
        region: str,
        rule: str,
        targets: Sequence[TargetRecord],
        max_targets: int,
    ) -> None:
        """Raises RuleNotFound, or TooManyTargets when the rule would have more than
        `max_targets`."""

    async def remove_targets(
        self, account_id: str, region: str, rule: str, ids: Sequence[str]
    ) -> list[str]:
        """The ids the rule did not have. Raises RuleNotFound."""

    async def list_targets(
        self, account_id: str, region: str, rule: str, after: str | None, limit: int
    ) -> list[TargetRecord]:
        """Raises RuleNotFound."""

    async def routes(
        self, account_id: str, region: str
    ) -> list[tuple[RuleRecord, list[TargetRecord]]]:
        """The ENABLED rules of the default bus that have targets, with them."""
