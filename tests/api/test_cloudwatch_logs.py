"""The CloudWatch Logs API through boto3 and the aws CLI: every operation, its errors, its
pagination and FilterLogEvents' patterns, on the real server."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.logs_helpers import ACCOUNT, aws, aws_env, client
from tests.conftest import RunningRegistry

GROUP = "/aws/ecr/repository"
DAY = 86_400_000

# The guide's section 6.1, verbatim (only the endpoint and the credentials come from the
# environment, as `aws configure` would have set them).
GUIDE_6_1 = """\
# CloudWatch 로그 그룹 생성
aws logs create-log-group --log-group-name /aws/ecr/repository

# 로그 스트림 생성
aws logs create-log-stream \\
    --log-group-name /aws/ecr/repository \\
    --log-stream-name repository-events
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.fixture
def logs(registry: RunningRegistry) -> Any:
    return client("logs", registry.url)


def put(logs: Any, stream: str, *events: tuple[int, str], group: str = GROUP) -> Any:
    return logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in events],
    )


# the guide


def test_guide_section_6_1_verbatim(tmp_path: Path, registry: RunningRegistry) -> None:
    env = aws_env(tmp_path, registry.url)
    result = subprocess.run(
        ["bash", "-euc", GUIDE_6_1], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    groups = aws(env, "logs", "describe-log-groups")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]
    streams = aws(env, "logs", "describe-log-streams", "--log-group-name", GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["repository-events"]
    assert streams[0]["arn"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}:log-stream:repository-events"
    )
    # Running it again fails as on AWS: the group exists.
    again = subprocess.run(
        ["bash", "-euc", GUIDE_6_1], capture_output=True, text=True, env=env, timeout=120
    )
    assert again.returncode != 0
    assert "(ResourceAlreadyExistsException)" in again.stderr
    assert "The specified log group already exists" in again.stderr


# log groups


def test_log_group_lifecycle(logs: Any) -> None:
    before = now_ms()
    logs.create_log_group(logGroupName=GROUP, tags={"team": "platform"})
    logs.create_log_group(
        logGroupName="other", kmsKeyId="alias/logs", logGroupClass="INFREQUENT_ACCESS"
    )
    groups = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP, "other"]
    first = groups[0]
    assert first["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}:*"
    assert first["logGroupArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"
    assert before <= first["creationTime"] <= now_ms()
    assert first["logGroupClass"] == "STANDARD"
    assert first["storedBytes"] == 0
    assert first["metricFilterCount"] == 0
    assert "retentionInDays" not in first
    assert groups[1]["kmsKeyId"] == "alias/logs"
    assert groups[1]["logGroupClass"] == "INFREQUENT_ACCESS"

    with pytest.raises(ClientError) as exists:
        logs.create_log_group(logGroupName=GROUP)
    assert error(exists) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
    )

    logs.delete_log_group(logGroupName=GROUP)
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["other"]
    with pytest.raises(ClientError) as missing:
        logs.delete_log_group(logGroupName=GROUP)
    assert error(missing) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_log_groups_are_per_region(registry: RunningRegistry) -> None:
    client("logs", registry.url).create_log_group(logGroupName=GROUP)
    elsewhere = client("logs", registry.url, region="eu-west-1")
    assert elsewhere.describe_log_groups()["logGroups"] == []
    elsewhere.create_log_group(logGroupName=GROUP)


def test_log_group_names_are_checked(logs: Any) -> None:
    with pytest.raises(ClientError) as bad:
        logs.create_log_group(logGroupName="bad name")
    assert error(bad) == (
        "InvalidParameterException",
        "1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
    )
    for reserved in ("aws/mine", "AWS/mine"):
        with pytest.raises(ClientError) as refused:
            logs.create_log_group(logGroupName=reserved)
        assert error(refused) == (
            "InvalidParameterException",
            "Log groups starting with AWS/ are reserved for AWS.",
        )
    with pytest.raises(ClientError) as too_many:
        logs.describe_log_groups(limit=51)
    assert error(too_many) == (
        "InvalidParameterException",
        "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 50",
    )


def test_describe_log_groups_filters_and_pages(logs: Any) -> None:
    names = ["/app/a", "/app/b", "/app/c", "/apple", "/b_x/one", "/bax/two", "/z/APP_logs"]
    for name in names:
        logs.create_log_group(logGroupName=name)

    def listed(**kwargs: Any) -> list[str]:
        return [g["logGroupName"] for g in logs.describe_log_groups(**kwargs)["logGroups"]]

    assert listed(logGroupNamePrefix="/app/") == ["/app/a", "/app/b", "/app/c"]
    assert listed(logGroupNamePrefix="/app") == ["/app/a", "/app/b", "/app/c", "/apple"]
    # A pattern is a case-insensitive substring, and `_` in it is no wildcard.
    assert listed(logGroupNamePattern="app") == [
        "/app/a", "/app/b", "/app/c", "/apple", "/z/APP_logs",
    ]  # fmt: skip
    assert listed(logGroupNamePattern="b_x") == ["/b_x/one"]
    with pytest.raises(ClientError) as both:
        logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="a")
    assert error(both)[0] == "InvalidParameterException"

    first = logs.describe_log_groups(limit=3)
    assert [g["logGroupName"] for g in first["logGroups"]] == names[:3]
    second = logs.describe_log_groups(limit=3, nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in second["logGroups"]] == names[3:6]
    third = logs.describe_log_groups(limit=3, nextToken=second["nextToken"])
    assert [g["logGroupName"] for g in third["logGroups"]] == names[6:]
    assert "nextToken" not in third
    paged = logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 2})
    assert [g["logGroupName"] for page in paged for g in page["logGroups"]] == names

    with pytest.raises(ClientError) as bad_token:
        logs.describe_log_groups(nextToken="not-a-token")
    assert error(bad_token) == ("InvalidParameterException", "The specified nextToken is invalid.")
    logs.create_log_group(logGroupName="/delivery", logGroupClass="DELIVERY")
    assert listed(logGroupClass="DELIVERY") == ["/delivery"]


