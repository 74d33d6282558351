"""IAM: users, groups, roles, managed and inline policies, and the access keys of users, with
IAM's names, ids, ARNs, quotas and error messages. Everything happens inside one account.

Names of users, groups, roles and managed policies are unique per account regardless of case,
and found regardless of case, as in IAM; the ARN keeps the spelling the entity was created
with. Customer managed policies have one version, v1; AWS managed policies
(`arn:aws:iam::aws:policy/...`) do not exist here.

`identity` is what authorization asks: the texts of every identity-based policy that applies
to a user, a role or a role session.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from berth.domain.pagination import decode_token, encode_token
from berth.domain.policy import PolicyError, PolicyKind, parse_policy
from berth.errors import InvalidParameter
from berth.services.iam_errors import (
    DeleteConflict,
    EntityAlreadyExists,
    IamValidationError,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from berth.storage.iam_ports import (
    AttachedPolicy,
    GroupRecord,
    IamStore,
    Identity,
    InlinePolicy,
    ManagedPolicyRecord,
    Outcome,
    PrincipalType,
    RoleRecord,
    Tags,
    UserRecord,
    name_key,
)
from berth.storage.ports import AccessKey

T = TypeVar("T")
Seal = Callable[[str, str], bytes]  # (secret, access key id) -> sealed secret

ACTIVE, INACTIVE = "Active", "Inactive"
# IAM's default quotas.
ACCESS_KEYS_PER_USER = 2
GROUPS_PER_USER = 10
MANAGED_POLICIES_PER_PRINCIPAL = 10
INLINE_POLICY_SIZE: dict[PrincipalType, int] = {"user": 2048, "group": 5120, "role": 10240}
MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
MAX_TAGS = 50
DEFAULT_SESSION_DURATION, MIN_SESSION_DURATION, MAX_SESSION_DURATION = 3600, 3600, 43200
DEFAULT_MAX_ITEMS, MAX_ITEMS = 100, 1000
DEFAULT_VERSION = "v1"

_ID_ALPHABET = string.ascii_uppercase + string.digits
_ID_PREFIX = {"user": "AIDA", "group": "AGPA", "role": "AROA", "policy": "ANPA", "key": "AKIA"}
_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_NAME_LENGTH = {"user": 64, "group": 128, "role": 64, "policy": 128}
_PATH = re.compile(r"/|/[\x21-\x7e]+/")
_WHITE_SPACE = re.compile(r"\s")
_IAM_ARN = re.compile(r"arn:aws:iam::([0-9]{12}|aws):(user|group|role|policy)(/(?:.*/)?)([^/]+)")
_ROOT_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):root")
_SESSION_ARN = re.compile(r"arn:aws:sts::([0-9]{12}):assumed-role/([^/]+)/(.+)")


def iam_arn(
    account_id: str, kind: Literal["user", "group", "role", "policy"], path: str, name: str
) -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def is_root(arn: str) -> bool:
    return _ROOT_ARN.fullmatch(arn) is not None


def new_id(kind: str) -> str:
    """An IAM unique id or access key id: a prefix naming the kind and 16 random characters."""
    return _ID_PREFIX[kind] + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret() -> str:
    """40 characters of base64, like AWS's secret access keys."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


def policy_size(document: str) -> int:
    """A document's size as IAM's quotas count it: without white space."""
    return len(_WHITE_SPACE.sub("", document))


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    marker: str | None = None  # where the next page starts; None on the last page

    @property
    def is_truncated(self) -> bool:
        return self.marker is not None


@dataclass(frozen=True, slots=True)
class AccessKeyInfo:
    """An access key as IAM reports it; `secret` only when it was just created. `user_name` is
    None for the account root's keys."""

    user_name: str | None
    access_key_id: str
    status: str
    created_at: datetime
    secret: str | None = None


