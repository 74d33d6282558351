from __future__ import annotations

import json
from typing import Any

import pytest

from berth.domain.policy import (
    Condition,
    Policy,
    PolicyError,
    PolicyKind,
    PrincipalEntry,
    Statement,
    parse_policy,
)

ALLOW_ALL: dict[str, Any] = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
PULL_ACTIONS = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
]


def doc(statement: Any, **top: Any) -> str:
    document = {"Version": "2012-10-17", **top, "Statement": statement}
    return json.dumps(document)


def resource_statement(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": "ecr:*", **fields}


def only(policy: Policy) -> Statement:
    assert len(policy.statements) == 1
    return policy.statements[0]


# --- accepted documents -------------------------------------------------------------------------


def test_statement_may_be_an_object_or_a_list() -> None:
    single = parse_policy(doc(ALLOW_ALL), kind="identity")
    listed = parse_policy(doc([ALLOW_ALL]), kind="identity")
    assert single == listed
    assert single == Policy(
        (Statement("Allow", ("ecr:*",), resources=("*",)),), version="2012-10-17"
    )


def test_strings_and_lists_are_equivalent_for_action_and_resource() -> None:
    as_strings = parse_policy(doc(ALLOW_ALL), kind="identity")
    as_lists = parse_policy(
        doc({**ALLOW_ALL, "Action": ["ecr:*"], "Resource": ["*"]}), kind="identity"
    )
    assert as_strings == as_lists


def test_version_and_id_are_kept_and_version_is_optional() -> None:
    policy = parse_policy(doc(ALLOW_ALL, Id="my-policy"), kind="identity")
    assert (policy.version, policy.id) == ("2012-10-17", "my-policy")
    assert policy.supports_variables
    legacy = parse_policy(json.dumps({"Statement": ALLOW_ALL}), kind="identity")
    assert legacy.version is None and not legacy.supports_variables
    old = parse_policy(doc(ALLOW_ALL, Version="2008-10-17"), kind="identity")
    assert old.version == "2008-10-17" and not old.supports_variables


def test_negated_elements() -> None:
    statement = only(
        parse_policy(
            doc({"Effect": "Deny", "NotAction": "ecr:Get*", "NotResource": ["arn:aws:ecr:*:*:*"]}),
            kind="identity",
        )
    )
    assert statement.not_action and statement.not_resource
    assert statement.actions == ("ecr:Get*",)
    assert statement.resources == ("arn:aws:ecr:*:*:*",)


def test_ecr_cross_account_pull_policy_from_the_aws_docs() -> None:
    text = doc(
        [
            {
                "Sid": "AllowCrossAccountPull",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:role/x"},
                "Action": PULL_ACTIONS,
            }
        ]
    )
    statement = only(parse_policy(text, kind="resource"))
    assert statement.sid == "AllowCrossAccountPull"
    assert statement.resources is None  # ECR repository policies name no Resource
    assert statement.principals == (PrincipalEntry("AWS", "arn:aws:iam::444455556666:role/x"),)
    assert statement.actions == tuple(PULL_ACTIONS)


@pytest.mark.parametrize(
    ("principal", "entries"),
    [
        ("*", (PrincipalEntry("AWS", "*"),)),
        ({"AWS": "*"}, (PrincipalEntry("AWS", "*"),)),
        ({"AWS": "111122223333"}, (PrincipalEntry("AWS", "111122223333"),)),
        (
            {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/a/b"]},
            (
                PrincipalEntry("AWS", "arn:aws:iam::111122223333:root"),
                PrincipalEntry("AWS", "arn:aws:iam::111122223333:user/a/b"),
            ),
        ),
        (
            {"AWS": "arn:aws:sts::111122223333:assumed-role/Role/session"},
            (PrincipalEntry("AWS", "arn:aws:sts::111122223333:assumed-role/Role/session"),),
        ),
        (
            {"Service": ["ecs.amazonaws.com"], "AWS": "arn:aws-cn:iam::111122223333:role/r"},
            (
                PrincipalEntry("Service", "ecs.amazonaws.com"),
                PrincipalEntry("AWS", "arn:aws-cn:iam::111122223333:role/r"),
            ),
        ),
        ({"Federated": "cognito-identity.amazonaws.com"}, None),
        ({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, None),
    ],
)
def test_principal_forms(principal: Any, entries: tuple[PrincipalEntry, ...] | None) -> None:
    statement = only(parse_policy(doc(resource_statement(Principal=principal)), kind="resource"))
    if entries is not None:
        assert statement.principals == entries
    assert not statement.not_principal


def test_not_principal_and_trust_policies() -> None:
    statement = only(
        parse_policy(
            doc(
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/admin"},
                    "Action": "ecr:*",
                }
            ),
            kind="resource",
        )
    )
    assert statement.not_principal
    trust = only(
        parse_policy(
            doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            kind="trust",
        )
    )
    assert trust.principals == (PrincipalEntry("Service", "ec2.amazonaws.com"),)


def test_resource_policies_may_name_resources_and_use_any_sid() -> None:
    statement = only(
        parse_policy(
            doc(resource_statement(Sid="allow pull: team A", Resource="arn:aws:ecr:*:*:*")),
            kind="resource",
        )
    )
    assert statement.resources == ("arn:aws:ecr:*:*:*",)
    assert statement.sid == "allow pull: team A"


def test_conditions_are_flattened_with_qualifiers_and_values_as_strings() -> None:
    statement = only(
        parse_policy(
            doc(
                {
                    **ALLOW_ALL,
                    "Condition": {
                        "StringEquals": {"aws:username": "alice", "aws:PrincipalAccount": ["1", 2]},
                        "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "team*"},
                        "forallvalues:stringequals": {"aws:TagKeys": []},
                        "Bool": {"aws:SecureTransport": True},
                        "NumericLessThan": {"s3:max-keys": 10.5},
                        "Null": {"aws:TokenIssueTime": False},
                    },
                }
            ),
            kind="identity",
        )
    )
    assert statement.conditions == (
        Condition("StringEquals", "aws:username", ("alice",)),
        Condition("StringEquals", "aws:PrincipalAccount", ("1", "2")),
        Condition("StringLike", "aws:TagKeys", ("team*",), "ForAnyValue", if_exists=True),
        Condition("StringEquals", "aws:TagKeys", (), "ForAllValues"),
        Condition("Bool", "aws:SecureTransport", ("true",)),
        Condition("NumericLessThan", "s3:max-keys", ("10.5",)),
        Condition("Null", "aws:TokenIssueTime", ("false",)),
    )


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("StringEquals", "x"),
        ("StringNotEqualsIgnoreCase", "x"),
        ("StringNotLike", "x*"),
        ("NumericEquals", "-1.5"),
        ("NumericGreaterThanEqualsIfExists", "3"),
        ("DateLessThan", "2020-01-01T00:00:00Z"),
        ("DateGreaterThan", "2020-01-01"),
        ("DateEquals", "1577836800"),
        ("DateNotEquals", "2020-01-01T00:00:00.123+02:00"),
        ("Bool", "FALSE"),
        ("Bool", "${aws:username}"),
        ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="),
        ("IpAddress", "203.0.113.0/24"),
        ("NotIpAddress", "2001:DB8:1234:5678::/64"),
        ("IpAddress", "203.0.113.7"),
        ("ArnLike", "arn:aws:sns:*:123456789012:*"),
        ("ArnNotEquals", "anything"),
        ("Null", "true"),
    ],
)
def test_valid_condition_values(operator: str, value: str) -> None:
    parse_policy(doc({**ALLOW_ALL, "Condition": {operator: {"aws:k": value}}}), kind="identity")