def test_retention_policy(logs: Any) -> None:
    logs.create_log_group(logGroupName=GROUP)
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=30)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 30
    with pytest.raises(ClientError) as bad:
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=2)
    code, message = error(bad)
    assert code == "InvalidParameterException"
    assert message.startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30,"
    )
    logs.delete_retention_policy(logGroupName=GROUP)
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    for call in (
        lambda: logs.put_retention_policy(logGroupName="nope", retentionInDays=1),
        lambda: logs.delete_retention_policy(logGroupName="nope"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert error(missing)[0] == "ResourceNotFoundException"


# log streams


def test_log_streams(logs: Any) -> None:
    with pytest.raises(ClientError) as no_group:
        logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    assert error(no_group) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    logs.create_log_group(logGroupName=GROUP)
    for name in ("web/1", "web/2", "api/1", "api/2", "db"):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=name)
    with pytest.raises(ClientError) as exists:
        logs.create_log_stream(logGroupName=GROUP, logStreamName="db")
    assert error(exists) == (
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
    )

    def names(**kwargs: Any) -> list[str]:
        found = logs.describe_log_streams(logGroupName=GROUP, **kwargs)["logStreams"]
        return [s["logStreamName"] for s in found]

    assert names() == ["api/1", "api/2", "db", "web/1", "web/2"]
    assert names(descending=True) == ["web/2", "web/1", "db", "api/2", "api/1"]
    assert names(logStreamNamePrefix="web/") == ["web/1", "web/2"]
    assert names(logStreamNamePrefix="web/", descending=True) == ["web/2", "web/1"]

    now = now_ms()
    put(logs, "web/2", (now - 3000, "a"))
    put(logs, "api/1", (now - 2000, "b"))
    put(logs, "db", (now - 1000, "c"), (now - 500, "d"))
    # Streams without events come first.
    assert names(orderBy="LastEventTime") == ["api/2", "web/1", "web/2", "api/1", "db"]
    assert names(orderBy="LastEventTime", descending=True) == [
        "db", "api/1", "web/2", "web/1", "api/2",
    ]  # fmt: skip
    with pytest.raises(ClientError) as prefix_and_time:
        logs.describe_log_streams(
            logGroupName=GROUP, orderBy="LastEventTime", logStreamNamePrefix="web"
        )
    assert error(prefix_and_time) == (
        "InvalidParameterException",
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
    )

    stream = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="db")["logStreams"][
        0
    ]
    assert stream["firstEventTimestamp"] == now - 1000
    assert stream["lastEventTimestamp"] == now - 500
    assert stream["lastIngestionTime"] >= now - 500
    assert stream["storedBytes"] == 2

    for order in ("LogStreamName", "LastEventTime"):
        for descending in (False, True):
            paged = logs.get_paginator("describe_log_streams").paginate(
                logGroupName=GROUP,
                orderBy=order,
                descending=descending,
                PaginationConfig={"PageSize": 2},
            )
            found = [s["logStreamName"] for page in paged for s in page["logStreams"]]
            assert found == names(orderBy=order, descending=descending)

    by_arn = logs.describe_log_streams(
        logGroupIdentifier=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"
    )
    assert len(by_arn["logStreams"]) == 5
    with pytest.raises(ClientError) as both:
        logs.describe_log_streams(logGroupName=GROUP, logGroupIdentifier=GROUP)
    assert error(both)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as neither:
        logs.describe_log_streams()
    assert error(neither)[0] == "InvalidParameterException"

    logs.delete_log_stream(logGroupName=GROUP, logStreamName="db")
    assert "db" not in names()
    with pytest.raises(ClientError) as gone:
        logs.delete_log_stream(logGroupName=GROUP, logStreamName="db")
    assert error(gone) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    # The group's size is its streams'.
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == 2


