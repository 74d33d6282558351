from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain import event_patterns
from berth.domain.event_patterns import (
    MAX_PATTERN_LENGTH,
    InvalidEvent,
    InvalidEventPattern,
    matches,
    parse_pattern,
)
from berth.errors import BerthError


def match(pattern: dict[str, Any] | str, event: dict[str, Any]) -> bool:
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    return matches(parse_pattern(text), event)


def reason(pattern: dict[str, Any] | list[Any] | str) -> str:
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    with pytest.raises(InvalidEventPattern) as info:
        parse_pattern(text)
    prefix = "Event pattern is not valid. Reason: "
    assert info.value.message.startswith(prefix)
    return info.value.message[len(prefix) :]


# --- AWS's documented sample events ------------------------------------------------------------

EC2_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}

# The event event-ruler's README uses for its content-filtering examples.
RULER_EVENT = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}

AUTOSCALING_EVENT = {
    "version": "0",
    "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful",
    "source": "aws.autoscaling",
    "account": "123456789012",
    "time": "2015-11-11T21:31:47Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"eventVersion": "", "responseElements": None},
}

MACIE_EVENT = {
    "version": "0",
    "id": "3e355723-fca9-4de3-9fd7-154c289d6b59",
    "detail-type": "Macie Alert",
    "source": "aws.macie",
    "account": "123456789012",
    "time": "2017-04-24T22:28:49Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id/alert/alert_id",
        "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id",
    ],
    "detail": {
        "notification-type": "ALERT_CREATED",
        "name": "Scanning bucket policies",
        "tags": ["Custom_Alert", "Insider"],
        "risk-score": 80,
        "trigger": {"alert-type": "basic", "risk": 8},
    },
}

ECR_PUSH_EVENT = {
    "version": "0",
    "id": "13cde686-328b-6117-af20-0e5566167482",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-11-16T01:54:34Z",
    "region": "us-west-2",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "action-type": "PUSH",
        "image-tag": "latest",
    },
}

ECR_PROD_PUSHES = {
    "source": ["aws.ecr"],
    "detail-type": ["ECR Image Action"],
    "detail": {
        "action-type": ["PUSH"],
        "result": ["SUCCESS"],
        "repository-name": [{"prefix": "prod-"}],
    },
}


def with_detail(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    return {**event, "detail": {**event["detail"], **detail}}


# --- basic matching ----------------------------------------------------------------------------


def test_documented_ec2_termination_pattern() -> None:
    pattern = {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["terminated"]},
    }
    assert match(pattern, EC2_EVENT)
    assert not match(pattern, with_detail(EC2_EVENT, state="running"))


def test_values_in_a_list_are_alternatives() -> None:
    assert match({"source": ["aws.ec2", "aws.fargate"]}, EC2_EVENT)
    assert not match({"source": ["aws.s3", "aws.fargate"]}, EC2_EVENT)


def test_every_field_of_the_pattern_must_match() -> None:
    assert not match({"source": ["aws.ec2"], "region": ["eu-west-1"]}, EC2_EVENT)


def test_fields_absent_from_the_event_do_not_match() -> None:
    assert not match({"detail": {"missing": ["x"]}}, EC2_EVENT)
    assert not match({"nested": {"deeper": ["x"]}}, EC2_EVENT)


def test_strings_are_case_sensitive() -> None:
    assert not match({"source": ["AWS.EC2"]}, EC2_EVENT)


def test_documented_macie_numbers() -> None:
    pattern = {
        "source": ["aws.macie"],
        "detail-type": ["Macie Alert"],
        "detail": {"risk-score": [80], "trigger": {"risk": [8]}},
    }
    assert match(pattern, MACIE_EVENT)
    assert not match({"detail": {"trigger": {"risk": [9]}}}, MACIE_EVENT)


def test_numbers_compare_numerically() -> None:
    for written in ("5", "5.0", "5e0", "0.5e1"):
        assert match(f'{{"n": [{written}]}}', {"n": 5})
        assert match(f'{{"n": [{written}]}}', {"n": 5.0})
    assert match('{"n": [0.1]}', {"n": 0.1})
    assert match('{"n": [123456789012]}', {"n": 123456789012})


def test_numbers_and_strings_do_not_mix() -> None:
    assert not match({"n": ["5"]}, {"n": 5})
    assert not match({"n": [5]}, {"n": "5"})


def test_booleans_are_not_numbers() -> None:
    assert match({"b": [True]}, {"b": True})
    assert not match({"b": [True]}, {"b": 1})
    assert not match({"n": [1]}, {"n": True})
    assert not match({"b": [False]}, {"b": 0})


