"""CloudWatch Logs, the subset the ECR guide's section 6.1 and EventBridge deliveries need:
log groups with retention, streams, PutLogEvents with AWS's acceptance rules, GetLogEvents'
forward and backward tokens, FilterLogEvents with filter patterns.

Times are epoch milliseconds throughout, as the API speaks them.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from berth.domain.log_filters import matches, parse_filter
from berth.services.logs_errors import (
    InvalidLogsParameter,
    LogGroupNotFound,
    LogStreamAlreadyExists,
    LogStreamNotFound,
)
from berth.storage.logs_ports import (
    EventQuery,
    GroupQuery,
    LogEventRecord,
    LogGroupRecord,
    LogStore,
    LogStreamRecord,
    NewLogEvent,
    Position,
    StreamPosition,
)

log = logging.getLogger(__name__)

# PutRetentionPolicy's allowed values (the API documents exactly these).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# PutLogEvents: an event more than 14 days old or 2 hours ahead is rejected (reported in
# rejectedLogEventsInfo, the rest stored); a batch spans at most 24 hours and 1 MiB, counting
# 26 bytes per event besides its UTF-8 message.
MAX_AGE_MS = 14 * DAY_MS
MAX_AHEAD_MS = 2 * HOUR_MS
MAX_SPAN_MS = DAY_MS
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
# GetLogEvents/FilterLogEvents answer at most 10,000 events and 1 MiB.
MAX_EVENTS = 10_000
MAX_RESPONSE_BYTES = 1_048_576
DESCRIBE_LIMIT = 50
# FilterLogEvents reads at most this many events per call; with more to search it answers
# what it found and a nextToken (CloudWatch too may answer an empty page with a token).
FILTER_SCAN_BUDGET = 100_000
_FILTER_CHUNK = 1_000
# How often the background job deletes events past their group's retention, in seconds.
RETENTION_INTERVAL = 3_600.0
RESERVED_PREFIX = "aws/"
_FORWARD, _BACKWARD = "f", "b"
_STREAM_TOKEN = re.compile(r"([fb])/([0-9]{20})([0-9]{36})")
_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:([a-z0-9-]+):([0-9]{12}):log-group:([^:]+)(?::\*)?")
_INVALID_TOKEN = "The specified nextToken is invalid."


def _utcnow() -> datetime:
    return datetime.now(UTC)


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def group_arn(region: str, account_id: str, name: str) -> str:
    """A log group's ARN as `logGroupArn` gives it; DescribeLogGroups' `arn` adds `:*`."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def stream_arn(region: str, account_id: str, group: str, stream: str) -> str:
    return f"{group_arn(region, account_id, group)}:log-stream:{stream}"


def parse_group_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of `arn:aws:logs:<region>:<account>:log-group:<name>[:*]`."""
    found = _GROUP_ARN.fullmatch(arn)
    return (found[1], found[2], found[3]) if found else None


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A log group as a request names it: by name, or by ARN (logGroupIdentifier)."""

    account_id: str
    region: str
    name: str


def group_ref(
    account_id: str, region: str, name: str | None, identifier: str | None = None
) -> GroupRef:
    if name is not None and identifier is not None:
        raise InvalidLogsParameter(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters."
        )
    if name is not None:
        return GroupRef(account_id, region, name)
    if identifier is None:
        raise InvalidLogsParameter("Either logGroupName or logGroupIdentifier must be specified.")
    parsed = parse_group_arn(identifier)
    if parsed is None:
        # Not an ARN: a name, as the identifier may also be.
        return GroupRef(account_id, region, identifier)
    arn_region, arn_account, arn_name = parsed
    return GroupRef(arn_account, arn_region, arn_name)


@dataclass(frozen=True, slots=True)
class PutResult:
    sequence: int
    too_new_start: int | None = None
    too_old_end: int | None = None
    expired_end: int | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[LogEventRecord]
    forward: str
    backward: str


# tokens


def _encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def _decode(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError):
        raise InvalidLogsParameter(_INVALID_TOKEN) from None


def _decode_position(token: str) -> Position:
    value = _decode(token)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    ):
        return value[0], value[1]
    raise InvalidLogsParameter(_INVALID_TOKEN)


def _decode_name(token: str) -> str:
    value = _decode(token)
    if isinstance(value, str):
        return value
    raise InvalidLogsParameter(_INVALID_TOKEN)


def _decode_stream_position(token: str) -> StreamPosition:
    value = _decode(token)
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], str)
    ):
        return value[0], value[1]
    raise InvalidLogsParameter(_INVALID_TOKEN)


def event_id(event: LogEventRecord) -> str:
    """FilterLogEvents' `eventId`: 56 digits, like CloudWatch's, that also sort as the events
    do."""
    return f"{event.timestamp:020d}{event.id:036d}"


