"""STS: GetCallerIdentity and AssumeRole, with temporary credentials AuthService seals.

Who may assume a role is decided as on AWS: the role's trust policy must allow the caller
(naming it, its account, or `*`), and within the role's account a caller the trust policy names
only through the account needs an identity policy allowing `sts:AssumeRole` too; across
accounts both sides must allow. The account root may not assume roles at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from berth.domain.policy import Policy, PolicyError, Principal, parse_policy
from berth.errors import AccessDenied, InvalidParameter
from berth.services.auth import AuthService, Caller, SessionCredentials
from berth.services.authz import Authorizer, IdentitySource, Target

_ROLE_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):role(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)"
)
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
DEFAULT_DURATION = 3600
MIN_DURATION = 900
# A session assuming another role ("role chaining") gets an hour at most, as on AWS.
CHAINED_MAX = 3600


class Role(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def role_id(self) -> str: ...
    @property
    def trust_policy(self) -> str: ...
    @property
    def max_session_duration(self) -> int: ...


class RoleSource(IdentitySource, Protocol):
    async def get_role(self, account_id: str, name: str) -> Role | None: ...


@dataclass(frozen=True, slots=True)
class AssumedRole:
    credentials: SessionCredentials
    principal: Principal


class StsService:
    def __init__(self, roles: RoleSource, auth: AuthService, authorizer: Authorizer) -> None:
        self._roles = roles
        self._auth = auth
        self._authorizer = authorizer

    async def get_caller_identity(self, caller: Caller) -> dict[str, str]:
        principal = caller.principal
        userid = principal.userid
        if userid is None and principal.kind != "root":
            found = await self._roles.identity(principal.arn)
            userid = found.userid if found is not None else None
        return {
            "UserId": userid or caller.account_id,
            "Account": caller.account_id,
            "Arn": principal.arn,
        }

    async def assume_role(
        self,
        caller: Caller,
        role_arn: str,
        session_name: str,
        duration: int | None,
        *,
        region: str,
    ) -> AssumedRole:
        if not _SESSION_NAME.fullmatch(session_name):
            raise InvalidParameter(
                f"1 validation error detected: Value '{session_name}' at 'roleSessionName' "
                "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                "[\\w+=,.@-]*"
            )
        denied = AccessDenied(
            f"User: {caller.principal_arn} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role_arn}"
        )
        if caller.principal.kind == "root":
            raise AccessDenied("Roles may not be assumed by root accounts.")
        found = _ROLE_ARN.fullmatch(role_arn)
        if found is None:
            raise denied
        account = found["account"]
        role = await self._roles.get_role(account, found["name"])
        if role is None or role.arn != role_arn:
            raise denied
        try:
            trust: Policy = parse_policy(role.trust_policy, kind="trust")
        except PolicyError:
            raise denied from None
        target = Target(account, region, resource=role.arn)
        # The trust policy must allow on its own terms (an account principal counts there),
        # and then the whole evaluation, identity policies included, must allow.
        if not await self._authorizer.trusts(caller, "sts:AssumeRole", target, trust) or not (
            await self._authorizer.allowed(
                caller, "sts:AssumeRole", target, resource_policies=[trust]
            )
        ):
            raise denied
        limit = CHAINED_MAX if caller.is_session else role.max_session_duration
        seconds = DEFAULT_DURATION if duration is None else duration
        if seconds > limit:
            raise InvalidParameter(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        if seconds < MIN_DURATION:
            raise InvalidParameter(
                f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to "
                f"satisfy constraint: Member must have value greater than or equal to "
                f"{MIN_DURATION}"
            )
        principal = Principal.assumed_role(
            account, role.name, session_name, role_id=role.role_id, path=role.path
        )
        expires = datetime.now(UTC) + timedelta(seconds=seconds)
        return AssumedRole(self._auth.mint_session(principal, expires), principal)
