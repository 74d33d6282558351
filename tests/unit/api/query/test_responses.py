"""Response and error documents, read back by botocore's own Query parser."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.model import Shape
from hypothesis import example, given, settings
from hypothesis import strategies as st

from berth.api.query.wire import CONTENT_TYPE, QueryError, QueryModel
from tests.unit.api.query.conftest import IAM, STS, botocore_parse

WHEN = datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC)
POLICY = '{"Statement": [{"Sid": "a&b <c> \\"d\\" \u00e9 \u6f22", "Effect": "Allow"}]}\r\n'
USER = {
    "Path": "/team/",
    "UserName": "bob",
    "UserId": "AIDAEXAMPLE",
    "Arn": "arn:aws:iam::123456789012:user/team/bob",
    "CreateDate": WHEN,
    "PasswordLastUsed": WHEN + timedelta(milliseconds=123),
    "PermissionsBoundary": {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundary",
    },
    "Tags": [{"Key": "team", "Value": "platform & <ops>"}, {"Key": "empty", "Value": ""}],
}
TAGS = [{"Key": "k", "Value": "v"}]

RESULTS: list[tuple[QueryModel, str, dict[str, Any]]] = [
    (IAM, "GetUser", {"User": USER}),
    (
        IAM,
        "ListUsers",
        {
            "Users": [
                USER,
                {**USER, "UserName": "alice", "Tags": [], "PermissionsBoundary": None},
                {"Path": "/", "UserName": "c", "UserId": "AIDC", "Arn": "arn", "CreateDate": WHEN},
            ],
            "IsTruncated": True,
            "Marker": "next page & more",
        },
    ),
    (IAM, "ListUsers", {"Users": [], "IsTruncated": False}),
    (
        IAM,
        "CreateAccessKey",
        {
            "AccessKey": {
                "UserName": "bob",
                "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "Status": "Active",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+/=",
                "CreateDate": WHEN,
            }
        },
    ),
    (
        IAM,
        "ListAccessKeys",
        {
            "AccessKeyMetadata": [
                {"UserName": "bob", "AccessKeyId": "AKIA1", "Status": "Active", "CreateDate": WHEN},
                {"UserName": "bob", "AccessKeyId": "AKIA2", "Status": "Inactive"},
            ],
            "IsTruncated": False,
        },
    ),
    (
        IAM,
        "ListAttachedUserPolicies",
        {
            "AttachedPolicies": [
                {"PolicyName": "ReadOnly", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
            ],
            "IsTruncated": True,
            "Marker": "m",
        },
    ),
    (IAM, "GetUserPolicy", {"UserName": "bob", "PolicyName": "s3", "PolicyDocument": POLICY}),
    (
        IAM,
        "GetRole",
        {
            "Role": {
                "Path": "/",
                "RoleName": "deploy",
                "RoleId": "AROAEXAMPLE",
                "Arn": "arn:aws:iam::123456789012:role/deploy",
                "CreateDate": WHEN,
                "AssumeRolePolicyDocument": POLICY,
                "Description": "",
                "MaxSessionDuration": 3600,
                "Tags": TAGS,
                "RoleLastUsed": {"LastUsedDate": WHEN, "Region": "eu-west-1"},
            }
        },
    ),
    (
        IAM,
        "CreatePolicy",
        {
            "Policy": {
                "PolicyName": "p",
                "PolicyId": "ANPAEXAMPLE",
                "Arn": "arn:aws:iam::123456789012:policy/p",
                "Path": "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 0,
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True,
                "Description": "d",
                "CreateDate": WHEN,
                "UpdateDate": WHEN,
                "Tags": TAGS,
            }
        },
    ),
    (
        STS,
        "AssumeRole",
        {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "secret",
                "SessionToken": "token+/=",
                "Expiration": datetime(2024, 1, 2, 3, 4, 5, 359000, tzinfo=UTC),
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLE:s1",
                "Arn": "arn:aws:sts::123456789012:assumed-role/deploy/s1",
            },
            "PackedPolicySize": 6,
            "SourceIdentity": "bob",
        },
    ),
    (
        STS,
        "GetCallerIdentity",
        {
            "UserId": "AIDAEXAMPLE",
            "Account": "123456789012",
            "Arn": "arn:aws:iam::123456789012:user/bob",
        },
    ),
]


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value if v is not None]
    return value


def read_back(model: QueryModel, operation: str, body: bytes) -> dict[str, Any]:
    root = ET.fromstring(body)  # well-formed, in the service's namespace
    assert root.tag == f"{{{model.xmlns}}}{operation}Response"
    parsed = botocore_parse(model, operation, body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    return parsed


@pytest.mark.parametrize(
    ("model", "operation", "result"),
    RESULTS,
    ids=[f"{m.service_name}.{op}-{i}" for i, (m, op, _) in enumerate(RESULTS)],
)
def test_botocore_reads_back_the_result(
    model: QueryModel, operation: str, result: dict[str, Any]
) -> None:
    body = model.serialize_response(operation, result, "req-1")
    assert read_back(model, operation, body) == without_none(result)


def test_document_layout() -> None:
    body = STS.serialize_response("GetCallerIdentity", {"Account": "1", "Arn": "a"}, "r&1")
    assert body == (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<GetCallerIdentityResult><Account>1</Account><Arn>a</Arn></GetCallerIdentityResult>"
        b"<ResponseMetadata><RequestId>r&amp;1</RequestId></ResponseMetadata>"
        b"</GetCallerIdentityResponse>"
    )
    body = IAM.serialize_response("ListUsers", {"Users": [{"UserName": "b"}]}, "r")
    assert b"<Users><member><UserName>b</UserName></member></Users>" in body
    assert CONTENT_TYPE == "text/xml"


def test_operation_without_output() -> None:
    body = IAM.serialize_response("AddUserToGroup", {}, "req-1")
    assert body == (
        b'<AddUserToGroupResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>"
        b"</AddUserToGroupResponse>"
    )
    assert read_back(IAM, "AddUserToGroup", body) == {}
    with pytest.raises(ValueError, match="no output"):
        IAM.serialize_response("AddUserToGroup", {"UserName": "bob"}, "r")


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2024-01-02T03:04:05.120Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "2024-01-02T03:04:05.123456Z"),
        # A naive datetime is UTC; an aware one is converted.
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),
        (
            datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-02T03:04:05Z",
        ),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
    ],
)
def test_timestamps(when: datetime, text: str) -> None:
    body = IAM.serialize_response("GetRole", {"Role": {"CreateDate": when}}, "req-1")
    assert f"<CreateDate>{text}</CreateDate>".encode() in body
    parsed = read_back(IAM, "GetRole", body)["Role"]["CreateDate"]
    assert parsed == (when if when.tzinfo else when.replace(tzinfo=UTC))


@pytest.mark.parametrize(
    ("result", "error"),
    [
        ({"Users": [], "Bogus": 1}, "ListUsersResponse has no member 'Bogus'"),
        ({"Users": [{"Name": "bob"}]}, "User has no member 'Name'"),
        ({"Users": "bob"}, "userListType needs a list, not str"),
        ({"Users": [], "IsTruncated": "false"}, "booleanType .boolean. cannot be str"),
        ({"Users": [{"CreateDate": "2024-01-01"}]}, "dateType .timestamp. cannot be str"),
        ({"Users": [{"UserName": 5}]}, "userNameType .string. cannot be int"),
        ({"Users": ["bob"]}, "User needs a mapping, not str"),
    ],
)
def test_results_that_do_not_fit_the_shape(result: dict[str, Any], error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        IAM.serialize_response("ListUsers", result, "r")


def test_unknown_operation() -> None:
    with pytest.raises(KeyError):
        IAM.serialize_response("CreateBucket", {}, "r")


def sample(shape: Shape, depth: int = 0) -> Any:
    """A value for `shape` that exercises every member, within the model's enums."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 6:
            return {}
        members = shape.members.items()
        if shape.metadata.get("union"):
            members = list(members)[:1]  # a union carries exactly one member
        return {name: sample(member, depth + 1) for name, member in members}
    if kind == "list":
        return [sample(shape.member, depth + 1), sample(shape.member, depth + 1)]
    if kind == "map":
        return {"k<&>": sample(shape.value, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else f"{shape.name} & <\u00e9>"
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 7))
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return depth % 2 == 0
    if kind == "timestamp":
        return WHEN
    if kind == "blob":
        return b"\x00\xff blob"
    raise AssertionError(kind)


