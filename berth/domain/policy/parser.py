"""Validation of IAM policy documents, with IAM's MalformedPolicyDocument messages.

Where IAM has a specific sentence (a principal in an identity policy, duplicate Sids, a resource
that is not an ARN...) it is used verbatim; every other structural problem gets IAM's catch-all
"Syntax errors in policy.". Anything that is not a well-formed document must end in PolicyError,
never in another exception, because the text comes straight from clients.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from berth.domain.policy.conditions import split_operator, valid_value
from berth.domain.policy.model import (
    VERSION_2008,
    VERSION_2012,
    Condition,
    Effect,
    Policy,
    PolicyError,
    PolicyKind,
    PrincipalEntry,
    PrincipalType,
    Statement,
)

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
NO_PRINCIPAL_ALLOWED = "Policy document should not specify a principal."
INVALID_PRINCIPAL = "Invalid principal in policy"
DUPLICATE_SID = "Statement IDs (SID) in a single policy must be unique."
SID_FORMAT = (
    "Statement IDs (SID) must be alpha-numeric. "
    "Check that your input satisfies the regular expression [0-9A-Za-z]*"
)
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."

_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_EFFECTS: tuple[Effect, ...] = ("Allow", "Deny")
_PRINCIPAL_TYPES: tuple[PrincipalType, ...] = ("AWS", "Service", "Federated", "CanonicalUser")

_SID = re.compile(r"[0-9A-Za-z]*")
_VENDOR = re.compile(r"[A-Za-z0-9-]+")
_ACTION_NAME = re.compile(r"[A-Za-z0-9_.*?-]+")
_ACCOUNT = re.compile(r"[0-9]{12}")
# Principals name exact identities: IAM accepts no wildcard in them except a lone "*".
_PRINCIPAL_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:(iam::[0-9]{12}:(root|user/[^*?\s]+|role/[^*?\s]+)"
    r"|sts::[0-9]{12}:(assumed-role/[^/*?\s]+/[^*?\s]+|federated-user/[^*?\s]+))"
)


def _fail(message: str) -> NoReturn:
    raise PolicyError(message)


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python keeps the last of duplicate keys; refusing them means no second "Condition" or
    # "Effect" can silently replace the one a reader of the document sees first.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _no_constant(name: str) -> NoReturn:
    raise ValueError(name)  # NaN and Infinity are not JSON


def _load(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        _fail(SYNTAX)


def _strings(value: Any, empty_message: str) -> tuple[str, ...]:
    """A string or a list of strings, as Action, Resource and Principal values are written."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        _fail(SYNTAX)
    if not items:
        _fail(empty_message)
    return tuple(items)


def _check_vendor(name: str) -> None:
    """`service:Name` for actions and condition keys (the key part before any `/tag-key`, which
    may itself contain colons)."""
    head = name.split("/", 1)[0]
    if ":" not in head:
        _fail(NO_VENDOR)
    if head.count(":") > 1:
        _fail(ONE_COLON)
    vendor, rest = name.split(":", 1)
    if not _VENDOR.fullmatch(vendor):
        _fail(NO_VENDOR)
    if not rest:
        _fail(SYNTAX)


def _actions(value: Any) -> tuple[str, ...]:
    actions = _strings(value, NO_ACTIONS)
    for action in actions:
        if action == "*":
            continue
        _check_vendor(action)
        if not _ACTION_NAME.fullmatch(action.split(":", 1)[1]):
            _fail(SYNTAX)
    return actions


def _resources(value: Any) -> tuple[str, ...]:
    resources = _strings(value, NO_RESOURCES)
    for resource in resources:
        if resource != "*" and not (resource.startswith("arn:") and resource.count(":") >= 5):
            _fail(f'Resource {resource} must be in ARN format or "*".')
    return resources


def _invalid_principal(type_: str, value: Any) -> NoReturn:
    _fail(f"{INVALID_PRINCIPAL}: {json.dumps(type_)}:{json.dumps(value)}")


