from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from berth.domain.policy import (
    Decision,
    Policy,
    Principal,
    Request,
    evaluate,
    matches,
    parse_policy,
)

HOME = "111122223333"
OTHER = "444455556666"
REPO = f"arn:aws:ecr:us-east-1:{HOME}:repository/app"
PULL = "ecr:BatchGetImage"

ALICE = Principal.user(HOME, "alice", userid="AIDAALICE")
BOB = Principal.user(HOME, "bob", userid="AIDABOB", path="/team/")
ROOT = Principal.root(HOME)
OTHER_ROOT = Principal.root(OTHER)
OTHER_USER = Principal.user(OTHER, "carol")
OTHER_SESSION = Principal.assumed_role(OTHER, "puller", "build-42", role_id="AROAPULLER")
ANONYMOUS = Principal.anonymous()


def identity(*statements: dict[str, Any], version: str | None = "2012-10-17") -> Policy:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version:
        document["Version"] = version
    return parse_policy(json.dumps(document), kind="identity")


def resource(*statements: dict[str, Any]) -> Policy:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return parse_policy(json.dumps(document), kind="resource")


def allow(action: Any = "ecr:*", res: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": res, **extra}


def deny(action: Any = "ecr:*", res: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": res, **extra}


def grant(
    principal: Any, action: Any = "ecr:*", effect: str = "Allow", **extra: Any
) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, **extra}


def request(
    principal: Principal,
    action: str = PULL,
    res: str = REPO,
    context: Mapping[str, str | Sequence[str]] | None = None,
    account: str | None = None,
) -> Request:
    return Request(principal, action, res, account, context or {})


def decide(
    req: Request,
    identity_policies: Sequence[Policy] = (),
    resource_policies: Sequence[Policy] = (),
    **kwargs: Any,
) -> Decision:
    return evaluate(req, identity=identity_policies, resource=resource_policies, **kwargs)


NO_IDENTITY = f"because no identity-based policy allows the {PULL} action"
NO_RESOURCE = f"because no resource-based policy allows the {PULL} action"
IDENTITY_DENY = "with an explicit deny in an identity-based policy"
RESOURCE_DENY = "with an explicit deny in a resource-based policy"


# --- principals ---------------------------------------------------------------------------------


def test_principal_constructors() -> None:
    assert Principal(f"arn:aws:iam::{HOME}:root", HOME, "root", userid=HOME) == ROOT
    assert BOB.arn == f"arn:aws:iam::{HOME}:user/team/bob"
    assert BOB.username == "bob"
    assert OTHER_SESSION.arn == f"arn:aws:sts::{OTHER}:assumed-role/puller/build-42"
    assert OTHER_SESSION.role_arn == f"arn:aws:iam::{OTHER}:role/puller"
    assert OTHER_SESSION.userid == "AROAPULLER:build-42"
    assert Principal("anonymous", None, "anonymous") == ANONYMOUS


# --- the decision logic -------------------------------------------------------------------------


def test_implicit_deny_message() -> None:
    req = request(ALICE)
    decision = decide(req)
    assert decision == Decision(False, NO_IDENTITY)
    assert decision.message(req) == (
        f"User: arn:aws:iam::{HOME}:user/alice is not authorized to perform: ecr:BatchGetImage "
        f"on resource: {REPO} because no identity-based policy allows the ecr:BatchGetImage action"
    )


def test_same_account_identity_policy_allows() -> None:
    decision = decide(request(ALICE), [identity(allow())])
    assert decision.allowed
    assert decision.message(request(ALICE)).startswith(
        f"User: arn:aws:iam::{HOME}:user/alice is authorized to perform: ecr:BatchGetImage"
    )


def test_same_account_resource_policy_alone_allows() -> None:
    policy = resource(grant({"AWS": ALICE.arn}, PULL))
    assert decide(request(ALICE), [], [policy]).allowed
    assert decide(request(BOB), [], [policy]) == Decision(False, NO_IDENTITY)


def test_account_principal_delegates_to_the_account() -> None:
    """Naming an account in a resource policy trusts that account's own policies: a user there
    still needs an identity policy (AWS: "the account administrators must grant access")."""
    for principal in ({"AWS": HOME}, {"AWS": f"arn:aws:iam::{HOME}:root"}):
        policy = resource(grant(principal))
        assert decide(request(ALICE), [], [policy]) == Decision(False, NO_IDENTITY)
        assert decide(request(ALICE), [identity(allow())], [policy]).allowed
        assert not decide(request(OTHER_USER), [identity(allow())], [policy]).allowed
        # A deny naming the account reaches every principal in it.
        denied = resource(grant(principal, effect="Deny"))
        assert decide(request(ALICE), [identity(allow())], [denied]) == Decision(
            False, RESOURCE_DENY
        )


def test_explicit_deny_wins_on_either_side() -> None:
    assert decide(request(ALICE), [identity(allow(), deny(PULL))]) == Decision(False, IDENTITY_DENY)
    assert decide(
        request(ALICE), [identity(allow())], [resource(grant("*", PULL, "Deny"))]
    ) == Decision(False, RESOURCE_DENY)
    assert decide(request(ALICE), [identity(deny())], [resource(grant("*"))]) == Decision(
        False, IDENTITY_DENY
    )


def test_deny_in_one_policy_overrides_allow_in_another() -> None:
    assert not decide(request(ALICE), [identity(allow()), identity(deny())]).allowed


def test_cross_account_needs_both_sides() -> None:
    req = request(OTHER_USER)
    pull_grant = resource(grant({"AWS": OTHER_USER.arn}, PULL))
    assert decide(req, [identity(allow())]) == Decision(False, NO_RESOURCE)
    assert decide(req, [], [pull_grant]) == Decision(False, NO_IDENTITY)
    assert decide(req, [identity(allow())], [pull_grant]).allowed


def test_cross_account_role_pull_from_the_ecr_docs() -> None:
    policy = resource(
        {
            "Sid": "AllowCrossAccountPull",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/puller"},
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
        }
    )
    role_policy = identity(allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], REPO))
    assert decide(request(OTHER_SESSION), [role_policy], [policy]).allowed
    # The repository policy allows the layer check but the role's own policy does not.
    assert not decide(
        request(OTHER_SESSION, "ecr:BatchCheckLayerAvailability"), [role_policy], [policy]
    ).allowed
    # Not a push action, and not another role of that account.
    assert not decide(request(OTHER_SESSION, "ecr:PutImage"), [identity(allow())], [policy]).allowed
    other_role = Principal.assumed_role(OTHER, "pusher", "s")
    assert not decide(request(other_role), [identity(allow())], [policy]).allowed


