"""The EventBridge API subset through boto3: rules, targets, TestEventPattern, their errors and
pagination, on the real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.logs_helpers import ACCOUNT, client
from tests.conftest import RunningRegistry

ECR_PATTERN = json.dumps({"source": ["aws.ecr"], "detail-type": ["ECR Image Action"]})
GROUP = "/aws/ecr/repository"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"
EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": ACCOUNT,
    "time": "2019-11-16T01:54:34Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "action-type": "PUSH",
        "image-tag": "latest",
    },
}


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.fixture
def events(registry: RunningRegistry) -> Any:
    return client("events", registry.url)


def test_rules(events: Any) -> None:
    arn = events.put_rule(
        Name="ecr-pushes",
        EventPattern=ECR_PATTERN,
        Description="pushes to ECR",
        Tags=[{"Key": "team", "Value": "platform"}],
    )["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/ecr-pushes"
    described = events.describe_rule(Name="ecr-pushes")
    described.pop("ResponseMetadata")
    assert described == {
        "Name": "ecr-pushes",
        "Arn": arn,
        "EventPattern": ECR_PATTERN,
        "State": "ENABLED",
        "Description": "pushes to ECR",
        "EventBusName": "default",
        "CreatedBy": ACCOUNT,
    }
    events.disable_rule(Name="ecr-pushes")
    assert events.describe_rule(Name="ecr-pushes")["State"] == "DISABLED"
    events.enable_rule(Name="ecr-pushes")
    assert events.describe_rule(Name="ecr-pushes")["State"] == "ENABLED"
    # PutRule again replaces the rule; its targets stay.
    events.put_targets(Rule="ecr-pushes", Targets=[{"Id": "logs", "Arn": GROUP_ARN}])
    events.put_rule(Name="ecr-pushes", EventPattern='{"source": ["aws.ecr"]}', State="DISABLED")
    again = events.describe_rule(Name="ecr-pushes")
    assert again["EventPattern"] == '{"source": ["aws.ecr"]}'
    assert again["State"] == "DISABLED"
    assert "Description" not in again
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="ecr-pushes")["Targets"]] == ["logs"]
    # By the default bus's name or ARN.
    bus_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    assert events.describe_rule(Name="ecr-pushes", EventBusName=bus_arn)["Name"] == "ecr-pushes"
    assert events.describe_rule(Name="ecr-pushes", EventBusName="default")["Name"] == "ecr-pushes"

    with pytest.raises(ClientError) as missing:
        events.describe_rule(Name="nope")
    assert error(missing) == (
        "ResourceNotFoundException",
        "Rule nope does not exist on EventBus default.",
    )
    for call in (
        lambda: events.enable_rule(Name="nope"),
        lambda: events.disable_rule(Name="nope"),
    ):
        with pytest.raises(ClientError) as gone:
            call()
        assert error(gone)[0] == "ResourceNotFoundException"


def test_rules_are_per_region(registry: RunningRegistry) -> None:
    client("events", registry.url).put_rule(Name="r", EventPattern=ECR_PATTERN)
    elsewhere = client("events", registry.url, region="eu-west-1")
    assert elsewhere.list_rules()["Rules"] == []


def test_put_rule_errors(events: Any) -> None:
    with pytest.raises(ClientError) as invalid:
        events.put_rule(Name="r", EventPattern='{"source": "aws.ecr"}')
    code, message = error(invalid)
    assert code == "InvalidEventPatternException"
    assert message.startswith("Event pattern is not valid. Reason: ")
    with pytest.raises(ClientError) as not_json:
        events.put_rule(Name="r", EventPattern="{")
    assert error(not_json)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as scheduled:
        events.put_rule(Name="r", ScheduleExpression="rate(5 minutes)")
    assert error(scheduled)[0] == "ValidationException"
    assert "ScheduleExpression" in error(scheduled)[1]
    with pytest.raises(ClientError) as neither:
        events.put_rule(Name="r")
    assert error(neither) == (
        "ValidationException",
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    )
    with pytest.raises(ClientError) as bad_name:
        events.put_rule(Name="bad name", EventPattern=ECR_PATTERN)
    assert error(bad_name) == (
        "ValidationException",
        "1 validation error detected: Value 'bad name' at 'Name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
    )
    with pytest.raises(ClientError) as other_bus:
        events.put_rule(Name="r", EventPattern=ECR_PATTERN, EventBusName="custom")
    assert error(other_bus) == ("ResourceNotFoundException", "Event bus custom does not exist.")
    with pytest.raises(ClientError) as cloudtrail:
        events.put_rule(
            Name="r",
            EventPattern=ECR_PATTERN,
            State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        )
    assert error(cloudtrail)[0] == "ValidationException"
    assert events.list_rules()["Rules"] == []


def test_list_rules(events: Any) -> None:
    names = ["a-1", "a-2", "a-3", "b-1", "b-2"]
    for name in names:
        events.put_rule(Name=name, EventPattern=ECR_PATTERN)
    listed = events.list_rules()["Rules"]
    assert [r["Name"] for r in listed] == names
    assert listed[0] == {
        "Name": "a-1",
        "Arn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/a-1",
        "EventPattern": ECR_PATTERN,
        "State": "ENABLED",
        "EventBusName": "default",
    }
    assert [r["Name"] for r in events.list_rules(NamePrefix="a-")["Rules"]] == names[:3]
    first = events.list_rules(Limit=2)
    second = events.list_rules(Limit=2, NextToken=first["NextToken"])
    third = events.list_rules(Limit=2, NextToken=second["NextToken"])
    assert [r["Name"] for page in (first, second, third) for r in page["Rules"]] == names
    assert "NextToken" not in third
    paged = events.get_paginator("list_rules").paginate(
        NamePrefix="b", PaginationConfig={"PageSize": 1}
    )
    assert [r["Name"] for page in paged for r in page["Rules"]] == ["b-1", "b-2"]
    with pytest.raises(ClientError) as bad_token:
        events.list_rules(NextToken="%%%")
    assert error(bad_token)[0] == "ValidationException"


def test_targets(events: Any) -> None:
    with pytest.raises(ClientError) as no_rule:
        events.put_targets(Rule="nope", Targets=[{"Id": "logs", "Arn": GROUP_ARN}])
    assert error(no_rule) == (
        "ResourceNotFoundException",
        "Rule nope does not exist on EventBus default.",
    )
    events.put_rule(Name="r", EventPattern=ECR_PATTERN)
    answer = events.put_targets(
        Rule="r",
        Targets=[
            {"Id": "logs", "Arn": GROUP_ARN},
            {
                "Id": "logs-star",
                "Arn": f"{GROUP_ARN}-2:*",
                "RetryPolicy": {"MaximumRetryAttempts": 3},
            },
            {"Id": "queue", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue"},
            {"Id": "function", "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"},
            {"Id": "bad", "Arn": "not an arn"},
            {"Id": "elsewhere", "Arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:g"},
            {"Id": "transformed", "Arn": GROUP_ARN, "InputPath": "$.detail"},
        ],
    )
    assert answer["FailedEntryCount"] == 5
    failed = {e["TargetId"]: e for e in answer["FailedEntries"]}
    assert set(failed) == {"queue", "function", "bad", "elsewhere", "transformed"}
    assert all(e["ErrorCode"] == "ValidationException" for e in failed.values())
    assert failed["bad"]["ErrorMessage"] == (
        "Parameter not an arn is not valid. Reason: Provided Arn is not in correct format."
    )
    assert "CloudWatch Logs log groups" in failed["queue"]["ErrorMessage"]
    assert "InputPath" in failed["transformed"]["ErrorMessage"]

    targets = events.list_targets_by_rule(Rule="r")["Targets"]
    assert targets == [
        {"Id": "logs", "Arn": GROUP_ARN},
        {"Id": "logs-star", "Arn": f"{GROUP_ARN}-2:*", "RetryPolicy": {"MaximumRetryAttempts": 3}},
    ]
    # Putting a target with an existing Id replaces it.
    events.put_targets(Rule="r", Targets=[{"Id": "logs", "Arn": f"{GROUP_ARN}-3"}])
    assert events.list_targets_by_rule(Rule="r")["Targets"][0]["Arn"] == f"{GROUP_ARN}-3"
    # Five targets per rule.
    events.put_targets(
        Rule="r", Targets=[{"Id": f"t{i}", "Arn": f"{GROUP_ARN}-{i}"} for i in range(3)]
    )
    with pytest.raises(ClientError) as too_many:
        events.put_targets(Rule="r", Targets=[{"Id": "sixth", "Arn": GROUP_ARN}])
    assert error(too_many) == (
        "LimitExceededException",
        "The requested resource exceeds the maximum number allowed.",
    )
    first = events.list_targets_by_rule(Rule="r", Limit=2)
    second = events.list_targets_by_rule(Rule="r", Limit=2, NextToken=first["NextToken"])
    third = events.list_targets_by_rule(Rule="r", Limit=2, NextToken=second["NextToken"])
    ids = [t["Id"] for page in (first, second, third) for t in page["Targets"]]
    assert ids == ["logs", "logs-star", "t0", "t1", "t2"]
    assert "NextToken" not in third
    with pytest.raises(ClientError) as no_rule_list:
        events.list_targets_by_rule(Rule="nope")
    assert error(no_rule_list)[0] == "ResourceNotFoundException"

    # DeleteRule is refused while the rule has targets.
    with pytest.raises(ClientError) as has_targets:
        events.delete_rule(Name="r")
    assert error(has_targets) == (
        "ValidationException",
        "Rule can't be deleted since it has targets.",
    )
    removed = events.remove_targets(Rule="r", Ids=["logs", "t0", "unknown"])
    assert removed["FailedEntryCount"] == 1
    assert removed["FailedEntries"] == [
        {
            "TargetId": "unknown",
            "ErrorCode": "ResourceNotFoundException",
            "ErrorMessage": "Rule 'r' does not have a target with the Id 'unknown'.",
        }
    ]
    events.remove_targets(Rule="r", Ids=["logs-star", "t1", "t2"])
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []
    with pytest.raises(ClientError) as no_rule_remove:
        events.remove_targets(Rule="nope", Ids=["x"])
    assert error(no_rule_remove)[0] == "ResourceNotFoundException"
    events.delete_rule(Name="r")
    assert events.list_rules()["Rules"] == []
    # Deleting a rule that is not there succeeds, as in EventBridge.
    events.delete_rule(Name="r")


def test_put_targets_with_only_failures_still_needs_the_rule(events: Any) -> None:
    with pytest.raises(ClientError) as no_rule:
        events.put_targets(Rule="nope", Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:1:q"}])
    assert error(no_rule)[0] == "ResourceNotFoundException"
    events.put_rule(Name="r", EventPattern=ECR_PATTERN)
    answer = events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:1:q"}])
    assert answer["FailedEntryCount"] == 1
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []


def test_test_event_pattern(events: Any) -> None:
    event = json.dumps(EVENT)
    assert events.test_event_pattern(EventPattern=ECR_PATTERN, Event=event)["Result"] is True
    push_only = json.dumps({"detail": {"action-type": ["DELETE"]}})
    assert events.test_event_pattern(EventPattern=push_only, Event=event)["Result"] is False
    prefix = json.dumps({"detail": {"repository-name": [{"prefix": "my-"}]}})
    assert events.test_event_pattern(EventPattern=prefix, Event=event)["Result"] is True
    with pytest.raises(ClientError) as invalid_event:
        events.test_event_pattern(EventPattern=ECR_PATTERN, Event='{"source": "aws.ecr"}')
    assert error(invalid_event) == ("ValidationException", "Parameter Event is not valid.")
    with pytest.raises(ClientError) as invalid_pattern:
        events.test_event_pattern(EventPattern='{"source": 1}', Event=event)
    assert error(invalid_pattern)[0] == "InvalidEventPatternException"


def test_operations_are_authorized_on_the_rule(registry: RunningRegistry) -> None:
    iam = client("iam", registry.url)
    iam.create_user(UserName="router")
    iam.put_user_policy(
        UserName="router",
        PolicyName="team-rules",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "events:*",
                        "Resource": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/team-*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="router")["AccessKey"]
    router = client(
        "events", registry.url, key_id=key["AccessKeyId"], secret=key["SecretAccessKey"]
    )
    router.put_rule(Name="team-pushes", EventPattern=ECR_PATTERN)
    router.put_targets(Rule="team-pushes", Targets=[{"Id": "logs", "Arn": GROUP_ARN}])
    with pytest.raises(ClientError) as denied:
        router.put_rule(Name="other", EventPattern=ECR_PATTERN)
    assert error(denied) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT}:user/router is not authorized to perform: "
        f"events:PutRule on resource: arn:aws:events:us-east-1:{ACCOUNT}:rule/other because no "
        "identity-based policy allows the events:PutRule action",
    )
    with pytest.raises(ClientError) as list_denied:
        router.list_rules()
    assert error(list_denied)[1].endswith(
        f"events:ListRules on resource: arn:aws:events:us-east-1:{ACCOUNT}:rule/* because no "
        "identity-based policy allows the events:ListRules action"
    )
    with pytest.raises(ClientError) as test_denied:
        router.test_event_pattern(EventPattern=ECR_PATTERN, Event=json.dumps(EVENT))
    assert error(test_denied)[0] == "AccessDeniedException"