def test_documented_null_and_empty_string() -> None:
    assert match({"detail": {"eventVersion": [""]}}, AUTOSCALING_EVENT)
    assert match({"detail": {"responseElements": [None]}}, AUTOSCALING_EVENT)
    # "Null values and empty strings are not interchangeable."
    assert not match({"detail": {"eventVersion": [None]}}, AUTOSCALING_EVENT)
    assert not match({"detail": {"responseElements": [""]}}, AUTOSCALING_EVENT)


def test_documented_array_intersection() -> None:
    pattern = {
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
        ]
    }
    event = {
        "resources": [
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-"
            "b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        ]
    }
    assert match(pattern, event)
    assert not match(pattern, {"resources": ["arn:aws:ec2:us-east-1:1:instance/i-other"]})
    assert not match(pattern, {"resources": []})


def test_nested_event_arrays_are_flattened() -> None:
    assert match({"a": ["x"]}, {"a": [["w"], ["y", ["x"]]]})


def test_objects_inside_event_arrays_match_one_element_at_a_time() -> None:
    event = {
        "employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"},
        ]
    }
    assert match({"employees": {"firstName": ["Anna"]}}, event)
    assert match({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, event)
    # Anna and Jones are in different elements of the array.
    assert not match({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, event)


def test_multi_level_event_arrays() -> None:
    event = {
        "employees": [
            [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
            [{"firstName": "Peter", "lastName": "Jones"}],
        ]
    }
    assert match({"employees": {"firstName": ["Peter"]}}, event)
    assert not match({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, event)


def test_a_pattern_object_does_not_match_a_scalar() -> None:
    assert not match({"detail": {"state": ["terminated"]}}, {"detail": "terminated"})


def test_a_leaf_does_not_match_an_object() -> None:
    assert not match({"detail": ["x"]}, {"detail": {"x": 1}})


# --- content filters ---------------------------------------------------------------------------


def test_documented_prefix() -> None:
    assert match({"time": [{"prefix": "2017-10-02"}]}, RULER_EVENT)
    assert not match({"time": [{"prefix": "2017-10-03"}]}, RULER_EVENT)


def test_documented_prefix_ignoring_case() -> None:
    pattern = {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}
    for service in ("EventBridge", "EVENTBRIDGE", "eventbus"):
        assert match(pattern, {"detail": {"service": service}})
    assert not match(pattern, {"detail": {"service": "Event"}})


def test_documented_suffix() -> None:
    assert match({"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"})
    assert not match({"FileName": [{"suffix": ".png"}]}, {"FileName": "image.PNG"})
    assert match({"source": [{"suffix": "ec2"}]}, RULER_EVENT)


def test_documented_suffix_ignoring_case() -> None:
    pattern = {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}
    assert match(pattern, {"detail": {"FileName": "image.PNG"}})
    assert match(pattern, {"detail": {"FileName": "image.pNg"}})
    assert not match(pattern, {"detail": {"FileName": "image.jpg"}})


def test_documented_equals_ignore_case() -> None:
    assert match({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Alice"})
    assert match({"source": [{"equals-ignore-case": "EC2"}]}, {"source": "ec2"})
    assert not match({"source": [{"equals-ignore-case": "EC2"}]}, RULER_EVENT)


def test_string_operators_ignore_non_strings() -> None:
    assert not match({"n": [{"prefix": "1"}]}, {"n": 12})
    assert not match({"n": [{"suffix": "2"}]}, {"n": 12})
    assert not match({"n": [{"equals-ignore-case": "true"}]}, {"n": True})
    assert not match({"n": [{"wildcard": "*"}]}, {"n": None})


def test_documented_wildcard() -> None:
    pattern = {"source": [{"wildcard": "Simple*Service"}]}
    assert match(pattern, {"source": "SimpleQueueService"})
    assert match(pattern, {"source": "SimpleService"})
    assert not match(pattern, {"source": "SimpleQueueServices"})
    png_in_dir = {"EventName": [{"wildcard": "dir/*.png"}]}
    assert match(png_in_dir, {"EventName": "dir/image.png"})
    assert not match(png_in_dir, {"EventName": "other/image.png"})


def test_wildcard_escapes() -> None:
    assert match({"a": [{"wildcard": "x\\*y"}]}, {"a": "x*y"})
    assert not match({"a": [{"wildcard": "x\\*y"}]}, {"a": "xzy"})
    assert match({"a": [{"wildcard": "x\\\\*"}]}, {"a": "x\\anything"})


def test_wildcard_with_many_stars_is_not_exponential() -> None:
    stars = {"a": [{"wildcard": "*a" * 40 + "*b"}]}
    assert not match(stars, {"a": "a" * 5000})


def test_documented_anything_but() -> None:
    assert match({"detail": {"state": [{"anything-but": "initializing"}]}}, RULER_EVENT)
    assert not match(
        {"detail": {"state": [{"anything-but": "initializing"}]}},
        with_detail(RULER_EVENT, state="initializing"),
    )
    assert match({"detail": {"x-limit": [{"anything-but": 123}]}}, RULER_EVENT)
    assert not match({"detail": {"x-limit": [{"anything-but": 301.8}]}}, RULER_EVENT)


def test_documented_anything_but_lists() -> None:
    strings = {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}
    assert match(strings, RULER_EVENT)
    assert not match(strings, with_detail(RULER_EVENT, state="stopped"))
    numbers = {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}
    assert match(numbers, RULER_EVENT)
    assert not match(numbers, with_detail(RULER_EVENT, **{"x-limit": 200.0}))


def test_documented_anything_but_prefix_and_suffix() -> None:
    prefix = {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}
    assert match(prefix, RULER_EVENT)
    assert not match(prefix, with_detail(RULER_EVENT, state="initializing"))
    suffix = {"FileName": [{"anything-but": {"suffix": ".png"}}]}
    assert match(suffix, {"FileName": "a.jpg"})
    assert not match(suffix, {"FileName": "a.png"})


def test_documented_anything_but_ignoring_case_and_wildcard() -> None:
    ignore_case = {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}
    assert not match(ignore_case, {"state": "INITIALIZING"})
    assert match(ignore_case, {"state": "running"})
    listed = {"state": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]}
    assert not match(listed, {"state": "b"})
    wildcard = {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}
    assert not match(wildcard, {"FilePath": "/usr/lib/x.so"})
    assert match(wildcard, {"FilePath": "/usr/bin/x"})


def test_anything_but_needs_the_field() -> None:
    assert not match({"state": [{"anything-but": "running"}]}, {})
    assert not match({"detail": {"state": [{"anything-but": "running"}]}}, {"detail": {}})


def test_anything_but_matches_present_values_of_any_type() -> None:
    pattern = {"state": [{"anything-but": "running"}]}
    assert match(pattern, {"state": None})
    assert match(pattern, {"state": 5})
    assert match({"n": [{"anything-but": [5]}]}, {"n": "5"})
    assert match({"s": [{"anything-but": {"prefix": "a"}}]}, {"s": 1})


def test_anything_but_over_an_event_array_needs_one_other_value() -> None:
    pattern = {"state": [{"anything-but": ["a", "b"]}]}
    assert match(pattern, {"state": ["a", "c"]})
    assert not match(pattern, {"state": ["a", "b"]})


def test_documented_numeric() -> None:
    pattern = {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    }
    assert match(pattern, RULER_EVENT)
    assert not match(pattern, with_detail(RULER_EVENT, **{"c-count": 6}))
    assert not match(pattern, with_detail(RULER_EVENT, **{"c-count": 0}))
    assert not match(pattern, with_detail(RULER_EVENT, **{"d-count": 10}))


@pytest.mark.parametrize(
    ("numeric", "inside", "outside"),
    [
        (["<", 10], [9.999, -1e9], [10, 11]),
        (["<=", 10], [10, 10.0], [10.000001]),
        ([">", 10], [10.5], [10, 9]),
        ([">=", 10], [10, 1e6], [9.99]),
        (["=", 100], [100, 100.0, 1e2], [100.1]),
        ([">", 10, "<", 20], [11, 19.9], [10, 20]),
        ([">=", 10, "<=", 20], [10, 20], [9, 21]),
        ([">", 10, "<=", 20], [20], [10]),
        ([">=", 10, "<", 20], [10], [20]),
        ([">", -0.5, "<", 0.5], [0, -0.25], [-0.5]),
    ],
)
def test_numeric_operators(numeric: list[Any], inside: list[float], outside: list[float]) -> None:
    pattern = {"n": [{"numeric": numeric}]}
    for value in inside:
        assert match(pattern, {"n": value}), value
    for value in outside:
        assert not match(pattern, {"n": value}), value


def test_numeric_ignores_strings_and_booleans() -> None:
    assert not match({"n": [{"numeric": [">", 0]}]}, {"n": "5"})
    assert not match({"n": [{"numeric": [">", 0]}]}, {"n": True})
    assert not match({"n": [{"numeric": [">", 0]}]}, {"n": None})


def test_documented_ip_address_matching() -> None:
    assert match({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, RULER_EVENT)
    assert not match({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, RULER_EVENT)
    assert match({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.255.1.2"})


def test_cidr_host_bits_are_ignored() -> None:
    assert match({"ip": [{"cidr": "10.0.0.77/24"}]}, {"ip": "10.0.0.1"})


def test_cidr_ipv6() -> None:
    pattern = {"ip": [{"cidr": "2001:db8::/32"}]}
    assert match(pattern, {"ip": "2001:db8:0:0:0:0:0:1"})
    assert match(pattern, {"ip": "2001:db8::ffff"})
    assert not match(pattern, {"ip": "2001:db9::1"})
    assert not match(pattern, {"ip": "10.0.0.1"})


def test_cidr_ignores_values_that_are_not_addresses() -> None:
    pattern = {"ip": [{"cidr": "10.0.0.0/8"}]}
    assert not match(pattern, {"ip": "not an address"})
    assert not match(pattern, {"ip": 10})


def test_an_address_literal_matches_the_same_address_written_otherwise() -> None:
    assert match({"ip": ["::1"]}, {"ip": "0:0:0:0:0:0:0:1"})
    assert match({"ip": ["10.0.0.1"]}, {"ip": "10.0.0.1"})
    assert not match({"ip": ["10.0.0.1"]}, {"ip": "10.0.0.2"})


def test_documented_exists() -> None:
    assert match({"detail": {"c-count": [{"exists": True}]}}, RULER_EVENT)
    assert not match({"detail": {"c-count": [{"exists": False}]}}, RULER_EVENT)
    absent = {"detail": {"c-count": [{"exists": False}]}}
    ec2_state: dict[str, Any] = {
        "detail-type": ["EC2 Instance State-change Notification"],
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
        "detail": {"state": ["initializing", "running"]},
    }
    assert match(absent, ec2_state)
    # "also matches ... because c-count isn't a leaf node"
    with_object = {**ec2_state, "detail": {**ec2_state["detail"], "c-count": {"c1": 100}}}
    assert match(absent, with_object)
    assert not match({"detail": {"c-count": [{"exists": True}]}}, with_object)


def test_exists_false_matches_when_the_parent_is_missing() -> None:
    assert match({"detail": {"c-count": [{"exists": False}]}}, {"source": "x"})
    assert match({"a": {"b": {"c": [{"exists": False}]}}}, {"a": "scalar"})
    assert not match({"a": {"b": {"c": [{"exists": True}]}}}, {"a": "scalar"})


def test_exists_true_matches_null() -> None:
    assert match({"detail": {"responseElements": [{"exists": True}]}}, AUTOSCALING_EVENT)


def test_exists_with_event_arrays() -> None:
    assert match({"tags": [{"exists": True}]}, {"tags": ["a"]})
    # An empty array holds no value for the field.
    assert match({"tags": [{"exists": False}]}, {"tags": []})
    assert match({"items": {"id": [{"exists": False}]}}, {"items": [{"id": 1}, {"name": "x"}]})
    assert not match({"items": {"id": [{"exists": False}]}}, {"items": [{"id": 1}]})


def test_exists_combined_with_a_value() -> None:
    pattern = {"state": ["running", {"exists": False}]}
    assert match(pattern, {"state": "running"})
    assert match(pattern, {})
    assert not match(pattern, {"state": "stopped"})


def test_documented_complex_example() -> None:
    pattern = {
        "time": [{"prefix": "2017-10-02"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
            "source-ip": [{"cidr": "10.0.0.0/8"}],
        },
    }
    assert match(pattern, RULER_EVENT)
    assert not match(pattern, with_detail(RULER_EVENT, **{"source-ip": "192.168.0.1"}))


# --- $or ---------------------------------------------------------------------------------------


def test_documented_or() -> None:
    pattern = {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
    }
    assert match(pattern, {"source": "aws.cloudwatch", "metricName": "ReadLatency"})
    assert match(pattern, {"source": "aws.cloudwatch", "namespace": "AWS/ES"})
    assert not match(pattern, {"source": "aws.cloudwatch", "namespace": "AWS/S3"})
    assert not match(pattern, {"source": "aws.s3", "namespace": "AWS/ES"})


def test_documented_parallel_or() -> None:
    pattern = {
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
        "detail": {
            "$or": [
                {"source": ["aws.cloudwatch"]},
                {"detail-type": ["CloudWatch Alarm State Change"]},
            ]
        },
    }
    assert match(pattern, {"namespace": "AWS/EC2", "detail": {"source": "aws.cloudwatch"}})
    assert not match(pattern, {"namespace": "AWS/EC2", "detail": {"source": "aws.s3"}})
    assert not match(pattern, {"detail": {"source": "aws.cloudwatch"}})


def test_documented_nested_or_and() -> None:
    pattern = {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {
                "metricType": ["MetricType"],
                "namespace": ["AWS/EC2", "AWS/ES"],
                "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
            },
            {"scope": ["Service"]},
        ],
    }
    base = {"source": "aws.cloudwatch"}
    assert match(pattern, {**base, "scope": "Service"})
    assert match(
        pattern, {**base, "metricType": "MetricType", "namespace": "AWS/ES", "spaceId": 1000}
    )
    assert not match(pattern, {**base, "metricType": "MetricType", "namespace": "AWS/ES"})
    assert not match(pattern, {**base, "metricType": "MetricType", "spaceId": 1000})


def test_or_alternatives_can_use_exists_false() -> None:
    pattern = {"$or": [{"a": [{"exists": False}]}, {"a": ["x"]}]}
    assert match(pattern, {})
    assert match(pattern, {"a": "x"})
    assert not match(pattern, {"a": "y"})


# --- ECR events --------------------------------------------------------------------------------


def test_ecr_pushes_to_production_repositories() -> None:
    assert not match(ECR_PROD_PUSHES, ECR_PUSH_EVENT)
    prod = with_detail(ECR_PUSH_EVENT, **{"repository-name": "prod-api"})
    assert match(ECR_PROD_PUSHES, prod)
    assert not match(ECR_PROD_PUSHES, with_detail(prod, **{"action-type": "DELETE"}))
    assert not match(ECR_PROD_PUSHES, with_detail(prod, result="FAILURE"))
    assert not match(ECR_PROD_PUSHES, {**prod, "source": "berth"})


def test_ecr_scan_findings_pattern() -> None:
    scan = {
        "detail-type": "ECR Image Scan",
        "source": "aws.ecr",
        "detail": {
            "scan-status": "COMPLETE",
            "repository-name": "my-repository-name",
            "finding-severity-counts": {"CRITICAL": 10, "MEDIUM": 9},
            "image-tags": [],
        },
    }
    critical = {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Scan"],
        "detail": {"finding-severity-counts": {"CRITICAL": [{"numeric": [">", 0]}]}},
    }
    assert match(critical, scan)
    clean = {
        "detail": {
            "finding-severity-counts": {
                "CRITICAL": [{"exists": False}],
                "HIGH": [{"exists": False}],
            }
        }
    }
    assert not match(clean, scan)
    assert match(clean, {"detail": {"finding-severity-counts": {"LOW": 2}}})
    assert match({"detail": {"image-tags": [{"exists": False}]}}, scan)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ([], "Filter is not an object"),
        ('"source"', "Filter is not an object"),
        ({}, "Empty objects are not allowed"),
        ({"detail": {}}, "Empty objects are not allowed"),
        ({"source": "aws.ec2"}, '"source" must be an object or an array'),
        ({"source": 1}, '"source" must be an object or an array'),
        ({"source": []}, "Empty arrays are not allowed"),
        ({"source": [["aws.ec2"]]}, "Match value must be String, number, true, false, or null"),
        ({"source": [{}]}, "Match expression name not found"),
        ({"source": [{"regex": "a"}]}, "Unrecognized match type regex"),
        ({"source": [{"exactly": "a"}]}, "Unrecognized match type exactly"),
        ({"source": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"source": [{"prefix": "a", "suffix": "b"}]}, "Only one key allowed in match expression"),
        ({"source": [{"prefix": {"wildcard": "a"}}]}, "Unsupported prefix pattern: wildcard"),
        ({"source": [{"prefix": {}}]}, "Prefix expression name not found"),
        (
            {"source": [{"prefix": {"equals-ignore-case": 1}}]},
            "equals-ignore-case match pattern must be a string",
        ),
        ({"source": [{"suffix": None}]}, "suffix match pattern must be a string"),
        ({"source": [{"suffix": {"x": "a"}}]}, "Unsupported suffix pattern: x"),
        (
            {"source": [{"equals-ignore-case": 1}]},
            "equals-ignore-case match pattern must be a string",
        ),
        ({"source": [{"wildcard": 1}]}, "wildcard match pattern must be a string"),
        ({"source": [{"wildcard": "a**"}]}, "Consecutive wildcard characters at pos 1"),
        ({"source": [{"wildcard": "é**"}]}, "Consecutive wildcard characters at pos 2"),
        ({"source": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 1"),
        ({"source": [{"wildcard": "a\\"}]}, "Invalid escape character at pos 1"),
        ({"source": [{"exists": "true"}]}, "exists match pattern must be either true or false."),
        ({"source": [{"exists": True, "prefix": "a"}]}, "Only one key allowed in match expression"),
        ({"n": [{"numeric": 5}]}, "Value of numeric must be an array."),
        ({"n": [{"numeric": []}]}, "Invalid member in numeric match: null"),
        ({"n": [{"numeric": [5]}]}, "Invalid member in numeric match: 5"),
        ({"n": [{"numeric": ["==", 5]}]}, "Unrecognized numeric range operator: =="),
        ({"n": [{"numeric": ["=", "5"]}]}, "Value of equals must be numeric"),
        ({"n": [{"numeric": ["="]}]}, "Value of equals must be numeric"),
        ({"n": [{"numeric": ["=", 5, "<", 6]}]}, "Too many elements in numeric expression"),
        ({"n": [{"numeric": ["<", 5, ">", 1]}]}, "Too many elements in numeric expression"),
        ({"n": [{"numeric": [">", True]}]}, "Value of > must be numeric"),
        ({"n": [{"numeric": [">", 1, 5]}]}, "Bad value in numeric range: 5"),
        ({"n": [{"numeric": [">", 1, ">", 5]}]}, "Bad numeric range operator: >"),
        ({"n": [{"numeric": [">", 1, "<"]}]}, "Value of < must be numeric"),
        ({"n": [{"numeric": [">", 1, "<", 5, 6]}]}, "Too many terms in numeric range expression"),
        ({"n": [{"numeric": [">", 5, "<", 1]}]}, "Bottom must be less than top"),
        ({"n": [{"numeric": [">=", 5, "<=", 5]}]}, "Bottom must be less than top"),
        ({"n": [{"numeric": [">", 0], "exists": True}]}, "Too many elements in numeric expression"),
        (
            {"s": [{"anything-but": None}]},
            "Inside anything-but list, start|null|boolean is not supported.",
        ),
        (
            {"s": [{"anything-but": True}]},
            "Inside anything-but list, start|null|boolean is not supported.",
        ),
        (
            {"s": [{"anything-but": [True]}]},
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            {"s": [{"anything-but": ["a", 1]}]},
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported",
        ),
        (
            {"s": [{"anything-but": []}]},
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported",
        ),
        ({"s": [{"anything-but": {}}]}, "Anything-But expression name not found"),
        (
            {"s": [{"anything-but": {"numeric": [">", 1]}}]},
            "Unsupported anything-but pattern: numeric",
        ),
        ({"s": [{"anything-but": {"prefix": ""}}]}, "Null prefix/suffix not allowed"),
        ({"s": [{"anything-but": {"suffix": [""]}}]}, "Null prefix/suffix not allowed"),
        ({"s": [{"anything-but": {"prefix": 1}}]}, "prefix/suffix match pattern must be a string"),
        ({"s": [{"anything-but": {"prefix": []}}]}, "Empty arrays are not allowed"),
        ({"s": [{"anything-but": {"wildcard": [1]}}]}, "wildcard match pattern must be a string"),
        ({"s": [{"anything-but": {"wildcard": "**"}}]}, "Consecutive wildcard characters at pos 0"),
        (
            {"s": [{"anything-but": {"equals-ignore-case": 1}}]},
            "Inside anything-but/equals-ignore-case list, "
            "number|start|null|boolean is not supported.",
        ),
        (
            {"s": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
            "Too many elements in numeric expression",
        ),
        (
            {"s": [{"anything-but": {"prefix": {"x": 1}}}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        ({"s": [{"anything-but": "a", "prefix": "b"}]}, "Too many elements in numeric expression"),
        ({"ip": [{"cidr": 10}]}, "cidr match pattern must be a string"),
        ({"ip": [{"cidr": "10.0.0.0"}]}, "Malformed CIDR, one '/' required"),
        ({"ip": [{"cidr": "10.0.0.0/8/8"}]}, "Malformed CIDR, one '/' required"),
        ({"ip": [{"cidr": "10.0.0.0/x"}]}, "Malformed CIDR, mask bits must be an integer"),
        ({"ip": [{"cidr": "10.0.0.0/-1"}]}, "Malformed CIDR, mask bits must not be negative"),
        ({"ip": [{"cidr": "example.com/8"}]}, "Nonstandard IP address: example.com"),
        ({"ip": [{"cidr": "10.0.0.256/8"}]}, "Invalid IP address: 10.0.0.256"),
        ({"ip": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32"),
        ({"ip": [{"cidr": "::/128"}]}, "IPv6 mask bits must be < 128"),
        ({"$or": {"a": ["x"]}}, "It must be an Array followed with $or."),
        ({"$or": [{"a": ["x"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": [{"a": ["x"]}, "b"]}, "Only JSON object is allowed in array of $or relationship."),
        ({"$or": [{"a": ["x"]}, {}]}, "Empty objects are not allowed"),
        (
            {"$or": [{"prefix": ["x"]}, {"b": ["y"]}]},
            "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        (
            {"$or": [{"a": {"numeric": ["x"]}}, {"b": ["y"]}]},
            "numeric is Ruler reserved fieldName which cannot be used inside $or.",
        ),
    ],
)
def test_invalid_patterns(pattern: Any, expected: str) -> None:
    assert reason(pattern) == expected


def test_reserved_names_are_ordinary_fields_outside_or() -> None:
    assert match({"prefix": ["x"]}, {"prefix": "x"})


def test_invalid_json() -> None:
    assert reason("{").startswith("Expecting property name enclosed in double quotes")
    assert reason("").startswith("Expecting value")
    assert reason('{"a": ["x"]} trailing').startswith("Extra data")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_rejected(constant: str) -> None:
    assert reason(f'{{"a": [{constant}]}}') == f"Unrecognized token '{constant}'"


def test_numbers_a_double_cannot_hold_are_rejected_by_numeric_operators() -> None:
    assert reason('{"n": [{"numeric": ["<", 1e400]}]}') == "Cannot compare number : 1E+400"
    assert (
        reason('{"n": [{"anything-but": 0.12345678901234567890}]}')
        == "Cannot compare number : 0.12345678901234567890"
    )
    # Exact values fall back to comparing the number as written.
    assert match('{"n": [123456789012345678901234567890]}', {"n": 123456789012345678901234567890})


def test_length_limit() -> None:
    padding = " " * (MAX_PATTERN_LENGTH - len('{"a":["x"]}'))
    assert match('{"a":["x"]}' + padding, {"a": "x"})
    with pytest.raises(InvalidEventPattern) as info:
        parse_pattern('{"a":["x"]}' + padding + " ")
    assert "length less than or equal to 4096" in info.value.message


def test_deep_nesting_is_rejected() -> None:
    def nested(depth: int) -> str:
        return '{"a":' * depth + '["x"]' + "}" * depth

    assert match(nested(event_patterns.MAX_DEPTH + 1), {}) is False
    assert reason(nested(event_patterns.MAX_DEPTH + 2)) == "Pattern is nested too deeply"
    # Deeper than Python's own JSON parser goes.
    assert reason("[" * 4000) == "Pattern is nested too deeply"


def test_duplicate_keys_keep_the_last() -> None:
    assert match('{"a": ["x"], "a": ["y"]}', {"a": "y"})


def test_invalid_event_pattern_is_a_berth_error() -> None:
    assert issubclass(InvalidEventPattern, BerthError)


# --- TestEventPattern --------------------------------------------------------------------------


def test_test_event_pattern() -> None:
    assert (
        event_patterns.test_event_pattern(json.dumps(ECR_PROD_PUSHES), json.dumps(ECR_PUSH_EVENT))
        is False
    )
    prod = with_detail(ECR_PUSH_EVENT, **{"repository-name": "prod-web"})
    assert event_patterns.test_event_pattern(json.dumps(ECR_PROD_PUSHES), json.dumps(prod)) is True


def test_test_event_pattern_validates_the_pattern_first() -> None:
    with pytest.raises(InvalidEventPattern):
        event_patterns.test_event_pattern("{}", "not json")


@pytest.mark.parametrize("event", ["not json", "[]", '"x"', "{"])
def test_test_event_pattern_rejects_invalid_events(event: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        event_patterns.test_event_pattern('{"source": ["aws.ecr"]}', event)
    assert info.value.message == "Parameter Event is not valid."


@pytest.mark.parametrize("field", event_patterns.REQUIRED_EVENT_FIELDS)
def test_test_event_pattern_needs_the_envelope(field: str) -> None:
    event = {key: value for key, value in ECR_PUSH_EVENT.items() if key != field}
    with pytest.raises(InvalidEvent):
        event_patterns.test_event_pattern('{"source": ["aws.ecr"]}', json.dumps(event))


def test_test_event_pattern_does_not_need_resources() -> None:
    event = {key: value for key, value in ECR_PUSH_EVENT.items() if key != "resources"}
    assert event_patterns.test_event_pattern('{"source": ["aws.ecr"]}', json.dumps(event))


# --- properties --------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)

# Patterns and events over a small vocabulary, so that patterns are mostly valid and events
# often have the fields they name.
names = st.sampled_from(["a", "b", "c"])
words = st.sampled_from(["", "a", "ab", "b", "A", "10.0.0.1", "::1"])
small_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.5, 2.0]) | words
operators = st.one_of(
    small_scalars,
    st.builds(lambda w: {"prefix": w}, words),
    st.builds(lambda w: {"suffix": {"equals-ignore-case": w}}, words),
    st.builds(lambda w: {"equals-ignore-case": w}, words),
    st.builds(lambda w: {"wildcard": w}, st.sampled_from(["*", "a*", "*b", "a*b", "\\**"])),
    st.builds(lambda w: {"anything-but": w}, words | st.lists(words, min_size=1, max_size=2)),
    st.builds(lambda n: {"anything-but": n}, st.integers(-3, 3)),
    st.builds(lambda w: {"anything-but": {"prefix": w}}, st.sampled_from(["a", "1"])),
    st.builds(lambda w: {"anything-but": {"wildcard": [w]}}, st.sampled_from(["a*", "*"])),
    st.builds(
        lambda r: {"numeric": r},
        st.sampled_from([[">", 0], ["<=", 1], ["=", 2], [">=", -1, "<", 2.5]]),
    ),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(lambda c: {"cidr": c}, st.sampled_from(["10.0.0.0/8", "::/1"])),
)
leaves = st.lists(operators, min_size=1, max_size=2)


def objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    fields = st.dictionaries(names, children, min_size=1, max_size=3)
    with_or = st.builds(
        lambda base, alternatives: {**base, "$or": alternatives},
        st.dictionaries(names, children, max_size=2),
        st.lists(fields, min_size=2, max_size=3),
    )
    return fields | with_or


pattern_values = st.recursive(leaves, objects, max_leaves=5)
patterns = objects(pattern_values)
event_values = st.recursive(
    small_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(names, children, max_size=3),
    max_leaves=15,
)
events = st.dictionaries(names, event_values, max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_ever_raises_invalid_event_pattern(text: str) -> None:
    with contextlib.suppress(InvalidEventPattern):
        parse_pattern(text)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_only_ever_raises_invalid_event_pattern(document: Any) -> None:
    with contextlib.suppress(InvalidEventPattern):
        parse_pattern(json.dumps(document))


@settings(max_examples=150, deadline=None)
@given(patterns, events)
def test_matching_never_raises(pattern: dict[str, Any], event: dict[str, Any]) -> None:
    compiled = parse_pattern(json.dumps(pattern))
    assert matches(compiled, event) in (True, False)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=3), json_values, max_size=4), json_values)
def test_matching_arbitrary_events_never_raises(event: dict[str, Any], value: Any) -> None:
    compiled = parse_pattern(
        '{"a": [{"anything-but": "x"}, {"exists": false}, {"numeric": [">", 0]}]}'
    )
    assert matches(compiled, {**event, "a": value}) in (True, False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "*"]), max_size=8), st.text("ab*", max_size=10))
def test_wildcard_agrees_with_a_regex(parts: list[str], text: str) -> None:
    wildcard = "".join(parts).replace("**", "*")
    while "**" in wildcard:
        wildcard = wildcard.replace("**", "*")
    reference = re.fullmatch(".*".join(re.escape(p) for p in wildcard.split("*")), text)
    assert match({"f": [{"wildcard": wildcard}]}, {"f": text}) == (reference is not None)


@settings(max_examples=200, deadline=None)
@given(st.text("ab", max_size=4), st.lists(st.text("ab", max_size=3), min_size=1, max_size=3))
def test_anything_but_is_the_complement_of_the_values(value: str, excluded: list[str]) -> None:
    assert match({"f": [{"anything-but": excluded}]}, {"f": value}) == (value not in excluded)
    assert match({"f": excluded}, {"f": value}) == (value in excluded)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=3).filter(lambda key: key != "$or"),
        json_values,
        max_size=5,
    )
)
def test_an_event_matches_a_pattern_of_its_own_scalar_values(event: dict[str, Any]) -> None:
    fields: dict[str, Any] = {}
    for key, value in event.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            fields[key] = [value]
        elif isinstance(value, list):
            scalars = [item for item in value if not isinstance(item, (list, dict))]
            if scalars:
                fields[key] = scalars[:1]
    if fields:
        assert matches(parse_pattern(json.dumps(fields)), event)