def test_session_arn_principal_matches_only_that_session() -> None:
    policy = resource(grant({"AWS": OTHER_SESSION.arn}, PULL))
    assert decide(request(OTHER_SESSION), [identity(allow())], [policy]).allowed
    later = Principal.assumed_role(OTHER, "puller", "build-43")
    assert not decide(request(later), [identity(allow())], [policy]).allowed


def test_root_of_the_resource_account_is_allowed_unless_a_resource_policy_denies() -> None:
    assert decide(request(ROOT)).allowed
    # Identity policies never apply to the root user.
    assert decide(request(ROOT), [identity(deny())]).allowed
    assert decide(request(ROOT), [], [resource(grant({"AWS": HOME}, "ecr:*", "Deny"))]) == (
        Decision(False, RESOURCE_DENY)
    )


def test_root_of_another_account_needs_only_the_resource_policy() -> None:
    assert decide(request(OTHER_ROOT)) == Decision(False, NO_RESOURCE)
    assert decide(request(OTHER_ROOT), [], [resource(grant({"AWS": OTHER}, PULL))]).allowed
    # An account principal delegates to every identity of that account, root included.
    assert decide(
        request(OTHER_USER), [identity(allow())], [resource(grant({"AWS": OTHER}))]
    ).allowed


def test_anonymous_callers_need_a_public_resource_policy() -> None:
    assert decide(request(ANONYMOUS)) == Decision(False, NO_RESOURCE)
    assert decide(request(ANONYMOUS), [], [resource(grant("*", PULL))]).allowed
    assert decide(request(ANONYMOUS), [], [resource(grant({"AWS": "*"}, PULL))]).allowed
    assert not decide(request(ANONYMOUS), [], [resource(grant({"AWS": HOME}))]).allowed
    assert not decide(request(ANONYMOUS), [], [resource(grant({"Service": "*"}))]).allowed


def test_service_principals_never_match_iam_callers() -> None:
    policy = resource(grant({"Service": "ecs.amazonaws.com"}))
    assert not decide(request(OTHER_ROOT), [], [policy]).allowed
    assert matches(policy, request(ALICE)) is None