def _principals(value: Any) -> tuple[PrincipalEntry, ...]:
    if isinstance(value, str):
        if value != "*":
            _fail(INVALID_PRINCIPAL)
        return (PrincipalEntry("AWS", "*"),)
    if not isinstance(value, dict) or not value:
        _fail(INVALID_PRINCIPAL)
    entries: list[PrincipalEntry] = []
    for type_name, raw in value.items():
        type_ = next((t for t in _PRINCIPAL_TYPES if t == type_name), None)
        if type_ is None:
            _invalid_principal(type_name, raw)
        for item in _strings(raw, INVALID_PRINCIPAL):
            if not item:
                _invalid_principal(type_, item)
            aws_id = _ACCOUNT.fullmatch(item) or _PRINCIPAL_ARN.fullmatch(item)
            if type_ == "AWS" and item != "*" and not aws_id:
                _invalid_principal(type_, item)
            entries.append(PrincipalEntry(type_, item))
    return tuple(entries)


def _condition_value(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float | str):
        return str(raw)
    _fail(SYNTAX)


def _conditions(value: Any, *, variables: bool) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        _fail(SYNTAX)
    conditions: list[Condition] = []
    for name, block in value.items():
        found = split_operator(name)
        if found is None or not isinstance(block, dict) or not block:
            _fail(SYNTAX)
        op, set_operator, if_exists = found
        for key, raw in block.items():
            _check_vendor(key)
            raw_values = raw if isinstance(raw, list) else [raw]
            values = tuple(_condition_value(item) for item in raw_values)
            if not all(valid_value(op, item, variables=variables) for item in values):
                _fail(SYNTAX)
            conditions.append(Condition(op.name, key, values, set_operator, if_exists))
    return tuple(conditions)


def _one_of(raw: dict[str, Any], name: str) -> tuple[Any, bool] | None:
    """The value of `name` or `Not<name>` and whether it was the negated one."""
    negated = f"Not{name}"
    if name in raw and negated in raw:
        _fail(SYNTAX)
    if name in raw:
        return raw[name], False
    if negated in raw:
        return raw[negated], True
    return None


def _statement(raw: Any, kind: PolicyKind, *, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        _fail(SYNTAX)
    if not set(raw) <= _STATEMENT_KEYS:
        _fail(SYNTAX)

    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            _fail(SYNTAX)
        # IAM's own documents (identity and trust policies) restrict Sids; resource policies of
        # other services, ECR's included, take any string.
        if kind != "resource" and not _SID.fullmatch(sid):
            _fail(SID_FORMAT)

    if "Effect" not in raw:
        _fail("Missing required field Effect")
    effect = raw["Effect"]
    if not isinstance(effect, str):
        _fail(SYNTAX)
    if effect not in _EFFECTS:
        _fail(f"Invalid effect: {effect}")

    principal = _one_of(raw, "Principal")
    if kind == "identity":
        if principal is not None:
            _fail(NO_PRINCIPAL_ALLOWED)
        principals, not_principal = None, False
    else:
        if principal is None:
            _fail("Missing required field Principal")
        principals, not_principal = _principals(principal[0]), principal[1]

    action = _one_of(raw, "Action")
    if action is None:
        _fail("Missing required field Action")
    actions = _actions(action[0])

    resource = _one_of(raw, "Resource")
    if resource is None and kind == "identity":
        _fail("Missing required field Resource")
    resources = None if resource is None else _resources(resource[0])

    conditions = _conditions(raw["Condition"], variables=variables) if "Condition" in raw else ()
    return Statement(
        effect="Allow" if effect == "Allow" else "Deny",
        actions=actions,
        not_action=action[1],
        resources=resources,
        not_resource=resource is not None and resource[1],
        principals=principals,
        not_principal=not_principal,
        conditions=conditions,
        sid=sid,
    )


def parse_policy(text: str, *, kind: PolicyKind) -> Policy:
    """Validate a policy document as IAM does for `kind`: identity-based (no Principal, Resource
    required), resource-based such as an ECR repository policy (Principal required, Resource
    optional) or a role trust policy (the same shape as a resource-based one)."""
    if not isinstance(text, str):
        _fail(SYNTAX)
    document = _load(text)
    if not isinstance(document, dict) or not set(document) <= _TOP_KEYS:
        _fail(SYNTAX)

    version = document.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        _fail(LEGACY)
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        _fail(SYNTAX)

    if "Statement" not in document:
        _fail("Missing required field Statement")
    raw_statements = document["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        _fail(SYNTAX)
    variables = version == VERSION_2012
    statements = tuple(_statement(raw, kind, variables=variables) for raw in raw_statements)

    sids = [statement.sid for statement in statements if statement.sid is not None]
    if len(sids) != len(set(sids)):
        _fail(DUPLICATE_SID)
    return Policy(statements, version, policy_id)
