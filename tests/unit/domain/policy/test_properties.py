from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.domain.policy import (
    Policy,
    PolicyError,
    PolicyKind,
    Principal,
    Request,
    evaluate,
    matches,
    parse_policy,
)

HOME = "111122223333"
OTHER = "444455556666"
REPO = f"arn:aws:ecr:us-east-1:{HOME}:repository/app"


# The whole module should stay within a few seconds: examples are capped per test.
def budget(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


def strings_or_lists(values: st.SearchStrategy[Any], min_size: int = 1) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, min_size=min_size, max_size=3))


# --- requests -----------------------------------------------------------------------------------

principals = st.sampled_from(
    [
        Principal.root(HOME),
        Principal.root(OTHER),
        Principal.user(HOME, "alice", userid="AIDAALICE"),
        Principal.user(OTHER, "carol"),
        Principal.assumed_role(OTHER, "puller", "s1", role_id="AROAX"),
        Principal.assumed_role(HOME, "ci", "s2"),
        Principal.anonymous(),
    ]
)
context_keys = st.sampled_from(
    [
        "aws:SourceIp",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:SecureTransport",
        "aws:TagKeys",
        "aws:RequestTag/team",
        "ecr:ResourceTag/team",
        "aws:username",
        "s3:max-keys",
        "test:Blob",
    ]
)
context_values = st.one_of(
    st.sampled_from(
        [
            "10.1.2.3",
            "2001:db8::1",
            "not-an-ip",
            "2020-01-01T00:00:00Z",
            "1577836800",
            "99999999999999999999999",
            "true",
            "false",
            "blue",
            "team-a",
            "*",
            "${aws:username}",
            "5",
            "QmluYXJ5",
            "",
        ]
    ),
    st.text(max_size=8),
)
contexts = st.dictionaries(context_keys, strings_or_lists(context_values, min_size=0), max_size=4)
requests = st.builds(
    Request,
    principal=principals,
    action=st.sampled_from(
        ["ecr:BatchGetImage", "ecr:PutImage", "ECR:batchgetimage", "s3:GetObject"]
    ),
    resource=st.sampled_from([REPO, f"arn:aws:ecr:us-east-1:{OTHER}:repository/x", "*"]),
    resource_account=st.sampled_from([None, HOME, OTHER]),
    context=contexts,
)

# --- documents ----------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