# PutLogEvents


def test_put_log_events_rules(logs: Any) -> None:
    logs.create_log_group(logGroupName=GROUP)
    with pytest.raises(ClientError) as no_stream:
        put(logs, "s", (now_ms(), "x"))
    assert error(no_stream) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    now = now_ms()

    first = put(logs, "s", (now - 10, "one"), (now, "two"))
    assert "rejectedLogEventsInfo" not in first
    # Sequence tokens are not required, and one that is wrong is ignored (AWS, since 2023).
    second = logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "three"}],
        sequenceToken="49590000000000000000000000000000000000000000000000000000",
    )
    assert int(second["nextSequenceToken"]) > int(first["nextSequenceToken"])

    with pytest.raises(ClientError) as unsorted:
        put(logs, "s", (now, "later"), (now - 1, "earlier"))
    assert error(unsorted) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    with pytest.raises(ClientError) as span:
        put(logs, "s", (now - DAY - 1000, "a"), (now, "b"))
    assert error(span)[0] == "InvalidParameterException"
    assert "span more than 24 hours" in error(span)[1]
    with pytest.raises(ClientError) as large:
        put(logs, "s", *[(now, "x" * 200_000)] * 6)
    assert error(large) == (
        "InvalidParameterException",
        "Upload too large: 1200156 bytes exceeds limit of 1048576",
    )

    rejected = put(
        logs,
        "s",
        (now - 15 * DAY, "too old"),
        (now - 14 * DAY - 60_000, "too old too"),
        (now - 13 * DAY, "kept"),
        (now + 3 * 3_600_000, "too new"),
    )
    assert rejected["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 1,
        "tooNewLogEventStartIndex": 3,
    }
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    expired = put(logs, "s", (now - 10 * DAY, "expired"), (now - 6 * DAY, "kept too"))
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}

    events = logs.get_log_events(logGroupName=GROUP, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in events["events"]] == [
        "kept", "kept too", "one", "two", "three",
    ]  # fmt: skip


def test_put_log_events_limits_come_from_the_model(logs: Any) -> None:
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    now = now_ms()
    accepted = put(logs, "s", *[(now, f"m{i}") for i in range(10_000)])
    assert "rejectedLogEventsInfo" not in accepted
    with pytest.raises(ClientError) as too_many:
        put(logs, "s", *[(now, "m")] * 10_001)
    code, message = error(too_many)
    assert code == "InvalidParameterException"
    assert message.startswith("1 validation error detected: Value ")
    assert message.endswith(
        "at 'logEvents' failed to satisfy constraint: Member must have length less than or "
        "equal to 10000"
    )


# GetLogEvents


