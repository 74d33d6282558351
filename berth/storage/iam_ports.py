"""The narrow interface the IAM service depends on, and its records.

Every method is one transaction. Checks that must hold together with a change (a user has no
access keys left when it is deleted, the inline policies of a principal stay within their size
quota) are made inside that transaction, under a lock on the principal's row, and reported as
an `Outcome` for the service to turn into IAM's errors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from berth.storage.ports import AccessKey

PrincipalType = Literal["user", "group", "role"]
Tags = tuple[tuple[str, str], ...]


def name_key(name: str) -> str:
    """What IAM compares names by: user, group, role and policy names ignore case."""
    return name.lower()


class Outcome(enum.Enum):
    OK = "ok"
    EXISTS = "exists"
    MISSING = "missing"  # the principal (or the entity itself) is not there
    MISSING_POLICY = "missing policy"  # the managed policy to attach is not there
    LIMIT = "limit"  # a per-principal quota would be exceeded
    HAS_KEYS = "has access keys"
    HAS_INLINE = "has inline policies"
    HAS_ATTACHED = "has attached policies"
    HAS_GROUPS = "is in groups"
    HAS_MEMBERS = "has members"
    ATTACHED = "is attached"


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    name: str
    path: str
    arn: str
    created_at: datetime
    tags: Tags = ()


@dataclass(frozen=True, slots=True)
class GroupRecord:
    group_id: str
    name: str
    path: str
    arn: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RoleRecord:
    name: str
    path: str
    arn: str
    role_id: str
    trust_policy: str  # the AssumeRolePolicyDocument, as put
    max_session_duration: int  # seconds
    created_at: datetime
    description: str | None
    tags: Tags = ()


@dataclass(frozen=True, slots=True)
class ManagedPolicyRecord:
    policy_id: str
    name: str
    path: str
    arn: str
    document: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    tags: Tags = ()
    attachment_count: int = 0  # filled in by reads


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    name: str
    arn: str


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a principal is to IAM: its unique id (`aws:userid`) and the texts of the
    identity-based policies that apply to it."""

    userid: str
    policies: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PrincipalPolicies:
    principal_id: str
    arn: str
    documents: list[str]


class IamStore(Protocol):
    async def account_created_at(self, account_id: str) -> datetime | None: ...

    # users
    async def create_user(self, account_id: str, user: UserRecord) -> bool:
        """False when the account has a user of that name (in any case) already."""
        ...

    async def get_user(self, account_id: str, name: str) -> UserRecord | None: ...
    async def list_users(
        self, account_id: str, *, path_prefix: str, after: str | None, limit: int
    ) -> list[UserRecord]:
        """Users in name_key order after name_key `after`."""
        ...

    async def delete_user(self, account_id: str, name: str) -> Outcome:
        """OK, MISSING, HAS_KEYS, HAS_INLINE, HAS_ATTACHED or HAS_GROUPS."""
        ...

    # access keys (the `access_keys` table authentication reads)
    async def create_access_key(
        self, key: AccessKey, *, user_id: str | None, limit: int
    ) -> Outcome:
        """Store `key` unless its principal has `limit` keys already (LIMIT). With `user_id`, the
        user must still exist (MISSING); its row is locked while keys are counted."""
        ...

    async def list_access_keys(
        self, account_id: str, principal_arn: str, *, after: str | None, limit: int
    ) -> list[AccessKey]: ...
    async def update_access_key(
        self, account_id: str, principal_arn: str, access_key_id: str, status: str
    ) -> bool: ...
    async def delete_access_key(
        self, account_id: str, principal_arn: str, access_key_id: str
    ) -> bool: ...

    # groups
    async def create_group(self, account_id: str, group: GroupRecord) -> bool: ...
    async def get_group(self, account_id: str, name: str) -> GroupRecord | None: ...
    async def list_groups(
        self, account_id: str, *, path_prefix: str, after: str | None, limit: int
    ) -> list[GroupRecord]: ...
    async def delete_group(self, account_id: str, name: str) -> Outcome:
        """OK, MISSING, HAS_MEMBERS, HAS_INLINE or HAS_ATTACHED."""
        ...

    async def add_user_to_group(self, group_id: str, user_id: str, *, limit: int) -> Outcome:
        """OK (also when it is a member already), MISSING (either is gone) or LIMIT (the user
        is in `limit` groups)."""
        ...

    async def remove_user_from_group(self, group_id: str, user_id: str) -> bool: ...
    async def group_members(
        self, group_id: str, *, after: str | None, limit: int
    ) -> list[UserRecord]: ...
    async def groups_for_user(
        self, user_id: str, *, after: str | None, limit: int
    ) -> list[GroupRecord]: ...

    # roles
    async def create_role(self, account_id: str, role: RoleRecord) -> bool: ...
    async def get_role(self, account_id: str, name: str) -> RoleRecord | None: ...
    async def list_roles(
        self, account_id: str, *, path_prefix: str, after: str | None, limit: int
    ) -> list[RoleRecord]: ...
    async def update_trust_policy(self, account_id: str, name: str, text: str) -> bool: ...
    async def delete_role(self, account_id: str, name: str) -> Outcome:
        """OK, MISSING, HAS_INLINE or HAS_ATTACHED."""
        ...

    # inline policies
    async def put_inline_policy(
        self,
        principal: PrincipalType,
        principal_id: str,
        policy: InlinePolicy,
        *,
        size: int,
        limit: int,
    ) -> Outcome:
        """Create or replace; LIMIT when the sizes of the principal's inline policies would add
        up to more than `limit`; MISSING when the principal is gone."""
        ...

    async def get_inline_policy(
        self, principal: PrincipalType, principal_id: str, name: str
    ) -> InlinePolicy | None: ...
    async def delete_inline_policy(
        self, principal: PrincipalType, principal_id: str, name: str
    ) -> bool: ...
    async def list_inline_policies(
        self, principal: PrincipalType, principal_id: str, *, after: str | None, limit: int
    ) -> list[str]: ...

    # managed policies
    async def create_policy(self, account_id: str, policy: ManagedPolicyRecord) -> bool: ...
    async def get_policy(self, account_id: str, arn: str) -> ManagedPolicyRecord | None: ...
    async def list_policies(
        self,
        account_id: str,
        *,
        path_prefix: str,
        only_attached: bool,
        after: str | None,
        limit: int,
    ) -> list[ManagedPolicyRecord]: ...
    async def delete_policy(self, account_id: str, arn: str) -> Outcome:
        """OK, MISSING or ATTACHED."""
        ...

    async def attach_policy(
        self,
        account_id: str,
        principal: PrincipalType,
        principal_id: str,
        policy_arn: str,
        *,
        limit: int,
    ) -> Outcome:
        """OK (also when attached already), MISSING, MISSING_POLICY or LIMIT."""
        ...

    async def detach_policy(
        self, account_id: str, principal: PrincipalType, principal_id: str, policy_arn: str
    ) -> bool: ...
    async def list_attached_policies(
        self,
        principal: PrincipalType,
        principal_id: str,
        *,
        path_prefix: str,
        after: str | None,
        limit: int,
    ) -> list[AttachedPolicy]: ...

    # authorization
    async def principal_policies(
        self, account_id: str, principal: Literal["user", "role"], name: str
    ) -> PrincipalPolicies | None:
        """The user or role called `name` and the documents of every identity-based policy that
        applies to it: its inline and attached policies and, for a user, those of its groups."""
        ...
