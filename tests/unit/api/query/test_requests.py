"""Request decoding: what botocore's own Query serializer writes comes back as the params it
was given; hand-made forms get AWS's errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from berth.api.query.wire import QueryError, QueryModel
from tests.unit.api.query.conftest import IAM, STS, botocore_form

POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Sid": "Caf\u00e9 & <co> \\"quoted\\" '
    '\'single\' \u00ff", "Effect": "Allow", "Action": "s3:*", '
    '"Resource": "arn:aws:s3:::a+b=c%20d?e#f"}]}\r\n\t'
)
ROLE_ARN = "arn:aws:iam::123456789012:role/deploy"
TAGS = [{"Key": "team", "Value": "platform"}, {"Key": "cost center", "Value": "a:b/c=d+e@f"}]

ROUND_TRIPS: list[tuple[QueryModel, str, dict[str, Any]]] = [
    (IAM, "CreateUser", {"UserName": "bob"}),
    (IAM, "CreateUser", {"UserName": "bob+ci@example.com", "Path": "/team/", "Tags": TAGS}),
    (IAM, "CreateUser", {"UserName": "bob", "Tags": []}),
    (IAM, "GetUser", {}),
    (IAM, "GetUser", {"UserName": "bob"}),
    (IAM, "ListUsers", {}),
    (IAM, "ListUsers", {"PathPrefix": "/team/", "Marker": "opaque token \u00e9+/=", "MaxItems": 2}),
    (IAM, "CreateAccessKey", {"UserName": "bob"}),
    (IAM, "ListAccessKeys", {"UserName": "bob", "MaxItems": 1000}),
    (
        IAM,
        "UpdateAccessKey",
        {"UserName": "bob", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Inactive"},
    ),
    (IAM, "PutUserPolicy", {"UserName": "bob", "PolicyName": "s3", "PolicyDocument": POLICY}),
    (
        IAM,
        "CreatePolicy",
        {
            "PolicyName": "read-only",
            "Path": "/service/",
            "PolicyDocument": POLICY,
            "Description": "Reads \u00fcberall & more",
            "Tags": TAGS,
        },
    ),
    (
        IAM,
        "AttachUserPolicy",
        {"UserName": "bob", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ),
    (
        IAM,
        "CreateRole",
        {
            "RoleName": "deploy",
            "AssumeRolePolicyDocument": POLICY,
            "Description": "Deploys",
            "MaxSessionDuration": 43200,
            "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
            "Tags": TAGS,
        },
    ),
    (IAM, "AddUserToGroup", {"GroupName": "admins", "UserName": "bob"}),
    (IAM, "UntagUser", {"UserName": "bob", "TagKeys": ["team", "cost center"]}),
    (
        IAM,
        "UpdateAccountPasswordPolicy",
        {"MinimumPasswordLength": 12, "RequireSymbols": True, "HardExpiry": False},
    ),
    (
        IAM,
        "SimulatePrincipalPolicy",
        {
            "PolicySourceArn": "arn:aws:iam::123456789012:user/bob",
            "ActionNames": ["s3:GetObject", "s3:PutObject"],
            "ContextEntries": [
                {
                    "ContextKeyName": "aws:CurrentTime",
                    "ContextKeyValues": ["2024-01-01T00:00:00Z"],
                    "ContextKeyType": "date",
                },
                {"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"]},
            ],
            "MaxItems": 10,
        },
    ),
    (
        STS,
        "AssumeRole",
        {
            "RoleArn": ROLE_ARN,
            "RoleSessionName": "ci-run.42@example",
            "PolicyArns": [
                {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                {"arn": "arn:aws:iam::123456789012:policy/extra"},
            ],
            "Policy": POLICY,
            "DurationSeconds": 900,
            "Tags": TAGS,
            "TransitiveTagKeys": ["team"],
            "ExternalId": "ext:id/1",
            "SerialNumber": "arn:aws:iam::123456789012:mfa/bob",
            "TokenCode": "123456",
            "SourceIdentity": "bob",
            "ProvidedContexts": [{"ProviderArn": "arn:aws:iam::aws:contextProvider/x"}],
        },
    ),
    (STS, "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "s1"}),
    (STS, "GetCallerIdentity", {}),
    (STS, "GetSessionToken", {"DurationSeconds": 129600}),
]


@pytest.mark.parametrize(
    ("model", "operation", "params"),
    ROUND_TRIPS,
    ids=[f"{m.service_name}.{op}-{i}" for i, (m, op, _) in enumerate(ROUND_TRIPS)],
)
def test_botocore_requests_decode_to_their_params(
    model: QueryModel, operation: str, params: dict[str, Any]
) -> None:
    form = botocore_form(model, operation, params)
    assert ("Action", operation) in form
    assert model.parse_request(form) == (operation, params)
    # A mapping (one value per key) is taken as well as the pairs.
    assert model.parse_request(dict(form)) == (operation, params)


def test_form_keys_are_what_botocore_writes() -> None:
    form = dict(botocore_form(IAM, "CreateUser", {"UserName": "bob", "Tags": TAGS}))
    assert form == {
        "Action": "CreateUser",
        "Version": "2010-05-08",
        "UserName": "bob",
        "Tags.member.1.Key": "team",
        "Tags.member.1.Value": "platform",
        "Tags.member.2.Key": "cost center",
        "Tags.member.2.Value": "a:b/c=d+e@f",
    }
    assert dict(botocore_form(IAM, "CreateUser", {"UserName": "bob", "Tags": []}))["Tags"] == ""


def test_form_details() -> None:
    pairs = [
        ("Version", "2010-05-08"),
        ("UserName", "first"),
        ("Action", "CreateUser"),
        ("UserName", "second"),  # a repeated key counts once, with its first value
        ("Action", "DeleteUser"),
        ("X-Amz-Signature", "00"),  # unknown keys are ignored
        ("Tags.member.10.Key", "ten"),  # items go in index order, gaps close up
        ("Tags.member.10.Value", "10"),
        ("Tags.member.2.Key", "two"),
        ("Tags.member.2.Value", "2"),
        ("Tags.member.x.Key", "not an index"),
        ("Tags.member.0.Key", "not an index either"),
        ("Tags.member." + "1" * 5000 + ".Key", "nor one Python would refuse to convert"),
        ("Tags.entry.1.Key", "not the list's item name"),
        ("UserName.Extra", "ignored"),
    ]
    assert IAM.parse_request(pairs) == (
        "CreateUser",
        {
            "UserName": "first",
            "Tags": [{"Key": "two", "Value": "2"}, {"Key": "ten", "Value": "10"}],
        },
    )
    # Version is optional; an empty string is a value like any other.
    assert IAM.parse_request([("Action", "ListUsers"), ("Marker", " ")]) == (
        "ListUsers",
        {"Marker": " "},
    )


def error(model: QueryModel, pairs: list[tuple[str, str]] | dict[str, str]) -> QueryError:
    with pytest.raises(QueryError) as caught:
        model.parse_request(pairs)
    assert caught.value.status == 400
    assert caught.value.sender
    return caught.value


@pytest.mark.parametrize(
    ("model", "pairs", "code", "message"),
    [
        (IAM, {}, "MissingAction", "Missing Action"),
        (IAM, {"Action": "", "Version": "2010-05-08"}, "MissingAction", "Missing Action"),
        (
            IAM,
            {"Action": "CreateBucket", "Version": "2010-05-08"},
            "InvalidAction",
            "Could not find operation CreateBucket for version 2010-05-08",
        ),
        (
            IAM,
            {"Action": "CreateBucket"},
            "InvalidAction",
            "Could not find operation CreateBucket for version 2010-05-08",
        ),
        (
            IAM,
            {"Action": "CreateUser", "Version": "2011-06-15", "UserName": "bob"},
            "InvalidAction",
            "Could not find operation CreateUser for version 2011-06-15",
        ),
        (
            STS,
            {"Action": "CreateUser", "Version": "2011-06-15"},
            "InvalidAction",
            "Could not find operation CreateUser for version 2011-06-15",
        ),
        (
            IAM,
            {"Action": "CreateUser", "Version": "", "UserName": "bob"},
            "InvalidAction",
            "Could not find operation CreateUser for version ",
        ),
        (
            IAM,
            {"Action": "ListUsers", "MaxItems": "9" * 5000},
            "MalformedInput",
            f"Value '{'9' * 5000}' at 'maxItems' is not a valid Integer",
        ),
        (
            IAM,
            {"Action": "ListUsers", "MaxItems": "ten"},
            "MalformedInput",
            "Value 'ten' at 'maxItems' is not a valid Integer",
        ),
        (
            IAM,
            {"Action": "ListUsers", "MaxItems": "1.0"},
            "MalformedInput",
            "Value '1.0' at 'maxItems' is not a valid Integer",
        ),
        (
            IAM,
            {"Action": "ListUsers", "MaxItems": "99999999999"},
            "MalformedInput",
            "Value '99999999999' at 'maxItems' is not a valid Integer",
        ),
        (
            IAM,
            {"Action": "UpdateAccountPasswordPolicy", "RequireSymbols": "yes"},
            "MalformedInput",
            "Value 'yes' at 'requireSymbols' is not a valid Boolean",
        ),
    ],
)
def test_protocol_errors(model: QueryModel, pairs: dict[str, str], code: str, message: str) -> None:
    caught = error(model, pairs)
    assert (caught.code, caught.message) == (code, message)


def validation(model: QueryModel, operation: str, params: dict[str, Any]) -> str:
    """The ValidationError message for `params`, sent as botocore would send them if it
    did not validate client-side."""
    caught = error(model, botocore_form(model, operation, params, validate=False))
    assert caught.code == "ValidationError"
    return caught.message


USER_NAME = r"[\w+=,.@-]+"
TAG_VALUE = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"


VALIDATIONS: list[tuple[QueryModel, str, dict[str, Any], str]] = [
    (
        IAM,
        "CreateUser",
        {},
        "1 validation error detected: Value null at 'userName' failed to satisfy "
        "constraint: Member must not be null",
    ),
    (
        IAM,
        "CreateUser",
        {"UserName": ""},
        "2 validation errors detected: Value '' at 'userName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; Value '' at 'userName' failed "
        f"to satisfy constraint: Member must satisfy regular expression pattern: {USER_NAME}",
    ),
    (
        IAM,
        "CreateUser",
        {"UserName": "b" * 65},
        f"1 validation error detected: Value '{'b' * 65}' at 'userName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64",
    ),
    (
        IAM,
        "CreateUser",
        {"UserName": "bob smith"},
        "1 validation error detected: Value 'bob smith' at 'userName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {USER_NAME}",
    ),
    (
        # Java's \w is ASCII-only.
        IAM,
        "CreateUser",
        {"UserName": "b\u00f6b"},
        "1 validation error detected: Value 'b\u00f6b' at 'userName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {USER_NAME}",
    ),
    (
        IAM,
        "CreateUser",
        {"UserName": "bob", "Tags": [{"Key": "team"}, {"Value": "x", "Key": "a!"}]},
        "2 validation errors detected: Value null at 'tags.1.member.value' failed to "
        "satisfy constraint: Member must not be null; Value 'a!' at 'tags.2.member.key' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        + TAG_VALUE.replace("*", "+"),
    ),
    (
        IAM,
        "CreateUser",
        {"UserName": "bob", "Tags": [{"Key": "k", "Value": f"{i}"} for i in range(51)]},
        "1 validation error detected: Value '["
        + ", ".join(f"{{Key=k, Value={i}}}" for i in range(51))
        + "]' at 'tags' failed to satisfy constraint: Member must have length less than or "
        "equal to 50",
    ),
    (
        IAM,
        "ListUsers",
        {"MaxItems": 0, "PathPrefix": "team"},
        "2 validation errors detected: Value 'team' at 'pathPrefix' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        r"\u002F[\u0021-\u007F]*; Value '0' at 'maxItems' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    (
        IAM,
        "UpdateAccessKey",
        {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "active"},
        "1 validation error detected: Value 'active' at 'status' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Active, Inactive, Expired]",
    ),
    (
        # IAM's policy documents are Latin-1 text: the euro sign is outside it.
        IAM,
        "PutUserPolicy",
        {"UserName": "bob", "PolicyName": "p", "PolicyDocument": '{"Sid": "\u20ac"}'},
        "1 validation error detected: Value '{\"Sid\": \"\u20ac\"}' at 'policyDocument' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        r"[\u0009\u000A\u000D\u0020-\u00FF]+",
    ),
    (
        # A sensitive value is not quoted back.
        IAM,
        "CreateLoginProfile",
        {"UserName": "bob", "Password": "s3cret\u20ac"},
        "1 validation error detected: Value at 'password' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+",
    ),
    (
        STS,
        "AssumeRole",
        {"RoleArn": ROLE_ARN, "RoleSessionName": "s", "DurationSeconds": 43201},
        "2 validation errors detected: Value 's' at 'roleSessionName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 2; Value '43201' at "
        "'durationSeconds' failed to satisfy constraint: Member must have value less than "
        "or equal to 43200",
    ),
    (
        # Constraints on the items of a list of strings are reported once, on the list.
        STS,
        "AssumeRole",
        {
            "RoleArn": ROLE_ARN,
            "RoleSessionName": "s1",
            "TransitiveTagKeys": ["ok", "", "x" * 129, ""],
        },
        "1 validation error detected: Value '[ok, , " + "x" * 129 + ", ]' at "
        "'transitiveTagKeys' failed to satisfy constraint: Member must satisfy constraint: "
        "[Member must have length greater than or equal to 1, Member must satisfy regular "
        f"expression pattern: {TAG_VALUE.replace('*', '+')}, Member must have length less "
        "than or equal to 128]",
    ),
    (
        STS,
        "AssumeRole",
        {"RoleArn": ROLE_ARN, "RoleSessionName": "s1", "ProvidedContexts": []},
        "1 validation error detected: Value '[]' at 'providedContexts' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
    ),
    (
        STS,
        "AssumeRole",
        {},
        "2 validation errors detected: Value null at 'roleArn' failed to satisfy "
        "constraint: Member must not be null; Value null at 'roleSessionName' failed to "
        "satisfy constraint: Member must not be null",
    ),
]


@pytest.mark.parametrize(
    ("model", "operation", "params", "message"),
    VALIDATIONS,
    ids=[f"{m.service_name}.{op}-{i}" for i, (m, op, _, _) in enumerate(VALIDATIONS)],
)
def test_validation_errors(
    model: QueryModel, operation: str, params: dict[str, Any], message: str
) -> None:
    assert validation(model, operation, params) == message


def test_lengths_count_utf16_code_units() -> None:
    # 32 characters outside the BMP are 64 UTF-16 units: the most a role name may have.
    name = "\U0001f600" * 32
    message = validation(IAM, "CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": "{}"})
    assert "length" not in message and "pattern" in message
    message = validation(
        IAM, "CreateRole", {"RoleName": name + "a", "AssumeRolePolicyDocument": "{}"}
    )
    assert "Member must have length less than or equal to 64" in message


def test_tag_values_take_any_letter_number_or_space() -> None:
    tags = [{"Key": "\u540d\u524d", "Value": "\u00e9t\u00e9 \u0661\u0662 \u3000x_.:/=+-@"}]
    form = botocore_form(IAM, "TagUser", {"UserName": "bob", "Tags": tags})
    assert IAM.parse_request(form) == ("TagUser", {"UserName": "bob", "Tags": tags})
    message = validation(IAM, "TagUser", {"UserName": "bob", "Tags": [{"Key": "k", "Value": "\t"}]})
    assert message.endswith(
        f"at 'tags.1.member.value' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {TAG_VALUE}"
    )


# What IAM's model says these members take, written out independently of the model.
_USER_NAME_OK = re.compile(r"[A-Za-z0-9_+=,.@-]{1,128}")
_POLICY_OK = re.compile("[\t\n\r\x20-\xff]{1,131072}")


@settings(max_examples=150, deadline=None)
@given(
    user=st.one_of(
        st.text(max_size=140), st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,130}", fullmatch=True)
    ),
    document=st.one_of(
        st.text(max_size=40), st.text(st.characters(max_codepoint=0xFF), max_size=40)
    ),
)
@example(user="bob", document='{"a": "\u00ff & <b> \\"q\\""}\r\n\t')
@example(user="b\x00b", document="\x00\x01\x1f")
@example(user="b" * 129, document="\u20ac")
@example(user="\U0001f600", document="\ud7ff\ue000")
def test_any_text_is_decoded_or_rejected_by_pattern(user: str, document: str) -> None:
    params = {"UserName": user, "PolicyName": "p", "PolicyDocument": document}
    form = botocore_form(IAM, "PutUserPolicy", params, validate=False)
    expected_bad = [
        name
        for name, value, ok in (
            ("userName", user, _USER_NAME_OK),
            ("policyDocument", document, _POLICY_OK),
        )
        if not ok.fullmatch(value)
    ]
    if not expected_bad:
        assert IAM.parse_request(form) == ("PutUserPolicy", params)
        return
    with pytest.raises(QueryError) as caught:
        IAM.parse_request(form)
    assert caught.value.code == "ValidationError"
    blamed = re.findall(r"at '(\w+)' failed", caught.value.message)
    assert sorted(set(blamed)) == sorted(expected_bad)
