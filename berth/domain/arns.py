"""ARNs of the principals Berth knows, read back into policy principals."""

from __future__ import annotations

import re
from dataclasses import replace

from berth.domain.policy import Principal

_IAM = re.compile(r"arn:aws:iam::(?P<account>[0-9]{12}):(?P<rest>.+)")
_SESSION = re.compile(
    r"arn:aws:sts::(?P<account>[0-9]{12}):assumed-role/(?P<role>[^/]+)/(?P<session>[^/]+)"
)


def principal_from_arn(arn: str, *, role_arn: str = "", userid: str | None = None) -> Principal:
    """The principal an access key or token names. A session ARN lacks its role's path, so a
    session's principal takes the role ARN from `role_arn` when given."""
    session = _SESSION.fullmatch(arn)
    if session:
        path = "/"
        if role_arn:
            name_at = role_arn.rfind("/")
            path = role_arn[role_arn.index(":role/") + len(":role") : name_at + 1]
        principal = Principal.assumed_role(
            session["account"], session["role"], session["session"], path=path
        )
        return principal if userid is None else replace(principal, userid=userid)
    iam = _IAM.fullmatch(arn)
    if iam is None:
        raise ValueError(f"not a principal ARN: {arn}")
    rest = iam["rest"]
    if rest == "root":
        return Principal.root(iam["account"])
    if rest.startswith("user/"):
        name_at = rest.rfind("/")
        return Principal.user(
            iam["account"], rest[name_at + 1 :], userid=userid, path=rest[4 : name_at + 1]
        )
    raise ValueError(f"not a principal ARN: {arn}")