def test_ecr_doc_examples_parse() -> None:
    examples: list[tuple[PolicyKind, Any]] = [
        # Allow all IAM users of the account to push and pull.
        (
            "resource",
            {
                "Sid": "AllowPushPull",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
                "Action": [*PULL_ACTIONS, "ecr:PutImage", "ecr:InitiateLayerUpload"],
            },
        ),
        # Public read-only access.
        (
            "resource",
            {"Sid": "AllowPublicPull", "Effect": "Allow", "Principal": "*", "Action": PULL_ACTIONS},
        ),
        # Deny everyone but one role in the account.
        (
            "resource",
            {
                "Sid": "DenyOthers",
                "Effect": "Deny",
                "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/ci"},
                "Action": "ecr:*",
            },
        ),
        # Identity policy: full ECR access on the user's own repositories.
        (
            "identity",
            {
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/${aws:username}/*",
            },
        ),
    ]
    for kind, statement in examples:
        parse_policy(doc([statement]), kind=kind)


# --- rejected documents -------------------------------------------------------------------------

SYNTAX = "Syntax errors in policy."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", SYNTAX),
        ("not json", SYNTAX),
        ("[]", SYNTAX),
        ('"text"', SYNTAX),
        ("null", SYNTAX),
        ('{"Statement": NaN}', SYNTAX),
        ("[" * 50_000 + "]" * 50_000, SYNTAX),
        ('{"Statement": [], "Statement": []}', SYNTAX),
        ("{}", "Missing required field Statement"),
        (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
        (doc([]), SYNTAX),
        (doc("x"), SYNTAX),
        (doc(["x"]), SYNTAX),
        (doc(ALLOW_ALL, Extra=1), SYNTAX),
        (doc(ALLOW_ALL, Id=7), SYNTAX),
        (doc(ALLOW_ALL, Version="2012-10-18"), "The policy failed legacy parsing"),
        (doc(ALLOW_ALL, Version=20121017), "The policy failed legacy parsing"),
        (doc({**ALLOW_ALL, "Extra": 1}), SYNTAX),
        (doc({**ALLOW_ALL, "effect": "Allow"}), SYNTAX),
        (doc({"Action": "ecr:*", "Resource": "*"}), "Missing required field Effect"),
        (doc({**ALLOW_ALL, "Effect": "allow"}), "Invalid effect: allow"),
        (doc({**ALLOW_ALL, "Effect": ["Allow"]}), SYNTAX),
        (doc({"Effect": "Allow", "Resource": "*"}), "Missing required field Action"),
        (doc({"Effect": "Allow", "Action": "ecr:*"}), "Missing required field Resource"),
        (doc({**ALLOW_ALL, "NotAction": "ecr:*"}), SYNTAX),
        (doc({**ALLOW_ALL, "NotResource": "*"}), SYNTAX),
        (doc({**ALLOW_ALL, "Action": []}), "Policy statement must contain actions."),
        (doc({**ALLOW_ALL, "Resource": []}), "Policy statement must contain resources."),
        (doc({**ALLOW_ALL, "Action": [1]}), SYNTAX),
        (doc({**ALLOW_ALL, "Action": {"a": "b"}}), SYNTAX),
        (doc({**ALLOW_ALL, "Resource": None}), SYNTAX),
        (
            doc({**ALLOW_ALL, "Action": "BatchGetImage"}),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            doc({**ALLOW_ALL, "Action": "*:GetObject"}),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            doc({**ALLOW_ALL, "Action": "ecr:Batch:GetImage"}),
            "Actions/Condition can contain only one colon.",
        ),
        (doc({**ALLOW_ALL, "Action": "ecr:"}), SYNTAX),
        (doc({**ALLOW_ALL, "Action": "ecr:Get Image"}), SYNTAX),
        (
            doc({**ALLOW_ALL, "Resource": "my-repo"}),
            'Resource my-repo must be in ARN format or "*".',
        ),
        (
            doc({**ALLOW_ALL, "Resource": "arn:aws:ecr"}),
            'Resource arn:aws:ecr must be in ARN format or "*".',
        ),
        (
            doc({**ALLOW_ALL, "Principal": "*"}),
            "Policy document should not specify a principal.",
        ),
        (
            doc({**ALLOW_ALL, "NotPrincipal": {"AWS": "111122223333"}}),
            "Policy document should not specify a principal.",
        ),
        (
            doc([{**ALLOW_ALL, "Sid": "a"}, {**ALLOW_ALL, "Sid": "a"}]),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            doc({**ALLOW_ALL, "Sid": "not alnum"}),
            "Statement IDs (SID) must be alpha-numeric. "
            "Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
        (doc({**ALLOW_ALL, "Sid": 1}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": []}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"StringEqualz": {"aws:username": "a"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"aws:username": "a"}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"StringEquals": {}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"StringEquals": "a"}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"StringEquals": {"aws:username": {"a": 1}}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"StringEquals": {"aws:username": [None]}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"NullIfExists": {"aws:username": "true"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"ForAnyValue:Null": {"aws:username": "true"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"ForSomeValues:StringLike": {"aws:k": "a"}}}), SYNTAX),
        (
            doc({**ALLOW_ALL, "Condition": {"StringEquals": {"username": "a"}}}),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (doc({**ALLOW_ALL, "Condition": {"NumericEquals": {"s3:max-keys": "ten"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"NumericEquals": {"s3:max-keys": "NaN"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"BinaryEquals": {"aws:k": "not base64!"}}}), SYNTAX),
        (doc({**ALLOW_ALL, "Condition": {"Null": {"aws:k": "maybe"}}}), SYNTAX),
        (
            # Variables only exist from 2012-10-17 on, so there the value is just a bad Bool.
            doc(
                {**ALLOW_ALL, "Condition": {"Bool": {"aws:k": "${aws:username}"}}},
                Version="2008-10-17",
            ),
            SYNTAX,
        ),
    ],
)
def test_identity_policy_rejections(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, kind="identity")
    assert caught.value.message == message
    assert str(caught.value) == message


@pytest.mark.parametrize("kind", ["resource", "trust"])
@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({"Effect": "Allow", "Action": "ecr:*"}, "Missing required field Principal"),
        (
            {"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "ecr:*"},
            SYNTAX,
        ),
        (
            {"Effect": "Allow", "Principal": "someone", "Action": "ecr:*"},
            "Invalid principal in policy",
        ),
        ({"Effect": "Allow", "Principal": {}, "Action": "ecr:*"}, "Invalid principal in policy"),
        ({"Effect": "Allow", "Principal": ["*"], "Action": "ecr:*"}, "Invalid principal in policy"),
        (
            {"Effect": "Allow", "Principal": {"AWS": []}, "Action": "ecr:*"},
            "Invalid principal in policy",
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": "alice"}, "Action": "ecr:*"},
            'Invalid principal in policy: "AWS":"alice"',
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": "11112222333"}, "Action": "ecr:*"},
            'Invalid principal in policy: "AWS":"11112222333"',
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:user/*"},
                "Action": "ecr:*",
            },
            'Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:user/*"',
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "ecr:*"},
            'Invalid principal in policy: "AWS":"arn:aws:iam::*:root"',
        ),
        (
            {"Effect": "Allow", "Principal": {"Service": ""}, "Action": "ecr:*"},
            'Invalid principal in policy: "Service":""',
        ),
        (
            {"Effect": "Allow", "Principal": {"Human": "bob"}, "Action": "ecr:*"},
            'Invalid principal in policy: "Human":"bob"',
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": [7]}, "Action": "ecr:*"},
            SYNTAX,
        ),
    ],
)
def test_principal_rejections(kind: PolicyKind, statement: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc(statement), kind=kind)
    assert caught.value.message == message


def test_trust_policies_restrict_sids_but_resource_policies_do_not() -> None:
    statement = {
        "Sid": "with spaces",
        "Effect": "Allow",
        "Principal": {"AWS": "111122223333"},
        "Action": "sts:AssumeRole",
    }
    parse_policy(doc(statement), kind="resource")
    with pytest.raises(PolicyError):
        parse_policy(doc(statement), kind="trust")


def test_non_string_input_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        parse_policy(b'{"Statement": []}', kind="identity")  # type: ignore[arg-type]