def test_get_log_events_pages_both_ways(logs: Any) -> None:
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    base = now_ms() - 100_000
    # Two batches, the second older: events are read in time order, not arrival order.
    put(logs, "s", *[(base + 1000 * i, f"e{i:02}") for i in range(10, 25)])
    put(logs, "s", *[(base + 1000 * i, f"e{i:02}") for i in range(10)])

    def read(**kwargs: Any) -> tuple[list[str], str, str]:
        page = logs.get_log_events(logGroupName=GROUP, logStreamName="s", limit=10, **kwargs)
        return (
            [e["message"] for e in page["events"]],
            page["nextForwardToken"],
            page["nextBackwardToken"],
        )

    # By default the newest events.
    newest, forward, backward = read()
    assert newest == [f"e{i:02}" for i in range(15, 25)]
    older, _, backward = read(nextToken=backward)
    assert older == [f"e{i:02}" for i in range(5, 15)]
    oldest, _, backward = read(nextToken=backward)
    assert oldest == [f"e{i:02}" for i in range(5)]
    nothing, _, same = read(nextToken=backward)
    assert nothing == []
    assert same == backward
    # At the end, the forward token comes back unchanged, until new events arrive.
    none_yet, again, _ = read(nextToken=forward)
    assert none_yet == []
    assert again == forward
    put(logs, "s", (base + 50_000, "e50"))
    assert read(nextToken=forward)[0] == ["e50"]

    head, forward, _ = read(startFromHead=True)
    assert head == [f"e{i:02}" for i in range(10)]
    following, _, _ = read(nextToken=forward)
    assert following == [f"e{i:02}" for i in range(10, 20)]

    # startTime inclusive, endTime exclusive.
    ranged = logs.get_log_events(
        logGroupName=GROUP,
        logStreamName="s",
        startTime=base + 3000,
        endTime=base + 6000,
        startFromHead=True,
    )
    assert [e["message"] for e in ranged["events"]] == ["e03", "e04", "e05"]
    event = ranged["events"][0]
    assert event["timestamp"] == base + 3000
    assert event["ingestionTime"] >= event["timestamp"]

    with pytest.raises(ClientError) as bad_token:
        read(nextToken="f/123")
    assert error(bad_token) == ("InvalidParameterException", "The specified nextToken is invalid.")
    with pytest.raises(ClientError) as no_stream:
        logs.get_log_events(logGroupName=GROUP, logStreamName="nope")
    assert error(no_stream)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_group:
        logs.get_log_events(logGroupName="nope", logStreamName="s")
    assert error(no_group) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_get_log_events_of_an_empty_stream(logs: Any) -> None:
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    page = logs.get_log_events(logGroupName=GROUP, logStreamName="s")
    assert page["events"] == []
    now = now_ms()
    put(logs, "s", (now, "first"))
    later = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s", nextToken=page["nextForwardToken"]
    )
    assert [e["message"] for e in later["events"]] == ["first"]


# FilterLogEvents


@pytest.fixture
def filled(logs: Any) -> int:
    logs.create_log_group(logGroupName=GROUP)
    base = now_ms() - 60_000
    lines = {
        "web/1": [
            "GET /index.html 200",
            "GET /missing 404",
            json.dumps({"detail": {"action-type": "PUSH", "repository-name": "app"}}),
        ],
        "web/2": ["POST /login 200 user=alice", "ERROR database timeout"],
        "worker": [
            "ERROR job failed",
            json.dumps({"detail": {"action-type": "DELETE", "repository-name": "app"}}),
        ],
    }
    step = 0
    for stream, messages in lines.items():
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        events = []
        for message in messages:
            events.append((base + step * 1000, message))
            step += 1
        put(logs, stream, *events)
    return base


def test_filter_log_events(logs: Any, filled: int) -> None:
    base = filled

    def messages(**kwargs: Any) -> list[str]:
        events = logs.filter_log_events(logGroupName=GROUP, **kwargs)["events"]
        return [e["message"] for e in events]

    everything = logs.filter_log_events(logGroupName=GROUP)
    assert len(everything["events"]) == 7
    assert everything["searchedLogStreams"] == []
    assert "nextToken" not in everything
    # In time order across streams, each with its stream and a unique id.
    assert [e["timestamp"] for e in everything["events"]] == [base + i * 1000 for i in range(7)]
    assert [e["logStreamName"] for e in everything["events"]] == [
        "web/1", "web/1", "web/1", "web/2", "web/2", "worker", "worker",
    ]  # fmt: skip
    assert len({e["eventId"] for e in everything["events"]}) == 7

    assert messages(filterPattern="ERROR") == ["ERROR database timeout", "ERROR job failed"]
    assert messages(filterPattern="ERROR -job") == ["ERROR database timeout"]
    assert messages(filterPattern='"GET /missing"') == ["GET /missing 404"]
    assert messages(filterPattern="?404 ?timeout") == [
        "GET /missing 404", "ERROR database timeout",
    ]  # fmt: skip
    assert messages(filterPattern='{ $.detail.action-type = "PUSH" }') == [
        json.dumps({"detail": {"action-type": "PUSH", "repository-name": "app"}})
    ]
    assert messages(filterPattern="[method, path, status = 404]") == ["GET /missing 404"]
    assert messages(filterPattern="%ERROR [a-z]+ failed%") == ["ERROR job failed"]

    assert len(messages(logStreamNames=["web/2", "worker", "absent"])) == 4
    assert len(messages(logStreamNamePrefix="web/")) == 5
    # startTime and endTime are both inclusive.
    assert messages(startTime=base + 1000, endTime=base + 3000) == [
        "GET /missing 404",
        json.dumps({"detail": {"action-type": "PUSH", "repository-name": "app"}}),
        "POST /login 200 user=alice",
    ]

    with pytest.raises(ClientError) as invalid:
        logs.filter_log_events(logGroupName=GROUP, filterPattern='{ $.a = "x" ')
    assert error(invalid) == ("InvalidParameterException", "Invalid filter pattern")
    with pytest.raises(ClientError) as both:
        logs.filter_log_events(logGroupName=GROUP, logStreamNames=["a"], logStreamNamePrefix="a")
    assert error(both)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as missing:
        logs.filter_log_events(logGroupName="nope")
    assert error(missing) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    with pytest.raises(ClientError) as bad_token:
        logs.filter_log_events(logGroupName=GROUP, nextToken="%%%")
    assert error(bad_token) == ("InvalidParameterException", "The specified nextToken is invalid.")