def test_not_principal_denies_everyone_else() -> None:
    policy = resource(
        grant("*", "ecr:*"),
        {"Sid": "OnlyAlice", "Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "*"},
    )
    assert decide(request(ALICE), [], [policy]).allowed
    assert decide(request(BOB), [], [policy]) == Decision(False, RESOURCE_DENY)
    assert decide(request(ANONYMOUS), [], [policy]) == Decision(False, RESOURCE_DENY)


def test_not_principal_naming_a_role_covers_its_sessions() -> None:
    policy = resource(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:role/puller"},
            "Action": "ecr:*",
        },
        grant({"AWS": OTHER}),
    )
    assert decide(request(OTHER_SESSION), [identity(allow())], [policy]).allowed
    assert not decide(request(OTHER_USER), [identity(allow())], [policy]).allowed


def test_boundary_is_root_gives_the_identity_side_of_the_root_user() -> None:
    assert decide(request(ALICE), boundary_is_root=True).allowed
    assert decide(request(ALICE), [identity(deny())], boundary_is_root=True) == Decision(
        False, IDENTITY_DENY
    )
    assert decide(request(OTHER_USER), boundary_is_root=True) == Decision(False, NO_RESOURCE)
    assert decide(
        request(OTHER_USER), [], [resource(grant({"AWS": OTHER}))], boundary_is_root=True
    ).allowed


def test_resource_account_comes_from_the_arn_or_the_caller() -> None:
    # No explicit account: the ARN's account decides that OTHER_USER is a cross-account caller.
    assert not decide(request(OTHER_USER), [identity(allow())]).allowed
    # An explicit account wins over the ARN.
    assert decide(request(OTHER_USER, account=OTHER), [identity(allow())]).allowed
    # `*` resources belong to the caller's account.
    token = request(OTHER_USER, "ecr:GetAuthorizationToken", "*")
    assert decide(token, [identity(allow())]).allowed


# --- actions and resources ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "hit"),
    [
        ("ecr:BatchGetImage", "ecr:BatchGetImage", True),
        ("ECR:batchgetimage", "ecr:BatchGetImage", True),
        ("ecr:*", "ecr:PutImage", True),
        ("*", "s3:GetObject", True),
        ("ecr:Batch*", "ecr:BatchGetImage", True),
        ("ecr:Batch*", "ecr:GetDownloadUrlForLayer", False),
        ("ecr:?utImage", "ecr:PutImage", True),
        ("ecr:?utImage", "ecr:PPutImage", False),
        ("ecr:*Image", "ecr:PutImage", True),
        ("s3:*", "ecr:PutImage", False),
        ("ecr:Put", "ecr:PutImage", False),
    ],
)
def test_action_matching(pattern: str, action: str, hit: bool) -> None:
    assert (matches(identity(allow(pattern)), request(ALICE, action)) == "allow") is hit


@pytest.mark.parametrize(
    ("pattern", "hit"),
    [
        (REPO, True),
        ("*", True),
        (f"arn:aws:ecr:us-east-1:{HOME}:repository/*", True),
        (f"arn:aws:ecr:*:{HOME}:repository/ap?", True),
        (f"arn:aws:ecr:*:{HOME}:repository/a?", False),
        (f"arn:aws:ecr:us-east-1:{HOME}:repository/App", False),  # ARNs are case-sensitive
        (f"arn:aws:ecr:us-east-1:{OTHER}:repository/app", False),
        ("arn:aws:ecr:*:*:*", True),
    ],
)
def test_resource_matching(pattern: str, hit: bool) -> None:
    assert (matches(identity(allow(res=pattern)), request(ALICE)) == "allow") is hit


def test_not_action_with_deny_denies_everything_else() -> None:
    # AWS's pattern: deny everything but the read actions, allow everything.
    policies = [
        identity(
            allow(),
            {"Effect": "Deny", "NotAction": ["ecr:BatchGetImage", "ecr:Get*"], "Resource": "*"},
        )
    ]
    assert decide(request(ALICE, "ecr:BatchGetImage"), policies).allowed
    assert decide(request(ALICE, "ecr:GetDownloadUrlForLayer"), policies).allowed
    assert decide(request(ALICE, "ecr:PutImage"), policies) == Decision(False, IDENTITY_DENY)


def test_not_action_with_allow() -> None:
    policy = identity({"Effect": "Allow", "NotAction": "ecr:Delete*", "Resource": "*"})
    assert matches(policy, request(ALICE, "ecr:PutImage")) == "allow"
    assert matches(policy, request(ALICE, "ecr:DeleteRepository")) is None