actions = st.sampled_from(
    ["*", "ecr:*", "ecr:Get*", "ecr:BatchGetImage", "ECR:batch?etimage", "s3:*"]
)
resources = st.one_of(
    st.sampled_from(
        [
            "*",
            REPO,
            "arn:aws:ecr:*:*:repository/*",
            f"arn:aws:ecr:us-east-1:{HOME}:repository/${{aws:username}}",
            "arn:aws:ecr:*:*:repository/${aws:RequestTag/team, 'app'}",
        ]
    ),
    # Arbitrary text after a valid prefix exercises the variable syntax.
    st.text(alphabet="${}', *?:ab\\", max_size=12).map(lambda tail: f"arn:aws:ecr:*:*:{tail}"),
)
aws_principals = st.sampled_from(
    [
        "*",
        HOME,
        OTHER,
        f"arn:aws:iam::{OTHER}:root",
        f"arn:aws:iam::{HOME}:user/alice",
        f"arn:aws:iam::{OTHER}:role/puller",
        f"arn:aws:sts::{OTHER}:assumed-role/puller/s1",
    ]
)
principal_elements = st.one_of(
    st.just("*"),
    st.fixed_dictionaries({"AWS": strings_or_lists(aws_principals)}),
    st.fixed_dictionaries({"Service": st.just("ecs.amazonaws.com")}),
)
_STRINGS = ["blue", "team-*", "", "${aws:username}", "${aws:RequestTag/team, 'blue'}"]
_NUMBERS: list[Any] = ["5", "-1.5", 10]
_DATES = ["2020-01-01T00:00:00Z", "1600000000", "2020-06"]
_BOOLS: list[Any] = ["true", "false", True]
_IPS = ["10.0.0.0/8", "2001:db8::/32", "10.1.2.3"]
_ARNS = ["arn:aws:iam::*:role/*", "arn:aws:ecr:*:*:repository/${aws:username}", "*"]
# Each operator with values it accepts, so that most generated documents parse.
_OPERATORS: list[tuple[str, st.SearchStrategy[Any]]] = [
    (operator, strings_or_lists(st.sampled_from(pool), min_size=0))
    for operator, pool in [
        ("StringEquals", _STRINGS),
        ("StringNotEquals", _STRINGS),
        ("StringEqualsIgnoreCase", _STRINGS),
        ("StringNotLikeIfExists", _STRINGS),
        ("ForAnyValue:StringLike", _STRINGS),
        ("ForAllValues:StringNotEquals", _STRINGS),
        ("NumericLessThan", _NUMBERS),
        ("NumericNotEqualsIfExists", _NUMBERS),
        ("DateGreaterThan", _DATES),
        ("ForAllValues:DateLessThanEquals", _DATES),
        ("Bool", _BOOLS),
        ("BinaryEquals", ["QmluYXJ5"]),
        ("IpAddress", _IPS),
        ("NotIpAddress", _IPS),
        ("ArnLike", _ARNS),
        ("ArnNotEquals", _ARNS),
        ("Null", _BOOLS),
    ]
]
_operator_choices = st.lists(st.sampled_from(_OPERATORS), max_size=2)
_key_choices = st.lists(context_keys, min_size=1, max_size=2, unique=True)
_action_values = strings_or_lists(actions)
_resource_values = strings_or_lists(resources)
_negated = st.booleans()
_versions = st.sampled_from([{"Version": "2012-10-17"}, {"Version": "2008-10-17"}, {}])
ALLOW_OR_DENY = st.sampled_from(["Allow", "Deny"])
DENY = st.just("Deny")


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for operator, values in draw(_operator_choices):
        block[operator] = {key: draw(values) for key in draw(_key_choices)}
    return block


_conditions = conditions()


@st.composite
def statements(
    draw: st.DrawFn, kind: PolicyKind, effects: st.SearchStrategy[str]
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(effects)}
    statement["NotAction" if draw(_negated) else "Action"] = draw(_action_values)
    if kind == "identity" or draw(st.booleans()):
        statement["NotResource" if draw(_negated) else "Resource"] = draw(_resource_values)
    if kind != "identity":
        statement["NotPrincipal" if draw(_negated) else "Principal"] = draw(principal_elements)
    if draw(st.booleans()):
        statement["Condition"] = draw(_conditions)
    return statement


def _documents(kind: PolicyKind) -> st.SearchStrategy[str]:
    return st.builds(
        lambda version, body: json.dumps({**version, "Statement": body}),
        _versions,
        st.lists(statements(kind, ALLOW_OR_DENY), min_size=1, max_size=3),
    )


def try_parse(text: str, kind: PolicyKind) -> Policy | None:
    try:
        return parse_policy(text, kind=kind)
    except PolicyError:
        return None


def _parsed(kind: PolicyKind) -> st.SearchStrategy[Policy | None]:
    def parse(text: str) -> Policy | None:
        return try_parse(text, kind)

    return DOCUMENTS[kind].map(parse)


ALL_KINDS: tuple[PolicyKind, ...] = ("identity", "resource", "trust")
DOCUMENTS = {kind: _documents(kind) for kind in ALL_KINDS}
PARSED = {kind: _parsed(kind) for kind in ALL_KINDS}
DENY_STATEMENTS = {kind: statements(kind, DENY) for kind in ALL_KINDS}


def mutate(document: Any, path: list[Any], junk: Any) -> Any:
    """`document` with the value at a random place replaced by junk."""
    if not path or not isinstance(document, dict | list) or not document:
        return junk
    index = path[0] % len(document)
    if isinstance(document, dict):
        key = list(document)[index]
        return {**document, key: mutate(document[key], path[1:], junk)}
    copy = list(document)
    copy[index] = mutate(copy[index], path[1:], junk)
    return copy


