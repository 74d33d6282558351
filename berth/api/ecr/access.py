"""What each ECR operation asks the policy decision point: the action `ecr:<Operation>` on
the repositories it names (or `*` for registry-level operations), with the request's tags.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from berth.domain.scope import Scope
from berth.services.auth import Caller
from berth.services.authz import Target

ContextKeys = dict[str, str | Sequence[str]]
_ACCOUNT = re.compile(r"[0-9]{12}")

# Operations that act on the registry as a whole; AWS evaluates them against `*`.
REGISTRY_OPERATIONS = frozenset(
    {
        "GetAuthorizationToken",
        "DescribeRegistry",
        "GetAccountSetting",
        "PutAccountSetting",
        "PutRegistryPolicy",
        "GetRegistryPolicy",
        "DeleteRegistryPolicy",
        "GetRegistryScanningConfiguration",
        "PutRegistryScanningConfiguration",
    }
)


def scope_of(call: Any, params: dict[str, Any]) -> Scope:
    """The registry a call addresses: `registryId` when given (another account's registry is
    reachable when its policies allow), else the caller's own, in the region it signed for."""
    caller: Caller = call.caller
    return Scope(params.get("registryId") or caller.account_id, call.region)


def repository_from_arn(arn: str) -> tuple[str, str, str] | None:
    """(account, region, name) of `arn:aws:ecr:<region>:<account>:repository/<name>`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "ecr"] or not _ACCOUNT.fullmatch(parts[4]):
        return None
    kind, _, name = parts[5].partition("/")
    if kind != "repository" or not name:
        return None
    return parts[4], parts[3], name


def requests(operation: str, call: Any, params: dict[str, Any]) -> list[tuple[Target, ContextKeys]]:
    """The targets `ecr:<operation>` must be allowed on, each with its extra condition keys."""
    scope = scope_of(call, params)
    keys: ContextKeys = {}
    if operation in REGISTRY_OPERATIONS:
        return [(Target(scope.account_id, scope.region), keys)]
    tags = params.get("tags")
    if tags:
        for tag in tags:
            keys[f"aws:RequestTag/{tag['Key']}"] = tag["Value"]
        keys["aws:TagKeys"] = [tag["Key"] for tag in tags]
    if params.get("tagKeys"):
        keys["aws:TagKeys"] = list(params["tagKeys"])
    if "resourceArn" in params:
        found = repository_from_arn(params["resourceArn"])
        if found is None:
            return [(Target(scope.account_id, scope.region, "*"), keys)]
        account, region, name = found
        return [(Target(account, region, name), keys)]
    if "repositoryName" in params:
        return [(Target(scope.account_id, scope.region, params["repositoryName"]), keys)]
    names = params.get("repositoryNames")
    if names:
        return [(Target(scope.account_id, scope.region, name), keys) for name in names]
    # Listing every repository: the policies must allow it on all of them.
    return [(Target(scope.account_id, scope.region, "*"), keys)]