def test_not_resource() -> None:
    policy = identity(
        allow(),
        {
            "Effect": "Deny",
            "Action": "ecr:*",
            "NotResource": f"arn:aws:ecr:*:{HOME}:repository/app",
        },
    )
    assert decide(request(ALICE), [policy]).allowed
    other_repo = f"arn:aws:ecr:us-east-1:{HOME}:repository/secret"
    assert decide(request(ALICE, res=other_repo), [policy]) == Decision(False, IDENTITY_DENY)


def test_resource_policy_without_resource_applies_to_its_own_resource() -> None:
    policy = resource(grant({"AWS": ALICE.arn}))
    assert matches(policy, request(ALICE, res=f"arn:aws:ecr:eu-west-1:{HOME}:repository/x")) == (
        "allow"
    )


def test_resource_policy_with_resource_is_matched_too() -> None:
    policy = resource(grant({"AWS": ALICE.arn}, Resource=f"arn:aws:ecr:*:{HOME}:repository/x"))
    assert matches(policy, request(ALICE)) is None


def test_matches_reports_what_one_policy_says() -> None:
    assert matches(identity(allow()), request(ALICE)) == "allow"
    assert matches(identity(allow(), deny()), request(ALICE)) == "deny"
    assert matches(identity(allow("s3:*")), request(ALICE)) is None


# --- policy variables ---------------------------------------------------------------------------

OWN = f"arn:aws:ecr:us-east-1:{HOME}:repository/${{aws:username}}/*"


def test_username_variable_in_resource() -> None:
    policy = identity(allow(res=OWN))
    assert (
        matches(policy, request(ALICE, res=f"arn:aws:ecr:us-east-1:{HOME}:repository/alice/a"))
        == "allow"
    )
    assert (
        matches(policy, request(BOB, res=f"arn:aws:ecr:us-east-1:{HOME}:repository/alice/a"))
        is None
    )


def test_missing_variable_makes_the_resource_not_match() -> None:
    session = Principal.assumed_role(HOME, "r", "s")
    policy = identity(allow(res=OWN))
    assert (
        matches(policy, request(session, res=f"arn:aws:ecr:us-east-1:{HOME}:repository//a")) is None
    )
    # NotResource is the complement: an element that cannot match excludes nothing.
    deny_others = identity(
        {"Effect": "Deny", "Action": "ecr:*", "NotResource": OWN},
    )
    assert matches(deny_others, request(session)) == "deny"


def test_variable_default_value() -> None:
    policy = identity(
        allow(res=f"arn:aws:ecr:us-east-1:{HOME}:repository/${{aws:username, 'shared'}}/*")
    )
    session = Principal.assumed_role(HOME, "r", "s")
    shared = f"arn:aws:ecr:us-east-1:{HOME}:repository/shared/x"
    assert matches(policy, request(session, res=shared)) == "allow"
    assert matches(policy, request(ALICE, res=shared)) is None


def test_variable_default_with_quotes_and_spaces() -> None:
    policy = identity(
        allow(
            res="*",
            Condition={"StringEquals": {"aws:RequestTag/t": "${ aws:username , 'it''s' }"}},
        )
    )
    session = Principal.assumed_role(HOME, "r", "s")
    assert matches(policy, request(session, context={"aws:RequestTag/t": "it's"})) == "allow"


@pytest.mark.parametrize(
    ("pattern", "repo", "hit"),
    [
        ("repository/star${*}", "repository/star*", True),
        ("repository/star${*}", "repository/starry", False),
        ("repository/q${?}", "repository/q?", True),
        ("repository/q${?}", "repository/qx", False),
        ("repository/d${$}", "repository/d$", True),
        ("repository/${aws:PrincipalAccount}-*", f"repository/{HOME}-x", True),
        ("repository/${aws:userid}", "repository/AIDAALICE", True),
        ("repository/${aws:principalarn}", f"repository/{ALICE.arn}", True),
        ("repository/${aws:RequestTag/team}", "repository/blue", True),
        ("repository/${aws:RequestTag/missing}", "repository/", False),
        ("repository/${aws:TagKeys}", "repository/a", False),  # multivalued: not a variable
        ("repository/${unterminated", "repository/${unterminated", False),
        ("repository/${}", "repository/", False),
        ("repository/${a b}", "repository/", False),
        ("repository/${aws:username, 'x}", "repository/x", False),
        ("repository/${aws:x, 'd' junk}", "repository/d", False),
        ("repository/$x", "repository/$x", True),
    ],
)
def test_variables_in_resources(pattern: str, repo: str, hit: bool) -> None:
    policy = identity(allow(res=f"arn:aws:ecr:us-east-1:{HOME}:{pattern}"))
    req = request(
        ALICE,
        res=f"arn:aws:ecr:us-east-1:{HOME}:{repo}",
        context={"aws:RequestTag/team": "blue", "aws:TagKeys": ["a", "b"]},
    )
    assert (matches(policy, req) == "allow") is hit