def _invalid(value: object, member: str, constraint: str) -> IamValidationError:
    return IamValidationError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _check_name(kind: str, name: str) -> None:
    member = f"{kind}Name"
    longest = _NAME_LENGTH[kind]
    if not name or len(name) > longest:
        raise _invalid(name, member, f"Member must have length less than or equal to {longest}")
    if _NAME.fullmatch(name) is None:
        raise _invalid(name, member, r"Member must satisfy regular expression pattern: [\w+=,.@-]+")


def _check_path(path: str, member: str = "path") -> None:
    if len(path) > 512 or _PATH.fullmatch(path) is None:
        raise _invalid(
            path,
            member,
            "Member must satisfy regular expression pattern: "
            r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        )


def _check_tags(tags: Sequence[tuple[str, str]]) -> Tags:
    if len(tags) > MAX_TAGS:
        raise _invalid(
            [f"Tag(key={k}, value={v})" for k, v in tags],
            "tags",
            f"Member must have length less than or equal to {MAX_TAGS}",
        )
    keys = [key.lower() for key, _ in tags]
    if len(keys) != len(set(keys)):
        raise InvalidInput(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    return tuple((key, value) for key, value in tags)


def _check_document(document: str, kind: PolicyKind) -> None:
    try:
        parse_policy(document, kind=kind)
    except PolicyError as error:
        raise MalformedPolicyDocument(error.message) from None


def _no_boundary(permissions_boundary: str | None) -> None:
    if permissions_boundary is not None:
        raise IamValidationError("Berth does not support permissions boundaries.")


def _after(marker: str | None) -> str | None:
    try:
        return decode_token(marker)
    except InvalidParameter:
        raise IamValidationError("Invalid Marker.") from None


def _limit(max_items: int | None) -> int:
    if max_items is None:
        return DEFAULT_MAX_ITEMS
    if not 1 <= max_items <= MAX_ITEMS:
        raise _invalid(max_items, "maxItems", f"Member must have value between 1 and {MAX_ITEMS}")
    return max_items


async def _page(
    fetch: Callable[[str | None, int], Awaitable[list[T]]],
    key: Callable[[T], str],
    marker: str | None,
    max_items: int | None,
) -> Page[T]:
    """One page: `fetch(after, limit)` is asked for one item more than fits, to learn whether
    the listing goes on."""
    limit = _limit(max_items)
    items = await fetch(_after(marker), limit + 1)
    if len(items) <= limit:
        return Page(items)
    items = items[:limit]
    return Page(items, encode_token(key(items[-1])))


def _no_user(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The user with name {name} cannot be found.")


def _no_group(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The group with name {name} cannot be found.")


def _no_role(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The role with name {name} cannot be found.")


def _no_key(access_key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")


def _not_found(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} was not found.")


def _not_attachable(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")


_DELETE_CONFLICTS = {
    Outcome.HAS_KEYS: "Cannot delete entity, must delete access keys first.",
    Outcome.HAS_INLINE: "Cannot delete entity, must delete policies first.",
    Outcome.HAS_ATTACHED: "Cannot delete entity, must detach all policies first.",
    Outcome.HAS_GROUPS: "Cannot delete entity, must remove users from group first.",
    Outcome.HAS_MEMBERS: "Cannot delete entity, must remove users from group first.",
    Outcome.ATTACHED: "Cannot delete a policy attached to entities.",
}
_QUOTA_NAMES: dict[PrincipalType, str] = {"user": "User", "group": "Group", "role": "Role"}


def _deleted(outcome: Outcome, missing: NoSuchEntity) -> None:
    if outcome is Outcome.MISSING:
        raise missing
    if outcome is not Outcome.OK:
        raise DeleteConflict(_DELETE_CONFLICTS[outcome])


class IamService:
    def __init__(
        self, store: IamStore, seal: Seal, *, keys_changed: Callable[[], None] = lambda: None
    ) -> None:
        self._store = store
        self._seal = seal
        # Told when a key stops (or starts) working, so cached key states go at once.
        self._keys_changed = keys_changed

    # for authorization

    async def identity(self, principal_arn: str) -> Identity | None:
        """The unique id of a principal and the texts of the identity-based policies that apply
        to it: for a user, its inline and attached policies and those of its groups; for a role
        or a session of one (`arn:aws:sts::A:assumed-role/Role/session`, whose id is
        `<role id>:<session>`), the role's. The account root has no policies. None when the user
        or role is gone (or the ARN names nothing IAM knows)."""
        root = _ROOT_ARN.fullmatch(principal_arn)
        if root is not None:
            return Identity(userid=root[1], policies=[])
        session = _SESSION_ARN.fullmatch(principal_arn)
        if session is not None:
            found = await self._store.principal_policies(session[1], "role", session[2])
            if found is None:
                return None
            return Identity(f"{found.principal_id}:{session[3]}", found.documents)
        parsed = _IAM_ARN.fullmatch(principal_arn)
        if parsed is None or parsed[2] not in ("user", "role"):
            return None
        kind: Literal["user", "role"] = "user" if parsed[2] == "user" else "role"
        found = await self._store.principal_policies(parsed[1], kind, parsed[4])
        if found is None or found.arn != principal_arn:
            return None
        return Identity(found.principal_id, found.documents)

    async def get_role(self, account_id: str, name: str) -> RoleRecord | None:
        """The role called `name` (in any case), or None."""
        return await self._store.get_role(account_id, name)

    async def resource_arn(self, account_id: str, kind: PrincipalType, name: str) -> str:
        """The ARN a request about the user, group or role `name` is authorized against: the
        entity's own (with its path), or the one it would have at path `/` when it is not there."""
        found: UserRecord | GroupRecord | RoleRecord | None
        if kind == "user":
            found = await self._store.get_user(account_id, name)
        elif kind == "group":
            found = await self._store.get_group(account_id, name)
        else:
            found = await self._store.get_role(account_id, name)
        return found.arn if found is not None else iam_arn(account_id, kind, "/", name)

    # look-ups that raise NoSuchEntity

    async def _user(self, account_id: str, name: str) -> UserRecord:
        user = await self._store.get_user(account_id, name)
        if user is None:
            raise _no_user(name)
        return user

    async def _group(self, account_id: str, name: str) -> GroupRecord:
        group = await self._store.get_group(account_id, name)
        if group is None:
            raise _no_group(name)
        return group

    async def require_role(self, account_id: str, name: str) -> RoleRecord:
        """GetRole: like `get_role`, but NoSuchEntity when there is no such role."""
        role = await self._store.get_role(account_id, name)
        if role is None:
            raise _no_role(name)
        return role

    async def _principal_id(self, account_id: str, kind: PrincipalType, name: str) -> str:
        if kind == "user":
            return (await self._user(account_id, name)).user_id
        if kind == "group":
            return (await self._group(account_id, name)).group_id
        return (await self.require_role(account_id, name)).role_id

    def _missing(self, kind: PrincipalType, name: str) -> NoSuchEntity:
        return {"user": _no_user, "group": _no_group, "role": _no_role}[kind](name)

    # users

    async def create_user(
        self,
        account_id: str,
        user_name: str,
        *,
        path: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        permissions_boundary: str | None = None,
    ) -> UserRecord:
        _check_name("user", user_name)
        path = path or "/"
        _check_path(path)
        _no_boundary(permissions_boundary)
        user = UserRecord(
            user_id=new_id("user"),
            name=user_name,
            path=path,
            arn=iam_arn(account_id, "user", path, user_name),
            created_at=utcnow(),
            tags=_check_tags(tags),
        )
        if not await self._store.create_user(account_id, user):
            raise EntityAlreadyExists(f"User with name {user_name} already exists.")
        return user

    async def get_user(
        self, account_id: str, user_name: str | None, *, caller_arn: str
    ) -> UserRecord:
        """The user called `user_name`; without a name, the caller. For the account root that is
        a user with the account id as its UserId, the root ARN, and no name or path ("")."""
        if user_name is not None:
            return await self._user(account_id, user_name)
        if caller_arn == root_arn(account_id):
            created = await self._store.account_created_at(account_id)
            return UserRecord(account_id, "", "", caller_arn, created or utcnow())
        return await self._calling_user(account_id, caller_arn)

    async def _calling_user(self, account_id: str, caller_arn: str) -> UserRecord:
        parsed = _IAM_ARN.fullmatch(caller_arn)
        if parsed is None or parsed[2] != "user" or parsed[1] != account_id:
            raise IamValidationError("Must specify userName when calling with non-User credentials")
        user = await self._user(account_id, parsed[4])
        if user.arn != caller_arn:
            raise _no_user(parsed[4])
        return user

    async def list_users(
        self,
        account_id: str,
        *,
        path_prefix: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[UserRecord]:
        def fetch(after: str | None, limit: int) -> Awaitable[list[UserRecord]]:
            return self._store.list_users(
                account_id, path_prefix=path_prefix or "/", after=after, limit=limit
            )

        return await _page(fetch, lambda user: name_key(user.name), marker, max_items)

    async def delete_user(self, account_id: str, user_name: str) -> None:
        _deleted(await self._store.delete_user(account_id, user_name), _no_user(user_name))

    # access keys

    async def _key_owner(
        self, account_id: str, user_name: str | None, caller_arn: str
    ) -> tuple[UserRecord | None, str]:
        """Whose keys a request is about: the named user, else the calling user or root."""
        if user_name is not None:
            user = await self._user(account_id, user_name)
            return user, user.arn
        if caller_arn == root_arn(account_id):
            return None, caller_arn
        user = await self._calling_user(account_id, caller_arn)
        return user, user.arn

    async def create_access_key(
        self, account_id: str, user_name: str | None, *, caller_arn: str
    ) -> AccessKeyInfo:
        """A new active key pair for the user (or the calling user or root); its secret is only
        ever returned here."""
        user, principal_arn = await self._key_owner(account_id, user_name, caller_arn)
        key_id, secret = new_id("key"), new_secret()
        key = AccessKey(
            id=key_id,
            account_id=account_id,
            principal_arn=principal_arn,
            sealed_secret=self._seal(secret, key_id),
            status=ACTIVE,
            created_at=utcnow(),
        )
        outcome = await self._store.create_access_key(
            key, user_id=user.user_id if user else None, limit=ACCESS_KEYS_PER_USER
        )
        if outcome is Outcome.MISSING:
            raise _no_user(user.name if user else "")
        if outcome is Outcome.LIMIT:
            raise LimitExceeded(
                f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
            )
        return AccessKeyInfo(user.name if user else None, key_id, ACTIVE, key.created_at, secret)

    async def list_access_keys(
        self,
        account_id: str,
        user_name: str | None,
        *,
        caller_arn: str,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[AccessKeyInfo]:
        user, principal_arn = await self._key_owner(account_id, user_name, caller_arn)
        owner = user.name if user else None

        async def fetch(after: str | None, limit: int) -> list[AccessKeyInfo]:
            keys = await self._store.list_access_keys(
                account_id, principal_arn, after=after, limit=limit
            )
            return [AccessKeyInfo(owner, key.id, key.status, key.created_at) for key in keys]

        return await _page(fetch, lambda key: key.access_key_id, marker, max_items)

    async def update_access_key(
        self,
        account_id: str,
        user_name: str | None,
        access_key_id: str,
        status: str,
        *,
        caller_arn: str,
    ) -> None:
        """Active or Inactive; an inactive key stops authenticating at once."""
        if status not in (ACTIVE, INACTIVE):
            raise _invalid(
                status, "status", "Member must satisfy enum value set: [Active, Inactive]"
            )
        _, principal_arn = await self._key_owner(account_id, user_name, caller_arn)
        updated = await self._store.update_access_key(
            account_id, principal_arn, access_key_id, status
        )
        self._keys_changed()
        if not updated:
            raise _no_key(access_key_id)

    async def delete_access_key(
        self, account_id: str, user_name: str | None, access_key_id: str, *, caller_arn: str
    ) -> None:
        _, principal_arn = await self._key_owner(account_id, user_name, caller_arn)
        deleted = await self._store.delete_access_key(account_id, principal_arn, access_key_id)
        self._keys_changed()
        if not deleted:
            raise _no_key(access_key_id)

    # inline policies, shared by users, groups and roles

    async def _put_inline(
        self, account_id: str, kind: PrincipalType, name: str, policy_name: str, document: str
    ) -> None:
        _check_name("policy", policy_name)
        _check_document(document, "identity")
        principal_id = await self._principal_id(account_id, kind, name)
        limit = INLINE_POLICY_SIZE[kind]
        outcome = await self._store.put_inline_policy(
            kind,
            principal_id,
            InlinePolicy(policy_name, document),
            size=policy_size(document),
            limit=limit,
        )
        if outcome is Outcome.MISSING:
            raise self._missing(kind, name)
        if outcome is Outcome.LIMIT:
            raise LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for {kind} {name}")

    async def _get_inline(
        self, account_id: str, kind: PrincipalType, name: str, policy_name: str
    ) -> InlinePolicy:
        principal_id = await self._principal_id(account_id, kind, name)
        policy = await self._store.get_inline_policy(kind, principal_id, policy_name)
        if policy is None:
            raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")
        return policy

    async def _delete_inline(
        self, account_id: str, kind: PrincipalType, name: str, policy_name: str
    ) -> None:
        principal_id = await self._principal_id(account_id, kind, name)
        if not await self._store.delete_inline_policy(kind, principal_id, policy_name):
            raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")

    async def _list_inline(
        self,
        account_id: str,
        kind: PrincipalType,
        name: str,
        marker: str | None,
        max_items: int | None,
    ) -> Page[str]:
        principal_id = await self._principal_id(account_id, kind, name)

        def fetch(after: str | None, limit: int) -> Awaitable[list[str]]:
            return self._store.list_inline_policies(kind, principal_id, after=after, limit=limit)

        return await _page(fetch, name_key, marker, max_items)

    async def put_user_policy(
        self, account_id: str, user_name: str, policy_name: str, policy_document: str
    ) -> None:
        await self._put_inline(account_id, "user", user_name, policy_name, policy_document)

    async def get_user_policy(
        self, account_id: str, user_name: str, policy_name: str
    ) -> InlinePolicy:
        return await self._get_inline(account_id, "user", user_name, policy_name)

    async def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None:
        await self._delete_inline(account_id, "user", user_name, policy_name)

    async def list_user_policies(
        self,
        account_id: str,
        user_name: str,
        *,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[str]:
        return await self._list_inline(account_id, "user", user_name, marker, max_items)

    async def put_group_policy(
        self, account_id: str, group_name: str, policy_name: str, policy_document: str
    ) -> None:
        await self._put_inline(account_id, "group", group_name, policy_name, policy_document)

    async def get_group_policy(
        self, account_id: str, group_name: str, policy_name: str
    ) -> InlinePolicy:
        return await self._get_inline(account_id, "group", group_name, policy_name)

    async def delete_group_policy(self, account_id: str, group_name: str, policy_name: str) -> None:
        await self._delete_inline(account_id, "group", group_name, policy_name)

    async def list_group_policies(
        self,
        account_id: str,
        group_name: str,
        *,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[str]:
        return await self._list_inline(account_id, "group", group_name, marker, max_items)

    async def put_role_policy(
        self, account_id: str, role_name: str, policy_name: str, policy_document: str
    ) -> None:
        await self._put_inline(account_id, "role", role_name, policy_name, policy_document)

    async def get_role_policy(
        self, account_id: str, role_name: str, policy_name: str
    ) -> InlinePolicy:
        return await self._get_inline(account_id, "role", role_name, policy_name)

    async def delete_role_policy(self, account_id: str, role_name: str, policy_name: str) -> None:
        await self._delete_inline(account_id, "role", role_name, policy_name)

    async def list_role_policies(
        self,
        account_id: str,
        role_name: str,
        *,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[str]:
        return await self._list_inline(account_id, "role", role_name, marker, max_items)

    # managed policies

    def _policy_arn(self, account_id: str, policy_arn: str) -> bool:
        """Whether `policy_arn` can name a policy of the account; InvalidInput for text that is
        not a policy ARN at all."""
        parsed = _IAM_ARN.fullmatch(policy_arn)
        if parsed is None or parsed[2] != "policy":
            raise InvalidInput(f"ARN {policy_arn} is not valid.")
        return parsed[1] == account_id

    async def create_policy(
        self,
        account_id: str,
        policy_name: str,
        policy_document: str,
        *,
        path: str | None = None,
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> ManagedPolicyRecord:
        _check_name("policy", policy_name)
        path = path or "/"
        _check_path(path)
        _check_document(policy_document, "identity")
        if policy_size(policy_document) > MANAGED_POLICY_SIZE:
            raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        now = utcnow()
        policy = ManagedPolicyRecord(
            policy_id=new_id("policy"),
            name=policy_name,
            path=path,
            arn=iam_arn(account_id, "policy", path, policy_name),
            document=policy_document,
            description=description,
            created_at=now,
            updated_at=now,
            tags=_check_tags(tags),
        )
        if not await self._store.create_policy(account_id, policy):
            raise EntityAlreadyExists(
                f"A policy called {policy_name} already exists. Duplicate names are not allowed."
            )
        return policy

    async def get_policy(self, account_id: str, policy_arn: str) -> ManagedPolicyRecord:
        policy = None
        if self._policy_arn(account_id, policy_arn):
            policy = await self._store.get_policy(account_id, policy_arn)
        if policy is None:
            raise _not_found(policy_arn)
        return policy

    async def get_policy_version(
        self, account_id: str, policy_arn: str, version_id: str
    ) -> ManagedPolicyRecord:
        """The policy whose (only) version is `version_id`; its document is the version's."""
        policy = await self.get_policy(account_id, policy_arn)
        if version_id != DEFAULT_VERSION:
            raise NoSuchEntity(
                f"Policy {policy_arn} version {version_id} does not exist or is not attachable."
            )
        return policy

    async def list_policies(
        self,
        account_id: str,
        *,
        scope: str | None = None,
        only_attached: bool = False,
        path_prefix: str | None = None,
        policy_usage_filter: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[ManagedPolicyRecord]:
        """Customer managed policies (scope All or Local; AWS managed ones do not exist here).
        None of them is used as a permissions boundary."""
        nothing = scope == "AWS" or policy_usage_filter == "PermissionsBoundary"

        async def fetch(after: str | None, limit: int) -> list[ManagedPolicyRecord]:
            if nothing:
                return []
            return await self._store.list_policies(
                account_id,
                path_prefix=path_prefix or "/",
                only_attached=only_attached,
                after=after,
                limit=limit,
            )

        return await _page(fetch, lambda policy: name_key(policy.name), marker, max_items)

    async def delete_policy(self, account_id: str, policy_arn: str) -> None:
        outcome = Outcome.MISSING
        if self._policy_arn(account_id, policy_arn):
            outcome = await self._store.delete_policy(account_id, policy_arn)
        _deleted(outcome, _not_found(policy_arn))

    async def _attach(
        self, account_id: str, kind: PrincipalType, name: str, policy_arn: str
    ) -> None:
        principal_id = await self._principal_id(account_id, kind, name)
        if not self._policy_arn(account_id, policy_arn):
            raise _not_attachable(policy_arn)
        outcome = await self._store.attach_policy(
            account_id, kind, principal_id, policy_arn, limit=MANAGED_POLICIES_PER_PRINCIPAL
        )
        if outcome is Outcome.MISSING:
            raise self._missing(kind, name)
        if outcome is Outcome.MISSING_POLICY:
            raise _not_attachable(policy_arn)
        if outcome is Outcome.LIMIT:
            raise LimitExceeded(
                f"Cannot exceed quota for PoliciesPer{_QUOTA_NAMES[kind]}: "
                f"{MANAGED_POLICIES_PER_PRINCIPAL}"
            )

    async def _detach(
        self, account_id: str, kind: PrincipalType, name: str, policy_arn: str
    ) -> None:
        principal_id = await self._principal_id(account_id, kind, name)
        detached = self._policy_arn(account_id, policy_arn) and await self._store.detach_policy(
            account_id, kind, principal_id, policy_arn
        )
        if not detached:
            raise _not_found(policy_arn)

    async def _attached(
        self,
        account_id: str,
        kind: PrincipalType,
        name: str,
        path_prefix: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> Page[AttachedPolicy]:
        principal_id = await self._principal_id(account_id, kind, name)

        def fetch(after: str | None, limit: int) -> Awaitable[list[AttachedPolicy]]:
            return self._store.list_attached_policies(
                kind, principal_id, path_prefix=path_prefix or "/", after=after, limit=limit
            )

        return await _page(fetch, lambda policy: name_key(policy.name), marker, max_items)

    async def attach_user_policy(self, account_id: str, user_name: str, policy_arn: str) -> None:
        await self._attach(account_id, "user", user_name, policy_arn)

    async def detach_user_policy(self, account_id: str, user_name: str, policy_arn: str) -> None:
        await self._detach(account_id, "user", user_name, policy_arn)

    async def list_attached_user_policies(
        self,
        account_id: str,
        user_name: str,
        *,
        path_prefix: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[AttachedPolicy]:
        return await self._attached(account_id, "user", user_name, path_prefix, marker, max_items)

    async def attach_group_policy(self, account_id: str, group_name: str, policy_arn: str) -> None:
        await self._attach(account_id, "group", group_name, policy_arn)

    async def detach_group_policy(self, account_id: str, group_name: str, policy_arn: str) -> None:
        await self._detach(account_id, "group", group_name, policy_arn)

    async def list_attached_group_policies(
        self,
        account_id: str,
        group_name: str,
        *,
        path_prefix: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[AttachedPolicy]:
        return await self._attached(account_id, "group", group_name, path_prefix, marker, max_items)

    async def attach_role_policy(self, account_id: str, role_name: str, policy_arn: str) -> None:
        await self._attach(account_id, "role", role_name, policy_arn)

    async def detach_role_policy(self, account_id: str, role_name: str, policy_arn: str) -> None:
        await self._detach(account_id, "role", role_name, policy_arn)

    async def list_attached_role_policies(
        self,
        account_id: str,
        role_name: str,
        *,
        path_prefix: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[AttachedPolicy]:
        return await self._attached(account_id, "role", role_name, path_prefix, marker, max_items)

    # groups

    async def create_group(
        self, account_id: str, group_name: str, *, path: str | None = None
    ) -> GroupRecord:
        _check_name("group", group_name)
        path = path or "/"
        _check_path(path)
        group = GroupRecord(
            group_id=new_id("group"),
            name=group_name,
            path=path,
            arn=iam_arn(account_id, "group", path, group_name),
            created_at=utcnow(),
        )
        if not await self._store.create_group(account_id, group):
            raise EntityAlreadyExists(f"Group with name {group_name} already exists.")
        return group

    async def get_group(
        self,
        account_id: str,
        group_name: str,
        *,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> tuple[GroupRecord, Page[UserRecord]]:
        """The group and a page of its members."""
        group = await self._group(account_id, group_name)

        def fetch(after: str | None, limit: int) -> Awaitable[list[UserRecord]]:
            return self._store.group_members(group.group_id, after=after, limit=limit)

        return group, await _page(fetch, lambda user: name_key(user.name), marker, max_items)

    async def list_groups(
        self,
        account_id: str,
        *,
        path_prefix: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[GroupRecord]:
        def fetch(after: str | None, limit: int) -> Awaitable[list[GroupRecord]]:
            return self._store.list_groups(
                account_id, path_prefix=path_prefix or "/", after=after, limit=limit
            )

        return await _page(fetch, lambda group: name_key(group.name), marker, max_items)

    async def delete_group(self, account_id: str, group_name: str) -> None:
        _deleted(await self._store.delete_group(account_id, group_name), _no_group(group_name))

    async def add_user_to_group(self, account_id: str, group_name: str, user_name: str) -> None:
        group = await self._group(account_id, group_name)
        user = await self._user(account_id, user_name)
        outcome = await self._store.add_user_to_group(
            group.group_id, user.user_id, limit=GROUPS_PER_USER
        )
        if outcome is Outcome.MISSING:
            raise _no_group(group_name)
        if outcome is Outcome.LIMIT:
            raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")

    async def remove_user_from_group(
        self, account_id: str, group_name: str, user_name: str
    ) -> None:
        group = await self._group(account_id, group_name)
        user = await self._user(account_id, user_name)
        if not await self._store.remove_user_from_group(group.group_id, user.user_id):
            raise _no_user(user_name)

    async def list_groups_for_user(
        self,
        account_id: str,
        user_name: str,
        *,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[GroupRecord]:
        user = await self._user(account_id, user_name)

        def fetch(after: str | None, limit: int) -> Awaitable[list[GroupRecord]]:
            return self._store.groups_for_user(user.user_id, after=after, limit=limit)

        return await _page(fetch, lambda group: name_key(group.name), marker, max_items)

    # roles

    @staticmethod
    def _check_trust_policy(document: str) -> None:
        _check_document(document, "trust")
        if policy_size(document) > TRUST_POLICY_SIZE:
            raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")

    async def create_role(
        self,
        account_id: str,
        role_name: str,
        assume_role_policy_document: str,
        *,
        path: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
        tags: Sequence[tuple[str, str]] = (),
        permissions_boundary: str | None = None,
    ) -> RoleRecord:
        _check_name("role", role_name)
        path = path or "/"
        _check_path(path)
        _no_boundary(permissions_boundary)
        duration = (
            DEFAULT_SESSION_DURATION if max_session_duration is None else max_session_duration
        )
        if not MIN_SESSION_DURATION <= duration <= MAX_SESSION_DURATION:
            raise _invalid(
                duration,
                "maxSessionDuration",
                f"Member must have value between {MIN_SESSION_DURATION} and {MAX_SESSION_DURATION}",
            )
        if description is not None and len(description) > 1000:
            raise _invalid(
                description, "description", "Member must have length less than or equal to 1000"
            )
        self._check_trust_policy(assume_role_policy_document)
        role = RoleRecord(
            name=role_name,
            path=path,
            arn=iam_arn(account_id, "role", path, role_name),
            role_id=new_id("role"),
            trust_policy=assume_role_policy_document,
            max_session_duration=duration,
            created_at=utcnow(),
            description=description,
            tags=_check_tags(tags),
        )
        if not await self._store.create_role(account_id, role):
            raise EntityAlreadyExists(f"Role with name {role_name} already exists.")
        return role

    async def list_roles(
        self,
        account_id: str,
        *,
        path_prefix: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[RoleRecord]:
        def fetch(after: str | None, limit: int) -> Awaitable[list[RoleRecord]]:
            return self._store.list_roles(
                account_id, path_prefix=path_prefix or "/", after=after, limit=limit
            )

        return await _page(fetch, lambda role: name_key(role.name), marker, max_items)

    async def update_assume_role_policy(
        self, account_id: str, role_name: str, policy_document: str
    ) -> None:
        self._check_trust_policy(policy_document)
        if not await self._store.update_trust_policy(account_id, role_name, policy_document):
            raise _no_role(role_name)

    async def delete_role(self, account_id: str, role_name: str) -> None:
        _deleted(await self._store.delete_role(account_id, role_name), _no_role(role_name))
