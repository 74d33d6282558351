"""IAM's policy evaluation logic for identity-based and resource-based policies.

Only the parts Berth has are modelled: no SCPs, session policies or permissions boundaries, and
the caller's and the resource's accounts stand in for the trusted and trusting accounts. The
order follows AWS's flow chart: an explicit Deny anywhere wins; then the account root user of the
resource's account is allowed; then within one account either kind of policy may allow, while
across accounts both sides must.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from berth.domain.policy.conditions import holds
from berth.domain.policy.model import (
    Decision,
    Policy,
    Principal,
    PrincipalEntry,
    Request,
    Statement,
)
from berth.domain.policy.patterns import Lookup, action_matches, expand, glob_matches

Context = dict[str, tuple[str, ...]]
Verdict = Literal["allow", "deny"] | None

_ACCOUNT_PRINCIPAL = re.compile(r"(?:arn:aws(?:-[a-z]+)*:iam::)?([0-9]{12})(?::root)?")
_PRINCIPAL_TYPES = {"root": "Account", "user": "User", "assumed-role": "AssumedRole"}
_RESOURCE_TAG_ALIAS = "ecr:resourcetag/"


def context_key(name: str) -> str:
    """Condition keys ignore case, and ECR's resource tag keys are the global ones."""
    lowered = name.lower()
    if lowered.startswith(_RESOURCE_TAG_ALIAS):
        return "aws:resourcetag/" + lowered[len(_RESOURCE_TAG_ALIAS) :]
    return lowered


def _principal_keys(principal: Principal) -> Context:
    if principal.kind == "anonymous":
        return {
            "aws:principaltype": ("Anonymous",),
            "aws:userid": (principal.userid or "anonymous",),
        }
    keys: Context = {"aws:principaltype": (_PRINCIPAL_TYPES[principal.kind],)}
    # For role sessions aws:PrincipalArn is the role, not the session.
    arn = principal.role_arn if principal.kind == "assumed-role" else None
    keys["aws:principalarn"] = (arn or principal.arn,)
    if principal.account:
        keys["aws:principalaccount"] = (principal.account,)
    if principal.kind == "user" and principal.username:
        keys["aws:username"] = (principal.username,)
    userid = principal.userid or (principal.account if principal.kind == "root" else None)
    if userid:
        keys["aws:userid"] = (userid,)
    return keys


def build_context(request: Request) -> Context:
    """The request context with lower-cased keys; keys the caller gives win over derived ones."""
    context = _principal_keys(request.principal)
    for name, value in request.context.items():
        context[context_key(name)] = (value,) if isinstance(value, str) else tuple(value)
    return context


def _lookup(context: Context) -> Lookup:
    def lookup(name: str) -> str | None:
        values = context.get(context_key(name))
        return values[0] if values is not None and len(values) == 1 else None

    return lookup


def _principal_matches(entry: PrincipalEntry, principal: Principal, delegated: bool) -> bool:
    if entry.type != "AWS":
        return False  # service, federated and canonical-user principals are never IAM callers
    if entry.value == "*":
        return True
    if principal.kind == "anonymous":
        return False
    account = _ACCOUNT_PRINCIPAL.fullmatch(entry.value)
    if account:
        # Naming an account (or its root) hands the decision to that account: it covers every
        # principal of the account, but an identity there still needs its own permission
        # (`delegated` False asks whether the statement grants on its own).
        return principal.account == account[1] and (delegated or principal.kind == "root")
    if entry.value == principal.arn:
        return True
    return principal.kind == "assumed-role" and entry.value == principal.role_arn


def _resource_matches(pattern: str, resource: str, lookup: Lookup | None) -> bool:
    segments = expand(pattern, lookup)
    return segments is not None and glob_matches(segments, resource)


def _applies(
    statement: Statement, request: Request, context: Context, variables: bool, delegated: bool
) -> bool:
    lookup = _lookup(context) if variables else None
    action_hit = any(action_matches(p, request.action) for p in statement.actions)
    if action_hit == statement.not_action:
        return False
    if statement.resources is not None:
        hit = any(_resource_matches(p, request.resource, lookup) for p in statement.resources)
        if hit == statement.not_resource:
            return False
    if statement.principals is not None:
        hit = any(_principal_matches(e, request.principal, delegated) for e in statement.principals)
        if hit == statement.not_principal:
            return False
    return all(
        holds(condition, context.get(context_key(condition.key)), lookup)
        for condition in statement.conditions
    )


def _verdict(
    policy: Policy, request: Request, context: Context, *, delegated: bool = True
) -> Verdict:
    allowed = False
    for statement in policy.statements:
        if _applies(statement, request, context, policy.supports_variables, delegated):
            if statement.effect == "Deny":
                return "deny"
            allowed = True
    return "allow" if allowed else None


def matches(policy: Policy, request: Request) -> Verdict:
    """What one policy says about the request: an explicit deny, an allow, or nothing."""
    return _verdict(policy, request, build_context(request))


def _resource_account(request: Request) -> str | None:
    if request.resource_account:
        return request.resource_account
    parts = request.resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[4]:
        return parts[4]
    # `*` resources (GetAuthorizationToken and the like) belong to the caller's own account.
    return request.principal.account


def evaluate(
    request: Request,
    *,
    identity: Sequence[Policy],
    resource: Sequence[Policy] = (),
    boundary_is_root: bool = False,
) -> Decision:
    """Decide a request from the caller's identity-based policies and the resource's policies.

    `boundary_is_root` gives the caller the identity-side permissions of its account's root user
    (an implicit allow of everything, as AWS grants the root user); explicit denies in `identity`
    still apply. The root user itself never has identity policies, so `identity` is ignored
    for it.
    """
    principal = request.principal
    action = request.action
    context = build_context(request)
    identity_applies = principal.kind not in ("root", "anonymous")

    identity_verdicts = (
        [_verdict(policy, request, context) for policy in identity] if identity_applies else []
    )
    if "deny" in identity_verdicts:
        return Decision(False, "with an explicit deny in an identity-based policy")
    resource_verdicts = [_verdict(policy, request, context) for policy in resource]
    if "deny" in resource_verdicts:
        return Decision(False, "with an explicit deny in a resource-based policy")

    resource_allows = "allow" in resource_verdicts
    no_resource_allow = Decision(
        False, f"because no resource-based policy allows the {action} action"
    )
    if principal.kind == "anonymous":
        # Only a resource policy naming "*" can let an unauthenticated caller in.
        if resource_allows:
            return Decision(True, f"because a resource-based policy allows the {action} action")
        return no_resource_allow

    same_account = principal.account is not None and principal.account == _resource_account(request)
    if principal.kind == "root" and same_account:
        return Decision(True, "because the account root user may do anything in its own account")

    implicit = principal.kind == "root" or boundary_is_root
    identity_allows = implicit or "allow" in identity_verdicts
    identity_allow = Decision(True, f"because an identity-based policy allows the {action} action")
    no_identity_allow = Decision(
        False, f"because no identity-based policy allows the {action} action"
    )
    if same_account:
        if identity_allows:
            return identity_allow
        # Within one account a resource policy grants on its own only to principals it names
        # directly (or "*"); naming the account defers to the identity's own policies.
        if "allow" in (_verdict(p, request, context, delegated=False) for p in resource):
            return Decision(True, f"because a resource-based policy allows the {action} action")
        return no_identity_allow
    # Across accounts the caller's account must allow the request and so must the resource's.
    if not identity_allows:
        return no_identity_allow
    if not resource_allows:
        return no_resource_allow
    return Decision(
        True,
        f"because both an identity-based and a resource-based policy allow the {action} action",
    )
