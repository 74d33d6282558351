"""The values of the IAM policy language: parsed documents, the caller, the request, the verdict.

Parsed documents keep every element as written (apart from JSON scalars turned into strings), so
that the evaluator, not the parser, owns all matching rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Effect = Literal["Allow", "Deny"]
PolicyKind = Literal["identity", "resource", "trust"]
PrincipalKind = Literal["root", "user", "assumed-role", "anonymous"]
PrincipalType = Literal["AWS", "Service", "Federated", "CanonicalUser"]
SetOperator = Literal["ForAnyValue", "ForAllValues"]

# Documents without a Version are read with the 2008 rules, under which `${...}` is plain text.
VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class PolicyError(Exception):
    """A policy document IAM would reject with MalformedPolicyDocument; `message` is its text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """One value of a Principal/NotPrincipal element; a bare `"*"` is stored as `AWS: *`."""

    type: PrincipalType
    value: str


@dataclass(frozen=True, slots=True)
class Condition:
    """One `operator: {key: values}` pair; a statement's conditions must all hold."""

    operator: str  # canonical base name without qualifiers, e.g. "StringNotEquals"
    key: str  # as written; lookups ignore case
    values: tuple[str, ...]  # OR'ed; JSON numbers and booleans kept as their JSON text
    set_operator: SetOperator | None = None
    if_exists: bool = False


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool = False
    # None: the statement has no Resource element, which in a resource-based policy means the
    # resource the policy is attached to.
    resources: tuple[str, ...] | None = None
    not_resource: bool = False
    # None: no Principal element, i.e. an identity-based statement about the caller itself.
    principals: tuple[PrincipalEntry, ...] | None = None
    not_principal: bool = False
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None

    @property
    def supports_variables(self) -> bool:
        return self.version == VERSION_2012


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. Build one with the class methods unless you have all fields."""

    arn: str
    account: str | None
    kind: PrincipalKind
    username: str | None = None
    userid: str | None = None
    role_arn: str | None = None  # assumed-role sessions: the role, which Principal elements name

    @classmethod
    def root(cls, account: str) -> Principal:
        return cls(f"arn:aws:iam::{account}:root", account, "root", userid=account)

    @classmethod
    def user(
        cls, account: str, name: str, *, userid: str | None = None, path: str = "/"
    ) -> Principal:
        return cls(f"arn:aws:iam::{account}:user{path}{name}", account, "user", name, userid=userid)

    @classmethod
    def assumed_role(
        cls,
        account: str,
        role: str,
        session: str,
        *,
        role_id: str | None = None,
        path: str = "/",
    ) -> Principal:
        # Session ARNs never carry the role's path; the role ARN does.
        return cls(
            f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            account,
            "assumed-role",
            userid=f"{role_id}:{session}" if role_id else None,
            role_arn=f"arn:aws:iam::{account}:role{path}{role}",
        )

    @classmethod
    def anonymous(cls) -> Principal:
        return cls("anonymous", None, "anonymous")


@dataclass(frozen=True, slots=True)
class Request:
    principal: Principal
    action: str
    resource: str
    # None: the account in the resource ARN, or the caller's own for `*` resources.
    resource_account: str | None = None
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str

    def message(self, request: Request) -> str:
        """AWS's AccessDenied text; for an allowed request the same sentence, affirmative."""
        verb = "is authorized" if self.allowed else "is not authorized"
        return (
            f"User: {request.principal.arn} {verb} to perform: {request.action} "
            f"on resource: {request.resource} {self.reason}"
        )