def test_substituted_values_are_literal() -> None:
    policy = identity(allow(res=f"arn:aws:ecr:us-east-1:{HOME}:repository/${{aws:RequestTag/t}}"))
    req = request(
        ALICE,
        res=f"arn:aws:ecr:us-east-1:{HOME}:repository/anything",
        context={"aws:RequestTag/t": "*"},
    )
    assert matches(policy, req) is None


def test_variables_are_plain_text_before_2012() -> None:
    literal = f"arn:aws:ecr:us-east-1:{HOME}:repository/${{aws:username}}/x"
    for version in ("2008-10-17", None):
        policy = identity(allow(res=literal), version=version)
        assert matches(policy, request(ALICE, res=literal)) == "allow"
        resolved = f"arn:aws:ecr:us-east-1:{HOME}:repository/alice/x"
        assert matches(policy, request(ALICE, res=resolved)) is None


# --- the request context ------------------------------------------------------------------------


def condition_allows(condition: dict[str, Any], req: Request) -> bool:
    return matches(identity(allow(Condition=condition)), req) == "allow"


@pytest.mark.parametrize(
    ("principal", "key", "value"),
    [
        (ALICE, "aws:PrincipalArn", ALICE.arn),
        (ALICE, "aws:PrincipalAccount", HOME),
        (ALICE, "aws:username", "alice"),
        (ALICE, "aws:userid", "AIDAALICE"),
        (ALICE, "aws:PrincipalType", "User"),
        (OTHER_SESSION, "aws:PrincipalArn", f"arn:aws:iam::{OTHER}:role/puller"),
        (OTHER_SESSION, "aws:userid", "AROAPULLER:build-42"),
        (OTHER_SESSION, "aws:PrincipalType", "AssumedRole"),
        (ROOT, "aws:userid", HOME),
        (ROOT, "aws:PrincipalType", "Account"),
        (ROOT, "aws:PrincipalArn", f"arn:aws:iam::{HOME}:root"),
        (ANONYMOUS, "aws:userid", "anonymous"),
        (ANONYMOUS, "aws:PrincipalType", "Anonymous"),
    ],
)
def test_principal_keys_are_derived(principal: Principal, key: str, value: str) -> None:
    assert condition_allows(
        {"StringEquals": {key: value}}, request(principal, account=principal.account)
    )


@pytest.mark.parametrize(
    ("principal", "key"),
    [
        (OTHER_SESSION, "aws:username"),
        (ROOT, "aws:username"),
        (ANONYMOUS, "aws:PrincipalArn"),
        (ANONYMOUS, "aws:PrincipalAccount"),
    ],
)
def test_principal_keys_absent_where_aws_has_none(principal: Principal, key: str) -> None:
    assert condition_allows({"Null": {key: "true"}}, request(principal))


def test_given_context_keys_win_over_derived_ones() -> None:
    req = request(ALICE, context={"AWS:USERNAME": "someone-else"})
    assert condition_allows({"StringEquals": {"aws:username": "someone-else"}}, req)


def test_condition_keys_ignore_case_and_ecr_resource_tags_alias_aws_ones() -> None:
    req = request(ALICE, context={"aws:ResourceTag/Team": "blue"})
    assert condition_allows({"StringEquals": {"AWS:RESOURCETAG/team": "blue"}}, req)
    assert condition_allows({"StringEquals": {"ecr:ResourceTag/Team": "blue"}}, req)
    req = request(ALICE, context={"ecr:ResourceTag/Team": "blue"})
    assert condition_allows({"StringEquals": {"aws:ResourceTag/Team": "blue"}}, req)
    # Values stay case-sensitive.
    assert not condition_allows({"StringEquals": {"aws:ResourceTag/Team": "Blue"}}, req)


def test_conditions_on_resource_policies() -> None:
    policy = resource(grant("*", PULL, Condition={"StringEquals": {"aws:PrincipalAccount": OTHER}}))
    assert decide(request(OTHER_ROOT), [], [policy]).allowed
    assert not decide(request(ANONYMOUS), [], [policy]).allowed