def _stream_token(direction: str, position: Position) -> str:
    """GetLogEvents' tokens, shaped like CloudWatch's `f/<56 digits>` and `b/<56 digits>`."""
    return f"{direction}/{position[0]:020d}{position[1]:036d}"


def _parse_stream_token(token: str) -> tuple[str, Position]:
    found = _STREAM_TOKEN.fullmatch(token)
    if found is None:
        raise InvalidLogsParameter(_INVALID_TOKEN)
    return found[1], (int(found[2]), int(found[3]))


def _size(message: str) -> int:
    return len(message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD


def _within(events: list[LogEventRecord], limit: int, *, keep_last: bool) -> list[LogEventRecord]:
    """At most `limit` events and MAX_RESPONSE_BYTES, from the start (or the end)."""
    ordered = list(reversed(events)) if keep_last else events
    kept: list[LogEventRecord] = []
    total = 0
    for event in ordered[:limit]:
        total += _size(event.message)
        if kept and total > MAX_RESPONSE_BYTES:
            break
        kept.append(event)
    return list(reversed(kept)) if keep_last else kept


class LogsService:
    def __init__(self, store: LogStore, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._store = store
        self._clock = clock

    def now(self) -> int:
        return epoch_ms(self._clock())

    async def group(self, ref: GroupRef) -> LogGroupRecord:
        found = await self._store.get_group(ref.account_id, ref.region, ref.name)
        if found is None:
            raise LogGroupNotFound()
        return found

    # log groups

    async def create_log_group(
        self,
        ref: GroupRef,
        *,
        kms_key_id: str | None = None,
        log_group_class: str = "STANDARD",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if ref.name.lower().startswith(RESERVED_PREFIX):
            raise InvalidLogsParameter("Log groups starting with AWS/ are reserved for AWS.")
        await self._store.create_group(
            ref.account_id,
            ref.region,
            ref.name,
            created_at=self.now(),
            kms_key_id=kms_key_id,
            log_group_class=log_group_class,
            tags=tags,
        )

    async def describe_log_groups(
        self,
        account_id: str,
        region: str,
        *,
        prefix: str | None = None,
        pattern: str | None = None,
        log_group_class: str | None = None,
        token: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[LogGroupRecord], str | None]:
        if prefix is not None and pattern is not None:
            raise InvalidLogsParameter(
                "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters."
            )
        size = limit or DESCRIBE_LIMIT
        after = _decode_name(token) if token is not None else None
        query = GroupQuery(prefix=prefix, contains=pattern or None, log_group_class=log_group_class)
        found = await self._store.list_groups(account_id, region, query, after, size + 1)
        more = len(found) > size
        found = found[:size]
        return found, _encode(found[-1].name) if more else None

    async def delete_log_group(self, ref: GroupRef) -> None:
        if not await self._store.delete_group(ref.account_id, ref.region, ref.name):
            raise LogGroupNotFound()

    async def put_retention_policy(self, ref: GroupRef, days: int) -> None:
        if days not in RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in RETENTION_DAYS)
            raise InvalidLogsParameter(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [{allowed}]"
            )
        if not await self._store.set_retention(ref.account_id, ref.region, ref.name, days):
            raise LogGroupNotFound()

    async def delete_retention_policy(self, ref: GroupRef) -> None:
        if not await self._store.set_retention(ref.account_id, ref.region, ref.name, None):
            raise LogGroupNotFound()

    # log streams

    async def create_log_stream(self, ref: GroupRef, stream: str) -> None:
        group = await self.group(ref)
        if not await self._store.create_stream(group.id, stream, self.now()):
            raise LogStreamAlreadyExists()

    async def delete_log_stream(self, ref: GroupRef, stream: str) -> None:
        group = await self.group(ref)
        if not await self._store.delete_stream(group.id, stream):
            raise LogStreamNotFound()

    async def describe_log_streams(
        self,
        ref: GroupRef,
        *,
        prefix: str | None = None,
        order_by: str = "LogStreamName",
        descending: bool = False,
        token: str | None = None,
        limit: int | None = None,
    ) -> tuple[LogGroupRecord, list[LogStreamRecord], str | None]:
        by_last_event = order_by == "LastEventTime"
        if by_last_event and prefix:
            raise InvalidLogsParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        group = await self.group(ref)
        size = limit or DESCRIBE_LIMIT
        after = _decode_stream_position(token) if token is not None else None
        found = await self._store.list_streams(
            group.id,
            prefix=prefix,
            by_last_event=by_last_event,
            descending=descending,
            after=after,
            limit=size + 1,
        )
        more = len(found) > size
        found = found[:size]
        next_token = _encode(list(found[-1][0])) if more else None
        return group, [stream for _, stream in found], next_token

    # log events

    async def put_log_events(
        self, ref: GroupRef, stream: str, events: Sequence[NewLogEvent]
    ) -> PutResult:
        size = sum(_size(event.message) for event in events)
        if size > MAX_BATCH_BYTES:
            raise InvalidLogsParameter(
                f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )
        for earlier, later in itertools.pairwise(events):
            if later.timestamp < earlier.timestamp:
                raise InvalidLogsParameter(
                    "Log events in a single PutLogEvents request must be in chronological order."
                )
        group = await self.group(ref)
        now = self.now()
        too_new: int | None = None
        too_old: int | None = None
        expired: int | None = None
        accepted: list[NewLogEvent] = []
        retention = group.retention_in_days
        for index, event in enumerate(events):
            if event.timestamp < now - MAX_AGE_MS:
                too_old = index
            elif retention is not None and event.timestamp < now - retention * DAY_MS:
                expired = index
            elif event.timestamp > now + MAX_AHEAD_MS:
                too_new = index if too_new is None else too_new
            else:
                accepted.append(event)
        # Checked on the events it would store: the ones rejected for their age are reported,
        # not refused with the whole batch.
        if accepted and accepted[-1].timestamp - accepted[0].timestamp > MAX_SPAN_MS:
            raise InvalidLogsParameter(
                "The batch of log events in a single PutLogEvents request cannot span more than "
                "24 hours."
            )
        sequence = await self._store.append(group.id, stream, accepted, now)
        if sequence is None:
            raise LogStreamNotFound()
        return PutResult(sequence, too_new, too_old, expired)

    async def get_log_events(
        self,
        ref: GroupRef,
        stream: str,
        *,
        start: int | None = None,
        end: int | None = None,
        token: str | None = None,
        limit: int | None = None,
        start_from_head: bool = False,
    ) -> EventPage:
        """GetLogEvents: `end` is exclusive. Without a token it reads from the head, or (the
        default) the newest events; a forward token reads on from the last event it answered,
        a backward token back from the first. At either end the token comes back unchanged."""
        group = await self.group(ref)
        found = await self._store.get_stream(group.id, stream)
        if found is None:
            raise LogStreamNotFound()
        size = min(limit or MAX_EVENTS, MAX_EVENTS)
        query = EventQuery(start=start, end=end, stream_id=found.id)
        direction, position = _parse_stream_token(token) if token is not None else (None, None)
        backwards = direction == _BACKWARD or (direction is None and not start_from_head)
        events = await self._store.read(
            group.id,
            query,
            after=position if direction == _FORWARD else None,
            before=position if direction == _BACKWARD else None,
            limit=size,
            backwards=backwards,
        )
        events = _within(events, size, keep_last=backwards)
        if events:
            first, last = events[0], events[-1]
            return EventPage(
                events,
                _stream_token(_FORWARD, (last.timestamp, last.id)),
                _stream_token(_BACKWARD, (first.timestamp, first.id)),
            )
        here = position if position is not None else (0, 0)
        return EventPage([], _stream_token(_FORWARD, here), _stream_token(_BACKWARD, here))

    async def filter_log_events(
        self,
        ref: GroupRef,
        *,
        stream_names: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        start: int | None = None,
        end: int | None = None,
        pattern: str | None = None,
        token: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[LogEventRecord], str | None]:
        """FilterLogEvents: events of the group (or of some streams) from `start` to `end`
        inclusive, that `pattern` matches, in time order."""
        if stream_names is not None and stream_prefix is not None:
            raise InvalidLogsParameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        compiled = parse_filter(pattern or "")
        group = await self.group(ref)
        size = min(limit or MAX_EVENTS, MAX_EVENTS)
        query = EventQuery(
            start=start,
            end=end + 1 if end is not None else None,
            stream_names=stream_names,
            stream_prefix=stream_prefix,
        )
        position = _decode_position(token) if token is not None else None
        found: list[LogEventRecord] = []
        total = 0
        scanned = 0
        while True:
            chunk = await self._store.read(
                group.id, query, after=position, before=None, limit=_FILTER_CHUNK, backwards=False
            )
            complete = len(chunk) < _FILTER_CHUNK
            for index, event in enumerate(chunk):
                scanned += 1
                position = (event.timestamp, event.id)
                if not matches(compiled, event.message):
                    continue
                total += _size(event.message)
                if found and total > MAX_RESPONSE_BYTES:
                    # Answer this one next time.
                    last = found[-1]
                    return found, _encode([last.timestamp, last.id])
                found.append(event)
                if len(found) == size:
                    if complete and index == len(chunk) - 1:
                        return found, None
                    return found, _encode([event.timestamp, event.id])
            if complete:
                return found, None
            if scanned >= FILTER_SCAN_BUDGET:
                assert position is not None
                return found, _encode(list(position))

    # retention

    async def prune(self) -> int:
        """Delete the events older than their group's retention; how many went."""
        return await self._store.prune(self.now())

    async def run_retention(self, interval: float = RETENTION_INTERVAL) -> None:
        """Prune every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                removed = await self.prune()
            except Exception:
                log.exception("log retention failed; will retry")
            else:
                if removed:
                    log.info("log retention deleted %d events", removed)