def test_filter_log_events_pages(logs: Any, filled: int) -> None:
    first = logs.filter_log_events(logGroupName=GROUP, limit=3)
    assert len(first["events"]) == 3
    second = logs.filter_log_events(logGroupName=GROUP, limit=3, nextToken=first["nextToken"])
    third = logs.filter_log_events(logGroupName=GROUP, limit=3, nextToken=second["nextToken"])
    assert "nextToken" not in third
    paged = [e["message"] for page in (first, second, third) for e in page["events"]]
    everything = logs.filter_log_events(logGroupName=GROUP)["events"]
    assert paged == [e["message"] for e in everything]
    # The paginator follows nextToken with a pattern too.
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, filterPattern="ERROR", PaginationConfig={"PageSize": 1}
    )
    assert [e["message"] for page in pages for e in page["events"]] == [
        "ERROR database timeout",
        "ERROR job failed",
    ]


def test_filter_log_events_with_the_cli(tmp_path: Path, registry: RunningRegistry) -> None:
    env = aws_env(tmp_path, registry.url)
    aws(env, "logs", "create-log-group", "--log-group-name", GROUP)
    aws(env, "logs", "create-log-stream", "--log-group-name", GROUP, "--log-stream-name", "s")
    now = now_ms()
    aws(
        env, "logs", "put-log-events", "--log-group-name", GROUP, "--log-stream-name", "s",
        "--log-events", f"timestamp={now},message=hello", f"timestamp={now + 1},message=world",
    )  # fmt: skip
    found = aws(
        env, "logs", "filter-log-events", "--log-group-name", GROUP, "--filter-pattern", "world"
    )
    assert [e["message"] for e in found["events"]] == ["world"]
    tail = aws(env, "logs", "get-log-events", "--log-group-name", GROUP, "--log-stream-name", "s")
    assert [e["message"] for e in tail["events"]] == ["hello", "world"]


# signatures and authorization


def test_requests_must_be_signed_for_logs(registry: RunningRegistry) -> None:
    wrong = client("logs", registry.url, secret="not-the-secret")
    with pytest.raises(ClientError) as refused:
        wrong.describe_log_groups()
    assert error(refused)[0] == "InvalidSignatureException"


def test_operations_are_authorized_on_the_log_group(registry: RunningRegistry) -> None:
    iam = client("iam", registry.url)
    iam.create_user(UserName="logger")
    iam.put_user_policy(
        UserName="logger",
        PolicyName="own-group",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "logs:*",
                        "Resource": "arn:aws:logs:*:*:log-group:/team/*",
                    },
                    {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="logger")["AccessKey"]
    logger = client("logs", registry.url, key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    logger.create_log_group(logGroupName="/team/app")
    logger.create_log_stream(logGroupName="/team/app", logStreamName="s")
    put(logger, "s", (now_ms(), "allowed"), group="/team/app")
    assert logger.describe_log_groups()["logGroups"][0]["logGroupName"] == "/team/app"
    with pytest.raises(ClientError) as denied:
        logger.create_log_group(logGroupName="/other/app")
    code, message = error(denied)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/logger is not authorized to perform: "
        f"logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:{ACCOUNT}:log-group:"
        "/other/app:log-stream: because no identity-based policy allows the "
        "logs:CreateLogGroup action"
    )
    client("logs", registry.url).create_log_group(logGroupName="/other/app")
    with pytest.raises(ClientError) as stream_denied:
        logger.get_log_events(logGroupName="/other/app", logStreamName="x")
    assert error(stream_denied)[1].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/logger is not authorized to perform: "
        f"logs:GetLogEvents on resource: arn:aws:logs:us-east-1:{ACCOUNT}:log-group:"
        "/other/app:log-stream:x"
    )
