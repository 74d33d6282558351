"""The one policy decision point: every ECR operation and every `/v2/` request asks here.

It gathers what AWS would weigh — the caller's identity-based policies (user, its groups, the
role of a session), the repository policy and the registry policy — and lets the pure
evaluator in `berth.domain.policy` decide. Policy texts are cached briefly per process and
dropped at once when this process changes them; other processes see a change within
`CACHE_SECONDS`, the kind of delay IAM itself documents ("eventually consistent").
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol, cast

from berth.domain.policy import (
    Policy,
    PolicyError,
    Principal,
    Request,
    evaluate,
    matches,
    parse_policy,
)
from berth.errors import AccessDenied
from berth.services.auth import Caller
from berth.storage.ports import MetadataStore, PolicyStore

CACHE_SECONDS = 2.0
# With scope V1 the registry policy only governs these (ECR's documented V1 behaviour).
V1_ACTIONS = frozenset(
    {"ecr:ReplicateImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
)
ANONYMOUS = Principal.anonymous()


class Identity(Protocol):
    """What IAM knows about a user or role: its unique id and its identity-based policies
    (inline, attached, and those of its groups), as document texts."""

    @property
    def userid(self) -> str: ...
    @property
    def policies(self) -> Sequence[str]: ...


class IdentitySource(Protocol):
    async def identity(self, principal_arn: str) -> Identity | None: ...


@dataclass(frozen=True, slots=True)
class Target:
    """What a request acts on: a repository (by name) or the registry (`repository` None)."""

    account_id: str
    region: str
    repository: str | None = None
    # Any other resource, by ARN (an IAM role, a user).
    resource: str | None = None

    @property
    def arn(self) -> str:
        if self.resource is not None:
            return self.resource
        if self.repository is None:
            return "*"
        return f"arn:aws:ecr:{self.region}:{self.account_id}:repository/{self.repository}"


@lru_cache(maxsize=4096)
def _conditional(policy: Policy) -> bool:
    return any(statement.conditions for statement in policy.statements)


@lru_cache(maxsize=4096)
def _mentions_resource_tags(policy: Policy) -> bool:
    return any(
        "resourcetag/" in condition.key.lower()
        for statement in policy.statements
        for condition in statement.conditions
    )


def _frozen(context: Mapping[str, str | Sequence[str]] | None) -> tuple[object, ...]:
    """`context` as part of a cache key (in its own order: the callers build it the same way
    every time)."""
    if not context:
        return ()
    items = tuple(context.items())
    if all(type(value) is str for _, value in items):
        return items
    return tuple((k, v if isinstance(v, str) else tuple(v)) for k, v in items)


def _now_keys() -> dict[str, str | Sequence[str]]:
    return {
        "aws:CurrentTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(time.time())),
    }


@lru_cache(maxsize=4096)
def _parsed(text: str, kind: str) -> Policy | None:
    try:
        return parse_policy(text, kind=kind)  # type: ignore[arg-type]
    except PolicyError:
        return None  # stored documents were validated on write; never let one crash a request


def _expiry(now: float) -> float:
    """The end of the current CACHE_SECONDS window. Everything cached here expires at the
    same moments, so a cached decision is never older than the policies it was made from."""
    return (now // CACHE_SECONDS + 1) * CACHE_SECONDS


class _Ttl:
    def __init__(self) -> None:
        self._entries: dict[object, tuple[float, object]] = {}

    async def get(self, key: object, load: Callable[[], Awaitable[object]]) -> object:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await load()
        self.put(key, value, now)
        return value

    def peek(self, key: object) -> object | None:
        hit = self._entries.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, key: object, value: object, now: float) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (_expiry(now), value)

    def clear(self) -> None:
        self._entries.clear()


class Authorizer:
    def __init__(
        self,
        identities: IdentitySource,
        policies: PolicyStore,
        metadata: MetadataStore,
    ) -> None:
        self._identities = identities
        self._policies = policies
        self._metadata = metadata
        self._cache = _Ttl()
        # Decisions made without any conditional policy depend on nothing but their inputs
        # and the policies, so a pull's repeated checks are a dictionary lookup.
        self._decisions = _Ttl()

    def invalidate(self) -> None:
        """Forget cached policies (called after this process changed one)."""
        self._cache.clear()
        self._decisions.clear()

    async def authorize(
        self,
        caller: Caller | None,
        action: str,
        target: Target,
        *,
        context: Mapping[str, str | Sequence[str]] | None = None,
    ) -> None:
        """Raise AccessDenied with AWS's message unless the policies allow `action`."""
        allowed, message = await self.decide(caller, action, target, context=context)
        if not allowed:
            raise AccessDenied(message)

    async def allowed(
        self,
        caller: Caller | None,
        action: str,
        target: Target,
        *,
        resource_policies: Sequence[Policy] | None = None,
    ) -> bool:
        """`resource_policies`: decide with these instead of the stored ones."""
        decided = await self.decide(caller, action, target, resource_policies=resource_policies)
        return decided[0]

    async def trusts(self, caller: Caller, action: str, target: Target, policy: Policy) -> bool:
        """Whether `policy` by itself allows the caller (a role's trust policy): naming the
        caller's account counts here, and no identity policy is consulted."""
        request = Request(caller.principal, action, target.arn, target.account_id, _now_keys())
        return matches(policy, request) == "allow"

    async def decide(
        self,
        caller: Caller | None,
        action: str,
        target: Target,
        *,
        context: Mapping[str, str | Sequence[str]] | None = None,
        resource_policies: Sequence[Policy] | None = None,
    ) -> tuple[bool, str]:
        """Whether the request is allowed, and AWS's sentence about it."""
        key: tuple[object, ...] | None = None
        if resource_policies is None:
            # Plain strings: hashing the caller's and target's dataclasses cost more than the rest.
            key = (
                *((caller.access_key_id, caller.principal.arn) if caller else ("", "")),
                action,
                target.account_id,
                target.region,
                target.repository,
                target.resource,
                _frozen(context),
            )
            hit = self._decisions.peek(key)
            if hit is not None:
                return cast("tuple[bool, str]", hit)
        started = time.monotonic()
        principal = caller.principal if caller is not None else ANONYMOUS
        identity: list[Policy] = []
        if principal.kind in ("user", "assumed-role"):
            found = await self._identity(principal.arn)
            if found is None:
                # The user or role is gone; its keys or sessions grant nothing any more.
                identity = []
            else:
                if principal.userid is None:
                    principal = replace(principal, userid=found.userid)
                identity = [p for p in (_parsed(t, "identity") for t in found.policies) if p]
        resource = (
            list(resource_policies)
            if resource_policies is not None
            else await self._resource_policies(action, target)
        )
        keys = _now_keys()
        if target.repository not in (None, "*") and any(
            _mentions_resource_tags(p) for p in (*identity, *resource)
        ):
            # Only loaded when a policy asks: most requests never pay for the lookup.
            for name, value in (await self._repository_tags(target)).items():
                keys[f"aws:ResourceTag/{name}"] = value
        if context:
            keys.update(context)
        request = Request(principal, action, target.arn, target.account_id, keys)
        decision = evaluate(request, identity=identity, resource=resource)
        decided = decision.allowed, decision.message(request)
        if key is not None and not any(_conditional(p) for p in (*identity, *resource)):
            self._decisions.put(key, decided, started)
        return decided

    async def _repository_tags(self, target: Target) -> dict[str, str]:
        repository = await self._metadata.get_repository(
            target.account_id, target.region, target.repository or ""
        )
        if repository is None:
            return {}
        return await self._metadata.get_repository_tags(repository.id)

    async def _identity(self, arn: str) -> Identity | None:
        found = await self._cache.get(("identity", arn), lambda: self._identities.identity(arn))
        return cast("Identity | None", found)

    async def _resource_policies(self, action: str, target: Target) -> list[Policy]:
        texts: list[str] = []
        if target.repository is not None:
            text = await self._cache.get(
                ("repository", target.account_id, target.region, target.repository),
                lambda: self._policies.repository_policy(
                    target.account_id, target.region, target.repository or ""
                ),
            )
            if isinstance(text, str):
                texts.append(text)
        if not action.startswith("ecr:"):
            return [p for p in (_parsed(t, "resource") for t in texts) if p]
        registry = await self._cache.get(
            ("registry", target.account_id, target.region),
            lambda: self._registry_policy(target.account_id, target.region),
        )
        if isinstance(registry, tuple):
            scope, text = registry
            if text and (scope == "V2" or action in V1_ACTIONS):
                texts.append(text)
        return [p for p in (_parsed(t, "resource") for t in texts) if p]

    async def _registry_policy(self, account_id: str, region: str) -> tuple[str, str | None]:
        text = await self._policies.registry_policy(account_id, region)
        if text is None:
            return ("V2", None)
        scope = await self._metadata.get_account_setting(
            account_id, region, "REGISTRY_POLICY_SCOPE"
        )
        return (scope or "V2", text)
