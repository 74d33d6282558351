"""The bus end to end: rules made with the aws CLI route Berth's ECR events into CloudWatch Logs,
where `aws logs filter-log-events` shows them; delivery is idempotent per event and log group."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from berth.config import Settings
from berth.domain.events import image_action_event, image_scan_event
from tests.api.logs_helpers import ACCOUNT, BusServer, aws, aws_env, bus_server, client

GROUP = "/aws/ecr/repository"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"
ECR_PATTERN = '{"source":["aws.ecr"],"detail-type":["ECR Image Action"]}'


@pytest.fixture
def server(settings: Settings) -> Iterator[BusServer]:
    with bus_server(settings) as running:
        yield running


def push_event(
    *,
    repository: str = "my-application",
    tag: str | None = "latest",
    action: str = "PUSH",
    account: str = ACCOUNT,
    region: str = "us-east-1",
    event_id: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    return image_action_event(
        action=action,  # type: ignore[arg-type]
        result="SUCCESS",
        repository=repository,
        digest="sha256:" + "ab" * 32,
        tag=tag,
        account=account,
        region=region,
        now=when or datetime.now(UTC).replace(microsecond=0),
        event_id=event_id or str(uuid.uuid4()),
    )


def logged(server: BusServer, group: str = GROUP, **kwargs: Any) -> list[dict[str, Any]]:
    logs = client("logs", server.url)
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, **kwargs)
    return [event for page in pages for event in page["events"]]


def routed(server: BusServer, *groups: str, pattern: str = ECR_PATTERN, rule: str = "ecr") -> None:
    logs, events = client("logs", server.url), client("events", server.url)
    for group in groups:
        logs.create_log_group(logGroupName=group)
    events.put_rule(Name=rule, EventPattern=pattern)
    if not groups:
        return
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": f"t{i}", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"}
            for i, group in enumerate(groups)
        ],
    )


def test_ecr_events_reach_the_guides_log_group(tmp_path: Path, server: BusServer) -> None:
    env = aws_env(tmp_path, server.url)
    # The guide's section 6.1, then a rule for ECR image actions into the group.
    aws(env, "logs", "create-log-group", "--log-group-name", GROUP)
    aws(
        env, "logs", "create-log-stream", "--log-group-name", GROUP,
        "--log-stream-name", "repository-events",
    )  # fmt: skip
    rule = aws(env, "events", "put-rule", "--name", "ecr-image-actions", "--event-pattern",
               ECR_PATTERN)  # fmt: skip
    assert rule["RuleArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/ecr-image-actions"
    targets = aws(
        env, "events", "put-targets", "--rule", "ecr-image-actions",
        "--targets", f"Id=logs,Arn={GROUP_ARN}",
    )  # fmt: skip
    assert targets == {"FailedEntryCount": 0, "FailedEntries": []}
    listed = aws(env, "events", "list-targets-by-rule", "--rule", "ecr-image-actions")
    assert listed["Targets"] == [{"Id": "logs", "Arn": GROUP_ARN}]

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    pushed = push_event(when=datetime.now(UTC).replace(microsecond=0))
    old = push_event(repository="older", when=when)
    scan = image_scan_event(
        scan_status="COMPLETE",
        repository="my-application",
        digest="sha256:" + "ab" * 32,
        tags=["latest"],
        finding_counts={"HIGH": 1},
        account=ACCOUNT,
        region="us-east-1",
        now=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
    )
    server.run(server.bus.publish(pushed))
    server.run(server.bus.publish(scan))  # another detail-type: not routed
    server.run(server.bus.publish(pushed))  # at least once upstream: stored once
    server.run(server.bus.deliver(json.dumps(pushed)))
    server.run(server.bus.publish(old))

    found = aws(env, "logs", "filter-log-events", "--log-group-name", GROUP)["events"]
    assert [json.loads(e["message"]) for e in found] == [old, pushed]
    delivered = found[1]
    assert delivered["logStreamName"] == "ecr-image-actions"
    assert delivered["timestamp"] == int(datetime.fromisoformat(pushed["time"]).timestamp() * 1000)
    assert found[0]["timestamp"] == int(when.timestamp() * 1000)
    # The message is the event's compact JSON, as EventBridge writes it.
    assert delivered["message"] == json.dumps(pushed, separators=(",", ":"))
    # What the guide's users would search for.
    matching = aws(
        env, "logs", "filter-log-events", "--log-group-name", GROUP,
        "--filter-pattern", '{ $.detail.repository-name = "my-application" }',
    )["events"]  # fmt: skip
    assert [json.loads(e["message"])["id"] for e in matching] == [pushed["id"]]
    streams = aws(env, "logs", "describe-log-streams", "--log-group-name", GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["ecr-image-actions", "repository-events"]


def test_only_matching_enabled_rules_of_the_events_account_and_region(server: BusServer) -> None:
    routed(server, GROUP, pattern='{"source":["aws.ecr"],"detail":{"action-type":["PUSH"]}}')
    events = client("events", server.url)
    delete = push_event(action="DELETE")
    elsewhere = push_event(region="eu-west-1")
    other_account = push_event(account="111111111111")
    for event in (delete, elsewhere, other_account):
        server.run(server.bus.publish(event))
    assert logged(server) == []

    events.disable_rule(Name="ecr")
    disabled = push_event()
    server.run(server.bus.publish(disabled))
    assert logged(server) == []
    events.enable_rule(Name="ecr")
    enabled = push_event()
    server.run(server.bus.publish(enabled))
    # A retry of the event delivered while the rule was disabled goes through now.
    server.run(server.bus.publish(disabled))
    assert {json.loads(e["message"])["id"] for e in logged(server)} == {
        enabled["id"],
        disabled["id"],
    }


def test_every_log_group_target_gets_it_once(server: BusServer) -> None:
    routed(server, GROUP, "/second")
    # A second rule into the same group: the event is stored there once.
    routed(server, pattern='{"source":["aws.ecr"]}', rule="all-ecr")
    client("events", server.url).put_targets(
        Rule="all-ecr", Targets=[{"Id": "logs", "Arn": GROUP_ARN}]
    )
    event = push_event()
    server.run(server.bus.publish(event))
    server.run(server.bus.publish(event))
    first, second = logged(server), logged(server, "/second")
    assert [json.loads(e["message"]) for e in first] == [event]
    assert [json.loads(e["message"]) for e in second] == [event]
    # In the stream of the first rule by name.
    assert first[0]["logStreamName"] == "all-ecr"
    assert second[0]["logStreamName"] == "ecr"


def test_a_missing_log_group_is_skipped_with_a_warning(
    server: BusServer, caplog: pytest.LogCaptureFixture
) -> None:
    routed(server, GROUP)
    client("events", server.url).put_targets(
        Rule="ecr",
        Targets=[{"Id": "gone", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/gone"}],
    )
    event = push_event()
    with caplog.at_level(logging.WARNING, logger="berth.services.eventbus"):
        server.run(server.bus.publish(event))
    assert [json.loads(e["message"]) for e in logged(server)] == [event]
    assert any("/gone does not exist" in r.getMessage() for r in caplog.records)
    # Once the group exists, the same event is delivered there too.
    client("logs", server.url).create_log_group(logGroupName="/gone")
    server.run(server.bus.publish(event))
    assert [json.loads(e["message"]) for e in logged(server, "/gone")] == [event]
    assert len(logged(server)) == 1


def test_events_without_identity_are_refused(server: BusServer) -> None:
    event = push_event()
    del event["id"]
    with pytest.raises(ValueError):
        server.run(server.bus.publish(event))
    with pytest.raises(ValueError):
        server.run(server.bus.deliver("[]"))


def test_no_rules_no_work(server: BusServer) -> None:
    server.run(server.bus.publish(push_event()))
    assert client("logs", server.url).describe_log_groups()["logGroups"] == []