@pytest.mark.parametrize("model", [IAM, STS], ids=["iam", "sts"])
def test_every_output_shape_reads_back(model: QueryModel) -> None:
    checked = 0
    for operation in sorted(model.operation_names()):
        shape = model.service_model.operation_model(operation).output_shape
        result = sample(shape) if shape is not None else {}
        body = model.serialize_response(operation, result, "req-1")
        assert read_back(model, operation, body) == result, operation
        checked += 1
    assert checked == len(model.operation_names()) > 10


@pytest.mark.parametrize(
    ("model", "code", "status", "message"),
    [
        (IAM, "NoSuchEntity", 404, "The user with name bob cannot be found."),
        (IAM, "EntityAlreadyExists", 409, "User with name bob already exists."),
        (IAM, "MalformedPolicyDocument", 400, 'Syntax errors in policy: "&<>'),
        (IAM, "ValidationError", 400, "1 validation error detected: Value null at 'userName'"),
        (IAM, "ServiceFailure", 500, "Request processing has failed."),
        (
            STS,
            "ExpiredTokenException",
            400,
            "The security token included in the request is expired",
        ),
        (STS, "MalformedPolicyDocument", 400, "policy \u00e9"),
    ],
)
def test_botocore_reads_back_errors(
    model: QueryModel, code: str, status: int, message: str
) -> None:
    error = model.error(code, message)
    assert (error.code, error.message, error.status) == (code, message, status)
    assert error.sender == (status < 500)
    body = model.error_body(error, "req-9")
    root = ET.fromstring(body)
    assert root.tag == f"{{{model.xmlns}}}ErrorResponse"
    parsed = botocore_parse(model, "GetCallerIdentity" if model is STS else "GetUser", body, status)
    assert parsed["Error"] == {
        "Type": "Sender" if status < 500 else "Receiver",
        "Code": code,
        "Message": message,
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status


def test_error_status_defaults_to_400() -> None:
    assert IAM.error("SomethingElse", "m").status == 400
    error = QueryError("InternalFailure", "m", 500)
    assert not error.sender
    assert b"<Type>Receiver</Type>" in IAM.error_body(error, "r")
    assert b"<Type>Receiver</Type>" in IAM.serialize_error("X", "m", "r", sender=False)
    assert b"<Type>Sender</Type>" in IAM.serialize_error("X", "m", "r")


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def as_xml_carries_it(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


# Any code point, lone surrogates included: handlers may hand back whatever storage holds.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)


@settings(max_examples=200, deadline=None)
@given(user=ANY_TEXT, document=ANY_TEXT, message=ANY_TEXT)
@example(user="\x00\x08\x0b\x0c\x1f\x7f", document="a\r\nb\rc\n\td", message="]]> &amp; <x/>")
@example(user="\ud800\udfff\ud83d", document="\ufffe\uffff\ufffd", message="\U0001f600 \u00e9")
@example(user="", document=" ", message="")
def test_any_text_gives_well_formed_xml(user: str, document: str, message: str) -> None:
    result = {"UserName": user, "PolicyName": "p", "PolicyDocument": document}
    body = IAM.serialize_response("GetUserPolicy", result, "req-1")
    parsed = read_back(IAM, "GetUserPolicy", body)
    assert parsed == {
        "UserName": as_xml_carries_it(user),
        "PolicyName": "p",
        "PolicyDocument": as_xml_carries_it(document),
    }
    error = IAM.serialize_error("MalformedPolicyDocument", message, "req-1")
    ET.fromstring(error)
    parsed_error = botocore_parse(IAM, "GetUserPolicy", error, 400)["Error"]
    assert parsed_error["Message"] == (as_xml_carries_it(message) or None)