# --- (1) robustness -----------------------------------------------------------------------------

kinds = st.sampled_from(["identity", "resource", "trust"])


@budget(150)
@given(text=st.text(max_size=60), kind=kinds)
def test_any_text_is_parsed_or_refused_with_policy_error(text: str, kind: PolicyKind) -> None:
    try_parse(text, kind)


@budget(80)
@given(value=json_values, kind=kinds)
def test_any_json_value_is_parsed_or_refused_with_policy_error(
    value: Any, kind: PolicyKind
) -> None:
    try_parse(json.dumps(value), kind)
    try_parse(json.dumps({"Version": "2012-10-17", "Statement": value}), kind)
    try_parse(
        json.dumps({"Statement": {"Effect": "Allow", "Action": "ecr:*", "Condition": value}}), kind
    )


@budget(80)
@given(
    data=st.data(),
    kind=kinds,
    path=st.lists(st.integers(min_value=0, max_value=10), max_size=5),
    junk=json_values,
    req=requests,
)
def test_mutated_documents_never_raise_anything_else(
    data: st.DataObject, kind: PolicyKind, path: list[int], junk: Any, req: Request
) -> None:
    text = data.draw(DOCUMENTS[kind])
    for candidate in (text, json.dumps(mutate(json.loads(text), path, junk))):
        policy = try_parse(candidate, kind)
        if policy is not None:
            matches(policy, req)
            evaluate(req, identity=[policy], resource=[policy])


def present(policies: list[Policy | None]) -> list[Policy]:
    return [policy for policy in policies if policy is not None]


IDENTITY_POLICIES = st.lists(PARSED["identity"], max_size=2).map(present)
RESOURCE_POLICIES = st.lists(PARSED["resource"], max_size=2).map(present)


@budget(50)
@given(identity=IDENTITY_POLICIES, resource=RESOURCE_POLICIES, req=requests, boundary=st.booleans())
def test_evaluate_never_raises_on_parsed_policies(
    identity: list[Policy], resource: list[Policy], req: Request, boundary: bool
) -> None:
    decision = evaluate(req, identity=identity, resource=resource, boundary_is_root=boundary)
    assert decision.message(req).startswith(f"User: {req.principal.arn} is ")


# --- (2) monotonicity of Deny -------------------------------------------------------------------

SIDES: st.SearchStrategy[PolicyKind] = st.sampled_from(["identity", "resource"])
DENY_VERSIONS = st.sampled_from(["2012-10-17", "2008-10-17"])


@budget(100)
@given(
    identity=IDENTITY_POLICIES,
    resource=RESOURCE_POLICIES,
    req=requests,
    boundary=st.booleans(),
    side=SIDES,
    version=DENY_VERSIONS,
    data=st.data(),
)
def test_adding_a_deny_never_turns_a_denial_into_an_allow(
    identity: list[Policy],
    resource: list[Policy],
    req: Request,
    boundary: bool,
    side: PolicyKind,
    version: str,
    data: st.DataObject,
) -> None:
    deny_text = json.dumps({"Version": version, "Statement": data.draw(DENY_STATEMENTS[side])})
    deny_policy = try_parse(deny_text, side)
    if deny_policy is None:
        return
    policies = identity if side == "identity" else resource
    into_existing = data.draw(st.booleans())
    if policies and into_existing:
        # Into an existing policy rather than as a policy of its own.
        index = data.draw(st.integers(min_value=0, max_value=len(policies) - 1))
        target = policies[index]
        extended = replace(target, statements=(*target.statements, *deny_policy.statements))
        with_deny = [*policies[:index], extended, *policies[index + 1 :]]
    else:
        with_deny = [*policies, deny_policy]

    before = evaluate(req, identity=identity, resource=resource, boundary_is_root=boundary)
    after = evaluate(
        req,
        identity=with_deny if side == "identity" else identity,
        resource=with_deny if side == "resource" else resource,
        boundary_is_root=boundary,
    )
    assert before.allowed or not after.allowed
