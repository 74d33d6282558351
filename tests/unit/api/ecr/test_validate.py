"""Validation as AWS answers it, with hand-made requests (botocore validates client-side)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.api.awsjson.validate import validate
from berth.api.ecr.dispatch import Call
from berth.api.ecr.errors import EcrError
from berth.api.ecr.model import ECR
from tests.unit.api.ecr.conftest import Server

operation_model, operation_names = ECR.operation_model, ECR.operation_names

NAME_PATTERN = (
    operation_model("CreateRepository").input_shape.members["repositoryName"].metadata["pattern"]
)


def invalid(operation: str, params: Any) -> EcrError:
    with pytest.raises(EcrError) as caught:
        validate(operation_model(operation), params)
    return caught.value


async def echo(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {}


@pytest.mark.parametrize(
    ("operation", "body", "message"),
    [
        (
            "CreateRepository",
            {},
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
            "'Member must not be null'",
        ),
        (
            "CreateRepository",
            {"repositoryName": "a" * 257},
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
            "'Member must have length less than or equal to 256'",
        ),
        (
            "CreateRepository",
            {"repositoryName": "a"},
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
            "'Member must have length greater than or equal to 2'",
        ),
        (
            "CreateRepository",
            {"repositoryName": "Bad_Name"},
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
            f"'Member must satisfy regular expression pattern: {NAME_PATTERN}'",
        ),
        (
            "CreateRepository",
            {"repositoryName": "app", "imageTagMutability": "SOMETIMES"},
            "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: "
            "'Member must satisfy enum value set: "
            "[MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]'",
        ),
        (
            "DescribeImages",
            {"repositoryName": "app", "maxResults": 5000},
            "Invalid parameter at 'maxResults' failed to satisfy constraint: "
            "'Member must have value less than or equal to 1000'",
        ),
        (
            "DescribeImages",
            {"repositoryName": "app", "maxResults": 0},
            "Invalid parameter at 'maxResults' failed to satisfy constraint: "
            "'Member must have value greater than or equal to 1'",
        ),
        (
            "BatchGetImage",
            {"repositoryName": "app", "imageIds": [{"imageTag": f"t{i}"} for i in range(101)]},
            "Invalid parameter at 'imageIds' failed to satisfy constraint: "
            "'Member must have length less than or equal to 100'",
        ),
        (
            "BatchDeleteImage",
            {"repositoryName": "app", "imageIds": []},
            "Invalid parameter at 'imageIds' failed to satisfy constraint: "
            "'Member must have length greater than or equal to 1'",
        ),
        (
            "BatchGetImage",
            {"repositoryName": "app", "imageIds": [{"imageTag": "ok"}, {"imageTag": "x" * 301}]},
            "Invalid parameter at 'imageIds.2.member.imageTag' failed to satisfy constraint: "
            "'Member must have length less than or equal to 300'",
        ),
        (
            "DescribeRepositories",
            {"registryId": "123", "repositoryNames": ["ok"]},
            "Invalid parameter at 'registryId' failed to satisfy constraint: "
            "'Member must satisfy regular expression pattern: [0-9]{12}'",
        ),
        (
            "GetAuthorizationToken",
            {"registryIds": ["123456789012", "12"]},
            "Invalid parameter at 'registryIds' failed to satisfy constraint: "
            "'Member must satisfy constraint: [Member must satisfy regular expression "
            "pattern: [0-9]{12}]'",
        ),
        (
            "PutImageScanningConfiguration",
            {"repositoryName": "app", "imageScanningConfiguration": {}},
            None,  # valid: scanOnPush is optional
        ),
    ],
)
def test_constraint_violations(
    server: Server, operation: str, body: dict[str, Any], message: str | None
) -> None:
    server.use({operation: echo})
    response = server.raw(operation, json.dumps(body))
    if message is None:  # a valid request
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.json() == {"__type": "InvalidParameterException", "message": message}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"repositoryName": 5}, "NUMBER_VALUE cannot be converted to String"),
        ({"repositoryName": True}, "TRUE_VALUE cannot be converted to String"),
        ({"repositoryName": 1.5}, "DECIMAL_VALUE cannot be converted to String"),
        ({"repositoryName": ["a"]}, "Unrecognized collection type class java.lang.String"),
        ({"repositoryName": {}}, "Start of structure or map found where not expected"),
        (
            {"repositoryName": "app", "maxResults": "10"},
            "STRING_VALUE cannot be converted to Integer",
        ),
        (
            {"repositoryName": "app", "maxResults": False},
            "FALSE_VALUE cannot be converted to Integer",
        ),
        ({"repositoryName": "app", "imageIds": "latest"}, "Unexpected field type"),
        (
            {"repositoryName": "app", "imageIds": {"imageTag": "a"}},
            "Start of structure or map found where not expected",
        ),
        ({"repositoryName": "app", "imageIds": [5]}, "Unexpected field type"),
        ({"repositoryName": "app", "imageIds": [[]]}, "Start of list found where not expected"),
        (
            {"repositoryName": "app", "filter": {"tagStatus": 1}},
            "NUMBER_VALUE cannot be converted to String",
        ),
        ([], "Start of list found where not expected"),
        ("app", "Unexpected field type"),
    ],
)
def test_wrong_json_types_are_serialization_errors(server: Server, body: Any, message: str) -> None:
    server.use({"DescribeImages": echo})
    response = server.raw("DescribeImages", json.dumps(body))
    assert response.status_code == 400
    assert response.json() == {"__type": "SerializationException", "message": message}


@pytest.mark.parametrize("body", [b"{", b'{"a": NaN}', b"\xff\xfe", b'{"repositoryName": "a"} x'])
def test_malformed_json(server: Server, body: bytes) -> None:
    server.use({"DescribeImages": echo})
    response = server.raw("DescribeImages", body)
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"
    assert response.json()["message"].startswith("Malformed JSON request body")


def test_serialization_wins_over_constraints() -> None:
    error = invalid("DescribeImages", {"maxResults": 5000, "repositoryName": 5})
    assert error.type_name == "SerializationException"


def test_blob_decoding() -> None:
    params = {
        "repositoryName": "app",
        "uploadId": "0f0e0d0c-0b0a-0908-0706-050403020100",
        "partFirstByte": 0,
        "partLastByte": 2,
    }
    ok = validate(operation_model("UploadLayerPart"), {**params, "layerPartBlob": "YWJj"})
    assert ok["layerPartBlob"] == b"abc"
    for blob, message in [
        ("YWJ", "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
        ("YW!j", "Invalid Base64 character"),
        (12, "only base-64-encoded strings are convertible to bytes"),
    ]:
        error = invalid("UploadLayerPart", {**params, "layerPartBlob": blob})
        assert (error.type_name, error.message) == ("SerializationException", message)


def test_unknown_members_are_ignored_and_dropped() -> None:
    params = validate(
        operation_model("CreateRepository"),
        {"repositoryName": "app", "color": "blue", "tags": [{"Key": "k", "Value": "v", "x": 1}]},
    )
    assert params == {"repositoryName": "app", "tags": [{"Key": "k", "Value": "v"}]}


def test_null_is_absent() -> None:
    assert validate(operation_model("ListImages"), {"repositoryName": "a1", "nextToken": None}) == {
        "repositoryName": "a1"
    }


def test_lengths_count_utf16_units_as_java_does() -> None:
    # 151 characters outside the BMP are 302 UTF-16 units; an image tag allows 300.
    error = invalid(
        "BatchGetImage", {"repositoryName": "app", "imageIds": [{"imageTag": "\U0001f600" * 151}]}
    )
    assert error.message == (
        "Invalid parameter at 'imageIds.1.member.imageTag' failed to satisfy constraint: "
        "'Member must have length less than or equal to 300'"
    )


def test_a_lone_surrogate_is_one_utf16_unit() -> None:
    # JSON can carry one ("\ud800"); Java counts it as one unit, and checks it like any other.
    error = invalid(
        "BatchGetImage", {"repositoryName": "app", "imageIds": [{"imageTag": "\ud800" * 301}]}
    )
    assert error.message == (
        "Invalid parameter at 'imageIds.1.member.imageTag' failed to satisfy constraint: "
        "'Member must have length less than or equal to 300'"
    )
    error = invalid("CreateRepository", {"repositoryName": "ab\ud800"})
    assert error.message == (
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
        f"'Member must satisfy regular expression pattern: {NAME_PATTERN}'"
    )


def test_integers_are_bounded_like_java() -> None:
    ok = validate(
        operation_model("UploadLayerPart"),
        {
            "repositoryName": "app",
            "uploadId": "0f0e0d0c-0b0a-0908-0706-050403020100",
            "partFirstByte": 2**40,
            "partLastByte": 2**40 + 1.9,  # a decimal is truncated
            "layerPartBlob": "",
        },
    )
    assert (ok["partFirstByte"], ok["partLastByte"]) == (2**40, 2**40 + 1)
    error = invalid("DescribeImages", {"repositoryName": "app", "maxResults": 2**31})
    assert error.message == "NUMBER_VALUE cannot be converted to Integer"


def test_operations_without_invalid_parameter_list_every_violation() -> None:
    # No ECR operation with members lacks InvalidParameterException, so exercise the generic
    # format by asking for it directly.
    from berth.api.awsjson.validate import Violation, _invalid

    error = _invalid(
        operation_model("DeleteSigningConfiguration"),
        [
            Violation(
                "repositoryName", "Bad_Name", "Member must satisfy regular expression pattern: x"
            ),
            Violation("registryId", None, "Member must not be null"),
            Violation(
                "layerDigests", ["a", True], "Member must have length less than or equal to 1"
            ),
        ],
    )
    assert error.type_name == "ValidationException"
    assert error.message == (
        "3 validation errors detected: "
        "Value 'Bad_Name' at 'repositoryName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: x; "
        "Value null at 'registryId' failed to satisfy constraint: Member must not be null; "
        "Value '[a, true]' at 'layerDigests' failed to satisfy constraint: "
        "Member must have length less than or equal to 1"
    )
    single = _invalid(operation_model("DeleteSigningConfiguration"), [Violation("a", 5, "c")])
    assert (
        single.message
        == "1 validation error detected: Value '5' at 'a' failed to satisfy constraint: c"
    )


def test_timestamps_parse_to_aware_datetimes() -> None:
    from berth.api.awsjson.validate import _value
    from berth.api.ecr.model import ECR

    shape = ECR.service_model.shape_for("PushTimestamp")
    assert _value(shape, 1704164645.5, "t", []) == datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    assert _value(shape, "2024-01-02T03:04:05Z", "t", []) == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    with pytest.raises(EcrError):
        _value(shape, "yesterday", "t", [])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, Any]:
    operation = draw(st.sampled_from(operation_names()))
    members = list(operation_model(operation).input_shape.members)
    keys = st.sampled_from(members) | st.text(max_size=5) if members else st.text(max_size=5)
    return operation, draw(st.dictionaries(keys, JSON, max_size=4))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_any_json_is_accepted_or_refused_the_aws_way(request: tuple[str, Any]) -> None:
    operation, params = request
    try:
        validate(operation_model(operation), params)
    except EcrError as error:
        assert error.status == 400
        assert error.type_name in {
            "SerializationException",
            "InvalidParameterException",
            "ValidationException",
        }
