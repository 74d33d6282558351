"""CloudWatch Logs and the bus as services on a real database, with a clock the tests move:
retention, PutLogEvents' age rules, response size limits, FilterLogEvents' scan budget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from berth.services import logs as logs_module
from berth.services.eventbus import EventBus
from berth.services.logs import DAY_MS, GroupRef, LogsService, epoch_ms
from berth.services.logs_errors import (
    InvalidLogsParameter,
    LogGroupAlreadyExists,
    LogGroupNotFound,
)
from berth.storage.logs_ports import NewLogEvent
from berth.storage.metadata import migrate
from berth.storage.metadata.logs import SqlLogStore, successor
from berth.storage.metadata.rules import SqlRuleStore
from berth.storage.metadata.store import SqlMetadataStore

T = TypeVar("T")
REF = GroupRef("000000000000", "us-east-1", "/app")
START = datetime(2026, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


Scenario = Callable[[LogsService, Clock, SqlLogStore, SqlRuleStore], Awaitable[T]]


def run(database_url: str, scenario: Scenario[T]) -> T:
    async def main() -> T:
        await asyncio.to_thread(migrate.upgrade, database_url)
        metadata = SqlMetadataStore(database_url)
        try:
            clock = Clock()
            store = SqlLogStore(metadata)
            return await scenario(
                LogsService(store, clock=clock), clock, store, SqlRuleStore(metadata)
            )
        finally:
            await metadata.close()

    return asyncio.run(main())


def test_retention_prunes_old_events(database_url: str) -> None:
    async def scenario(
        logs: LogsService, clock: Clock, store: SqlLogStore, _: SqlRuleStore
    ) -> None:
        kept_forever = GroupRef(REF.account_id, REF.region, "/forever")
        for ref in (REF, kept_forever):
            await logs.create_log_group(ref)
            await logs.create_log_stream(ref, "s")
            now = logs.now()
            await logs.put_log_events(ref, "s", [NewLogEvent(now - 2 * DAY_MS, "old")])
            await logs.put_log_events(ref, "s", [NewLogEvent(now, "new")])
        await logs.put_retention_policy(REF, 1)
        assert await logs.prune() == 1
        remaining, _ = await logs.filter_log_events(REF)
        assert [e.message for e in remaining] == ["new"]
        forever, _ = await logs.filter_log_events(kept_forever)
        assert [e.message for e in forever] == ["old", "new"]
        # A day later the rest goes too; nothing is left to prune after.
        clock.now += timedelta(days=1, seconds=1)
        assert await logs.prune() == 1
        assert await logs.prune() == 0
        assert (await logs.filter_log_events(REF))[0] == []

    run(database_url, scenario)


def test_put_log_events_judges_age_by_the_clock(database_url: str) -> None:
    async def scenario(logs: LogsService, clock: Clock, _: SqlLogStore, __: SqlRuleStore) -> None:
        await logs.create_log_group(REF)
        await logs.create_log_stream(REF, "s")
        now = epoch_ms(START)
        old = await logs.put_log_events(
            REF,
            "s",
            [
                NewLogEvent(now - 14 * DAY_MS - 1, "too old"),
                NewLogEvent(now - 14 * DAY_MS, "oldest accepted"),
            ],
        )
        assert (old.too_old_end, old.too_new_start, old.expired_end) == (0, None, None)
        new = await logs.put_log_events(
            REF,
            "s",
            [
                NewLogEvent(now + 2 * 3_600_000, "newest accepted"),
                NewLogEvent(now + 2 * 3_600_000 + 1, "too new"),
            ],
        )
        assert (new.too_old_end, new.too_new_start, new.expired_end) == (None, 1, None)
        page = await logs.get_log_events(REF, "s", start_from_head=True)
        assert [e.message for e in page.events] == ["oldest accepted", "newest accepted"]
        assert all(e.ingestion_time == now for e in page.events)
        # Accepted events older than the span allow are refused with the batch.
        with pytest.raises(InvalidLogsParameter):
            await logs.put_log_events(
                REF, "s", [NewLogEvent(now - DAY_MS - 1, "a"), NewLogEvent(now, "b")]
            )

    run(database_url, scenario)


def test_group_errors(database_url: str) -> None:
    async def scenario(logs: LogsService, _: Clock, __: SqlLogStore, ___: SqlRuleStore) -> None:
        await logs.create_log_group(REF)
        with pytest.raises(LogGroupAlreadyExists):
            await logs.create_log_group(REF)
        with pytest.raises(LogGroupNotFound):
            await logs.create_log_stream(GroupRef(REF.account_id, "eu-west-1", REF.name), "s")
        with pytest.raises(LogGroupNotFound):
            await logs.describe_log_streams(GroupRef("111111111111", REF.region, REF.name))

    run(database_url, scenario)


def test_responses_stop_at_one_mebibyte(database_url: str) -> None:
    async def scenario(logs: LogsService, _: Clock, __: SqlLogStore, ___: SqlRuleStore) -> None:
        await logs.create_log_group(REF)
        await logs.create_log_stream(REF, "s")
        now = logs.now()
        big = "x" * 300_000
        for i in range(5):
            await logs.put_log_events(REF, "s", [NewLogEvent(now + i, f"{i}{big}")])
        head = await logs.get_log_events(REF, "s", start_from_head=True)
        assert [e.message[0] for e in head.events] == ["0", "1", "2"]
        rest = await logs.get_log_events(REF, "s", token=head.forward)
        assert [e.message[0] for e in rest.events] == ["3", "4"]
        tail = await logs.get_log_events(REF, "s")
        assert [e.message[0] for e in tail.events] == ["2", "3", "4"]
        first, token = await logs.filter_log_events(REF)
        assert [e.message[0] for e in first] == ["0", "1", "2"]
        second, token = await logs.filter_log_events(REF, token=token)
        assert [e.message[0] for e in second] == ["3", "4"]
        assert token is None

    run(database_url, scenario)


def test_filter_answers_within_its_scan_budget(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_module, "FILTER_SCAN_BUDGET", 10)
    monkeypatch.setattr(logs_module, "_FILTER_CHUNK", 4)

    async def scenario(logs: LogsService, _: Clock, __: SqlLogStore, ___: SqlRuleStore) -> None:
        await logs.create_log_group(REF)
        await logs.create_log_stream(REF, "s")
        now = logs.now()
        await logs.put_log_events(
            REF, "s", [NewLogEvent(now + i, "needle" if i == 25 else "hay") for i in range(30)]
        )
        pages: list[list[str]] = []
        token: str | None = None
        while True:
            found, token = await logs.filter_log_events(REF, pattern="needle", token=token)
            pages.append([e.message for e in found])
            if token is None:
                break
        # Empty pages with a token while there is more to search, as CloudWatch answers.
        assert pages == [[], [], ["needle"]]

    run(database_url, scenario)


def test_publish_needs_no_server(database_url: str) -> None:
    async def scenario(
        logs: LogsService, clock: Clock, store: SqlLogStore, rules: SqlRuleStore
    ) -> None:
        bus = EventBus(rules, store, clock=clock)
        await logs.create_log_group(REF)
        await bus.put_rule(REF.account_id, REF.region, "r", event_pattern='{"source":["berth"]}')
        await bus.put_targets(
            REF.account_id,
            REF.region,
            "r",
            [{"Id": "t", "Arn": f"arn:aws:logs:us-east-1:{REF.account_id}:log-group:/app"}],
        )
        event = {
            "version": "0",
            "id": "e-1",
            "detail-type": "Berth Lifecycle Policy Execution",
            "source": "berth",
            "account": REF.account_id,
            "time": "not a time",
            "region": REF.region,
            "resources": [],
            "detail": {"expired-image-count": 3},
        }
        await bus.publish(event)
        await bus.publish(event)
        found, _ = await logs.filter_log_events(REF, pattern="{ $.detail.expired-image-count = 3 }")
        assert [json.loads(e.message) for e in found] == [event]
        # An event time that is not one falls back to the delivery time.
        assert found[0].timestamp == epoch_ms(START)

    run(database_url, scenario)


def test_successor() -> None:
    assert successor("abc") == "abd"
    assert successor("a\U0010ffff") == "b"
    assert successor("\U0010ffff") is None
    assert successor("\ud7ff") == "\ue000"
