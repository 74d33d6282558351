from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from berth.domain.policy import (
    Condition,
    Policy,
    Principal,
    Request,
    Statement,
    matches,
    parse_policy,
)

ALICE = Principal.user("111122223333", "alice", userid="AIDAALICE")
KEY = "test:Key"

Actual = str | Sequence[str] | None


def holds(
    operator: str,
    values: Any,
    actual: Actual,
    *,
    version: str = "2012-10-17",
    extra: dict[str, str | Sequence[str]] | None = None,
) -> bool:
    """Whether an Allow statement whose only condition is `operator: {KEY: values}` applies when
    the request context holds `actual` for KEY (None: the key is absent)."""
    statement = {
        "Effect": "Allow",
        "Action": "ecr:*",
        "Resource": "*",
        "Condition": {operator: {KEY: values}},
    }
    policy = parse_policy(json.dumps({"Version": version, "Statement": statement}), kind="identity")
    context: dict[str, str | Sequence[str]] = dict(extra or {})
    if actual is not None:
        context[KEY] = actual
    return matches(policy, Request(ALICE, "ecr:BatchGetImage", "*", context=context)) == "allow"


Row = tuple[str, Any, Actual, bool]


def run(rows: list[Row]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("operator", "values", "actual", "expected"), rows)


@run(
    [
        ("StringEquals", "blue", "blue", True),
        ("StringEquals", "blue", "Blue", False),
        ("StringEquals", ["red", "blue"], "blue", True),
        ("StringEquals", "blue", None, False),
        ("StringEquals", "blu*", "blue", False),
        ("StringEquals", [], "blue", False),
        ("StringNotEquals", "blue", "red", True),
        ("StringNotEquals", "blue", "blue", False),
        ("StringNotEquals", ["red", "blue"], "blue", False),
        ("StringNotEquals", ["red", "blue"], "green", True),
        ("StringNotEquals", "blue", None, True),
        ("StringEqualsIgnoreCase", "BLUE", "blue", True),
        ("StringEqualsIgnoreCase", "BLUE", "red", False),
        ("StringEqualsIgnoreCase", "blue", None, False),
        ("StringNotEqualsIgnoreCase", "BLUE", "blue", False),
        ("StringNotEqualsIgnoreCase", "BLUE", "red", True),
        ("StringNotEqualsIgnoreCase", "BLUE", None, True),
        ("StringLike", "bl*", "blue", True),
        ("StringLike", "bl?e", "blue", True),
        ("StringLike", "bl?e", "bluue", False),
        ("StringLike", "BL*", "blue", False),
        ("StringLike", "*", "", True),
        ("StringLike", ["home/", "home/*/x"], "home/a/b/x", True),
        ("StringLike", "a.c", "abc", False),
        ("StringLike", "bl*", None, False),
        ("StringNotLike", "bl*", "blue", False),
        ("StringNotLike", "bl*", "red", True),
        ("StringNotLike", "bl*", None, True),
    ]
)
def test_string_operators(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


@run(
    [
        ("NumericEquals", "10", "10", True),
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", 10, "10", True),
        ("NumericEquals", "10", "11", False),
        ("NumericEquals", "10", None, False),
        ("NumericEquals", "10", "ten", False),
        ("NumericNotEquals", "10", "11", True),
        ("NumericNotEquals", "10", "10", False),
        ("NumericNotEquals", "10", None, True),
        ("NumericNotEquals", "10", "ten", True),
        ("NumericLessThan", "10", "9.99", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThan", "-1", "-2", True),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericLessThanEquals", "10", "11", False),
        ("NumericGreaterThan", "10", "11", True),
        ("NumericGreaterThan", "10", "10", False),
        ("NumericGreaterThanEquals", "10", "10", True),
        ("NumericGreaterThanEquals", "10", "9", False),
        ("NumericGreaterThanEquals", ["100", "5"], "9", True),
        ("NumericLessThan", "10", "NaN", False),
        ("NumericLessThan", "10", "1e1", False),
    ]
)
def test_numeric_operators(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


@run(
    [
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T02:00:00+02:00", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),
        ("DateEquals", "1577836800", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01-01", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:01Z", False),
        ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:01Z", True),
        ("DateNotEquals", "2020-01-01T00:00:00Z", None, True),
        ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", True),
        ("DateLessThan", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
        ("DateLessThan", "2020-01-01T00:00:00Z", "1577836799", True),
        ("DateLessThan", "1577836800.5", "1577836800", True),
        ("DateLessThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThan", "2020-01-01T00:00:01Z", "2020-06-01T12:00:00.250Z", True),
        ("DateGreaterThan", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
        ("DateGreaterThan", "2020-01-01T00:00:00Z", None, False),
        ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", "yesterday", False),
        ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", "99999999999999999999", False),
    ]
)
def test_date_operators(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


@run(
    [
        ("Bool", "true", "true", True),
        ("Bool", True, "true", True),
        ("Bool", "false", "false", True),
        ("Bool", False, "true", False),
        ("Bool", "TRUE", "true", True),
        ("Bool", "true", "True", True),
        ("Bool", "true", None, False),
        ("Bool", "${test:Other}", "true", True),
        ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", True),
        ("BinaryEquals", "QmluYXJ5", "QmluYXJ6", False),
        ("BinaryEquals", "QmluYXJ5", "not base64!", False),
        ("BinaryEquals", "QmluYXJ5", None, False),
    ]
)
def test_bool_and_binary(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual, extra={"test:Other": "TRUE"}) is expected


@run(
    [
        ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
        ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
        ("IpAddress", "203.0.113.7", "203.0.113.7", True),
        ("IpAddress", "203.0.113.7", "203.0.113.8", False),
        ("IpAddress", "203.0.113.9/24", "203.0.113.1", True),  # host bits are ignored
        ("IpAddress", ["10.0.0.0/8", "2001:DB8:1234:5678::/64"], "2001:db8:1234:5678::1", True),
        ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
        ("IpAddress", "::/0", "203.0.113.7", False),
        ("IpAddress", "0.0.0.0/0", "2001:db8::1", False),
        ("IpAddress", "0.0.0.0/0", "localhost", False),
        ("IpAddress", "0.0.0.0/0", None, False),
        ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
        ("NotIpAddress", "203.0.113.0/24", "203.0.113.1", False),
        ("NotIpAddress", "203.0.113.0/24", None, True),
        ("NotIpAddress", "2001:db8::/32", "2001:db8::5", False),
    ]
)
def test_ip_operators(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


TOPIC = "arn:aws:sns:us-east-2:123456789012:topic"


@run(
    [
        ("ArnEquals", TOPIC, TOPIC, True),
        ("ArnLike", TOPIC, TOPIC, True),
        ("ArnLike", "arn:aws:sns:*:123456789012:*", TOPIC, True),
        ("ArnEquals", "arn:aws:sns:*:123456789012:*", TOPIC, True),
        ("ArnLike", "arn:aws:sns:us-east-?:*:topic", TOPIC, True),
        ("ArnLike", "arn:aws:SNS:*:*:*", TOPIC, False),
        ("ArnLike", "arn:aws:sns:*:*:*", None, False),
        # AWS's example: each of the six components is matched on its own...
        (
            "ArnLike",
            "arn:aws:someservice:*:111122223333:finance/*",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/x.txt",
            False,
        ),
        # ...but the resource part may contain colons.
        (
            "ArnLike",
            "arn:aws:someservice:*:111122223333:store/*",
            "arn:aws:someservice:us-east-2:111122223333:store/abc:def",
            True,
        ),
        ("ArnLike", "*", TOPIC, True),
        ("ArnLike", "arn:aws:sns:*:*:*", "not-an-arn", False),
        ("ArnNotEquals", TOPIC, TOPIC, False),
        ("ArnNotLike", "arn:aws:sns:*:*:*", TOPIC, False),
        ("ArnNotLike", "arn:aws:sqs:*:*:*", TOPIC, True),
        ("ArnNotLike", "arn:aws:sqs:*:*:*", None, True),
    ]
)
def test_arn_operators(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


def test_string_like_spans_colons_where_arn_like_does_not() -> None:
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/x.txt"
    assert holds("StringLike", pattern, value)
    assert not holds("ArnLike", pattern, value)


@run(
    [
        ("Null", "true", None, True),
        ("Null", "true", "x", False),
        ("Null", "false", "x", True),
        ("Null", "false", None, False),
        ("Null", True, [], True),
        ("Null", ["true", "false"], "x", True),
    ]
)
def test_null(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


@run(
    [
        ("StringEqualsIfExists", "blue", None, True),
        ("StringEqualsIfExists", "blue", "blue", True),
        ("StringEqualsIfExists", "blue", "red", False),
        ("StringNotEqualsIfExists", "blue", None, True),
        ("StringNotEqualsIfExists", "blue", "blue", False),
        ("StringLikeIfExists", "t2.*", "t2.micro", True),
        ("StringLikeIfExists", "t2.*", "m5.large", False),
        ("NumericLessThanIfExists", "5", None, True),
        ("NumericLessThanIfExists", "5", "6", False),
        ("DateGreaterThanIfExists", "2020-01-01", None, True),
        ("BoolIfExists", "true", None, True),
        ("BoolIfExists", "true", "false", False),
        ("IpAddressIfExists", "10.0.0.0/8", None, True),
        ("NotIpAddressIfExists", "10.0.0.0/8", "10.1.2.3", False),
        ("ArnLikeIfExists", "arn:aws:sns:*:*:*", None, True),
        ("BinaryEqualsIfExists", "QmluYXJ5", None, True),
        ("stringequalsifexists", "blue", "blue", True),  # operator names ignore case
    ]
)
def test_if_exists(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


@run(
    [
        # ForAllValues: every request value must match one of the policy values.
        ("ForAllValues:StringEquals", ["a", "b"], ["a"], True),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
        ("ForAllValues:StringEquals", ["a", "b"], [], True),
        ("ForAllValues:StringEquals", ["a", "b"], None, True),
        ("ForAllValues:StringEquals", ["a", "b"], "a", True),
        ("ForAllValues:StringLike", "team-*", ["team-a", "team-b"], True),
        ("ForAllValues:StringLike", "team-*", ["team-a", "owner"], False),
        ("ForAllValues:StringNotEquals", ["x", "y"], ["a", "b"], True),
        ("ForAllValues:StringNotEquals", ["x", "y"], ["a", "x"], False),
        ("ForAllValues:StringNotEquals", ["x", "y"], None, True),
        ("ForAllValues:NumericLessThan", "10", ["1", "2"], True),
        ("ForAllValues:NumericLessThan", "10", ["1", "20"], False),
        # ForAnyValue: at least one request value must match one of the policy values.
        ("ForAnyValue:StringEquals", ["a", "b"], ["c", "b"], True),
        ("ForAnyValue:StringEquals", ["a", "b"], ["c", "d"], False),
        ("ForAnyValue:StringEquals", ["a", "b"], [], False),
        ("ForAnyValue:StringEquals", ["a", "b"], None, False),
        ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "c"], True),
        ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "b"], False),
        ("ForAnyValue:StringNotEquals", ["a", "b"], None, False),
        ("ForAnyValue:StringEqualsIgnoreCase", "A", ["x", "a"], True),
        ("ForAnyValue:IpAddress", "10.0.0.0/8", ["192.0.2.1", "10.9.9.9"], True),
        ("ForAnyValue:ArnLike", "arn:aws:iam::*:role/*", ["arn:aws:iam::1:role/r"], True),
        ("ForAnyValue:StringEqualsIfExists", "a", None, True),
        ("ForAnyValue:StringEqualsIfExists", "a", [], True),
        ("ForAllValues:StringEqualsIfExists", "a", ["b"], False),
        # Without a set operator a multivalued key matches if any of its values does.
        ("StringEquals", "a", ["b", "a"], True),
        ("StringNotEquals", "a", ["b", "a"], False),
        ("StringEquals", "a", [], False),
        ("StringNotEquals", "a", [], True),
    ]
)
def test_set_operators(operator: str, values: Any, actual: Actual, expected: bool) -> None:
    assert holds(operator, values, actual) is expected


def test_keys_and_operators_are_anded() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "ecr:*",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:RequestTag/team": "blue", "aws:RequestTag/env": ["dev", "test"]},
            "Bool": {"aws:SecureTransport": "true"},
        },
    }
    policy = parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": statement}), kind="identity"
    )

    def allowed(**context: str) -> bool:
        ctx = {f"aws:RequestTag/{k}": v for k, v in context.items() if k != "tls"}
        ctx["aws:SecureTransport"] = context.get("tls", "true")
        return matches(policy, Request(ALICE, "ecr:TagResource", "*", context=ctx)) == "allow"

    assert allowed(team="blue", env="test")
    assert not allowed(team="blue", env="prod")
    assert not allowed(team="red", env="dev")
    assert not allowed(team="blue")
    assert not allowed(team="blue", env="dev", tls="false")


def test_deny_unless_secure_transport_example() -> None:
    # AWS's Bool example: deny every S3 action that does not come over TLS.
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "BooleanExample",
                    "Action": "s3:*",
                    "Effect": "Deny",
                    "Resource": [
                        "arn:aws:s3:::DOC-EXAMPLE-BUCKET",
                        "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
                    ],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
    policy = parse_policy(text, kind="identity")
    bucket = "arn:aws:s3:::DOC-EXAMPLE-BUCKET/key"

    def verdict(secure: str) -> str | None:
        ctx = {"aws:SecureTransport": secure}
        return matches(policy, Request(ALICE, "s3:GetObject", bucket, context=ctx))

    assert verdict("false") == "deny"
    assert verdict("true") is None


# --- variables in conditions --------------------------------------------------------------------


@run(
    [
        ("StringEquals", "${aws:username}", "alice", True),
        ("StringEquals", "${aws:username}", "bob", False),
        ("StringEquals", "${test:Missing}", "", False),
        ("StringEquals", "${test:Missing, 'fallback'}", "fallback", True),
        ("StringNotEquals", "${test:Missing}", "anything", True),
        ("StringLike", "home/${aws:username}/*", "home/alice/x", True),
        ("StringLike", "home/${aws:username}/*", "home/bob/x", False),
        ("StringLike", "literal${*}", "literal*", True),
        ("StringLike", "literal${*}", "literally", False),
        ("StringEqualsIgnoreCase", "${aws:username}", "ALICE", True),
        (
            "ArnLike",
            "arn:aws:iam::${aws:PrincipalAccount}:user/*",
            "arn:aws:iam::111122223333:user/x",
            True,
        ),
        (
            "ArnLike",
            "arn:aws:iam::${aws:PrincipalAccount}:user/*",
            "arn:aws:iam::444455556666:user/x",
            False,
        ),
    ]
)
def test_variables_in_conditions(
    operator: str, values: Any, actual: Actual, expected: bool
) -> None:
    assert holds(operator, values, actual) is expected


def test_variables_in_conditions_are_text_before_2012() -> None:
    assert holds("StringEquals", "${aws:username}", "${aws:username}", version="2008-10-17")
    assert not holds("StringEquals", "${aws:username}", "alice", version="2008-10-17")
    assert holds("StringLike", "${aws:username}*", "${aws:username}-x", version="2008-10-17")


def test_hand_built_condition_with_unknown_operator_never_holds() -> None:
    policy = Policy(
        (
            Statement(
                "Allow",
                ("*",),
                resources=("*",),
                conditions=(Condition("NoSuchOperator", KEY, ("x",)),),
            ),
        )
    )
    assert matches(policy, Request(ALICE, "ecr:X", "*", context={KEY: "x"})) is None
